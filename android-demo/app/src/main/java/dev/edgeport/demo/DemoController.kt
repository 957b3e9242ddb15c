package dev.edgeport.demo

import dev.edgeport.demo.text.CheckReport
import dev.edgeport.demo.text.Encoding
import dev.edgeport.demo.text.GoldenSet
import dev.edgeport.demo.text.ModelInfo
import dev.edgeport.demo.text.Postprocess
import dev.edgeport.demo.text.SelfCheck
import dev.edgeport.demo.text.TextTokenizer
import dev.edgeport.demo.text.Vectors
import java.util.Locale
import java.util.concurrent.Executor

/** The model behind the screen: [TfliteClassifier] in the app, a fake in the JVM tests. */
interface Classifier : AutoCloseable {
    /**
     * Logits for one encoded example; for a sentence-embedding model, its output tensor flat (the embedding, or the
     * last hidden state of the bucket's positions). May throw (a LiteRT error, a wrong shape): the controller shows it.
     */
    fun logits(e: Encoding): FloatArray
}

/** What the screen can show. MainActivity maps each call onto its views and does nothing else. */
interface DemoView {
    /** The line at the top: the self-check verdict or why loading failed; [ok] picks green or red. */
    fun showStatus(text: String, ok: Boolean)

    fun setClassifyEnabled(enabled: Boolean)

    /** A sentence-embedding model: two texts in, their cosine similarity out (else one text, its label). */
    fun setSimilarityMode(enabled: Boolean)

    fun showResult(result: ResultText)
}

/** One classification or similarity, or why it failed, as the screen's three result lines. */
data class ResultText(val label: String, val details: String, val latency: String, val isError: Boolean)

/**
 * The app's logic without Android: loads the assets, runs the golden self-check, classifies texts (or, for a
 * sentence-embedding model, compares two: [compare]), and turns every exception into something on screen. Model work runs on [worker] (one background thread in the app: the model
 * and tokenizer are only ever touched there, so nothing is locked); every [view] call is posted to [ui].
 * Nothing thrown on the worker escapes it: an uncaught exception there would kill the app.
 *
 * Plain Kotlin on purpose (no android.* import: run-jvm-tests.sh compiles it without the Android stubs), so the JVM
 * tests cover it; the Activity is a thin shell around it.
 */
class DemoController(
    private val readAsset: (String) -> String,
    private val openClassifier: (ModelInfo) -> Classifier,
    private val view: DemoView,
    private val worker: Executor,
    private val ui: Executor,
    private val nanoTime: () -> Long = System::nanoTime,
) {
    private class Session(val info: ModelInfo, val tokenizer: TextTokenizer, val classifier: Classifier)

    private var session: Session? = null // worker thread only

    /** Loads the model and runs the self-check, in the background. */
    fun start() = worker.execute { load() }

    /** Classifies [text] in the background; the result or the error goes to [DemoView.showResult]. */
    fun classify(text: String) = worker.execute { classifyNow(text) }

    /** The cosine similarity of two texts' embeddings (a sentence-embedding model), in the background. */
    fun compare(text: String, other: String) = worker.execute { compareNow(text, other) }

    /** Releases the model after any queued work (call from onDestroy, then shut the worker down). */
    fun close() = worker.execute {
        val s = session
        session = null
        if (s != null) runCatching { s.classifier.close() }
    }

    private fun load() {
        val s = try {
            val info = ModelInfo.parse(readAsset(LABELS))
            // The tokenizer of the model's family (WordPiece, BPE, Unigram), from the assets labels.json names.
            val tokenizer = info.tokenizer(readAsset)
            Session(info, tokenizer, openClassifier(info))
        } catch (e: Throwable) {
            post { showStatus(loadFailedText(e), ok = false) }
            return
        }
        session = s
        val (text, ok) = try {
            // An embedding model's golden.json has no logits to compare: its self-check covers the tokenizer.
            val model = if (s.info.isSentenceEmbedding) null else s.classifier::logits
            val report = SelfCheck.run(GoldenSet.parse(readAsset(GOLDEN)), s.tokenizer, model)
            selfCheckText(report) to report.passed
        } catch (e: Throwable) {
            "Self-check FAIL: ${describe(e)}" to false
        }
        post {
            showStatus(text, ok)
            setSimilarityMode(s.info.isSentenceEmbedding)
            // The model loaded, so typed texts can still be tried; a failing classification is shown, not thrown.
            setClassifyEnabled(true)
        }
    }

    private fun classifyNow(text: String) {
        val s = session ?: return // closed, or never loaded (the button stays disabled then)
        val result = try {
            check(!s.info.isSentenceEmbedding) { "this is a sentence-embedding model: give two texts to compare" }
            val start = nanoTime()
            val encoding = s.tokenizer.encode(text)
            val tokenized = nanoTime()
            val prediction = Postprocess.predict(s.classifier.logits(encoding), s.info.labels)
            val done = nanoTime()
            ResultText(
                prediction.label,
                s.info.labels.indices.joinToString("\n") {
                    String.format(Locale.ROOT, "%-12s %6.2f%%", s.info.labels[it], 100f * prediction.probabilities[it])
                },
                String.format(
                    Locale.ROOT, "latency %.1f ms (tokenize %.2f ms, model %.1f ms), %d tokens",
                    (done - start) / 1e6, (tokenized - start) / 1e6, (done - tokenized) / 1e6, encoding.length,
                ),
                isError = false,
            )
        } catch (e: Throwable) {
            ResultText("Error", "Could not classify this text: ${describe(e)}", "", isError = true)
        }
        post { showResult(result) }
    }

    private fun compareNow(text: String, other: String) {
        val s = session ?: return
        val result = try {
            val embedding = checkNotNull(s.info.embedding) { "this model classifies: similarity needs a sentence-embedding model" }
            val start = nanoTime()
            val a = s.tokenizer.encode(text)
            val b = s.tokenizer.encode(other)
            val tokenized = nanoTime()
            // The mask of the positions the model ran on: a length-bucketed model runs on the smallest bucket.
            val (va, vb) = listOf(a, b).map { e ->
                embedding.embedding(s.classifier.logits(e), e.attentionMask.copyOf(s.info.bucketFor(e.length)))
            }
            val done = nanoTime()
            ResultText(
                String.format(Locale.ROOT, "similarity %.3f", Vectors.cosine(va, vb)),
                "cosine of the two sentence embeddings (${va.size} values, $embedding)",
                String.format(
                    Locale.ROOT, "latency %.1f ms (tokenize %.2f ms, model %.1f ms), %d + %d tokens",
                    (done - start) / 1e6, (tokenized - start) / 1e6, (done - tokenized) / 1e6, a.length, b.length,
                ),
                isError = false,
            )
        } catch (e: Throwable) {
            ResultText("Error", "Could not compare these texts: ${describe(e)}", "", isError = true)
        }
        post { showResult(result) }
    }

    private fun post(action: DemoView.() -> Unit) = ui.execute { view.action() }

    companion object {
        const val LABELS = "labels.json"
        const val VOCAB = "vocab.txt"
        const val GOLDEN = "golden.json"

        fun describe(e: Throwable): String = e.javaClass.simpleName + (e.message?.let { ": $it" } ?: "")

        fun loadFailedText(e: Throwable) =
            "Could not load the model assets: ${describe(e)}\nRun `edgeport android RUN_DIR` and rebuild."

        fun selfCheckText(report: CheckReport): String {
            val details = (report.tokenizerMismatches + report.modelFailures).take(3).joinToString("\n")
            return "Self-check ${report.summary()}" + if (details.isEmpty()) "" else "\n$details"
        }
    }
}
