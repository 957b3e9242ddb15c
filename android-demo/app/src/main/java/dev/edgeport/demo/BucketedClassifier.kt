package dev.edgeport.demo

import dev.edgeport.demo.text.Encoding
import dev.edgeport.demo.text.ModelInfo
import dev.edgeport.demo.text.OutputSpec

/**
 * The LiteRT calls the classifier makes (CompiledModel and TensorBuffer in the app, see [TfliteClassifier]), so that
 * which signature, input and output it addresses, and how it reads the output, run on the JVM against a fake model.
 * [B] is the runtime's tensor buffer.
 */
interface SignatureModel<B : AutoCloseable> : AutoCloseable {
    fun createInputBuffer(name: String, signature: String): B

    fun createOutputBuffer(name: String, signature: String): B

    fun writeInt(buffer: B, values: IntArray)

    fun readFloat(buffer: B): FloatArray

    fun readInt8(buffer: B): ByteArray

    fun run(inputs: Map<String, B>, outputs: Map<String, B>, signature: String)
}

/**
 * The student on any [SignatureModel]: one signature per length bucket (labels.json `seq_buckets`), each with its
 * input buffers and *its own* output ([ModelInfo.outputFor]: the signature's output name, and for an int8 output of
 * a full-integer model the scale and zero point it is dequantized with), or its own outputs, read one after the
 * other into one array ([ModelInfo.outputsFor]: a question-answering model's start then end logits). Inputs are addressed by their signature
 * names from labels.json, never by position: exporters do not promise an input order, and a swapped mask/ids pair
 * would still run and silently give wrong logits.
 */
class BucketedClassifier<B : AutoCloseable>(private val info: ModelInfo, private val model: SignatureModel<B>) : Classifier {
    /** Per length bucket: its signature, input buffers, output buffers and how to read each. */
    private inner class Bucket(val signature: String, val inputs: Map<String, B>, val outputs: List<Pair<OutputSpec, B>>)

    private val buckets: Map<Int, Bucket>

    init {
        val made = ArrayList<B>()
        try {
            require(info.inputs.isNotEmpty()) { "labels.json names no model inputs" }
            buckets = info.seqBuckets.associateWith { len ->
                val key = info.signatureFor(len)
                Bucket(key, info.inputs.values.associateWith { model.createInputBuffer(it, key).also(made::add) },
                    info.outputsFor(len).map { spec -> spec to model.createOutputBuffer(spec.name, key).also(made::add) })
            }
        } catch (e: Throwable) {
            made.forEach { it.close() } // nothing native leaks when construction fails
            model.close()
            throw e
        }
    }

    /**
     * Logits for one encoded example (encoded to [1, seq_len], right-padded): run on the smallest length bucket that
     * holds its tokens, the inputs cut to that bucket (only padding is cut).
     */
    override fun logits(e: Encoding): FloatArray {
        require(e.inputIds.size == info.seqLen) { "encoding has ${e.inputIds.size} tokens, model wants ${info.seqLen}" }
        val len = info.bucketFor(e.length)
        val b = buckets.getValue(len)
        for ((role, name) in info.inputs) {
            val values = when (role) {
                "input_ids" -> e.inputIds
                "attention_mask" -> e.attentionMask
                "token_type_ids" -> e.tokenTypeIds
                else -> error("labels.json: unknown input role '$role'")
            }
            model.writeInt(b.inputs.getValue(name), values.copyOf(len))
        }
        model.run(b.inputs, b.outputs.associate { (spec, buffer) -> spec.name to buffer }, b.signature)
        val read = b.outputs.map { (spec, buffer) -> if (spec.quantized) spec.dequantize(model.readInt8(buffer)) else model.readFloat(buffer) }
        return if (read.size == 1) read[0] else FloatArray(read.sumOf { it.size }).also { all ->
            var at = 0
            for (part in read) { part.copyInto(all, at); at += part.size }
        }
    }

    override fun close() {
        buckets.values.forEach { b -> b.inputs.values.forEach { it.close() }; b.outputs.forEach { it.second.close() } }
        model.close()
    }
}
