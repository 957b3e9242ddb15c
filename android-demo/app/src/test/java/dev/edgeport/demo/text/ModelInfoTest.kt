package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File

/** labels.json parsing (the task keys too), and the non-null signature key handed to LiteRT's CompiledModel. */
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

    @Test fun classificationFilesAreUnchanged() {
        val info = ModelInfo.parse(labels(""", "signature": "serving_default""""))
        assertEquals(ModelInfo.SEQUENCE_CLASSIFICATION, info.task)
        assertEquals(AppMode.CLASSIFY, info.mode)
        assertNull(info.embedding)
        assertNull(info.tags)
        assertEquals("logits", info.output)
        // the embedding keys mean nothing to a classifier
        assertNull(ModelInfo.parse(labels(""", "pooling": "mean", "normalize": false""")).embedding)
        val missing = assertThrows(IllegalArgumentException::class.java) {
            ModelInfo.parse("""{"format": "edgeport-android/1", "labels": ["a"], "seq_len": 16, "output": "logits"}""")
        }
        assertEquals("labels.json: need at least two labels", missing.message)
    }

    private fun embedding(keys: String) = """{"format": "edgeport-android/1", "task": "sentence-embedding", "seq_len": 16,
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"}$keys}"""

    @Test fun sentenceEmbeddingKeysAndDefaults() {
        val pooled = ModelInfo.parse(embedding(""", "output": "embedding""""))
        assertEquals(AppMode.SIMILARITY, pooled.mode)
        assertEquals(emptyList<String>(), pooled.labels)
        val e = pooled.embedding!!
        assertEquals(listOf("embedding", "mean", true, null), listOf(e.output, e.pooling, e.normalize, e.dim))
        assertTrue(e.pooledInGraph)
        assertEquals("embedding", pooled.outputFor(16).name) // LiteRT addresses the output by this name
        val hidden = ModelInfo.parse(embedding(""", "output": "last_hidden_state", "pooling": "mean", "normalize": false,
            "embedding_dim": 384"""))
        val h = hidden.embedding!!
        assertEquals(listOf("last_hidden_state", "mean", false, 384), listOf(h.output, h.pooling, h.normalize, h.dim))
        assertFalse(h.pooledInGraph)
    }

    @Test fun badSentenceEmbeddingFilesAreRefused() {
        for ((keys, message) in listOf(
            "" to "a sentence-embedding model needs `output`",
            """, "output": "logits"""" to "output is 'embedding' or 'last_hidden_state', got 'logits'",
            """, "output": "last_hidden_state", "pooling": "cls"""" to "pooling 'cls' is not one the app does",
        )) {
            val e = assertThrows(IllegalArgumentException::class.java) { ModelInfo.parse(embedding(keys)) }
            assertTrue("${e.message} should say $message", e.message!!.contains(message))
        }
        val task = assertThrows(IllegalArgumentException::class.java) { ModelInfo.parse(labels(""", "task": "fill-mask"""")) }
        assertTrue(task.message, task.message!!.contains("task 'fill-mask' is not one the app runs"))
    }

    /** The keys `edgeport android` copies from a token classifier's sidecar (edgeport/tasks/models.py). */
    private fun tagger(keys: String, labels: String = """["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]""") =
        """{"format": "edgeport-android/1", "task": "token-classification", "labels": $labels, "seq_len": 16,
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"}, "output": "logits"$keys}"""

    private val taggerKeys = """, "output_shape": "[1, seq, num_tags]", "labels_on": "first_subtoken", "scheme": "IOB2""""

    @Test fun tokenClassificationKeysPickTheEntityMode() {
        val info = ModelInfo.parse(tagger(taggerKeys))
        assertEquals(AppMode.ENTITIES, info.mode)
        assertEquals(listOf("first_subtoken", "IOB2"), listOf(info.tags!!.labelsOn, info.tags!!.scheme))
        assertEquals("[1, seq, num_tags]", info.outputShape)
        assertEquals(listOf("O", "B-LOC", "I-LOC", "B-PER", "I-PER"), info.labels)
        assertNull(info.embedding)
        // every task the app runs has its screen
        assertEquals(ModelInfo.TASKS.toSet(), ModelInfo.MODES.keys)
    }

    @Test fun badTokenClassificationFilesAreRefused() {
        for ((json, message) in listOf(
            tagger(""", "scheme": "IOB2"""") to "a token-classification model needs `labels_on`",
            tagger(""", "labels_on": "first_subtoken"""") to "a token-classification model needs `scheme`",
            tagger(""", "labels_on": "all_subtokens", "scheme": "IOB2"""") to "labels_on 'all_subtokens' is not one the app reads",
            tagger(""", "labels_on": "first_subtoken", "scheme": "BILOU"""") to "tag scheme 'BILOU' is not one the app decodes",
            tagger(taggerKeys, """["O", "U-PER"]""") to "tag 'U-PER' is not O, B-TYPE or I-TYPE",
            tagger(taggerKeys, """["O"]""") to "need at least two labels",
        )) {
            val e = assertThrows(IllegalArgumentException::class.java) { ModelInfo.parse(json) }
            assertTrue("${e.message} should say $message", e.message!!.contains(message))
        }
    }

    /** The keys `edgeport android` writes for a question-answering model (edgeport/apps/android.py `_qa_settings`). */
    private fun qa(keys: String) = """{"format": "edgeport-android/1", "task": "question-answering", "labels": [], "seq_len": 16,
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"}, "output": "span_logits",
        "output_shape": "[1, seq] each (start_logits, end_logits)", "seq_buckets": [8, 16],
        "bucket_signatures": {"8": "seq_8", "16": "serving_default"}, "signature": "serving_default",
        "signature_outputs": {"seq_8": [{"name": "output_0", "dtype": "float32"}, {"name": "output_1", "dtype": "float32"}],
                              "serving_default": [{"name": "output_0", "dtype": "float32"}, {"name": "output_1", "dtype": "float32"}]}$keys}"""

    @Test fun questionAnsweringKeysPickTheAnswerMode() {
        val info = ModelInfo.parse(qa(""", "outputs": ["start_logits", "end_logits"], "n_best": 5, "max_answer_len": 7, "doc_stride": 4"""))
        assertEquals(AppMode.ANSWER, info.mode)
        val spans = info.spans!!
        assertEquals(listOf(listOf("start_logits", "end_logits"), 5, 7, 4), listOf(spans.outputs, spans.nBest, spans.maxAnswerLen, spans.docStride))
        assertEquals(emptyList<String>(), info.labels)
        assertEquals(listOf("output_0", "output_1"), info.outputsFor(8).map { it.name })
        assertEquals(listOf("output_0", "output_1"), info.outputsFor(16).map { it.name })
        // the span search defaults to squad.best_span's
        val defaults = ModelInfo.parse(qa(""", "outputs": ["start_logits", "end_logits"], "doc_stride": 4""")).spans!!
        assertEquals(listOf(Spans.N_BEST, Spans.MAX_ANSWER_LEN), listOf(defaults.nBest, defaults.maxAnswerLen))
        // a single-output model's list is its one output
        assertEquals(listOf("logits"), ModelInfo.parse(labels(""", "signature": "serving_default"""")).outputsFor(16).map { it.name })
    }

    @Test fun badQuestionAnsweringFilesAreRefused() {
        for ((json, message) in listOf(
            qa(""", "doc_stride": 4""") to "a question-answering model needs `outputs`",
            qa(""", "outputs": ["start_logits", "end_logits"]""") to "a question-answering model needs `doc_stride`",
            qa(""", "outputs": ["logits"], "doc_stride": 4""") to "has two outputs (start and end logits)",
            qa(""", "outputs": ["start_logits", "end_logits"], "doc_stride": 4, "n_best": 0""") to "n_best 0",
        )) {
            val e = assertThrows(IllegalArgumentException::class.java) { ModelInfo.parse(json) }
            assertTrue("${e.message} should say $message", e.message!!.contains(message))
        }
    }

    @Test(expected = IllegalArgumentException::class) fun bucketsMustEndAtSeqLen() {
        ModelInfo.parse(labels(""", "seq_buckets": [4, 8]"""))
    }

    /**
     * The app's assets (`edgeport android RUN_DIR`): every golden case records the bucket its logits were computed
     * on in Python; the app must pick that same bucket for the case's tokens, and every bucket must have a case.
     */
    @Test fun goldenCasesRunOnTheBucketPythonUsed() {
        val dir = GoldenFiles.dir
        val labels = dir?.let { File(it, "labels.json") }?.takeIf { it.isFile }
        val golden = dir?.let { File(it, "golden.json") }?.takeIf { it.isFile }
        assumeTrue("no app assets with golden.json", labels != null && golden != null)
        val info = ModelInfo.parse(labels!!.readText())
        val cases = ((MiniJson.parse(golden!!.readText()) as Map<*, *>)["cases"] as List<*>).map { it as Map<*, *> }
        assumeTrue("golden.json from before length buckets", cases.all { it["bucket"] != null })
        val used = HashSet<Int>()
        for (c in cases) {
            val tokens = (c["attention_mask"] as List<*>).sumOf { (it as Double).toInt() }
            val bucket = (c["bucket"] as Double).toInt()
            assertEquals("${c["name"]}: $tokens tokens", bucket, info.bucketFor(tokens))
            used.add(bucket)
        }
        assertEquals("every bucket has a golden case", info.seqBuckets.toSet(), used)
        assertTrue(cases.isNotEmpty())
    }
}
