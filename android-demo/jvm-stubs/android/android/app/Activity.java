// Android API stub for the JVM type-check of the app layer (android-demo/jvm-stubs/README.md). NOT part of the app: Gradle
// compiles against the SDK's android.jar (compileSdk 36). Signatures as in the public Android API reference
// (developer.android.com/reference, API 36), reduced to the members MainActivity/TfliteClassifier use. No nullability
// annotations, so Kotlin sees platform types (lenient: the check covers names, types and arity). Bodies throw.
package android.app;

import android.content.Context;
import android.content.res.AssetManager;
import android.os.Bundle;
import android.view.View;

/** Real hierarchy: Activity > ContextThemeWrapper > ContextWrapper > Context; the middle classes are left out. */
public class Activity extends Context {
    protected void onCreate(Bundle savedInstanceState) { throw new UnsupportedOperationException("stub"); }

    protected void onDestroy() { throw new UnsupportedOperationException("stub"); }

    public void setContentView(int layoutResID) { throw new UnsupportedOperationException("stub"); }

    public <T extends View> T findViewById(int id) { throw new UnsupportedOperationException("stub"); }

    public final void runOnUiThread(Runnable action) { throw new UnsupportedOperationException("stub"); }

    @Override
    public AssetManager getAssets() { throw new UnsupportedOperationException("stub"); }
}
