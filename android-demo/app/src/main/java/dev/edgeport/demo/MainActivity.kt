package dev.edgeport.demo

import android.app.Activity
import android.graphics.Color
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import dev.edgeport.demo.text.AppMode
import java.util.concurrent.Executor
import java.util.concurrent.Executors

/**
 * One screen: type a text, get the label, class probabilities and on-device latency (a sentence-embedding model: type
 * two texts, get their cosine similarity; a token classifier: get the text's entities); on start the golden vectors
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
            // The controller does what the loaded model does (the second field is read only by a similarity model).
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
        findViewById<EditText>(R.id.input2).visibility = if (mode == AppMode.SIMILARITY) View.VISIBLE else View.GONE
        findViewById<Button>(R.id.classify).setText(BUTTON_TEXT.getValue(mode))
    }

    override fun showResult(result: ResultText) {
        val label = findViewById<TextView>(R.id.label)
        label.text = result.label
        label.setBackgroundColor(if (result.isError) RED else Color.TRANSPARENT)
        findViewById<TextView>(R.id.probabilities).text = result.details
        findViewById<TextView>(R.id.latency).text = result.latency
    }

    override fun onDestroy() {
        if (::controller.isInitialized) controller.close()
        worker.shutdown()
        super.onDestroy()
    }

    private companion object {
        val GREEN = Color.rgb(200, 240, 200)
        val RED = Color.rgb(250, 200, 200)
        val BUTTON_TEXT = mapOf(AppMode.CLASSIFY to R.string.classify, AppMode.SIMILARITY to R.string.compare, AppMode.ENTITIES to R.string.find_entities)
    }
}
