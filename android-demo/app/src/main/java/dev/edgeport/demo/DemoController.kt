package dev.edgeport.demo

import dev.edgeport.demo.text.CheckReport
import dev.edgeport.demo.text.Encoding
import dev.edgeport.demo.text.GoldenSet
import dev.edgeport.demo.text.ModelInfo
import dev.edgeport.demo.text.Postprocess
import dev.edgeport.demo.text.SelfCheck
import dev.edgeport.demo.text.TextTokenizer
import java.util.Locale
import java.util.concurrent.Executor

/** The model behind the screen: [TfliteClassifier] in the app, a fake in the JVM tests. */
interface Classifier : AutoCloseable {
    /** Logits for one encoded example. May throw (a LiteRT error, a wrong shape): the controller shows it. */
    fun logits(e: Encoding): FloatArray
}

/** What the screen can show. MainActivity maps each call onto its views and does nothing else. */
interface DemoView {
    /** The line at the top: the self-check verdict or why loading failed; [ok] picks green or red. */
    fun showStatus(text: String, ok: Boolean)

    fun setClassifyEnabled(enabled: Boolean)

    fun showResult(result: ResultText)
}

/** One classification, or why it failed, as the screen's three result lines. */
data class ResultText(val label: String, val details: String, val latency: String, val isError: Boolean)

/**
 * The app's logic without Android: loads the assets, runs the golden self-check, classifies texts, and turns every
 * exception into something on screen. Model work runs on [worker] (one background thread in the app: the model
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
            val report = SelfCheck.run(GoldenSet.parse(readAsset(GOLDEN)), s.tokenizer, s.classifier::logits)
            selfCheckText(report) to report.passed
        } catch (e: Throwable) {
            "Self-check FAIL: ${describe(e)}" to false
        }
        post {
            showStatus(text, ok)
            // The model loaded, so typed texts can still be tried; a failing classification is shown, not thrown.
            setClassifyEnabled(true)
        }
    }

    private fun classifyNow(text: String) {
        val s = session ?: return // closed, or never loaded (the button stays disabled then)
        val result = try {
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
