package dev.edgeport.demo

import android.app.Activity
import android.graphics.Color
import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import dev.edgeport.demo.text.BertTokenizer
import dev.edgeport.demo.text.CheckReport
import dev.edgeport.demo.text.GoldenSet
import dev.edgeport.demo.text.ModelInfo
import dev.edgeport.demo.text.Postprocess
import dev.edgeport.demo.text.SelfCheck
import dev.edgeport.demo.text.Vocab
import java.util.concurrent.Executors

/**
 * One screen: type a text, get the label, class probabilities and on-device latency. On start the golden vectors
 * written by `edgeport android` are replayed (Kotlin tokenizer vs Python ids, LiteRT logits vs Python TFLite
 * logits) and the verdict is shown at the top. All model work runs on one background thread.
 */
class MainActivity : Activity() {
    private val worker = Executors.newSingleThreadExecutor()
    private var info: ModelInfo? = null
    private var tokenizer: BertTokenizer? = null
    private var classifier: TfliteClassifier? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        findViewById<Button>(R.id.classify).setOnClickListener { classify(findViewById<EditText>(R.id.input).text.toString()) }
        worker.execute { load() }
    }

    private fun asset(name: String): String = assets.open(name).bufferedReader(Charsets.UTF_8).use { it.readText() }

    private fun load() {
        val result = runCatching {
            val modelInfo = ModelInfo.parse(asset("labels.json"))
            val tok = modelInfo.tokenizer(Vocab.parse(asset("vocab.txt")))
            val model = TfliteClassifier(assets, modelInfo)
            info = modelInfo; tokenizer = tok; classifier = model
            SelfCheck.run(GoldenSet.parse(asset("golden.json")), tok, model::logits)
        }
        runOnUiThread { showSelfCheck(result) }
    }

    private fun showSelfCheck(result: Result<CheckReport>) {
        val view = findViewById<TextView>(R.id.selfCheck)
        result.onSuccess { report ->
            val details = (report.tokenizerMismatches + report.modelFailures).take(3).joinToString("\n")
            view.text = "Self-check ${report.summary()}" + if (details.isEmpty()) "" else "\n$details"
            view.setBackgroundColor(if (report.passed) Color.rgb(200, 240, 200) else Color.rgb(250, 200, 200))
            findViewById<Button>(R.id.classify).isEnabled = true
        }.onFailure { e ->
            view.text = "Could not load the model assets: ${e.message}\nRun `edgeport android RUN_DIR` and rebuild."
            view.setBackgroundColor(Color.rgb(250, 200, 200))
        }
    }

    private fun classify(text: String) {
        val tok = tokenizer ?: return
        val model = classifier ?: return
        val labels = info?.labels ?: return
        worker.execute {
            val start = System.nanoTime()
            val encoding = tok.encode(text)
            val tokenized = System.nanoTime()
            val prediction = Postprocess.predict(model.logits(encoding), labels)
            val done = System.nanoTime()
            runOnUiThread {
                findViewById<TextView>(R.id.label).text = prediction.label
                findViewById<TextView>(R.id.probabilities).text = labels.indices.joinToString("\n") {
                    "%-12s %6.2f%%".format(labels[it], 100f * prediction.probabilities[it])
                }
                findViewById<TextView>(R.id.latency).text = "latency %.1f ms (tokenize %.2f ms, model %.1f ms), %d tokens"
                    .format((done - start) / 1e6, (tokenized - start) / 1e6, (done - tokenized) / 1e6, encoding.length)
            }
        }
    }

    override fun onDestroy() {
        worker.execute { classifier?.close() }
        worker.shutdown()
        super.onDestroy()
    }
}
