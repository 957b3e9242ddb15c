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
    /** LiteRT (2.1+) takes a non-null signature key; "" would select the model's first signature. */
    private val signature: String = info.signatureKey
    private val outputName: String = requireNotNull(info.output) { "labels.json names no model output" }

    // CPU (XNNPACK): the dynamic-range INT8 student is what it was validated on; GPU/NPU would need re-validation.
    private val model: CompiledModel = CompiledModel.create(assets, MODEL_ASSET, CompiledModel.Options(Accelerator.CPU))
    private val inputs: Map<String, TensorBuffer>
    private val output: TensorBuffer

    init {
        val made = ArrayList<TensorBuffer>()
        try {
            require(info.inputs.isNotEmpty()) { "labels.json names no model inputs" }
            inputs = info.inputs.values.associateWith { model.createInputBuffer(it, signature).also(made::add) }
            output = model.createOutputBuffer(outputName, signature)
        } catch (e: Throwable) {
            made.forEach { it.close() } // nothing native leaks when construction fails
            model.close()
            throw e
        }
    }

    /** Logits for one encoded example ([1, seq_len] int32 inputs, as exported). */
    override fun logits(e: Encoding): FloatArray {
        require(e.inputIds.size == info.seqLen) { "encoding has ${e.inputIds.size} tokens, model wants ${info.seqLen}" }
        for ((role, name) in info.inputs) {
            val values = when (role) {
                "input_ids" -> e.inputIds
                "attention_mask" -> e.attentionMask
                "token_type_ids" -> e.tokenTypeIds
                else -> error("labels.json: unknown input role '$role'")
            }
            inputs.getValue(name).writeInt(values)
        }
        model.run(inputs, mapOf(outputName to output), signature)
        return output.readFloat()
    }

    override fun close() {
        inputs.values.forEach { it.close() }
        output.close()
        model.close()
    }

    companion object {
        const val MODEL_ASSET = "model.tflite"
    }
}
