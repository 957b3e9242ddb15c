plugins {
    alias(libs.plugins.android.application)
}

android {
    namespace = "dev.edgeport.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "dev.edgeport.demo"
        minSdk = 26
        targetSdk = 36
        versionCode = 1
        versionName = "0.1"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    androidResources {
        // mmap the model straight out of the APK instead of inflating a copy.
        noCompress += "tflite"
    }

    testOptions {
        unitTests.all {
            // Same JVM tests as run-jvm-tests.sh; here they read the assets written by `edgeport android`.
            it.systemProperty("edgeport.golden.dir", file("src/main/assets").absolutePath)
        }
    }
}

dependencies {
    implementation(libs.litert)
    testImplementation(libs.junit)
}
