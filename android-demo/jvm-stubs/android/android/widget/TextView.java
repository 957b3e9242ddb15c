// Android API stub for the JVM type-check of the app layer (android-demo/jvm-stubs/README.md). NOT part of the app: Gradle
// compiles against the SDK's android.jar (compileSdk 36). Signatures as in the public Android API reference
// (developer.android.com/reference, API 36), reduced to the members MainActivity/TfliteClassifier use. No nullability
// annotations, so Kotlin sees platform types (lenient: the check covers names, types and arity). Bodies throw.
package android.widget;

import android.view.View;

public class TextView extends View {
    public CharSequence getText() { throw new UnsupportedOperationException("stub"); }

    public final void setText(CharSequence text) { throw new UnsupportedOperationException("stub"); }

    public final void setText(int resid) { throw new UnsupportedOperationException("stub"); }

    public final void setHint(int resid) { throw new UnsupportedOperationException("stub"); }
}
