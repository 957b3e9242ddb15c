package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Assume.assumeTrue
import org.junit.Test

/**
 * NFC, NFD, NFKC, NFKD and Lowercase on random base + combining-mark sequences (unicode-forms.json, from the Rust
 * normalizers): reordering and composition across characters, which the per-code-point probe cannot see.
 */
class UnicodeFormsTest {
    @Test fun formsMatchPython() {
        val file = GoldenFiles.optionalFile("unicode-forms.json")
        assumeTrue("no unicode-forms.json", file != null)
        val cases = (MiniJson.parse(file!!.readText()) as Map<*, *>)["cases"] as List<*>
        val forms = mapOf("nfc" to Normalizers.NFC, "nfd" to Normalizers.NFD, "nfkc" to Normalizers.NFKC,
            "nfkd" to Normalizers.NFKD, "lowercase" to Normalizers.Lowercase)
        val bad = ArrayList<String>()
        for (raw in cases) {
            val c = raw as Map<*, *>
            val text = c["text"] as String
            for ((name, n) in forms) {
                val got = n.normalize(text)
                if (got != c[name]) bad.add("$name ${StageProbeTest.esc(text)}: python ${StageProbeTest.esc(c[name] as String)}, kotlin ${StageProbeTest.esc(got)}")
            }
        }
        println("unicode forms: ${cases.size} sequences x ${forms.size} forms, ${bad.size} differ")
        assertEquals(bad.take(5).joinToString("\n"), 0, bad.size)
    }
}
