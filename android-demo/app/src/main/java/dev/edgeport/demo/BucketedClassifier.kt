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
 * a full-integer model the scale and zero point it is dequantized with). Inputs are addressed by their signature
 * names from labels.json, never by position: exporters do not promise an input order, and a swapped mask/ids pair
 * would still run and silently give wrong logits.
 */
class BucketedClassifier<B : AutoCloseable>(private val info: ModelInfo, private val model: SignatureModel<B>) : Classifier {
    /** Per length bucket: its signature, input buffers, output buffer and how to read it. */
    private inner class Bucket(val signature: String, val inputs: Map<String, B>, val output: B, val spec: OutputSpec)

    private val buckets: Map<Int, Bucket>

    init {
        val made = ArrayList<B>()
        try {
            require(info.inputs.isNotEmpty()) { "labels.json names no model inputs" }
            buckets = info.seqBuckets.associateWith { len ->
                val key = info.signatureFor(len)
                val spec = info.outputFor(len)
                Bucket(key, info.inputs.values.associateWith { model.createInputBuffer(it, key).also(made::add) },
                    model.createOutputBuffer(spec.name, key).also(made::add), spec)
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
        model.run(b.inputs, mapOf(b.spec.name to b.output), b.signature)
        return if (b.spec.quantized) b.spec.dequantize(model.readInt8(b.output)) else model.readFloat(b.output)
    }

    override fun close() {
        buckets.values.forEach { b -> b.inputs.values.forEach { it.close() }; b.output.close() }
        model.close()
    }
}
