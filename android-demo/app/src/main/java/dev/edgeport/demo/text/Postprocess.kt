package dev.edgeport.demo.text

import kotlin.math.exp

/** A classification result: arg-max label and softmax probabilities. */
class Prediction(val index: Int, val label: String, val probabilities: FloatArray)

object Postprocess {
    /** Softmax computed in double after subtracting the max, so large logits cannot overflow. */
    fun softmax(logits: FloatArray): FloatArray {
        require(logits.isNotEmpty()) { "softmax of an empty logits vector" }
        val max = logits.maxOrNull()!!.toDouble()
        val e = DoubleArray(logits.size) { exp(logits[it] - max) }
        val sum = e.sum()
        return FloatArray(logits.size) { (e[it] / sum).toFloat() }
    }

    /** Index of the largest value; ties go to the first, as numpy.argmax does. */
    fun argmax(values: FloatArray): Int {
        require(values.isNotEmpty()) { "argmax of an empty vector" }
        var best = 0
        for (i in 1 until values.size) if (values[i] > values[best]) best = i
        return best
    }

    fun predict(logits: FloatArray, labels: List<String>): Prediction {
        require(logits.size == labels.size) { "model gives ${logits.size} logits but there are ${labels.size} labels" }
        val index = argmax(logits)
        return Prediction(index, labels[index], softmax(logits))
    }
}
