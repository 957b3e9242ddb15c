package dev.edgeport.demo.text

import org.junit.Assert.assertNull
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

/**
 * One JUnit test per golden case and tokenizer (MiniLM, each family under families/, or the app's assets): Kotlin
 * ids, mask and token types must equal the Python tokenizer's exactly.
 */
@RunWith(Parameterized::class)
class GoldenTokenizerTest(private val file: String, private val case: GoldenCase, private val tokenizer: TextTokenizer) {

    @Test
    fun idsEqualPython() {
        assertNull(SelfCheck.tokenizerMismatch(case, tokenizer.encode(case.text, case.textPair)))
    }

    companion object {
        @JvmStatic
        @Parameterized.Parameters(name = "{0}: {1}")
        fun cases(): List<Array<Any>> = GoldenFiles.dirs().flatMap { d ->
            d.goldenFiles().flatMap { f ->
                val golden = GoldenSet.parse(f.readText())
                val tokenizer = d.tokenizer(golden.seqLen)
                golden.cases.map { arrayOf<Any>("${d.name}/${f.name}", it, tokenizer) }
            }
        }
    }
}
