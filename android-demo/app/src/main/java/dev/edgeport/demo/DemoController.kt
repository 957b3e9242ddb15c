package dev.edgeport.demo

import dev.edgeport.demo.text.AnswerSpan
import dev.edgeport.demo.text.AppMode
import dev.edgeport.demo.text.BertTokenizer
import dev.edgeport.demo.text.CheckReport
import dev.edgeport.demo.text.Encoding
import dev.edgeport.demo.text.Entities
import dev.edgeport.demo.text.Entity
import dev.edgeport.demo.text.GoldenSet
import dev.edgeport.demo.text.Highlight
import dev.edgeport.demo.text.ModelInfo
import dev.edgeport.demo.text.OutputChecks
import dev.edgeport.demo.text.Postprocess
import dev.edgeport.demo.text.QaWindow
import dev.edgeport.demo.text.QaWindows
import dev.edgeport.demo.text.SelfCheck
import dev.edgeport.demo.text.Spans
import dev.edgeport.demo.text.TextTokenizer
import dev.edgeport.demo.text.Vectors
import java.util.Locale
import java.util.concurrent.Executor

/** The model behind the screen: [TfliteClassifier] in the app, a fake in the JVM tests. */
interface Classifier : AutoCloseable {
    /**
     * The model's output for one encoded example, flat: a classifier's logits; a sentence-embedding model's embedding
     * (or the last hidden state of the bucket's positions); a token classifier's tag scores of the bucket's
     * positions, token after token; a question-answering model's start logits of the bucket's positions, then its
     * end logits. May throw (a LiteRT error, a wrong shape): the controller shows it.
     */
    fun logits(e: Encoding): FloatArray
}

/** What the screen can show. MainActivity maps each call onto its views and does nothing else. */
interface DemoView {
    /** The line at the top: the self-check verdict or why loading failed; [ok] picks green or red. */
    fun showStatus(text: String, ok: Boolean)

    fun setClassifyEnabled(enabled: Boolean)

    /**
     * What the model does ([ModelInfo.mode]): classify one text, compare two (a second text field), find the
     * entities in one, or answer a question (the first field) from a paragraph (the second).
     */
    fun setMode(mode: AppMode)

    fun showResult(result: ResultText)
}

/**
 * One classification, similarity, entity list or answer, or why it failed, as the screen's three result lines; an
 * answer also gives the paragraph with the answer to highlight ([highlight], shown in place of [details]).
 */
data class ResultText(
    val label: String,
    val details: String,
    val latency: String,
    val isError: Boolean,
    val highlight: Highlight? = null,
)

/**
 * The app's logic without Android: loads the assets, runs the golden self-check, classifies texts (or, by the
 * model's task, compares two: [compare], finds entities: [findEntities], or answers a question from a paragraph:
 * [answer]; [submit] picks), and turns every
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

    /** The cosine similarity of two texts' embeddings (a sentence-embedding model), in the background. */
    fun compare(text: String, other: String) = worker.execute { compareNow(text, other) }

    /** The named entities of [text] (a token-classification model), in the background. */
    fun findEntities(text: String) = worker.execute { entitiesNow(text) }

    /** The answer to [question] in [paragraph] (a question-answering model), in the background. */
    fun answer(question: String, paragraph: String) = worker.execute { answerNow(question, paragraph) }

    /** The screen's one button: what the loaded model does with the text(s) ([ModelInfo.mode]; [other] is the second field). */
    fun submit(text: String, other: String) = worker.execute {
        session?.let { s -> actions.getValue(s.info.mode)(text, other) }
    }

    private val actions: Map<AppMode, (String, String) -> Unit> = mapOf(
        AppMode.CLASSIFY to { text, _ -> classifyNow(text) },
        AppMode.SIMILARITY to { text, other -> compareNow(text, other) },
        AppMode.ENTITIES to { text, _ -> entitiesNow(text) },
        AppMode.ANSWER to { question, paragraph -> answerNow(question, paragraph) },
    )

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
            // The output within tolerance, then what this model's screen makes of it (label, embedding, entities).
            val check = OutputChecks.forModel(s.info, s.tokenizer)
            val report = SelfCheck.run(GoldenSet.parse(readAsset(GOLDEN)), s.tokenizer, s.classifier::logits, check)
            selfCheckText(report) to report.passed
        } catch (e: Throwable) {
            "Self-check FAIL: ${describe(e)}" to false
        }
        post {
            showStatus(text, ok)
            setMode(s.info.mode)
            // The model loaded, so typed texts can still be tried; a failing classification is shown, not thrown.
            setClassifyEnabled(true)
        }
    }

    private fun classifyNow(text: String) {
        val s = session ?: return // closed, or never loaded (the button stays disabled then)
        val result = try {
            requireMode(s, AppMode.CLASSIFY)
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
            requireMode(s, AppMode.SIMILARITY)
            val embedding = checkNotNull(s.info.embedding)
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

    private fun entitiesNow(text: String) {
        val s = session ?: return
        val result = try {
            requireMode(s, AppMode.ENTITIES)
            val tokenizer = Entities.wordTokenizer(s.tokenizer)
            val start = nanoTime()
            // The words Python's pre-tokenizer gives, each tokenized: the tags are read at each word's first token.
            val words = BertTokenizer.words(text)
            val encoded = tokenizer.encodeWords(words.map { it.text })
            val tokenized = nanoTime()
            val tags = Entities.wordTagsFromOutput(s.classifier.logits(encoded.encoding), s.info.labels, encoded.wordIds, words.size)
            val entities = Entities.entities(text, words, tags)
            val done = nanoTime()
            ResultText(
                entityCount(entities.size),
                entitiesText(text, entities, encoded.droppedWords),
                String.format(
                    Locale.ROOT, "latency %.1f ms (tokenize %.2f ms, model %.1f ms), %d tokens, %d words",
                    (done - start) / 1e6, (tokenized - start) / 1e6, (done - tokenized) / 1e6, encoded.encoding.length, words.size,
                ),
                isError = false,
            )
        } catch (e: Throwable) {
            ResultText("Error", "Could not find entities: ${describe(e)}", "", isError = true)
        }
        post { showResult(result) }
    }

    /**
     * One window of question + paragraph ([QaWindows]: a paragraph longer than the window is cut, and the result
     * says so), the model's start and end logits, and the best span ([Spans.bestSpan], as Python's `best_span`).
     */
    private fun answerNow(question: String, paragraph: String) {
        val s = session ?: return
        val result = try {
            requireMode(s, AppMode.ANSWER)
            val spans = checkNotNull(s.info.spans)
            val tokenizer = QaWindows.wordPiece(s.tokenizer)
            val start = nanoTime()
            val window = QaWindows.build(tokenizer, question, paragraph, spans.docStride)
            val tokenized = nanoTime()
            val (starts, ends) = spans.split(s.classifier.logits(window.encoding))
            val found = Spans.bestSpan(starts, ends, window.offsets.take(starts.size), paragraph, spans.nBest, spans.maxAnswerLen)
            val done = nanoTime()
            ResultText(
                found?.text ?: "no answer",
                answerText(paragraph, found, window),
                String.format(
                    Locale.ROOT, "latency %.1f ms (tokenize %.2f ms, model %.1f ms), %d tokens",
                    (done - start) / 1e6, (tokenized - start) / 1e6, (done - tokenized) / 1e6, window.encoding.length,
                ),
                isError = false,
                highlight = Highlight.of(paragraph, found, window),
            )
        } catch (e: Throwable) {
            ResultText("Error", "Could not answer: ${describe(e)}", "", isError = true)
        }
        post { showResult(result) }
    }

    /** Refuses a call the loaded model does not do, naming what it does (the button always matches the model). */
    private fun requireMode(s: Session, wanted: AppMode) =
        check(s.info.mode == wanted) { "this is a ${s.info.task} model: ${s.info.mode.does}" }

    private fun post(action: DemoView.() -> Unit) = ui.execute { view.action() }

    companion object {
        const val LABELS = "labels.json"
        const val VOCAB = "vocab.txt"
        const val GOLDEN = "golden.json"

        fun describe(e: Throwable): String = e.javaClass.simpleName + (e.message?.let { ": $it" } ?: "")

        fun loadFailedText(e: Throwable) =
            "Could not load the model assets: ${describe(e)}\nRun `edgeport android RUN_DIR` and rebuild."

        fun entityCount(n: Int) = if (n == 1) "1 entity" else "$n entities"

        /**
         * The text with each entity marked in place, `[Peter Blackburn]PER`, then one line per entity as `edgeport
         * predict` prints it (type, span in characters as Python counts them, text); and how many words the model's
         * length left unread.
         */
        fun entitiesText(text: String, entities: List<Entity>, droppedWords: Int): String = buildString {
            var at = 0
            for (e in entities) {
                append(text, at, e.start).append('[').append(e.text).append(']').append(e.type)
                at = e.end
            }
            append(text, at, text.length)
            for (e in entities) {
                val span = "${Entities.codePoints(text, e.start)}-${Entities.codePoints(text, e.end)}"
                append(String.format(Locale.ROOT, "\n%-5s %-7s %s", e.type, span, e.text))
            }
            if (droppedWords > 0) append("\n$droppedWords words past the model's length were not read (tagged O)")
        }

        /**
         * Where the answer is in the paragraph (characters as Python counts them, as `edgeport predict` prints
         * them) and its score, or that no valid span was found; then, when the paragraph was longer than the
         * window, how much of it the model read.
         */
        fun answerText(paragraph: String, answer: AnswerSpan?, window: QaWindow): String = buildString {
            if (answer == null) {
                append("no valid span in the paragraph")
            } else {
                val span = "${Entities.codePoints(paragraph, answer.start)}-${Entities.codePoints(paragraph, answer.end)}"
                append(String.format(Locale.ROOT, "characters %s of the paragraph, score %.2f (start + end logit)", span, answer.score))
            }
            if (window.truncated) {
                append(String.format(Locale.ROOT, "\nthe paragraph is longer than one window: the model read its first %d of %d " +
                    "characters (%d of %d tokens); the rest was not searched",
                    Entities.codePoints(paragraph, window.readTo), Entities.codePoints(paragraph, paragraph.length),
                    window.contextTokens, window.totalContextTokens))
            }
        }

        fun selfCheckText(report: CheckReport): String {
            val details = (report.tokenizerMismatches + report.modelFailures).take(3).joinToString("\n")
            return "Self-check ${report.summary()}" + if (details.isEmpty()) "" else "\n$details"
        }
    }
}
