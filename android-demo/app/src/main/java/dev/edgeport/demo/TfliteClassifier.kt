package dev.edgeport.demo

import android.content.res.AssetManager
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.TensorBuffer
import dev.edgeport.demo.text.ModelInfo

/**
 * The INT8 student on LiteRT's CompiledModel API (CPU): [BucketedClassifier] (which signature, buffers and output,
 * tested on the JVM with a fake model) over [LiteRtModel] (the LiteRT calls, nothing else).
 *
 * Type-checked on the JVM against jvm-stubs/ (LiteRT's public signatures) by run-jvm-tests.sh.
 */
class TfliteClassifier private constructor(delegate: BucketedClassifier<TensorBuffer>) : Classifier by delegate {
    // CPU (XNNPACK): the INT8 student is what it was validated on; GPU/NPU would need re-validation.
    constructor(assets: AssetManager, info: ModelInfo) :
        this(BucketedClassifier(info, LiteRtModel(CompiledModel.create(assets, MODEL_ASSET, CompiledModel.Options(Accelerator.CPU)))))

    companion object {
        const val MODEL_ASSET = "model.tflite"
    }
}

/** LiteRT's CompiledModel as a [SignatureModel]: every call passes the signature key (non-null since LiteRT 2.1). */
private class LiteRtModel(private val model: CompiledModel) : SignatureModel<TensorBuffer> {
    override fun createInputBuffer(name: String, signature: String): TensorBuffer = model.createInputBuffer(name, signature)

    override fun createOutputBuffer(name: String, signature: String): TensorBuffer = model.createOutputBuffer(name, signature)

    override fun writeInt(buffer: TensorBuffer, values: IntArray) = buffer.writeInt(values)

    override fun readFloat(buffer: TensorBuffer): FloatArray = buffer.readFloat()

    override fun readInt8(buffer: TensorBuffer): ByteArray = buffer.readInt8()

    override fun run(inputs: Map<String, TensorBuffer>, outputs: Map<String, TensorBuffer>, signature: String) =
        model.run(inputs, outputs, signature)

    override fun close() = model.close()
}
