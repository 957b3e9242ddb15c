// Android API stub for the JVM type-check of the app layer (android-demo/jvm-stubs/README.md). NOT part of the app: Gradle
// compiles against the SDK's android.jar (compileSdk 36). Signatures as in the public Android API reference
// (developer.android.com/reference, API 36), reduced to the members MainActivity/TfliteClassifier use. No nullability
// annotations, so Kotlin sees platform types (lenient: the check covers names, types and arity). Bodies throw.
package android.text;

public class SpannableString implements Spannable {
    public SpannableString(CharSequence source) { throw new UnsupportedOperationException("stub"); }

    @Override
    public void setSpan(Object what, int start, int end, int flags) { throw new UnsupportedOperationException("stub"); }

    @Override
    public int length() { throw new UnsupportedOperationException("stub"); }

    @Override
    public char charAt(int index) { throw new UnsupportedOperationException("stub"); }

    @Override
    public CharSequence subSequence(int start, int end) { throw new UnsupportedOperationException("stub"); }
}
