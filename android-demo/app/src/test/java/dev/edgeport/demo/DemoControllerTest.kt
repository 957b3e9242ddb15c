package dev.edgeport.demo

import dev.edgeport.demo.text.AppMode
import dev.edgeport.demo.text.CharSpan
import dev.edgeport.demo.text.Encoding
import dev.edgeport.demo.text.GoldenCase
import dev.edgeport.demo.text.GoldenFiles
import dev.edgeport.demo.text.GoldenSet
import dev.edgeport.demo.text.Highlight
import dev.edgeport.demo.text.ModelInfo
import dev.edgeport.demo.text.OutputChecks
import dev.edgeport.demo.text.QaWindow
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File
import java.io.FileNotFoundException

/**
 * The app's logic (DemoController) with a fake model and view: what the screen shows on success, and that every
 * failure on the background thread (missing asset, model load, self-check, a throwing logits()) ends up on screen
 * instead of escaping the worker and crashing the app.
 */
class DemoControllerTest {
    private class FakeLiteRtException(message: String) : Exception(message)

    /** Returns [-1, 1] ("positive") when the ids contain "good" (5), else [1, -1]; [failWith] makes it throw. */
    private class FakeClassifier : Classifier {
        var failWith: Exception? = null
        var logits: FloatArray? = null
        /** When set, the output is this function of the encoding (a sentence-embedding model's tensor). */
        var output: ((Encoding) -> FloatArray)? = null
        var calls = 0
        var closed = false

        override fun logits(e: Encoding): FloatArray {
            calls++
            failWith?.let { throw it }
            output?.let { return it(e) }
            return logits ?: if (5 in e.inputIds) floatArrayOf(-1f, 1f) else floatArrayOf(1f, -1f)
        }

        override fun close() { closed = true }
    }

    /** Records what the screen was told, and fails when told anything off the UI executor. */
    private class FakeView : DemoView {
        var onUi = false
        var status: Pair<String, Boolean>? = null
        var buttonEnabled = false
        var shownMode: AppMode? = null
        val results = ArrayList<ResultText>()

        override fun showStatus(text: String, ok: Boolean) { assertTrue("view touched off the UI thread", onUi); status = text to ok }
        override fun setClassifyEnabled(enabled: Boolean) { assertTrue("view touched off the UI thread", onUi); buttonEnabled = enabled }
        override fun setMode(mode: AppMode) { assertTrue("view touched off the UI thread", onUi); shownMode = mode }
        override fun showResult(result: ResultText) { assertTrue("view touched off the UI thread", onUi); results.add(result) }
    }

    private val assets = mutableMapOf(
        DemoController.LABELS to """{"format": "edgeport-android/1", "labels": ["negative", "positive"], "seq_len": 8,
            "do_lower_case": true, "strip_accents": null, "special_tokens": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
            "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": null},
            "output": "logits", "signature": "serving_default"}""",
        DemoController.VOCAB to "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nbad\n",
        DemoController.GOLDEN to """{"format": "edgeport-golden/1", "seq_len": 8, "tolerance": {"atol": 0.05, "rtol": 0.02},
            "cases": [{"name": "good", "text": "good", "text_pair": null, "input_ids": [2, 5, 3, 0, 0, 0, 0, 0],
            "attention_mask": [1, 1, 1, 0, 0, 0, 0, 0], "token_type_ids": [0, 0, 0, 0, 0, 0, 0, 0], "logits": [-1.0, 1.0]}]}""",
    )
    private val model = FakeClassifier()
    private val view = FakeView()
    private val uiQueue = ArrayDeque<Runnable>()
    private var openFailure: Throwable? = null
    private var clock = longArrayOf(0L, 1_000_000L, 3_000_000L)
    private var tick = 0

    // The worker runs inline (an exception escaping it would fail the test); UI work waits until drainUi().
    private val controller = DemoController(
        readAsset = { name -> assets[name] ?: throw FileNotFoundException(name) },
        openClassifier = { openFailure?.let { throw it }; model },
        view = view,
        worker = { it.run() },
        ui = { uiQueue.addLast(it) },
        nanoTime = { clock[tick++ % clock.size] },
    )

    private fun drainUi() {
        view.onUi = true
        while (uiQueue.isNotEmpty()) uiQueue.removeFirst().run()
        view.onUi = false
    }

    @Test fun startShowsPassingSelfCheckAndEnablesClassify() {
        controller.start()
        assertEquals(null, view.status) // nothing reaches the view before the UI thread runs
        drainUi()
        val (text, ok) = view.status!!
        assertTrue(text, text.startsWith("Self-check PASS: tokenizer 1/1 identical, model 1/1 within tolerance"))
        assertTrue(ok)
        assertTrue(view.buttonEnabled)
        assertEquals(AppMode.CLASSIFY, view.shownMode)
    }

    @Test fun classifyShowsLabelProbabilitiesAndLatency() {
        controller.start()
        controller.classify("good")
        drainUi()
        assertEquals(
            ResultText(
                "positive",
                "negative      11.92%\npositive      88.08%",
                "latency 3.0 ms (tokenize 1.00 ms, model 2.0 ms), 3 tokens",
                isError = false,
            ),
            view.results.single(),
        )
    }

    @Test fun exceptionFromLogitsIsShownNotThrown() {
        controller.start()
        drainUi()
        model.failWith = FakeLiteRtException("Failed to invoke the compiled model")
        controller.classify("good") // would throw out of the inline worker if the controller did not catch it
        drainUi()
        val shown = view.results.single()
        assertTrue(shown.isError)
        assertEquals("Error", shown.label)
        assertEquals("Could not classify this text: FakeLiteRtException: Failed to invoke the compiled model", shown.details)
        // The next text works again: one failure does not wedge the screen.
        model.failWith = null
        controller.classify("bad")
        drainUi()
        assertEquals("negative", view.results.last().label)
        assertFalse(view.results.last().isError)
    }

    @Test fun wrongLogitCountIsShownAsError() {
        controller.start()
        model.logits = floatArrayOf(0f, 1f, 2f)
        controller.classify("good")
        drainUi()
        val shown = view.results.single()
        assertTrue(shown.isError)
        assertTrue(shown.details, shown.details.contains("model gives 3 logits but there are 2 labels"))
    }

    @Test fun missingAssetShowsLoadErrorAndKeepsClassifyDisabled() {
        assets.remove(DemoController.VOCAB)
        controller.start()
        controller.classify("good") // a click cannot happen (button disabled), but must be harmless anyway
        drainUi()
        assertEquals(
            "Could not load the model assets: FileNotFoundException: vocab.txt\nRun `edgeport android RUN_DIR` and rebuild." to false,
            view.status,
        )
        assertFalse(view.buttonEnabled)
        assertTrue(view.results.isEmpty())
    }

    @Test fun modelLoadFailureIsShown() {
        openFailure = UnsatisfiedLinkError("dlopen failed: library \"liblitert_jni.so\" not found")
        controller.start()
        drainUi()
        val (text, ok) = view.status!!
        assertTrue(text, text.startsWith("Could not load the model assets: UnsatisfiedLinkError: dlopen failed"))
        assertFalse(ok)
        assertFalse(view.buttonEnabled)
    }

    @Test fun selfCheckExceptionIsShownAndClassifyStaysUsable() {
        model.failWith = FakeLiteRtException("Failed to run")
        controller.start()
        drainUi()
        assertEquals("Self-check FAIL: FakeLiteRtException: Failed to run" to false, view.status)
        assertTrue(view.buttonEnabled)
    }

    @Test fun selfCheckMismatchIsRed() {
        model.logits = floatArrayOf(1f, -1f)
        controller.start()
        drainUi()
        val (text, ok) = view.status!!
        assertTrue(text, text.startsWith("Self-check FAIL: tokenizer 1/1 identical, model 0/1 within tolerance"))
        assertTrue(text, text.contains("good: logits [1.0, -1.0] vs golden [-1.0, 1.0]"))
        assertFalse(ok)
    }

    @Test fun closeReleasesTheModelAndLaterClicksAreIgnored() {
        controller.start()
        drainUi()
        val before = model.calls
        controller.close()
        assertTrue(model.closed)
        controller.classify("good")
        drainUi()
        assertEquals(before, model.calls)
        assertTrue(view.results.isEmpty())
    }

    /**
     * A sentence-embedding model on the WordPiece vocabulary. Its fake graph stops at the encoder ([output]
     * last_hidden_state, [1, bucket, 2]): good -> (1, 0), bad -> (0, 1), [CLS]/[SEP] -> (0, 0), and padding -> (100, 100),
     * which must never be pooled. So "good" embeds to (1, 0), "bad" to (0, 1), "good bad" to (0.707, 0.707).
     */
    private fun useEmbeddingAssets(output: String, buckets: String = "") {
        assets[DemoController.LABELS] = """{"format": "edgeport-android/1", "task": "sentence-embedding", "seq_len": 8,
            "do_lower_case": true, "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
            "output": "$output", "pooling": "mean", "normalize": true, "embedding_dim": 2, "signature": "serving_default"$buckets}"""
        assets[DemoController.GOLDEN] = """{"format": "edgeport-golden/1", "seq_len": 8, "tolerance": {"atol": 0.05, "rtol": 0.02},
            "cases": [{"name": "good", "text": "good", "text_pair": null, "input_ids": [2, 5, 3, 0, 0, 0, 0, 0],
            "attention_mask": [1, 1, 1, 0, 0, 0, 0, 0], "token_type_ids": [0, 0, 0, 0, 0, 0, 0, 0]}]}"""
    }

    private val bucketsUsed = ArrayList<Int>()

    /** The fake encoder: one row per position the (bucketed) model runs on. */
    private fun hiddenStates(e: Encoding, bucket: Int): FloatArray {
        bucketsUsed.add(bucket)
        return (0 until bucket).flatMap { t ->
            when {
                e.attentionMask[t] == 0 -> listOf(100f, 100f)
                e.inputIds[t] == 5 -> listOf(1f, 0f)
                e.inputIds[t] == 6 -> listOf(0f, 1f)
                else -> listOf(0f, 0f)
            }
        }.toFloatArray()
    }

    @Test fun similarityOfTwoTextsFromLastHiddenState() {
        useEmbeddingAssets("last_hidden_state")
        model.output = { hiddenStates(it, 8) }
        controller.start()
        controller.compare("good", "good bad")
        controller.compare("good", "bad")
        controller.compare("bad", "bad")
        drainUi()
        val (text, ok) = view.status!!
        assertTrue(text, ok && text.startsWith("Self-check PASS: tokenizer 1/1 identical, no golden logits"))
        assertEquals(AppMode.SIMILARITY, view.shownMode)
        assertTrue(view.buttonEnabled)
        assertEquals(listOf("similarity 0.707", "similarity 0.000", "similarity 1.000"), view.results.map { it.label })
        assertEquals(
            ResultText(
                "similarity 0.707",
                "cosine of the two sentence embeddings (2 values, last_hidden_state, mean-pooled in the app + L2-normalised)",
                "latency 3.0 ms (tokenize 1.00 ms, model 2.0 ms), 3 + 4 tokens",
                isError = false,
            ),
            view.results.first(),
        )
    }

    /** A length-bucketed model outputs only its bucket's positions: the app pools over that bucket's mask. */
    @Test fun similarityOnTheBucketThePositionsRanOn() {
        useEmbeddingAssets("last_hidden_state", """, "seq_buckets": [4, 8], "bucket_signatures": {"4": "seq_4", "8": "serving_default"}""")
        model.output = { e -> hiddenStates(e, if (e.length <= 4) 4 else 8) }
        controller.start()
        controller.compare("good", "bad good bad good bad")
        drainUi()
        assertEquals(listOf(4, 8), bucketsUsed)
        assertEquals("similarity 0.555", view.results.single().label) // (2, 3)/sqrt(13) . (1, 0)
    }

    @Test fun similarityFromAnEmbeddingPooledInTheGraph() {
        useEmbeddingAssets("embedding")
        model.output = { e -> if (6 in e.inputIds) floatArrayOf(0.6f, 0.8f) else floatArrayOf(1f, 0f) }
        controller.start()
        controller.compare("good", "bad")
        drainUi()
        assertEquals("similarity 0.600", view.results.single().label)
        // An artifact whose graph lost its Normalize step is caught, shown, and not crashed on.
        model.output = { floatArrayOf(3f, 4f) }
        controller.compare("good", "bad")
        drainUi()
        val shown = view.results.last()
        assertTrue(shown.isError)
        assertEquals("Could not compare these texts: IllegalStateException: the graph's embedding has norm 5.0000, " +
            "but labels.json says it is L2-normalised", shown.details)
    }

    @Test fun compareOnAClassifierIsShownAsError() {
        controller.start()
        controller.compare("good", "bad")
        drainUi()
        val shown = view.results.single()
        assertTrue(shown.isError)
        assertEquals("Could not compare these texts: IllegalStateException: this is a sequence-classification model: it " +
            "classifies a text", shown.details)
    }

    @Test fun classifyOnAnEmbeddingModelIsShownAsError() {
        useEmbeddingAssets("last_hidden_state")
        model.output = { hiddenStates(it, 8) }
        controller.start()
        controller.classify("good") // an embedding model has no labels
        drainUi()
        val shown = view.results.single()
        assertTrue(shown.isError)
        assertEquals("Could not classify this text: IllegalStateException: this is a sentence-embedding model: it compares " +
            "two texts", shown.details)
        assertEquals(0, model.calls) // refused before the model ran
    }

    // ---------------------------------------------------------------------------------------------- entities

    private val tagNames = listOf("O", "B-LOC", "I-LOC", "B-PER", "I-PER")

    /**
     * The fake token classifier's scores for one position of the bucket it runs on: peter -> B-PER, new -> B-LOC,
     * york -> I-LOC, any other token O, and padding B-PER, which must never be read.
     */
    private fun tagScores(e: Encoding, t: Int): List<Float> {
        val tag = when {
            e.attentionMask[t] == 0 -> 3
            else -> mapOf(7 to 3, 10 to 1, 11 to 2)[e.inputIds[t]] ?: 0
        }
        return tagNames.indices.map { if (it == tag) 4f else 0f }
    }

    /** One row per position of the bucket a (length-bucketed, [8, 12]) token classifier runs on, flat. */
    private fun tagOutput(e: Encoding): FloatArray {
        val bucket = if (e.length <= 8) 8 else 12
        bucketsUsed.add(bucket)
        return (0 until bucket).flatMap { tagScores(e, it) }.toFloatArray()
    }

    private val nerText = "Peter went to New York."

    /**
     * A token classifier's assets as `edgeport android` writes them: labels.json with the task's sidecar keys, and
     * a golden case with the words, word ids, tags and entities edgeport.tasks.ner gives for [nerText] on [tagOutput].
     */
    private fun useEntityAssets(entities: String = ENTITIES) {
        assets[DemoController.VOCAB] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nbad\npeter\nwent\nto\nnew\nyork\n"
        assets[DemoController.LABELS] = """{"format": "edgeport-android/1", "task": "token-classification",
            "labels": ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"], "seq_len": 12, "do_lower_case": true,
            "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"}, "output": "logits",
            "output_shape": "[1, seq, num_tags]", "labels_on": "first_subtoken", "scheme": "IOB2",
            "seq_buckets": [8, 12], "bucket_signatures": {"8": "seq_8", "12": "serving_default"}, "signature": "serving_default"}"""
        val ids = intArrayOf(2, 7, 8, 9, 10, 11, 1, 3, 0, 0, 0, 0)
        val mask = IntArray(12) { if (it < 8) 1 else 0 }
        val logits = tagOutput(Encoding(ids, mask, IntArray(12))).joinToString()
        bucketsUsed.clear()
        assets[DemoController.GOLDEN] = """{"format": "edgeport-golden/1", "seq_len": 12, "tolerance": {"atol": 0.05, "rtol": 0.02},
            "cases": [{"name": "entities-0", "text": "$nerText", "text_pair": null, "input_ids": ${ids.toList()},
            "attention_mask": ${mask.toList()}, "token_type_ids": ${IntArray(12).toList()}, "logits": [$logits], "bucket": 8,
            "words": ["Peter", "went", "to", "New", "York", "."], "spans": [[0, 5], [6, 10], [11, 13], [14, 17], [18, 22], [22, 23]],
            "word_ids": [-1, 0, 1, 2, 3, 4, 5, -1], "dropped_words": 0, "word_tags": ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"],
            "entities": $entities}]}"""
        model.output = ::tagOutput
    }

    @Test fun entitiesAreMarkedAndListedWithTheirSpans() {
        useEntityAssets()
        controller.start()
        controller.findEntities(nerText)
        drainUi()
        val (text, ok) = view.status!!
        assertTrue(text, ok && text.startsWith("Self-check PASS: tokenizer 1/1 identical, model 1/1 within tolerance"))
        assertEquals(AppMode.ENTITIES, view.shownMode)
        assertTrue(view.buttonEnabled)
        assertEquals(
            ResultText(
                "2 entities",
                "[Peter]PER went to [New York]LOC.\nPER   0-5     Peter\nLOC   14-22   New York",
                "latency 3.0 ms (tokenize 1.00 ms, model 2.0 ms), 8 tokens, 6 words",
                isError = false,
            ),
            view.results.single(),
        )
    }

    /** Words past the model's length are tagged O and said so; the longest bucket ran. */
    @Test fun wordsPastTheModelsLengthAreCounted() {
        useEntityAssets()
        controller.start()
        controller.findEntities("good good good good good good good good good peter new york")
        drainUi()
        val shown = view.results.single()
        assertEquals("1 entity", shown.label)
        assertEquals("good good good good good good good good good [peter]PER new york\nPER   45-50   peter\n" +
            "2 words past the model's length were not read (tagged O)", shown.details)
        assertEquals(listOf(8, 12), bucketsUsed) // the self-check's case on 8, the long text on 12
    }

    /** Spans count characters as Python (and `edgeport predict`) does: an emoji is one, not two UTF-16 units. */
    @Test fun spansCountCharactersAsPythonDoes() {
        useEntityAssets()
        controller.start()
        controller.findEntities("\uD83D\uDE00 Peter")
        drainUi()
        assertEquals("\uD83D\uDE00 [Peter]PER\nPER   2-7     Peter", view.results.single().details)
    }

    /** The app's entities must be Python's: a golden.json whose entities differ fails the self-check, in red. */
    @Test fun selfCheckComparesTheEntitiesWithPythons() {
        useEntityAssets(ENTITIES.replace("\"New York\"", "\"New\""))
        controller.start()
        drainUi()
        val (text, ok) = view.status!!
        assertFalse(ok)
        assertTrue(text, text.startsWith("Self-check FAIL: tokenizer 1/1 identical, model 0/1 within tolerance"))
        assertTrue(text, text.contains("entities-0: entities [Entity(type=PER"))
        assertTrue(view.buttonEnabled)
    }

    /** The one button does what the loaded model does. */
    @Test fun submitFollowsTheModelsTask() {
        controller.start()
        controller.submit("good", "ignored")
        drainUi()
        assertEquals("positive", view.results.last().label)
        useEntityAssets()
        controller.start()
        controller.submit(nerText, "ignored")
        drainUi()
        assertEquals("2 entities", view.results.last().label)
        useEmbeddingAssets("embedding")
        model.output = { e -> if (6 in e.inputIds) floatArrayOf(0.6f, 0.8f) else floatArrayOf(1f, 0f) }
        controller.start()
        controller.submit("good", "bad")
        drainUi()
        assertEquals("similarity 0.600", view.results.last().label)
    }

    @Test fun entitiesOnAClassifierIsShownAsError() {
        controller.start()
        controller.findEntities("good")
        drainUi()
        assertEquals("Could not find entities: IllegalStateException: this is a sequence-classification model: it " +
            "classifies a text", view.results.single().details)
        assertTrue(view.results.single().isError)
    }

    @Test fun classifyOnAnEntityModelIsShownAsError() {
        useEntityAssets()
        controller.start()
        drainUi()
        val calls = model.calls
        controller.classify(nerText)
        drainUi()
        assertEquals("Could not classify this text: IllegalStateException: this is a token-classification model: it " +
            "finds the entities in a text", view.results.single().details)
        assertEquals(calls, model.calls)
    }

    private companion object {
        const val ENTITIES = """[{"type": "PER", "start": 0, "end": 5, "text": "Peter", "words": [0, 1]},
            {"type": "LOC", "start": 14, "end": 22, "text": "New York", "words": [3, 5]}]"""
    }

    /** A byte-level BPE model: labels.json's tokenizer section picks the family and names its files. */
    private fun useBpeAssets() {
        assets.clear()
        assets[DemoController.LABELS] = """{"format": "edgeport-android/1", "labels": ["negative", "positive"], "seq_len": 6,
            "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"}, "output": "logits",
            "tokenizer": {"family": "bpe", "files": {"vocab": "vocab.txt", "merges": "merges.txt"},
              "model": {"type": "BPE", "unk_token": null}, "normalizer": null,
              "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
              "post_processor": {"single": [{"special": [0], "type_id": 0}, {"sequence": "A", "type_id": 0}, {"special": [2], "type_id": 0}],
                                 "pair": [{"special": [0], "type_id": 0}, {"sequence": "A", "type_id": 0}, {"special": [2], "type_id": 0},
                                          {"special": [2], "type_id": 0}, {"sequence": "B", "type_id": 0}, {"special": [2], "type_id": 0}]},
              "added_tokens": [{"id": 0, "content": "<s>"}, {"id": 1, "content": "<pad>"}, {"id": 2, "content": "</s>"}],
              "pad_id": 1, "token_type_ids": false}}"""
        // ids: <s> <pad> </s> g o d go goo good
        assets["vocab.txt"] = "<s>\n<pad>\n</s>\ng\no\nd\ngo\ngoo\ngood\n"
        assets["merges.txt"] = "g o\ngo o\ngoo d\n"
        assets[DemoController.GOLDEN] = """{"format": "edgeport-golden/1", "seq_len": 6, "tolerance": {"atol": 0.05, "rtol": 0.02},
            "cases": [{"name": "good", "text": "good", "text_pair": null, "input_ids": [0, 8, 2, 1, 1, 1],
            "attention_mask": [1, 1, 1, 0, 0, 0], "token_type_ids": [0, 0, 0, 0, 0, 0], "logits": [-1.0, 1.0]}]}"""
        model.logits = floatArrayOf(-1f, 1f)
    }

    @Test fun bpeFamilyIsPickedFromLabelsJson() {
        useBpeAssets()
        controller.start()
        controller.classify("good")
        drainUi()
        val (text, ok) = view.status!!
        assertTrue(text, text.startsWith("Self-check PASS: tokenizer 1/1 identical, model 1/1 within tolerance"))
        assertTrue(ok)
        assertEquals("positive", view.results.single().label)
        assertTrue(view.results.single().latency, view.results.single().latency.endsWith(", 3 tokens"))
    }

    @Test fun missingFamilyAssetIsNamed() {
        useBpeAssets()
        assets.remove("merges.txt")
        controller.start()
        drainUi()
        assertEquals(
            "Could not load the model assets: FileNotFoundException: merges.txt\nRun `edgeport android RUN_DIR` and rebuild." to false,
            view.status,
        )
    }

    /** Each family's real assets (written by tests/android_golden.py like `edgeport android` writes them) load. */
    @Test fun everyFamilysAssetsPassTheTokenizerSelfCheck() {
        val dirs = GoldenFiles.familyDirs()
        assumeTrue("no family goldens", dirs.isNotEmpty())
        for (d in dirs) {
            assets.clear()
            d.dir.listFiles()!!.filter { it.isFile }.forEach { assets[it.name] = it.readText() }
            val labels = assets.getValue(DemoController.LABELS)
            assets[DemoController.LABELS] = labels.replace(Regex("\"seq_len\": \\d+"), "\"seq_len\": 16")
            assets[DemoController.GOLDEN] = assets.getValue("golden-16.json")
            view.status = null
            controller.start()
            drainUi()
            val (text, ok) = view.status!!
            println("controller on ${d.name}: ${text.lines().first()}")
            assertTrue("${d.name}: $text", ok && text.startsWith("Self-check PASS: tokenizer "))
        }
    }

    // ---------------------------------------------------------------------------------------------- answers

    private val question = "Where is the cafe?"
    private val paragraph = "The café is in Zürich."

    /** The fake question-answering model: start and end logits 5 on the token "zurich" (10), 0 elsewhere. */
    private fun spanOutput(e: Encoding): FloatArray {
        val scores = e.inputIds.map { if (it == 10) 5f else 0f }
        return (scores + scores).toFloatArray()
    }

    /**
     * A question-answering model's assets as `edgeport android` writes them: labels.json with the task's keys and
     * the window settings, and one golden case (the question, the paragraph, their window's ids and offsets in code
     * points, the start then end logits and the answer edgeport.tasks.squad.best_span reads from them).
     */
    private fun useQaAssets(answer: String = """{"text": "Zürich", "start": 15, "end": 21, "score": 10.0, "start_token": 11, "end_token": 11}""") {
        assets[DemoController.VOCAB] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nwhere\nis\nthe\ncafe\n?\nzurich\nin\n.\n"
        assets[DemoController.LABELS] = """{"format": "edgeport-android/1", "task": "question-answering", "labels": [],
            "seq_len": 16, "do_lower_case": true, "strip_accents": null,
            "special_tokens": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
            "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": "token_type_ids"},
            "output": "span_logits", "output_shape": "[1, seq] each (start_logits, end_logits)",
            "signature": "serving_default", "outputs": ["start_logits", "end_logits"], "n_best": 20,
            "max_answer_len": 30, "doc_stride": 2,
            "signature_outputs": {"serving_default": [{"name": "output_0", "dtype": "float32"}, {"name": "output_1", "dtype": "float32"}]}}"""
        val ids = intArrayOf(2, 5, 6, 7, 8, 9, 3, 7, 8, 6, 11, 10, 12, 3, 0, 0)
        val logits = spanOutput(Encoding(ids, IntArray(16), IntArray(16)))
        assets[DemoController.GOLDEN] = """{"format": "edgeport-golden/1", "seq_len": 16, "tolerance": {"atol": 0.05, "rtol": 0.02},
            "cases": [{"name": "qa-0", "text": "$question", "text_pair": "$paragraph", "input_ids": ${ids.toList()},
            "attention_mask": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
            "token_type_ids": [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0],
            "offsets": [null, null, null, null, null, null, null, [0, 3], [4, 8], [9, 11], [12, 14], [15, 21], [21, 22], null, null, null],
            "logits": ${logits.toList()}, "answer": $answer}]}"""
        model.output = ::spanOutput
    }

    @Test fun theAnswerIsHighlightedInTheParagraph() {
        useQaAssets()
        controller.start()
        controller.answer("  $question", paragraph)
        drainUi()
        val (status, ok) = view.status!!
        assertTrue(status, ok && status.startsWith("Self-check PASS: tokenizer 1/1 identical, model 1/1 within tolerance"))
        assertEquals(AppMode.ANSWER, view.shownMode)
        assertEquals(
            ResultText(
                "Zürich",
                "characters 15-21 of the paragraph, score 10.00 (start + end logit)",
                "latency 3.0 ms (tokenize 1.00 ms, model 2.0 ms), 14 tokens",
                isError = false,
                highlight = Highlight(paragraph, CharSpan(15, 21), null),
            ),
            view.results.single(),
        )
    }

    @Test fun aParagraphLongerThanTheWindowIsCutAndSaysSo() {
        useQaAssets()
        controller.start()
        val long = listOf(paragraph, paragraph, paragraph).joinToString(" ")
        controller.answer(question, long)
        drainUi()
        val shown = view.results.single()
        assertEquals("Zürich", shown.label)
        assertEquals("characters 15-21 of the paragraph, score 10.00 (start + end logit)\nthe paragraph is longer than " +
            "one window: the model read its first 31 of 68 characters (8 of 18 tokens); the rest was not searched", shown.details)
        assertEquals(Highlight(long, CharSpan(15, 21), CharSpan(31, 68)), shown.highlight)
    }

    @Test fun badQuestionsAndParagraphsAreShownNotThrown() {
        useQaAssets()
        controller.start()
        drainUi()
        for ((q, text, message) in listOf(
            Triple(question, "  ", "type the paragraph that holds the answer"),
            Triple("", paragraph, "type a question"),
            Triple("where is the cafe? where is the cafe? where is the cafe?", paragraph,
                "the question is 15 tokens long: a window of 16 tokens leaves -2 for the paragraph"),
        )) {
            controller.answer(q, text)
            drainUi()
            val shown = view.results.last()
            assertTrue(shown.isError)
            assertTrue(shown.details, shown.details.startsWith("Could not answer: IllegalArgumentException: $message"))
            assertNull(shown.highlight)
        }
        // no valid span (Spans.bestSpan found none): said, not an error
        val window = QaWindow(Encoding(IntArray(16), IntArray(16), IntArray(16)), List(16) { null }, 0, 0, 0)
        assertEquals("no valid span in the paragraph", DemoController.answerText(paragraph, null, window))
    }

    @Test fun submitAnswersTheFirstFieldFromTheSecond() {
        useQaAssets()
        controller.start()
        controller.submit(question, paragraph)
        drainUi()
        assertEquals("Zürich", view.results.last().label)
        val calls = model.calls
        controller.classify(question)
        drainUi()
        assertEquals("Could not classify this text: IllegalStateException: this is a question-answering model: it " +
            "answers a question from a paragraph", view.results.last().details)
        assertEquals(calls, model.calls)
    }

    /** The app's answer must be Python's: a golden.json whose answer differs fails the self-check, in red. */
    @Test fun selfCheckComparesTheAnswerWithPythons() {
        useQaAssets("""{"text": "café", "start": 4, "end": 8, "score": 10.0, "start_token": 8, "end_token": 8}""")
        controller.start()
        drainUi()
        val (text, ok) = view.status!!
        assertFalse(ok)
        assertTrue(text, text.startsWith("Self-check FAIL: tokenizer 1/1 identical, model 0/1 within tolerance"))
        assertTrue(text, text.contains("qa-0: answer 'Zürich' 15-21 vs golden 'café' 4-8"))
    }

    /**
     * Another CPU's logits may break a near tie the other way: a span other than Python's passes when, on the golden
     * logits, it scores within the four logits' tolerance of Python's; one further below does not.
     */
    @Test fun aNearTieMayPickTheOtherSpanButNoOther() {
        useQaAssets()
        val info = ModelInfo.parse(assets.getValue(DemoController.LABELS))
        val check = OutputChecks.forModel(info, info.tokenizer { assets.getValue(it) })
        val golden = GoldenSet.parse(assets.getValue(DemoController.GOLDEN))
        val python = golden.cases.single()
        // golden: café (token 8) 4.98 + 4.98, Zürich (token 11) 5 + 5: Python answers Zürich
        val tie = python.logits!!.copyOf().also { it[8] = 4.98f; it[16 + 8] = 4.98f }
        val case = GoldenCase(python.name, python.text, python.textPair, python.inputIds, python.attentionMask,
            python.tokenTypeIds, tie, answer = python.answer)
        val cafe = tie.copyOf().also { it[8] = 5.01f; it[16 + 8] = 5.01f } // this CPU: café 10.02 > 10
        assertNull(check.disagreement(case, cafe, golden))
        val far = python.logits!!.copyOf().also { it[8] = 5.01f; it[16 + 8] = 5.01f } // golden café 0: no tie
        val notTie = GoldenCase(python.name, python.text, python.textPair, python.inputIds, python.attentionMask,
            python.tokenTypeIds, python.logits, answer = python.answer)
        assertEquals("answer 'café' 4-8 vs golden 'Zürich' 15-21", check.disagreement(notTie, far, golden))
    }

    @Test fun answerOnAClassifierIsShownAsError() {
        controller.start()
        controller.answer(question, paragraph)
        drainUi()
        assertEquals("Could not answer: IllegalStateException: this is a sequence-classification model: it " +
            "classifies a text", view.results.single().details)
    }

    /** The controller must stay plain Kotlin (run-jvm-tests.sh compiles it without any Android stub, too). */
    @Test fun controllerHasNoAndroidImports() {
        val src = listOf(System.getProperty("edgeport.app.src"), "src/main/java")
            .mapNotNull { it?.let { d -> File(d, "dev/edgeport/demo/DemoController.kt") } }.firstOrNull { it.isFile }
        assumeTrue("DemoController.kt not found", src != null)
        val bad = src!!.readLines().filter { it.startsWith("import android") || it.startsWith("import com.google.ai.edge") }
        assertEquals(emptyList<String>(), bad)
    }
}
