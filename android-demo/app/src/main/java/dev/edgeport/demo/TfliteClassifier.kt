package dev.edgeport.demo

import android.content.res.AssetManager
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.TensorBuffer
import dev.edgeport.demo.text.Encoding
import dev.edgeport.demo.text.ModelInfo

/**
 * The INT8 student on LiteRT's CompiledModel API (CPU). Inputs are addressed by their signature names from
 * labels.json, never by position: exporters do not promise an input order, and a swapped mask/ids pair would
 * still run and silently give wrong logits.
 *
 * Type-checked on the JVM against jvm-stubs/ (LiteRT's public signatures) by run-jvm-tests.sh.
 */
class TfliteClassifier(assets: AssetManager, private val info: ModelInfo) : Classifier {
    private val outputName: String = requireNotNull(info.output) { "labels.json names no model output" }

    // CPU (XNNPACK): the dynamic-range INT8 student is what it was validated on; GPU/NPU would need re-validation.
    private val model: CompiledModel = CompiledModel.create(assets, MODEL_ASSET, CompiledModel.Options(Accelerator.CPU))
    /** Per length bucket (one signature each, `seq_buckets` in labels.json): its input buffers and output. */
    private class Bucket(val signature: String, val inputs: Map<String, TensorBuffer>, val output: TensorBuffer)

    private val buckets: Map<Int, Bucket>

    init {
        val made = ArrayList<TensorBuffer>()
        try {
            require(info.inputs.isNotEmpty()) { "labels.json names no model inputs" }
            buckets = info.seqBuckets.associateWith { len ->
                val key = info.signatureFor(len)
                Bucket(key, info.inputs.values.associateWith { model.createInputBuffer(it, key).also(made::add) },
                    model.createOutputBuffer(outputName, key).also(made::add))
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
            b.inputs.getValue(name).writeInt(values.copyOf(len))
        }
        model.run(b.inputs, mapOf(outputName to b.output), b.signature)
        return b.output.readFloat()
    }

    override fun close() {
        buckets.values.forEach { b -> b.inputs.values.forEach { it.close() }; b.output.close() }
        model.close()
    }

    companion object {
        const val MODEL_ASSET = "model.tflite"
    }
}
