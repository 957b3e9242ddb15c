package dev.edgeport.demo.text

/**
 * One signature's output as labels.json `signature_outputs` describes it (written by `edgeport android`, which reads it
 * from the .tflite: LiteRT's Kotlin API exposes neither the element type nor the quantization parameters).
 *
 * float32: the values are the logits. int8 (a `quantize.tflite: full_integer` model): the logits are
 * `(q - zeroPoint) * scale` with *this* signature's parameters (every length bucket's subgraph has its own), the rule
 * `edgeport.runtimes.tflite` applies in Python, in the same float32 arithmetic.
 */
class OutputSpec(val name: String, val dtype: String, val scale: Float = 1f, val zeroPoint: Int = 0) {
    init {
        require(dtype in DTYPES) { "labels.json: output '$name' is $dtype; the app reads ${DTYPES.joinToString(" or ")}" }
        require(dtype != INT8 || (scale > 0f && scale.isFinite() && zeroPoint in -128..127)) {
            "labels.json: int8 output '$name' needs a positive scale and a zero point in -128..127 (got $scale, $zeroPoint)"
        }
    }

    val quantized: Boolean get() = dtype == INT8

    /** The logits of an int8 output read with `readInt8()`. */
    fun dequantize(q: ByteArray): FloatArray {
        check(quantized) { "output '$name' is $dtype, not int8" }
        return FloatArray(q.size) { (q[it] - zeroPoint).toFloat() * scale }
    }

    override fun toString() = if (quantized) "$name (int8, scale $scale, zero point $zeroPoint)" else "$name ($dtype)"

    companion object {
        const val FLOAT32 = "float32"
        const val INT8 = "int8"
        val DTYPES = listOf(FLOAT32, INT8)

        fun parse(m: Map<*, *>) = OutputSpec(
            m["name"] as String,
            m["dtype"] as String,
            (m["scale"] as Double? ?: 1.0).toFloat(),
            (m["zero_point"] as Double? ?: 0.0).toInt(),
        )
    }
}
