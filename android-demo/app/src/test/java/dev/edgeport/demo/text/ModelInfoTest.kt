package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Test

/** labels.json parsing, and the non-null signature key handed to LiteRT's CompiledModel. */
class ModelInfoTest {
    private fun labels(signature: String) = """{"format": "edgeport-android/1", "labels": ["a", "b"], "seq_len": 16,
        "inputs": {"input_ids": "ids", "attention_mask": "mask", "token_type_ids": null}, "output": "logits"$signature}"""

    @Test fun namedSignatureIsPassedThrough() {
        val info = ModelInfo.parse(labels(""", "signature": "serving_default""""))
        assertEquals("serving_default", info.signatureKey)
        assertEquals(mapOf("input_ids" to "ids", "attention_mask" to "mask"), info.inputs)
    }

    @Test fun tokenizerSectionNamesFamilyAndAssets() {
        val info = ModelInfo.parse(labels(""", "tokenizer": {"family": "unigram", "files": {"pieces": "unigram.tsv"},
            "normalizer": {"type": "Sequence", "normalizers": [{"type": "Precompiled", "charsmap": "charsmap.b64"}]}}"""))
        assertEquals("unigram", info.tokenizerFamily)
        assertEquals(listOf("unigram.tsv", "charsmap.b64"), info.tokenizerAssets)
        assertEquals("wordpiece", ModelInfo.parse(labels("")).tokenizerFamily)
        assertEquals(listOf("vocab.txt"), ModelInfo.parse(labels("")).tokenizerAssets)
    }

    @Test fun missingSignatureBecomesEmptyKey() {
        assertEquals("", ModelInfo.parse(labels("")).signatureKey)
        assertEquals("", ModelInfo.parse(labels(""", "signature": null""")).signatureKey)
    }

    @Test fun smallestBucketHoldingTheInputIsChosen() {
        val info = ModelInfo.parse(labels(""", "signature": "serving_default", "seq_buckets": [4, 8, 16],
            "bucket_signatures": {"4": "seq_4", "8": "seq_8", "16": "serving_default"}"""))
        assertEquals(listOf(4, 8, 16), info.seqBuckets)
        assertEquals(listOf(4, 4, 4, 8, 8, 16, 16), listOf(0, 1, 4, 5, 8, 9, 16).map(info::bucketFor))
        assertEquals("seq_4", info.signatureFor(4))
        assertEquals("serving_default", info.signatureFor(info.bucketFor(12)))
    }

    @Test fun singleSignatureFileIsOneBucket() {
        val info = ModelInfo.parse(labels(""", "signature": "serving_default""""))
        assertEquals(listOf(16), info.seqBuckets)
        assertEquals(16, info.bucketFor(3))
        assertEquals("serving_default", info.signatureFor(16))
    }

    @Test(expected = IllegalArgumentException::class) fun bucketsMustEndAtSeqLen() {
        ModelInfo.parse(labels(""", "seq_buckets": [4, 8]"""))
    }
}
