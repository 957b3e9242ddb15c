package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test

/**
 * Per tokenizer family, what [GoldenTokenizerTest] checks case by case, summed up: prints one line per family
 * (cases, identical, first mismatches) and requires at least 300 cases each, all identical.
 */
class GoldenFamiliesTest {
    @Test fun everyFamilyMatchesPython() {
        val dirs = GoldenFiles.dirs()
        assumeTrue("no goldens", dirs.isNotEmpty())
        val failures = ArrayList<String>()
        for (d in dirs) {
            var cases = 0
            var same = 0
            var pairs = 0
            for (f in d.goldenFiles()) {
                val golden = GoldenSet.parse(f.readText())
                val encode = d.encoder(d.tokenizer(golden.seqLen))
                for (c in golden.cases) {
                    cases++
                    if (c.textPair != null) pairs++
                    val mismatch = SelfCheck.tokenizerMismatch(c, encode(c))
                    if (mismatch == null) same++ else failures.add("${d.name}/${f.name}: $mismatch")
                }
            }
            println("golden ${d.name} (${d.family}): $cases cases ($pairs pairs), $same identical, ${cases - same} differ")
            if (d.dir != GoldenFiles.dir || d.labels == null) assertTrue("${d.name}: only $cases golden cases", cases >= 300)
        }
        failures.take(10).forEach { println("  $it") }
        assertEquals("cases differing from the Python tokenizer", 0, failures.size)
    }
}
