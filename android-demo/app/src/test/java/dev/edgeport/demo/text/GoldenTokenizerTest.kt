package dev.edgeport.demo.text

import org.junit.Assert.assertNull
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

/**
 * One JUnit test per golden case and tokenizer (MiniLM, each family under families/, or the app's assets): Kotlin
 * ids, mask and token types must equal the Python tokenizer's exactly (a question-answering model's: its window of
 * question + paragraph, [QaWindows]).
 */
@RunWith(Parameterized::class)
class GoldenTokenizerTest(private val file: String, private val case: GoldenCase, private val encode: (GoldenCase) -> Encoding) {

    @Test
    fun idsEqualPython() {
        assertNull(SelfCheck.tokenizerMismatch(case, encode(case)))
    }

    companion object {
        @JvmStatic
        @Parameterized.Parameters(name = "{0}: {1}")
        fun cases(): List<Array<Any>> = GoldenFiles.dirs().flatMap { d ->
            d.goldenFiles().flatMap { f ->
                val golden = GoldenSet.parse(f.readText())
                val encode = d.encoder(d.tokenizer(golden.seqLen)) // a question-answering model's: its window
                golden.cases.map { arrayOf<Any>("${d.name}/${f.name}", it, encode) }
            }
        }
    }
}
