package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test

/** The self-check's model half past the tolerance, per screen: entity words, tags and entities; embedding cosine. */
class OutputChecksTest {
    private val names = listOf("O", "B-PER", "I-PER")
    private val tokenizer = BertTokenizer(Vocab(listOf("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "ann", "smith", "ran")), 8)
    private val tagger = ModelInfo.parse("""{"format": "edgeport-android/1", "task": "token-classification",
        "labels": ["O", "B-PER", "I-PER"], "seq_len": 8, "inputs": {"input_ids": "input_ids"}, "output": "logits",
        "labels_on": "first_subtoken", "scheme": "IOB2"}""")
    private val text = "Ann Smith ran"
    private val golden = GoldenSet(8, 0.05f, 0.02f, emptyList())

    /** The output on "Ann Smith ran" (8 positions): [tags] on the three words' tokens, scores 4 apart; else O. */
    private fun output(vararg tags: Int, margin: Float = 4f): FloatArray = (0 until 8).flatMap { t ->
        val tag = if (t in 1..3) tags[t - 1] else 0
        names.indices.map { if (it == tag) margin else 0f }
    }.toFloatArray()

    private fun case(logits: FloatArray, words: List<Word> = BertTokenizer.words(text)): GoldenCase {
        val e = tokenizer.encode(text)
        val entities = GoldenEntities(words, intArrayOf(-1, 0, 1, 2, -1), 0, listOf("B-PER", "I-PER", "O"),
            listOf(Entity("PER", 0, 9, "Ann Smith", 0, 2)))
        return GoldenCase("c", text, null, e.inputIds, e.attentionMask, e.tokenTypeIds, logits, entities = entities)
    }

    private val check = OutputChecks.forModel(tagger, tokenizer)

    @Test fun theGoldenTagsAndEntitiesAgree() = assertNull(check.disagreement(case(output(1, 2, 0)), output(1, 2, 0), golden))

    @Test fun aFlippedTagIsNamed() = assertEquals(
        "word 1 'Smith': tag O vs golden I-PER", check.disagreement(case(output(1, 2, 0)), output(1, 0, 0), golden))

    /** A golden near tie (Smith: I-PER 0.05 above O) may flip on another CPU's kernels. */
    @Test fun aNearTieMayFlip() {
        val gold = output(1, 2, 0).also { it[2 * 3 + 0] = 3.95f } // token 2 (Smith): O 3.95, I-PER 4
        assertNull(check.disagreement(case(gold), output(1, 0, 0), golden))
    }

    @Test fun theAppsWordsMustBePythons() = assertEquals(
        "words [Ann@0-3, Smith@4-9, ran@10-13] vs golden [Ann@0-3, Smith@4-9, ran@10-14]",
        check.disagreement(case(output(1, 2, 0), listOf(Word("Ann", 0, 3), Word("Smith", 4, 9), Word("ran", 10, 14))),
            output(1, 2, 0), golden))

    @Test fun anEmbeddingFarFromItsGoldenVectorFails() {
        val info = ModelInfo.parse("""{"format": "edgeport-android/1", "task": "sentence-embedding", "seq_len": 8,
            "inputs": {"input_ids": "input_ids"}, "output": "embedding"}""")
        val e = tokenizer.encode(text)
        val c = GoldenCase("v", text, null, e.inputIds, e.attentionMask, e.tokenTypeIds, floatArrayOf(1f, 0f), floatArrayOf(1f, 0f))
        val embedding = OutputChecks.forModel(info, tokenizer)
        assertNull(embedding.disagreement(c, floatArrayOf(0.9999f, 0.01f), golden))
        assertEquals("embedding cosine 0.6000 to the golden vector, under 0.9900",
            embedding.disagreement(c, floatArrayOf(0.6f, 0.8f), golden))
    }
}
