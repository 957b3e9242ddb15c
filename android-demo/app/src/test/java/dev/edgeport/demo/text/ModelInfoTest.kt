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
}
