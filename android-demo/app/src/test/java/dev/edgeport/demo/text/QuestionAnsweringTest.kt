package dev.edgeport.demo.text

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized
import java.io.File

/** One case of squad-windows.json (tests/squad_golden.py, from edgeport.tasks.squad.windows) and its golden directory. */
class WindowCase(val dir: GoldenFiles.GoldenDir, m: Map<*, *>) {
    val name = m["name"] as String
    val question = m["question"] as String
    val context = m["context"] as String
    val seqLen = (m["seq_len"] as Double).toInt()
    val stride = (m["stride"] as Double).toInt()
    val error = m["error"] as String?
    val inputIds = ints(m["input_ids"])
    val attentionMask = ints(m["attention_mask"])
    val tokenTypeIds = ints(m["token_type_ids"])
    val offsets: List<CharSpan?>? = (m["offsets"] as List<*>?)?.let { list ->
        Spans.fromCodePoints(context, list.map { o -> (o as List<*>?)?.let { Pair((it[0] as Double).toInt(), (it[1] as Double).toInt()) } })
    }
    val contextTokens = (m["context_tokens"] as Double?)?.toInt()
    val totalContextTokens = (m["total_context_tokens"] as Double?)?.toInt()
    val readTo = (m["read_to"] as Double?)?.let { Entities.utf16(context, it.toInt()) }
    val windows = (m["windows"] as Double?)?.toInt()

    override fun toString() = "${dir.name}:$name"

    private fun ints(v: Any?): IntArray? = (v as List<*>?)?.let { l -> IntArray(l.size) { (l[it] as Double).toInt() } }
}

/**
 * The app's window of question + paragraph ([QaWindows.build]) against Python's first window of `squad.windows`, for
 * every case of every WordPiece golden directory (the MiniLM tokenizer and the BERT/DistilBERT family tokenizers):
 * the same ids, attention mask and token types, the same character span for every paragraph token (code points in the
 * file, UTF-16 here), as many paragraph tokens of as many, read up to the same character; and the same refusal of a
 * question that leaves the paragraph no more than the stride.
 */
@RunWith(Parameterized::class)
class QaWindowsTest(private val case: WindowCase) {
    @Test fun windowEqualsPythons() {
        val tokenizer = tokenizer(case.dir, case.seqLen)
        if (case.error != null) {
            val e = assertThrows(IllegalArgumentException::class.java) { QaWindows.build(tokenizer, case.question, case.context, case.stride) }
            assertTrue(e.message, e.message!!.contains("not more than the stride ${case.stride}"))
            return
        }
        val w = QaWindows.build(tokenizer, case.question, case.context, case.stride)
        assertArrayEquals("input_ids", case.inputIds, w.encoding.inputIds)
        assertArrayEquals("attention_mask", case.attentionMask, w.encoding.attentionMask)
        assertArrayEquals("token_type_ids", case.tokenTypeIds, w.encoding.tokenTypeIds)
        assertEquals("offsets", case.offsets, w.offsets)
        assertEquals("paragraph tokens", listOf(case.contextTokens, case.totalContextTokens, case.readTo),
            listOf(w.contextTokens, w.totalContextTokens, w.readTo))
        assertEquals("cut", case.windows!! > 1, w.truncated)
    }

    companion object {
        const val FORMAT = "edgeport-squad-windows/1"
        private val tokenizers = HashMap<Pair<String, Int>, BertTokenizer>()

        fun tokenizer(dir: GoldenFiles.GoldenDir, seqLen: Int): BertTokenizer =
            tokenizers.getOrPut(dir.name to seqLen) { QaWindows.wordPiece(dir.tokenizer(seqLen)) }

        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun cases(): List<Array<Any>> {
            val dirs = GoldenFiles.dirs().filter { File(it.dir, "squad-windows.json").isFile }
            require(dirs.isNotEmpty() || !GoldenFiles.required) { "no squad-windows.json in ${GoldenFiles.dir}" }
            val cases = dirs.flatMap { dir ->
                val root = MiniJson.parse(File(dir.dir, "squad-windows.json").readText()) as Map<*, *>
                require(root["format"] == FORMAT) { "squad windows: format ${root["format"]}, expected $FORMAT" }
                (root["cases"] as List<*>).map { WindowCase(dir, it as Map<*, *>) }
            }
            for ((dir, mine) in cases.groupBy { it.dir.name }) {
                println("squad windows $dir: ${mine.size} windows, ${mine.count { (it.windows ?: 1) > 1 }} paragraphs cut, " +
                    "${mine.count { it.error != null }} questions refused")
            }
            return cases.map { arrayOf<Any>(it) }
        }
    }
}

/** Hand cases of the question-answering pieces: offsets, the window's layout, the output split, the highlight. */
class QuestionAnsweringUnitTest {
    private val vocab = Vocab(listOf("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "where", "is", "the", "cafe", "?",
        "zurich", "in", "it", "##s", "😀", "."))

    private fun bert(seqLen: Int = 16, typeIds: Boolean = true) =
        BertTokenizer(vocab, seqLen, BertNormalizer(), BertTokenizer.DEFAULT_SPECIAL_TOKENS, typeIds)

    @Test fun tokenSpansAreTheOriginalCharacters() {
        val text = "Its Café 😀 in ZÜRICH[SEP]x"
        val spans = bert().tokenSpans(text)
        assertEquals(bert().tokenize(text), spans.map { it.id })
        // "Its" = it + ##s, "Café" normalized to "cafe" spans its four characters, the emoji its two UTF-16 units,
        // a literal [SEP] its five characters, "x" (unknown) the whole word
        assertEquals(listOf("It", "s", "Café", "😀", "in", "ZÜRICH", "[SEP]", "x"), spans.map { text.substring(it.start, it.end) })
    }

    @Test fun theWindowIsClsQuestionSepParagraphSep() {
        val w = QaWindows.build(bert(), "  Where is the cafe?", "The café is in Zürich.", stride = 2)
        assertArrayEquals(intArrayOf(2, 5, 6, 7, 8, 9, 3, 7, 8, 6, 11, 10, 15, 3, 0, 0), w.encoding.inputIds)
        assertArrayEquals(intArrayOf(0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0), w.encoding.tokenTypeIds)
        assertEquals(listOf(null, null, null, null, null, null, null, CharSpan(0, 3), CharSpan(4, 8), CharSpan(9, 11),
            CharSpan(12, 14), CharSpan(15, 21), CharSpan(21, 22), null, null, null), w.offsets)
        assertEquals(listOf(6, 6, 22), listOf(w.contextTokens, w.totalContextTokens, w.readTo))
        assertEquals(false, w.truncated)
        // no token types (DistilBERT): zeros, as transformers feeds the model
        assertArrayEquals(IntArray(16), QaWindows.build(bert(typeIds = false), "where?", "in zurich.", 2).encoding.tokenTypeIds)
    }

    @Test fun aLongParagraphIsCutToTheWindow() {
        // 10 tokens: [CLS] where ? [SEP] + 5 of the paragraph's 10 + [SEP]
        val w = QaWindows.build(bert(seqLen = 10), "where?", "it is in zurich. it is the cafe.", stride = 2)
        assertEquals(listOf(5, 10, "it is in zurich.".length), listOf(w.contextTokens, w.totalContextTokens, w.readTo))
        assertTrue(w.truncated)
        val h = Highlight.of("it is in zurich. it is the cafe.", AnswerSpan("zurich", 9, 15, 1.0, 7, 7), w)
        assertEquals(Highlight("it is in zurich. it is the cafe.", CharSpan(9, 15), CharSpan(16, 32)), h)
    }

    @Test fun aQuestionThatLeavesNoRoomIsRefused() {
        val e = assertThrows(IllegalArgumentException::class.java) {
            QaWindows.build(bert(seqLen = 10), "where is the cafe?", "in zurich.", stride = 2)
        }
        assertEquals("the question is 5 tokens long: a window of 10 tokens leaves 2 for the paragraph, not more than the " +
            "stride 2; ask a shorter question", e.message)
        assertThrows(IllegalArgumentException::class.java) { QaWindows.build(bert(), "where?", " \n ", 2) }
        assertThrows(IllegalArgumentException::class.java) { QaWindows.build(bert(), "", "in zurich.", 2) }
    }

    @Test fun highlightRangesAreUtf16() {
        // Python's span 7-13 of "A 😀 in Zürich" (code points) is UTF-16 8-14 here: what SpannableString takes
        val context = "A 😀 in Zürich"
        val offsets = Spans.fromCodePoints(context, listOf(null, Pair(0, 1), Pair(2, 3), Pair(4, 6), Pair(7, 13)))
        val start = floatArrayOf(0f, 0f, 0f, 0f, 5f)
        val end = floatArrayOf(0f, 0f, 0f, 0f, 5f)
        val answer = Spans.bestSpan(start, end, offsets, context)!!
        val window = QaWindow(Encoding(IntArray(5), IntArray(5), IntArray(5)), offsets, 4, 4, context.length)
        val h = Highlight.of(context, answer, window)
        assertEquals(CharSpan(8, 14), h.answer)
        assertEquals("Zürich", context.substring(h.answer!!.start, h.answer!!.end))
        assertNull(h.unread) // the whole paragraph was read
        assertNull(Highlight.of(context, null, window).answer)
        // read to its last token, not its last character (trailing spaces): still nothing unread
        val spaced = "in zurich.  "
        val whole = QaWindows.build(bert(), "where?", spaced, 2)
        assertEquals(listOf(false, 10), listOf(whole.truncated, whole.readTo))
        assertNull(Highlight.of(spaced, null, whole).unread)
    }

    @Test fun theOutputIsStartThenEndLogits() {
        val spans = SpanOutput(listOf("start_logits", "end_logits"), docStride = 4)
        val (start, end) = spans.split(floatArrayOf(1f, 2f, 3f, 4f, 5f, 6f))
        assertArrayEquals(floatArrayOf(1f, 2f, 3f), start, 0f)
        assertArrayEquals(floatArrayOf(4f, 5f, 6f), end, 0f)
        assertThrows(IllegalArgumentException::class.java) { spans.split(floatArrayOf(1f, 2f, 3f)) }
        assertThrows(IllegalArgumentException::class.java) { SpanOutput(listOf("logits"), docStride = 4) }
    }

    @Test fun leadingWhitespaceIsStrippedAsPythonDoes() {
        assertEquals("Who?  ", QaWindows.lstrip(" \t\n\u000b\u000c\r\u001c\u0085\u00a0\u2003\u3000Who?  "))
        assertEquals("\u200bWho?", QaWindows.lstrip("\u200bWho?")) // a zero-width space is no space to Python
    }
}
