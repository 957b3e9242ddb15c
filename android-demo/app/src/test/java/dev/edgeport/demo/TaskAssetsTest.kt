package dev.edgeport.demo

import dev.edgeport.demo.text.AppMode
import dev.edgeport.demo.text.CharSpan
import dev.edgeport.demo.text.Encoding
import dev.edgeport.demo.text.GoldenFiles
import dev.edgeport.demo.text.GoldenSet
import dev.edgeport.demo.text.ModelInfo
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File

/**
 * The app on assets `edgeport android` wrote (run-jvm-tests.sh runs this on each assets folder: the app's own and
 * EDGEPORT_EXTRA_ASSETS, e.g. the tiny token classifier and sentence embedder of tests/test_android_jvm.py). LiteRT
 * does not run on the JVM, so the model replays golden.json's outputs for the ids it is given; everything else is the
 * app's: labels.json's task picks the screen, the self-check passes on every case (tokenizer, output, and the label,
 * embedding or words/tags/entities or answer), a token classifier's screen shows, for every golden text, the entities
 * Python found (edgeport.tasks.ner), and a question-answering model's the answer Python found (edgeport.tasks.squad).
 */
class TaskAssetsTest {
    private val dir: File? = GoldenFiles.dir?.takeIf { File(it, "labels.json").isFile && File(it, "golden.json").isFile }
    private val assets: Map<String, String> = dir?.listFiles()?.filter { it.isFile && it.extension != "tflite" }
        ?.associate { it.name to it.readText() } ?: emptyMap()

    /** The model: each golden case's output, looked up by the ids it was computed on. */
    private class Replay(golden: GoldenSet) : Classifier {
        private val outputs = golden.cases.filter { it.logits != null }.associate { it.inputIds.toList() to it.logits!! }

        override fun logits(e: Encoding): FloatArray =
            outputs[e.inputIds.toList()] ?: error("no golden output for ids ${e.inputIds.take(12)}")

        override fun close() {}
    }

    private class Screen : DemoView {
        var status: Pair<String, Boolean>? = null
        var shownMode: AppMode? = null
        val results = ArrayList<ResultText>()

        override fun showStatus(text: String, ok: Boolean) { status = text to ok }
        override fun setClassifyEnabled(enabled: Boolean) {}
        override fun setMode(mode: AppMode) { shownMode = mode }
        override fun showResult(result: ResultText) { results.add(result) }
    }

    private fun started(): Triple<DemoController, Screen, GoldenSet> {
        assumeTrue("no app assets with labels.json and golden.json", dir != null)
        val golden = GoldenSet.parse(assets.getValue(DemoController.GOLDEN))
        val screen = Screen()
        val controller = DemoController(assets::getValue, { Replay(golden) }, screen, { it.run() }, { it.run() })
        controller.start()
        return Triple(controller, screen, golden)
    }

    @Test fun theTasksScreenPassesTheSelfCheck() {
        val (_, screen, golden) = started()
        val info = ModelInfo.parse(assets.getValue(DemoController.LABELS))
        val (text, ok) = screen.status!!
        val n = golden.cases.count { it.logits != null }
        println("task assets ${dir!!.name} (${info.task}, ${info.mode}): ${text.lines().first()}")
        assertTrue(text, ok && text.startsWith("Self-check PASS: tokenizer ${golden.cases.size}/${golden.cases.size} identical, model $n/$n within"))
        assertTrue("golden.json has no outputs", n > 0)
        assertEquals(ModelInfo.MODES.getValue(info.task), screen.shownMode)
    }

    @Test fun theEntityScreenShowsPythonsEntities() {
        val (controller, screen, golden) = started()
        val cases = golden.cases.filter { it.entities != null }
        assumeTrue("not a token classifier's assets", screen.shownMode == AppMode.ENTITIES)
        for (c in cases) controller.findEntities(c.text)
        assertEquals(cases.size, screen.results.size)
        for ((c, shown) in cases.zip(screen.results)) {
            val want = c.entities!!
            assertEquals(c.name, DemoController.entityCount(want.entities.size), shown.label)
            assertEquals(c.name, DemoController.entitiesText(c.text, want.entities, want.droppedWords), shown.details)
        }
        println("task assets ${dir!!.name}: ${cases.size} texts, ${cases.sumOf { it.entities!!.entities.size }} entities as Python found them")
        assertTrue(cases.sumOf { it.entities!!.entities.size } > 0)
    }

    /**
     * A question-answering model's screen: for every golden question and paragraph, the answer Python's
     * `squad.best_span` read from the golden output, highlighted at its characters in the paragraph.
     */
    @Test fun theAnswerScreenShowsPythonsAnswers() {
        val (controller, screen, golden) = started()
        val cases = golden.cases.filter { it.answer != null }
        assumeTrue("not a question-answering model's assets", screen.shownMode == AppMode.ANSWER)
        for (c in cases) controller.answer(c.text, c.textPair!!)
        assertEquals(cases.size, screen.results.size)
        for ((c, shown) in cases.zip(screen.results)) {
            val want = c.answer!!.expected
            assertEquals(c.name, want?.text ?: "no answer", shown.label)
            assertEquals(c.name, want?.let { CharSpan(it.start, it.end) }, shown.highlight!!.answer)
        }
        val cut = screen.results.count { it.highlight!!.unread != null }
        println("task assets ${dir!!.name}: ${cases.size} questions, ${cases.count { it.answer!!.expected != null }} answers " +
            "as Python found them, $cut paragraphs cut to the window")
        assertTrue(cases.isNotEmpty() && cut > 0)
    }
}
