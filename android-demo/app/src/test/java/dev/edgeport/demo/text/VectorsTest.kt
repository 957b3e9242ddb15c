package dev.edgeport.demo.text

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Assume.assumeTrue
import org.junit.Test
import kotlin.math.abs
import kotlin.math.max
import kotlin.math.sqrt

/**
 * Vectors.kt and EmbeddingOutput against the Python reference (edgeport/tasks/vectors.py, through vectors.json that
 * tests/android_golden.py writes on every run): pooled and normalised vectors and cosines within 1e-5 (relative above
 * magnitude 1), plus the degenerate cases by hand.
 */
class VectorsTest {
    private class PoolCase(val name: String, val seq: Int, val d: Int, val flat: FloatArray, val mask: IntArray,
                           val pooled: DoubleArray, val normalized: DoubleArray) {
        fun hidden(): Array<FloatArray> = Array(seq) { t -> flat.copyOfRange(t * d, (t + 1) * d) }
    }

    private fun doubles(v: Any?) = (v as List<*>).let { l -> DoubleArray(l.size) { (l[it] as Double) } }
    private fun floats(v: Any?) = (v as List<*>).let { l -> FloatArray(l.size) { (l[it] as Double).toFloat() } }
    private fun ints(v: Any?) = (v as List<*>).let { l -> IntArray(l.size) { (l[it] as Double).toInt() } }

    private val golden: Map<*, *>? by lazy {
        GoldenFiles.file("vectors.json")?.let { MiniJson.parse(it.readText()) as Map<*, *> }
    }

    private fun goldenOrSkip(): Map<*, *> {
        val g = golden
        assumeTrue("no vectors.json (run-jvm-tests.sh writes it)", g != null)
        assertEquals("edgeport-vectors/1", g!!["format"])
        return g
    }

    private val poolCases: List<PoolCase> by lazy {
        (goldenOrSkip()["pool_cases"] as List<*>).map { it as Map<*, *> }.map {
            PoolCase(it["name"] as String, (it["seq"] as Double).toInt(), (it["d"] as Double).toInt(), floats(it["hidden"]),
                ints(it["mask"]), doubles(it["pooled"]), doubles(it["normalized"]))
        }
    }

    private fun close(actual: Float, expected: Double) = abs(actual - expected) <= TOL * max(1.0, abs(expected))

    private fun assertClose(what: String, expected: DoubleArray, actual: FloatArray) {
        assertEquals("$what: size", expected.size, actual.size)
        val bad = actual.indices.firstOrNull { !close(actual[it], expected[it]) }
        if (bad != null) fail("$what: [$bad] kotlin ${actual[bad]} vs python ${expected[bad]}")
    }

    @Test fun meanPoolAndNormalizeMatchPython() {
        val cases = poolCases
        assertTrue("too few pooling cases: ${cases.size}", cases.size >= 40)
        for (c in cases) {
            val pooled = Vectors.meanPool(c.hidden(), c.mask)
            assertClose("${c.name} pooled", c.pooled, pooled)
            assertClose("${c.name} normalized", c.normalized, Vectors.l2Normalize(pooled))
        }
        println("VectorsTest: ${cases.size} pooling cases within $TOL of edgeport.tasks.vectors")
    }

    @Test fun cosineMatchesPython() {
        val g = goldenOrSkip()
        val cases = (g["cosine_cases"] as List<*>).map { it as Map<*, *> }
        assertTrue(cases.size >= 20)
        for (c in cases) {
            val got = Vectors.cosine(floats(c["a"]), floats(c["b"]))
            assertTrue("${c["name"]}: kotlin $got vs python ${c["cosine"]}", close(got, c["cosine"] as Double))
        }
        // end to end: two texts' hidden states -> pooled, normalised -> cosine
        val pairs = (g["pairs"] as List<*>).map { it as Map<*, *> }
        assertTrue(pairs.isNotEmpty())
        val app = EmbeddingOutput(EmbeddingOutput.LAST_HIDDEN_STATE)
        for (p in pairs) {
            val a = poolCases[(p["a"] as Double).toInt()]
            val b = poolCases[(p["b"] as Double).toInt()]
            val got = Vectors.cosine(app.embedding(a.flat, a.mask), app.embedding(b.flat, b.mask))
            assertTrue("${a.name} ~ ${b.name}: kotlin $got vs python ${p["cosine"]}", close(got, p["cosine"] as Double))
        }
    }

    /** The app's post-process on the golden hidden states, laid out flat as LiteRT reads a [1, seq, d] output. */
    @Test fun embeddingOutputMatchesPython() {
        val hiddenState = EmbeddingOutput(EmbeddingOutput.LAST_HIDDEN_STATE)
        val unnormalized = EmbeddingOutput(EmbeddingOutput.LAST_HIDDEN_STATE, normalize = false)
        val inGraph = EmbeddingOutput(EmbeddingOutput.EMBEDDING)
        for (c in poolCases) {
            assertClose("${c.name} last_hidden_state", c.normalized, hiddenState.embedding(c.flat, c.mask))
            assertClose("${c.name} last_hidden_state, dim", c.normalized,
                EmbeddingOutput(EmbeddingOutput.LAST_HIDDEN_STATE, dim = c.d).embedding(c.flat, c.mask))
            assertClose("${c.name} no normalize", c.pooled, unnormalized.embedding(c.flat, c.mask))
            // A bucketed model ran on fewer positions than the mask holds: only padding may be cut.
            val longer = c.mask + IntArray(3)
            assertClose("${c.name} bucket", c.normalized,
                EmbeddingOutput(EmbeddingOutput.LAST_HIDDEN_STATE, dim = c.d).embedding(c.flat, longer))
            val v = FloatArray(c.d) { c.normalized[it].toFloat() }
            if (abs(sqrt(c.normalized.sumOf { it * it }) - 1.0) < 1e-6) {
                assertArrayEquals(v, inGraph.embedding(v, c.mask), 0f) // pooled in the graph: returned as is
            }
        }
    }

    @Test fun zeroVectorStaysZero() {
        assertArrayEquals(FloatArray(4), Vectors.l2Normalize(FloatArray(4)), 0f)
        assertEquals(0f, Vectors.cosine(FloatArray(3), floatArrayOf(1f, 2f, 3f)), 0f)
        assertEquals(0f, Vectors.cosine(FloatArray(3), FloatArray(3)), 0f)
        assertEquals(0.0, Vectors.norm(FloatArray(5)), 0.0)
    }

    @Test fun maskOfZerosGivesZeroVectorNotNaN() {
        val hidden = arrayOf(floatArrayOf(1f, 2f), floatArrayOf(3f, 4f))
        val pooled = Vectors.meanPool(hidden, intArrayOf(0, 0))
        assertArrayEquals(floatArrayOf(0f, 0f), pooled, 0f)
        val embedding = EmbeddingOutput(EmbeddingOutput.LAST_HIDDEN_STATE).embedding(floatArrayOf(1f, 2f, 3f, 4f), intArrayOf(0, 0))
        assertArrayEquals(floatArrayOf(0f, 0f), embedding, 0f)
    }

    @Test fun paddingIsNotPooled() {
        val hidden = arrayOf(floatArrayOf(1f, 2f), floatArrayOf(3f, 6f), floatArrayOf(1000f, -1000f))
        assertArrayEquals(floatArrayOf(2f, 4f), Vectors.meanPool(hidden, intArrayOf(1, 1, 0)), 0f)
        assertArrayEquals(floatArrayOf(0.6f, 0.8f), Vectors.l2Normalize(floatArrayOf(3f, 4f)), 1e-7f)
        assertEquals(-1f, Vectors.cosine(floatArrayOf(1f, 2f), floatArrayOf(-2f, -4f)), 1e-7f)
    }

    @Test fun tinyVectorIsDividedByEps() {
        // ||v|| = 5e-13 < 1e-12: torch.nn.functional.normalize divides by eps, giving 0.3, 0.4 (not a unit vector)
        assertArrayEquals(floatArrayOf(0.3f, 0.4f), Vectors.l2Normalize(floatArrayOf(3e-13f, 4e-13f)), 1e-6f)
    }

    @Test fun badInputsAreRefused() {
        fun refused(what: String, block: () -> Unit) {
            try { block(); fail("$what: accepted") } catch (e: IllegalArgumentException) { println("  $what: ${e.message}") }
        }
        refused("mask length") { Vectors.meanPool(arrayOf(floatArrayOf(1f)), intArrayOf(1, 0)) }
        refused("mask value") { Vectors.meanPool(arrayOf(floatArrayOf(1f)), intArrayOf(2)) }
        refused("ragged rows") { Vectors.meanPool(arrayOf(floatArrayOf(1f), floatArrayOf(1f, 2f)), intArrayOf(1, 1)) }
        refused("cosine sizes") { Vectors.cosine(floatArrayOf(1f), floatArrayOf(1f, 2f)) }
        refused("unknown output") { EmbeddingOutput("logits") }
        refused("unknown pooling") { EmbeddingOutput(EmbeddingOutput.LAST_HIDDEN_STATE, pooling = "cls") }
        val dim4 = EmbeddingOutput(EmbeddingOutput.LAST_HIDDEN_STATE, dim = 4)
        refused("size not seq x dim") { dim4.embedding(FloatArray(6), intArrayOf(1, 1)) }
        refused("more positions than the mask") { dim4.embedding(FloatArray(12), intArrayOf(1, 1)) }
        refused("real tokens cut") { dim4.embedding(FloatArray(8), intArrayOf(1, 1, 1)) }
        refused("embedding size") { EmbeddingOutput(EmbeddingOutput.EMBEDDING, dim = 3).embedding(floatArrayOf(1f, 0f), intArrayOf(1)) }
        refused("NaN output") { EmbeddingOutput(EmbeddingOutput.EMBEDDING).embedding(floatArrayOf(Float.NaN), intArrayOf(1)) }
    }

    /** An artifact that says its graph normalises but outputs a raw pooled vector is caught, not trusted. */
    @Test fun unnormalizedGraphEmbeddingIsCaught() {
        try {
            EmbeddingOutput(EmbeddingOutput.EMBEDDING).embedding(floatArrayOf(3f, 4f), intArrayOf(1))
            fail("norm 5 accepted")
        } catch (e: IllegalStateException) {
            assertTrue(e.message, e.message!!.contains("norm 5.0000"))
        }
        // normalize=false: the graph's vector is what the model defines, returned as is
        val raw = EmbeddingOutput(EmbeddingOutput.EMBEDDING, normalize = false)
        assertArrayEquals(floatArrayOf(3f, 4f), raw.embedding(floatArrayOf(3f, 4f), intArrayOf(1)), 0f)
    }

    companion object {
        const val TOL = 1e-5
    }
}
