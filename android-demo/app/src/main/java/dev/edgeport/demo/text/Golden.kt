package dev.edgeport.demo.text

import kotlin.math.abs

/** One golden vector written by `edgeport android`: text (and pair) -> ids expected from Python, optional logits. */
class GoldenCase(
    val name: String,
    val text: String,
    val textPair: String?,
    val inputIds: IntArray,
    val attentionMask: IntArray,
    val tokenTypeIds: IntArray,
    val logits: FloatArray?,
) {
    fun encoding() = Encoding(inputIds, attentionMask, tokenTypeIds)

    override fun toString() = name
}

class GoldenSet(val seqLen: Int, val atol: Float, val rtol: Float, val cases: List<GoldenCase>) {
    companion object {
        const val FORMAT = "edgeport-golden/1"

        fun parse(json: String): GoldenSet {
            val root = MiniJson.parse(json) as? Map<*, *> ?: throw IllegalArgumentException("golden: not an object")
            require(root["format"] == FORMAT) { "golden: format ${root["format"]}, expected $FORMAT" }
            val tol = root["tolerance"] as? Map<*, *> ?: emptyMap<String, Any>()
            val cases = (root["cases"] as List<*>).map { parseCase(it as Map<*, *>) }
            return GoldenSet(
                (root["seq_len"] as Double).toInt(),
                (tol["atol"] as? Double ?: 0.0).toFloat(),
                (tol["rtol"] as? Double ?: 0.0).toFloat(),
                cases,
            )
        }

        private fun parseCase(m: Map<*, *>) = GoldenCase(
            m["name"] as String,
            m["text"] as String,
            m["text_pair"] as String?,
            ints(m["input_ids"]),
            ints(m["attention_mask"]),
            ints(m["token_type_ids"]),
            (m["logits"] as List<*>?)?.let { l -> FloatArray(l.size) { (l[it] as Double).toFloat() } },
        )

        private fun ints(v: Any?): IntArray = (v as List<*>).let { l -> IntArray(l.size) { (l[it] as Double).toInt() } }
    }
}

/** What the start-up self-check found; [passed] is what the app shows in green or red. */
class CheckReport(
    val cases: Int,
    val tokenizerMismatches: List<String>,
    val modelCases: Int,
    val modelFailures: List<String>,
    val maxAbsDiff: Float,
) {
    val passed: Boolean get() = cases > 0 && tokenizerMismatches.isEmpty() && modelFailures.isEmpty()

    fun summary(): String = buildString {
        append(if (passed) "PASS" else "FAIL")
        append(": tokenizer ${cases - tokenizerMismatches.size}/$cases identical")
        if (modelCases > 0) {
            append(", model ${modelCases - modelFailures.size}/$modelCases within tolerance")
            append(" (max |Δlogit| ${"%.4g".format(maxAbsDiff)})")
        } else {
            append(", no golden logits to check the model against")
        }
    }
}

object SelfCheck {
    /** Element-wise |actual - expected| <= atol + rtol * |expected| (numpy.allclose semantics). */
    fun logitsWithin(actual: FloatArray, expected: FloatArray, atol: Float, rtol: Float): Boolean =
        actual.size == expected.size && actual.indices.all { abs(actual[it] - expected[it]) <= atol + rtol * abs(expected[it]) }

    /**
     * The label must agree unless the golden top-2 margin is within 2*atol: a near tie may flip on another CPU's
     * kernels without the model being wrong.
     */
    fun labelAgrees(actual: FloatArray, expected: FloatArray, atol: Float): Boolean {
        if (Postprocess.argmax(actual) == Postprocess.argmax(expected)) return true
        val sorted = expected.sortedArrayDescending()
        return sorted.size > 1 && sorted[0] - sorted[1] <= 2 * atol
    }

    /**
     * Tokenizer: Kotlin ids, mask and types must equal Python's exactly. Model: run on the *golden* inputs (so a
     * tokenizer bug is not counted twice) and compare logits within the golden tolerance.
     */
    fun run(golden: GoldenSet, tokenizer: TextTokenizer, model: ((Encoding) -> FloatArray)?): CheckReport {
        require(tokenizer.seqLen == golden.seqLen) { "tokenizer seq_len ${tokenizer.seqLen} != golden ${golden.seqLen}" }
        val mismatches = golden.cases.mapNotNull { c -> tokenizerMismatch(c, tokenizer.encode(c.text, c.textPair)) }
        val failures = ArrayList<String>()
        var modelCases = 0
        var maxDiff = 0f
        if (model != null) for (c in golden.cases) {
            val expected = c.logits ?: continue
            val actual = model(c.encoding())
            modelCases++
            if (actual.size == expected.size) maxDiff = maxOf(maxDiff, actual.indices.maxOf { abs(actual[it] - expected[it]) })
            if (!logitsWithin(actual, expected, golden.atol, golden.rtol) || !labelAgrees(actual, expected, golden.atol)) {
                failures.add("${c.name}: logits ${actual.contentToString()} vs golden ${expected.contentToString()}")
            }
        }
        return CheckReport(golden.cases.size, mismatches, modelCases, failures, maxDiff)
    }

    /** null when equal, else a message naming the first differing position. */
    fun tokenizerMismatch(c: GoldenCase, e: Encoding): String? {
        for ((what, want, got) in listOf(
            Triple("input_ids", c.inputIds, e.inputIds),
            Triple("attention_mask", c.attentionMask, e.attentionMask),
            Triple("token_type_ids", c.tokenTypeIds, e.tokenTypeIds),
        )) {
            if (want.contentEquals(got)) continue
            val at = (0 until minOf(want.size, got.size)).firstOrNull { want[it] != got[it] } ?: minOf(want.size, got.size)
            return "${c.name}: $what differ at $at: python ${want.slice(at until minOf(want.size, at + 6))} " +
                "kotlin ${got.slice(at until minOf(got.size, at + 6))}"
        }
        return null
    }
}
