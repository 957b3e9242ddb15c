package dev.edgeport.demo.text

import java.util.Locale
import kotlin.math.abs
import kotlin.math.max
import kotlin.math.sqrt

/**
 * Sentence-embedding vector maths, the Kotlin twin of `edgeport/tasks/vectors.py` (the reference: VectorsTest checks
 * these against golden files it writes): mean pooling over the real tokens, L2 normalisation and cosine similarity,
 * with sentence-transformers' and torch's conventions for the degenerate cases. Sums are accumulated in double.
 */
object Vectors {
    /** sentence-transformers' Pooling divides by clamp(sum(mask), min=1e-9): a mask of zeros gives the zero vector. */
    const val POOL_MIN_COUNT = 1e-9

    /** torch.nn.functional.normalize's eps: v / max(||v||, eps), so the zero vector stays zero. */
    const val NORMALIZE_EPS = 1e-12

    /** Mean of the rows of [hidden] ([seq][d]) whose [mask] entry is 1: sum(h * m) / max(sum(m), 1e-9). */
    fun meanPool(hidden: Array<FloatArray>, mask: IntArray): FloatArray {
        require(hidden.size == mask.size) { "hidden has ${hidden.size} positions but the attention mask ${mask.size}" }
        require(hidden.isNotEmpty()) { "mean pooling of an empty sequence" }
        val d = hidden[0].size
        val sum = DoubleArray(d)
        var count = 0.0
        for (t in hidden.indices) {
            val row = hidden[t]
            require(row.size == d) { "hidden row $t has ${row.size} values, row 0 has $d" }
            val m = mask[t]
            require(m == 0 || m == 1) { "attention mask must hold only 0 and 1 (position $t is $m)" }
            if (m == 0) continue
            count += 1.0
            for (i in 0 until d) sum[i] += row[i].toDouble()
        }
        val n = max(count, POOL_MIN_COUNT)
        return FloatArray(d) { (sum[it] / n).toFloat() }
    }

    fun norm(v: FloatArray): Double {
        var s = 0.0
        for (x in v) s += x.toDouble() * x
        return sqrt(s)
    }

    /** v / max(||v||_2, [eps]) (torch.nn.functional.normalize): the zero vector stays zero, never NaN. */
    fun l2Normalize(v: FloatArray, eps: Double = NORMALIZE_EPS): FloatArray {
        val n = max(norm(v), eps)
        return FloatArray(v.size) { (v[it] / n).toFloat() }
    }

    /** Whether ||v|| is within [tolerance] of 1. */
    fun isNormalized(v: FloatArray, tolerance: Double = NORM_TOLERANCE): Boolean = abs(norm(v) - 1.0) <= tolerance

    /**
     * Cosine similarity of two vectors, both L2-normalised first (sentence-transformers' `util.cos_sim`): a zero
     * vector has cosine 0 with anything instead of NaN.
     */
    fun cosine(a: FloatArray, b: FloatArray): Float {
        require(a.size == b.size) { "cosine of vectors of ${a.size} and ${b.size} values" }
        require(a.isNotEmpty()) { "cosine of empty vectors" }
        var dot = 0.0
        for (i in a.indices) dot += a[i].toDouble() * b[i]
        return (dot / (max(norm(a), NORMALIZE_EPS) * max(norm(b), NORMALIZE_EPS))).toFloat()
    }

    /** How far from 1 the norm of an embedding the graph says it normalised may be (float32 and int8 outputs). */
    const val NORM_TOLERANCE = 1e-2
}

/**
 * How a sentence-embedding model's output becomes its embedding, from labels.json (see [ModelInfo]):
 *
 * - [output] `embedding`: the graph pooled (and, with [normalize], L2-normalised) already; its output is [1, d].
 *   Nothing is recomputed: with [normalize] the norm is only checked, so an artifact that lost its Normalize step
 *   fails loudly instead of giving plausible numbers.
 * - [output] `last_hidden_state`: the graph stops at the encoder, [1, seq, d]; the app pools ([pooling] `mean`, over
 *   the positions whose attention mask is 1) and, with [normalize], L2-normalises, as sentence-transformers does.
 *
 * [dim] (labels.json `embedding_dim`, optional) is checked against the output's size when given.
 */
class EmbeddingOutput(val output: String, val pooling: String = MEAN, val normalize: Boolean = true, val dim: Int? = null) {
    init {
        require(output in OUTPUTS) {
            "labels.json: a sentence-embedding model's output is ${OUTPUTS.joinToString(" or ") { "'$it'" }}, got '$output'"
        }
        require(pooling in POOLINGS) { "labels.json: pooling '$pooling' is not one the app does (${POOLINGS.joinToString()})" }
        require(dim == null || dim > 0) { "labels.json: embedding_dim must be positive, got $dim" }
    }

    val pooledInGraph: Boolean get() = output == EMBEDDING

    /**
     * The embedding from one model run. [values] is the output tensor, flat (as LiteRT reads it); [mask] is the
     * attention mask of the positions the model ran on (for a length-bucketed model, the mask cut to the bucket).
     */
    fun embedding(values: FloatArray, mask: IntArray): FloatArray {
        require(values.isNotEmpty()) { "model output '$output' is empty" }
        require(values.all { it.isFinite() }) { "model output '$output' has non-finite values" }
        if (pooledInGraph) {
            require(dim == null || values.size == dim) {
                "model output 'embedding' has ${values.size} values but labels.json says embedding_dim $dim"
            }
            check(!normalize || Vectors.isNormalized(values)) {
                val norm = String.format(Locale.ROOT, "%.4f", Vectors.norm(values))
                "the graph's embedding has norm $norm, but labels.json says it is L2-normalised"
            }
            return values
        }
        require(mask.isNotEmpty()) { "empty attention mask" }
        val rows = if (dim != null) values.size / dim else mask.size
        require(rows > 0 && values.size % rows == 0 && (dim == null || rows * dim == values.size)) {
            "model output 'last_hidden_state' has ${values.size} values: not [1, seq, ${dim ?: "d"}] for a mask of ${mask.size}"
        }
        require(rows <= mask.size && (rows until mask.size).all { mask[it] == 0 }) {
            "model output 'last_hidden_state' has $rows positions but the attention mask has " +
                "${mask.count { it == 1 }} real tokens in ${mask.size}"
        }
        val d = values.size / rows
        val hidden = Array(rows) { t -> values.copyOfRange(t * d, (t + 1) * d) }
        val pooled = Vectors.meanPool(hidden, mask.copyOf(rows))
        return if (normalize) Vectors.l2Normalize(pooled) else pooled
    }

    override fun toString() =
        if (pooledInGraph) "embedding pooled in the graph" + if (normalize) " (L2-normalised)" else ""
        else "last_hidden_state, $pooling-pooled in the app" + if (normalize) " + L2-normalised" else ""

    companion object {
        const val EMBEDDING = "embedding"
        const val LAST_HIDDEN_STATE = "last_hidden_state"
        val OUTPUTS = listOf(EMBEDDING, LAST_HIDDEN_STATE)
        const val MEAN = "mean"
        val POOLINGS = listOf(MEAN)
    }
}
