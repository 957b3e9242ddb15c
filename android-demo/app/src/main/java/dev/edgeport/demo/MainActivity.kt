package dev.edgeport.demo

import android.app.Activity
import android.graphics.Color
import android.os.Bundle
import android.text.SpannableString
import android.text.Spanned
import android.text.style.BackgroundColorSpan
import android.text.style.ForegroundColorSpan
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import dev.edgeport.demo.text.AppMode
import dev.edgeport.demo.text.Highlight
import java.util.concurrent.Executor
import java.util.concurrent.Executors

/**
 * One screen: type a text, get the label, class probabilities and on-device latency (a sentence-embedding model: type
 * two texts, get their cosine similarity; a token classifier: get the text's entities; a question-answering model:
 * type a question and a paragraph, get the paragraph with the answer highlighted); on start the golden vectors
 * written by `edgeport android` are replayed and the verdict is shown at the top. A thin shell: the logic, the
 * background thread's error handling and the texts live in [DemoController] (plain Kotlin, JVM-tested); this class
 * only wires the views. Type-checked on the JVM against jvm-stubs/ by run-jvm-tests.sh.
 */
class MainActivity : Activity(), DemoView {
    private val worker = Executors.newSingleThreadExecutor()
    private lateinit var controller: DemoController

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        controller = DemoController(
            readAsset = { name -> assets.open(name).bufferedReader(Charsets.UTF_8).use { it.readText() } },
            openClassifier = { info -> TfliteClassifier(assets, info) },
            view = this,
            worker = worker,
            ui = Executor { runOnUiThread(it) },
        )
        findViewById<Button>(R.id.classify).setOnClickListener {
            // The controller does what the loaded model does (the second field is read by a similarity model, and is
            // the paragraph of a question-answering model).
            controller.submit(findViewById<EditText>(R.id.input).text.toString(), findViewById<EditText>(R.id.input2).text.toString())
        }
        controller.start()
    }

    override fun showStatus(text: String, ok: Boolean) {
        val view = findViewById<TextView>(R.id.selfCheck)
        view.text = text
        view.setBackgroundColor(if (ok) GREEN else RED)
    }

    override fun setClassifyEnabled(enabled: Boolean) {
        findViewById<Button>(R.id.classify).isEnabled = enabled
    }

    override fun setMode(mode: AppMode) {
        val twoFields = mode == AppMode.SIMILARITY || mode == AppMode.ANSWER
        findViewById<EditText>(R.id.input2).visibility = if (twoFields) View.VISIBLE else View.GONE
        if (mode == AppMode.ANSWER) {
            findViewById<EditText>(R.id.input).setHint(R.string.hint_question)
            findViewById<EditText>(R.id.input2).setHint(R.string.hint_paragraph)
        }
        findViewById<Button>(R.id.classify).setText(BUTTON_TEXT.getValue(mode))
    }

    override fun showResult(result: ResultText) {
        val label = findViewById<TextView>(R.id.label)
        label.text = result.label
        label.setBackgroundColor(if (result.isError) RED else Color.TRANSPARENT)
        findViewById<TextView>(R.id.probabilities).text = result.details
        result.highlight?.let { findViewById<TextView>(R.id.paragraph).text = highlighted(it) }
        findViewById<TextView>(R.id.paragraph).visibility = if (result.highlight != null) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.latency).text = result.latency
    }

    /** The paragraph with the answer on a yellow background and the part the model did not read in grey. */
    private fun highlighted(h: Highlight): CharSequence {
        val text = SpannableString(h.text)
        h.answer?.let { text.setSpan(BackgroundColorSpan(YELLOW), it.start, it.end, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE) }
        h.unread?.let { text.setSpan(ForegroundColorSpan(Color.GRAY), it.start, it.end, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE) }
        return text
    }

    override fun onDestroy() {
        if (::controller.isInitialized) controller.close()
        worker.shutdown()
        super.onDestroy()
    }

    private companion object {
        val GREEN = Color.rgb(200, 240, 200)
        val RED = Color.rgb(250, 200, 200)
        val YELLOW = Color.rgb(255, 235, 120)
        val BUTTON_TEXT = mapOf(
            AppMode.CLASSIFY to R.string.classify, AppMode.SIMILARITY to R.string.compare,
            AppMode.ENTITIES to R.string.find_entities, AppMode.ANSWER to R.string.answer,
        )
    }
}
