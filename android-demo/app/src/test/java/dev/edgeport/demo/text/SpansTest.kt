package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

/** One golden case of squad-spans.json (tests/squad_golden.py, from edgeport.tasks.squad): one window of a question. */
class SpanCase(val m: Map<*, *>) {
    val name = m["name"] as String
    val context = m["context"] as String
    val offsets: List<CharSpan?> = Spans.fromCodePoints(context, (m["offsets"] as List<*>).map { o ->
        (o as List<*>?)?.let { Pair((it[0] as Double).toInt(), (it[1] as Double).toInt()) }
    })
    val startLogits = floats(m["start_logits"])
    val endLogits = floats(m["end_logits"])
    val nBest = (m["n_best"] as Double).toInt()
    val maxAnswerLen = (m["max_answer_len"] as Double).toInt()
    val expected: AnswerSpan? = (m["expected"] as Map<*, *>?)?.let {
        AnswerSpan(it["text"] as String, Entities.utf16(context, (it["start"] as Double).toInt()),
            Entities.utf16(context, (it["end"] as Double).toInt()), it["score"] as Double,
            (it["start_token"] as Double).toInt(), (it["end_token"] as Double).toInt())
    }

    override fun toString() = name

    companion object {
        fun floats(v: Any?) = (v as List<*>).map { (it as Double).toFloat() }.toFloatArray()
    }
}

/**
 * Kotlin against Python for every golden window: the same answer span (text, UTF-16 character span, tokens and
 * score, the score exactly: both add the two float32 logits in double), or no answer where Python found none.
 */
@RunWith(Parameterized::class)
class SpansTest(private val case: SpanCase) {

    @Test
    fun bestSpanEqualsPython() {
        val found = Spans.bestSpan(case.startLogits, case.endLogits, case.offsets, case.context, case.nBest, case.maxAnswerLen)
        assertEquals("best span", case.expected, found)
    }

    companion object {
        const val FORMAT = "edgeport-squad-golden/1"

        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun cases(): List<Array<Any>> {
            val file = GoldenFiles.file("squad-spans.json") ?: return emptyList()
            val root = MiniJson.parse(file.readText()) as Map<*, *>
            require(root["format"] == FORMAT) { "squad golden: format ${root["format"]}, expected $FORMAT" }
            val cases = (root["cases"] as List<*>).map { SpanCase(it as Map<*, *>) }
            require(cases.isNotEmpty()) { "no cases in $file" }
            // SQuAD may not be in CI's data: the hand cases run there, the dev ones where it is.
            val dev = ((root["source"] as Map<*, *>)["dev_questions"] as Double).toInt()
            println("squad golden: ${cases.size} windows (${cases.count { it.expected == null }} without an answer), " +
                "$dev SQuAD dev questions")
            return cases.map { arrayOf<Any>(it) }
        }
    }
}

/** Hand cases of the span rules, the same as tests/test_squad.py's. */
class SpansUnitTest {
    // One window of "Peter lives in Paris." after a question: [CLS] q q [SEP] Peter lives in Paris . [SEP] [PAD] [PAD]
    private val text = "Peter lives in Paris."
    private val offsets = listOf(null, null, null, null, CharSpan(0, 5), CharSpan(6, 11), CharSpan(12, 14),
        CharSpan(15, 20), CharSpan(20, 21), null, null, null)

    /** Twelve logits of -5 with the given positions set. */
    private fun logits(vararg at: Pair<Int, Float>) = FloatArray(12) { -5f }.also { for ((i, v) in at) it[i] = v }

    private fun best(start: FloatArray, end: FloatArray, nBest: Int = 20, maxLen: Int = 30) =
        Spans.bestSpan(start, end, offsets, text, nBest, maxLen)

    @Test fun bestSpanByHand() = assertEquals(AnswerSpan("Paris", 15, 20, 5.0, 7, 7), best(logits(7 to 3f), logits(7 to 2f)))

    @Test fun spansOutsideTheContextAreRefused() {
        val found = best(logits(1 to 9f, 10 to 8f, 5 to 1f), logits(9 to 9f, 11 to 8f, 6 to 1f))
        assertEquals(AnswerSpan("lives in", 6, 14, 2.0, 5, 6), found)
        assertNull(best(logits(1 to 9f, 5 to 1f), logits(2 to 9f, 6 to 1f), nBest = 1))
        // logits past the offsets (a longer padded output) are never read
        val longStart = logits(5 to 1f) + floatArrayOf(50f)
        val longEnd = logits(6 to 1f) + floatArrayOf(50f)
        assertEquals("lives in", Spans.bestSpan(longStart, longEnd, offsets, text)?.text)
    }

    @Test fun anEndBeforeTheStartIsRefused() =
        assertEquals(AnswerSpan("Peter lives", 0, 11, 6.0, 4, 5), best(logits(7 to 5f, 4 to 1f), logits(5 to 5f, 8 to 0.5f)))

    @Test fun maxAnswerLengthInTokens() {
        val start = logits(4 to 5f, 7 to 1f)
        val end = logits(8 to 5f, 7 to 1.5f)
        assertEquals("Peter lives in Paris.", best(start, end)?.text)
        assertEquals("Peter lives in Paris.", best(start, end, maxLen = 5)?.text)
        assertEquals(AnswerSpan("Peter lives in Paris", 0, 20, 6.5, 4, 7), best(start, end, maxLen = 4))
        assertEquals(AnswerSpan("Paris", 15, 20, 2.5, 7, 7), best(start, end, maxLen = 1))
    }

    @Test fun tiesGoToTheEarliestSpan() {
        val found = best(logits(4 to 1f, 5 to 1f), logits(5 to 1f, 6 to 1f))
        assertEquals(Pair(4, 5), Pair(found?.startToken, found?.endToken))
        assertEquals(listOf(1, 3, 0, 2), Spans.topIndices(floatArrayOf(-0f, 1f, 0f, 1f), 4))  // -0.0 == 0.0 as numpy
    }

    @Test fun codePointsBecomeUtf16() {
        val context = "A 😀 in Zürich"
        val spans = Spans.fromCodePoints(context, listOf(null, Pair(0, 1), Pair(2, 3), Pair(7, 13)))
        assertEquals(listOf(null, CharSpan(0, 1), CharSpan(2, 4), CharSpan(8, 14)), spans)
        assertEquals("Zürich", context.substring(spans[3]!!.start, spans[3]!!.end))
    }

    @Test fun badInputsAreRefused() {
        assertThrows(IllegalArgumentException::class.java) { Spans.bestSpan(logits(), FloatArray(11), offsets, text) }
        assertThrows(IllegalArgumentException::class.java) { Spans.bestSpan(FloatArray(10), FloatArray(10), offsets, text) }
        assertThrows(IllegalArgumentException::class.java) { best(logits(5 to Float.NaN), logits()) }
        assertThrows(IllegalArgumentException::class.java) {
            Spans.bestSpan(logits(), logits(), listOf(CharSpan(0, 50)), text)
        }
    }
}
