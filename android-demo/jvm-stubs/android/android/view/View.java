// Android API stub for the JVM type-check of the app layer (android-demo/jvm-stubs/README.md). NOT part of the app: Gradle
// compiles against the SDK's android.jar (compileSdk 36). Signatures as in the public Android API reference
// (developer.android.com/reference, API 36), reduced to the members MainActivity/TfliteClassifier use. No nullability
// annotations, so Kotlin sees platform types (lenient: the check covers names, types and arity). Bodies throw.
package android.view;

public class View {
    public static final int VISIBLE = 0x00000000;
    public static final int GONE = 0x00000008;

    public interface OnClickListener {
        void onClick(View v);
    }

    public void setOnClickListener(OnClickListener l) { throw new UnsupportedOperationException("stub"); }

    public boolean isEnabled() { throw new UnsupportedOperationException("stub"); }

    public void setEnabled(boolean enabled) { throw new UnsupportedOperationException("stub"); }

    public int getVisibility() { throw new UnsupportedOperationException("stub"); }

    public void setVisibility(int visibility) { throw new UnsupportedOperationException("stub"); }

    public void setBackgroundColor(int color) { throw new UnsupportedOperationException("stub"); }
}
