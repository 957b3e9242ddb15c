package dev.edgeport.demo.text

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test

/** The start-up self-check's arithmetic: softmax, arg-max, tolerance and the report, with a fake model. */
class SelfCheckTest {
    @Test fun softmaxSumsToOneAndIsStable() {
        val p = Postprocess.softmax(floatArrayOf(1000f, 1000f, -1000f))
        assertArrayEquals(floatArrayOf(0.5f, 0.5f, 0f), p, 1e-6f)
        assertEquals(1.0, Postprocess.softmax(floatArrayOf(0.3f, -1.2f, 2f)).sum().toDouble(), 1e-6)
    }

    @Test fun argmaxTiesGoToFirst() = assertEquals(1, Postprocess.argmax(floatArrayOf(0f, 2f, 2f)))

    @Test fun predictNamesLabel() = assertEquals("positive", Postprocess.predict(floatArrayOf(-1f, 1f), listOf("negative", "positive")).label)

    @Test fun toleranceIsAllclose() {
        assertTrue(SelfCheck.logitsWithin(floatArrayOf(1.04f, -2f), floatArrayOf(1f, -2f), 0.05f, 0f))
        assertFalse(SelfCheck.logitsWithin(floatArrayOf(1.06f, -2f), floatArrayOf(1f, -2f), 0.05f, 0f))
        assertTrue(SelfCheck.logitsWithin(floatArrayOf(10.5f), floatArrayOf(10f), 0f, 0.05f))
        assertFalse(SelfCheck.logitsWithin(floatArrayOf(1f), floatArrayOf(1f, 2f), 1f, 1f))
    }

    @Test fun labelFlipAllowedOnlyOnNearTie() {
        assertTrue(SelfCheck.labelAgrees(floatArrayOf(0.51f, 0.49f), floatArrayOf(0.49f, 0.51f), 0.05f))
        assertFalse(SelfCheck.labelAgrees(floatArrayOf(2f, 0f), floatArrayOf(0f, 2f), 0.05f))
    }

    private fun golden(logits: FloatArray?): Pair<GoldenSet, BertTokenizer> {
        val tok = BertTokenizer(Vocab(listOf("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good")), 6)
        val e = tok.encode("good")
        val case = GoldenCase("c", "good", null, e.inputIds, e.attentionMask, e.tokenTypeIds, logits)
        return GoldenSet(6, 0.05f, 0.02f, listOf(case)) to tok
    }

    @Test fun reportPassesWithinTolerance() {
        val (g, tok) = golden(floatArrayOf(-1f, 1f))
        val r = SelfCheck.run(g, tok) { floatArrayOf(-1.03f, 1.02f) }
        assertTrue(r.summary(), r.passed)
        assertEquals(1, r.modelCases)
        assertEquals(0.03f, r.maxAbsDiff, 1e-6f)
    }

    @Test fun reportFailsOnDrift() {
        val (g, tok) = golden(floatArrayOf(-1f, 1f))
        val r = SelfCheck.run(g, tok) { floatArrayOf(1f, -1f) }
        assertFalse(r.passed)
        assertTrue(r.summary().startsWith("FAIL"))
    }

    @Test fun reportFailsOnTokenizerMismatch() {
        val (g, _) = golden(null)
        val other = BertTokenizer(Vocab(listOf("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")), 6)  // "good" -> [UNK]
        val r = SelfCheck.run(g, other, null)
        assertFalse(r.passed)
        assertEquals(1, r.tokenizerMismatches.size)
    }

    @Test fun goldenJsonRoundTrip() {
        val json = """{"format":"edgeport-golden/1","seq_len":4,"tolerance":{"atol":0.05,"rtol":0.02},"cases":[
            {"name":"n","text":"a\u0000\ud83d\ude00","text_pair":null,"input_ids":[101,100,102,0],
             "attention_mask":[1,1,1,0],"token_type_ids":[0,0,0,0],"logits":[-1.5,2e-1]}]}"""
        val g = GoldenSet.parse(json)
        assertEquals("a\u0000\uD83D\uDE00", g.cases[0].text)
        assertArrayEquals(floatArrayOf(-1.5f, 0.2f), g.cases[0].logits, 0f)
        assertEquals(0.05f, g.atol, 0f)
    }
}
