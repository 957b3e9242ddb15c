package dev.edgeport.demo.text

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

/** One golden case of ner-entities.json (tests/ner_golden.py, from edgeport.tasks.ner). */
class NerCase(val m: Map<*, *>) {
    val name = m["name"] as String
    val mode = m["mode"] as String
    val text = m["text"] as String
    val seqLen = (m["seq_len"] as Double).toInt()
    val words = (m["words"] as List<*>).map { it as String }
    val spans = (m["spans"] as List<*>).map { s -> (s as List<*>).map { Entities.utf16(text, (it as Double).toInt()) } }
    val inputIds = ints(m["input_ids"])
    val wordIds = ints(m["word_ids"])
    val droppedWords = (m["dropped_words"] as Double).toInt()
    val logits = (m["logits"] as List<*>).map { row -> (row as List<*>).map { (it as Double).toFloat() }.toFloatArray() }.toTypedArray()
    val wordTags = (m["word_tags"] as List<*>).map { it as String }
    val entities = (m["entities"] as List<*>).map { Entities.parse(it as Map<*, *>, text) }

    override fun toString() = name

    companion object {
        fun ints(v: Any?) = (v as List<*>).map { (it as Double).toInt() }.toIntArray()
    }
}

/**
 * Kotlin against Python for every golden case: the words (raw texts split by the tokenizer's pre-tokenizer, with
 * their offsets), the token ids and word ids of the MiniLM WordPiece tokenizer on pre-split words, the dropped-word
 * count, the word tags read from the seeded logits and the entities with their character spans.
 */
@RunWith(Parameterized::class)
class EntitiesTest(private val case: NerCase, private val tagNames: List<String>, private val tokenizer: BertTokenizer) {

    @Test
    fun entitiesEqualPython() {
        val words = if (case.mode == "text") BertTokenizer.words(case.text) else Entities.wordSpans(case.words)
        assertEquals("words", case.words.indices.map { Word(case.words[it], case.spans[it][0], case.spans[it][1]) }, words)
        val enc = tokenizer.encodeWords(words.map { it.text })
        val n = case.inputIds.size
        assertArrayEquals("input ids", case.inputIds, enc.encoding.inputIds.copyOf(n))
        assertEquals("attention mask", n, enc.encoding.length)
        assertArrayEquals("word ids", case.wordIds, enc.wordIds.copyOf(n))
        assertEquals("dropped words", case.droppedWords, enc.droppedWords)
        assertEquals("word tags", case.wordTags, Entities.wordTags(case.logits, tagNames, enc.wordIds, words.size))
        assertEquals("entities", case.entities, Entities.fromLogits(case.text, words, enc, case.logits, tagNames))
    }

    companion object {
        const val FORMAT = "edgeport-ner-golden/1"

        @JvmStatic
        @Parameterized.Parameters(name = "{0}")
        fun cases(): List<Array<Any>> {
            val file = GoldenFiles.file("ner-entities.json") ?: return emptyList()
            val root = MiniJson.parse(file.readText()) as Map<*, *>
            require(root["format"] == FORMAT) { "ner golden: format ${root["format"]}, expected $FORMAT" }
            val names = (root["tag_names"] as List<*>).map { it as String }
            val minilm = GoldenFiles.GoldenDir("minilm", GoldenFiles.dir!!)
            val tokenizers = HashMap<Int, BertTokenizer>()
            val cases = (root["cases"] as List<*>).map { NerCase(it as Map<*, *>) }
            require(cases.isNotEmpty()) { "no cases in $file" }
            // CoNLL-2003 is not in CI's data (only SST-2): the raw-text cases run there, the CoNLL ones where it is.
            val conll = ((root["source"] as Map<*, *>)["conll_cases"] as Double).toInt()
            println("ner golden: ${cases.size} cases, $conll of them CoNLL-2003 validation sentences")
            return cases.map { c ->
                arrayOf(c, names, tokenizers.getOrPut(c.seqLen) { minilm.tokenizer(c.seqLen) as BertTokenizer })
            }
        }
    }
}

/** Hand cases of the decoding and of the word-level tokenizer output. */
class EntitiesUnitTest {
    private val names = listOf("O", "B-LOC", "I-LOC", "B-PER", "I-PER")

    private fun tags(vararg t: String) = t.toList()

    @Test fun strictDecodingIgnoresStrayInsideTags() = assertEquals(
        listOf(Triple("LOC", 3, 5), Triple("PER", 6, 7), Triple("PER", 7, 9)),
        Entities.decode(tags("I-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-PER", "B-PER", "B-PER", "I-PER")))

    @Test fun entityAtTheEndIsClosed() =
        assertEquals(listOf(Triple("LOC", 1, 3)), Entities.decode(tags("O", "B-LOC", "I-LOC")))

    @Test fun badTagIsRefused() {
        assertThrows(IllegalArgumentException::class.java) { Entities.decode(tags("O", "U-PER")) }
        assertThrows(IllegalArgumentException::class.java) { Entities.decode(tags("B-")) }
    }

    @Test fun wordTagsReadTheFirstSubToken() {
        val logits = arrayOf(
            floatArrayOf(9f, 0f, 0f, 0f, 0f),  // [CLS]
            floatArrayOf(0f, 0f, 0f, 5f, 0f),  // word 0, first piece: B-PER
            floatArrayOf(0f, 9f, 0f, 0f, 0f),  // word 0, second piece: ignored
            floatArrayOf(0f, 0f, 0f, 0f, 5f),  // word 1: I-PER
            floatArrayOf(9f, 0f, 0f, 0f, 0f),  // [SEP]
            floatArrayOf(0f, 9f, 0f, 0f, 0f),  // padding
        )
        val ids = intArrayOf(-1, 0, 0, 1, -1, -1)
        assertEquals(listOf("B-PER", "I-PER", "O"), Entities.wordTags(logits, names, ids, 3))
        assertThrows(IllegalArgumentException::class.java) { Entities.wordTags(logits, names.take(4), ids, 3) }
        assertThrows(IllegalArgumentException::class.java) { Entities.wordTags(logits, names, ids, 1) }
    }

    @Test fun entitiesCarryTheirTextSpans() {
        val text = "Peter  Blackburn in U.S."
        val words = BertTokenizer.words(text)
        assertEquals(listOf("Peter", "Blackburn", "in", "U", ".", "S", "."), words.map { it.text })
        val found = Entities.entities(text, words, tags("B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC", "I-LOC"))
        assertEquals(listOf(Entity("PER", 0, 16, "Peter  Blackburn", 0, 2), Entity("LOC", 20, 24, "U.S.", 3, 7)), found)
    }

    @Test fun wordSpansOfJoinedWords() =
        assertEquals(listOf(Word("EU", 0, 2), Word("rejects", 3, 10)), Entities.wordSpans(listOf("EU", "rejects")))

    @Test fun encodeWordsMarksWordsAndTruncation() {
        val vocab = Vocab(listOf("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello", "x"))
        val tok = BertTokenizer(vocab, 6)
        val enc = tok.encodeWords(listOf("hello", "unaffable", "x"))
        assertArrayEquals(intArrayOf(2, 8, 5, 6, 7, 3), enc.encoding.inputIds)
        assertArrayEquals(intArrayOf(-1, 0, 1, 1, 1, -1), enc.wordIds)
        assertEquals(1, enc.droppedWords)  // "x" did not fit
        val short = BertTokenizer(vocab, 8).encodeWords(listOf("x"))
        assertArrayEquals(intArrayOf(2, 9, 3, 0, 0, 0, 0, 0), short.encoding.inputIds)
        assertArrayEquals(intArrayOf(-1, 0, -1, -1, -1, -1, -1, -1), short.wordIds)
        assertEquals(0, short.droppedWords)
    }
}
