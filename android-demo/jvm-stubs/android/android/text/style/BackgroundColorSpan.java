// Android API stub for the JVM type-check of the app layer (android-demo/jvm-stubs/README.md). NOT part of the app: Gradle
// compiles against the SDK's android.jar (compileSdk 36). Signatures as in the public Android API reference
// (developer.android.com/reference, API 36), reduced to the members MainActivity/TfliteClassifier use. No nullability
// annotations, so Kotlin sees platform types (lenient: the check covers names, types and arity). Bodies throw.
package android.text.style;

public class BackgroundColorSpan extends CharacterStyle {
    public BackgroundColorSpan(int color) { throw new UnsupportedOperationException("stub"); }
}
