package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File

/** The text package must stay pure Kotlin/JVM: no android.* import, so these very tests can run on a bare JVM. */
class PurityTest {
    @Test fun noAndroidImports() {
        val dir = listOf(System.getProperty("edgeport.text.src"), "src/main/java/dev/edgeport/demo/text")
            .mapNotNull { it?.let(::File) }.firstOrNull { it.isDirectory }
        assumeTrue("text package sources not found", dir != null)
        val offending = dir!!.listFiles { f -> f.extension == "kt" }!!.filter { f ->
            f.readLines().any { it.trim().startsWith("import android") || it.trim().startsWith("import androidx") }
        }
        assertEquals("android imports in ${offending.map { it.name }}", emptyList<String>(), offending.map { it.name })
    }
}
