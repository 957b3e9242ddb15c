package dev.edgeport.demo

import dev.edgeport.demo.text.Encoding
import dev.edgeport.demo.text.GoldenFiles
import dev.edgeport.demo.text.MiniJson
import dev.edgeport.demo.text.ModelInfo
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File

/**
 * The classifier the app runs ([BucketedClassifier], LiteRT behind [SignatureModel]) against a fake model that
 * behaves as LiteRT does where it matters: an output is addressed by *its own signature's* name (another name throws,
 * as CompiledModel's lookup fails), and an int8 output cannot be read as float (as TensorBuffer.readFloat fails on an
 * int8 tensor). Then the golden test: on the assets `edgeport android` wrote for a full-integer model, the int8 values
 * LiteRT returned in Python (`raw_output`), dequantized by the app's code with the case's own signature, must give the
 * logits edgeport's Python runtime computed.
 */
class BucketedClassifierTest {
    private class Buf(val signature: String, val name: String, val output: Boolean) : AutoCloseable {
        var ints: IntArray? = null
        var closed = false
        override fun close() { closed = true }
    }

    /** Per signature: its output name and type; [answer] gives the raw output (int8 values or floats) for the inputs. */
    private class FakeModel(
        val outputs: Map<String, Pair<String, String>>,
        val answer: (signature: String, inputs: Map<String, IntArray>) -> Any,
    ) : SignatureModel<Buf> {
        val runs = ArrayList<String>()
        private val results = HashMap<Buf, Any>()

        override fun createInputBuffer(name: String, signature: String) = Buf(signature, name, false)

        override fun createOutputBuffer(name: String, signature: String): Buf {
            val (own, _) = outputs[signature] ?: throw IllegalArgumentException("no signature '$signature'")
            require(name == own) { "signature '$signature' has no output '$name' (its output is '$own')" }
            return Buf(signature, name, true)
        }

        override fun writeInt(buffer: Buf, values: IntArray) { buffer.ints = values }

        override fun run(inputs: Map<String, Buf>, outputs: Map<String, Buf>, signature: String) {
            runs.add(signature)
            require(inputs.values.all { it.signature == signature } && outputs.values.all { it.signature == signature })
            val out = outputs.values.single()
            results[out] = answer(signature, inputs.mapValues { it.value.ints!! })
        }

        override fun readFloat(buffer: Buf): FloatArray {
            check(outputs.getValue(buffer.signature).second == "float32") { "readFloat on an int8 output" }
            return results.getValue(buffer) as FloatArray
        }

        override fun readInt8(buffer: Buf): ByteArray {
            check(outputs.getValue(buffer.signature).second == "int8") { "readInt8 on a float32 output" }
            return results.getValue(buffer) as ByteArray
        }

        override fun close() {}
    }

    private val labels = """{"format": "edgeport-android/1", "labels": ["a", "b"], "seq_len": 8,
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": null},
        "output": "logits", "signature": "serving_default", "seq_buckets": [4, 8],
        "bucket_signatures": {"4": "seq_4", "8": "serving_default"},
        "signature_outputs": {"seq_4": {"name": "output_short", "dtype": "int8", "scale": 0.5, "zero_point": -3},
                              "serving_default": {"name": "logits", "dtype": "float32"}}}"""

    private fun encoding(tokens: Int) = Encoding(IntArray(8) { if (it < tokens) it + 1 else 0 },
        IntArray(8) { if (it < tokens) 1 else 0 }, IntArray(8))

    /**
     * A model of several outputs (question answering): each bucket's signature addressed with its own two outputs,
     * read in labels.json's order into one array (the bucket's start logits, then its end logits).
     */
    @Test fun severalOutputsAreReadInOrderIntoOneArray() {
        val info = ModelInfo.parse("""{"format": "edgeport-android/1", "task": "question-answering", "seq_len": 8,
            "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": null},
            "output": "span_logits", "signature": "serving_default", "seq_buckets": [4, 8],
            "bucket_signatures": {"4": "seq_4", "8": "serving_default"}, "outputs": ["start_logits", "end_logits"], "doc_stride": 2,
            "signature_outputs": {"seq_4": [{"name": "output_0", "dtype": "float32"}, {"name": "output_1", "dtype": "float32"}],
                                  "serving_default": [{"name": "output_0", "dtype": "float32"}, {"name": "output_1", "dtype": "float32"}]}}""")
        val runs = ArrayList<Pair<String, Set<String>>>()
        val model = object : SignatureModel<Buf> {
            val results = HashMap<Buf, FloatArray>()
            override fun createInputBuffer(name: String, signature: String) = Buf(signature, name, false)
            override fun createOutputBuffer(name: String, signature: String) = Buf(signature, name, true)
            override fun writeInt(buffer: Buf, values: IntArray) { buffer.ints = values }
            override fun readInt8(buffer: Buf): ByteArray = error("float outputs")
            override fun readFloat(buffer: Buf): FloatArray = results.getValue(buffer)
            override fun close() {}
            override fun run(inputs: Map<String, Buf>, outputs: Map<String, Buf>, signature: String) {
                runs.add(signature to outputs.keys)
                require(outputs.values.all { it.signature == signature })
                val n = inputs.getValue("input_ids").ints!!.size // the bucket
                // output_0 (start): 10, 11, ...; output_1 (end): 20, 21, ...
                for ((name, buf) in outputs) results[buf] = FloatArray(n) { (if (name == "output_0") 10f else 20f) + it }
            }
        }
        val classifier = BucketedClassifier(info, model)
        assertArrayEquals(floatArrayOf(10f, 11f, 12f, 13f, 20f, 21f, 22f, 23f), classifier.logits(encoding(3)), 0f)
        assertEquals(16, classifier.logits(encoding(6)).size)
        assertEquals(listOf("seq_4" to setOf("output_0", "output_1"), "serving_default" to setOf("output_0", "output_1")), runs)
    }

    @Test fun eachBucketReadsItsOwnSignaturesOutput() {
        val info = ModelInfo.parse(labels)
        val model = FakeModel(mapOf("seq_4" to ("output_short" to "int8"), "serving_default" to ("logits" to "float32"))) { sig, inputs ->
            assertEquals(if (sig == "seq_4") 4 else 8, inputs.getValue("input_ids").size) // inputs cut to the bucket
            if (sig == "seq_4") byteArrayOf(1, -7) else floatArrayOf(0.25f, -1.5f)
        }
        val classifier = BucketedClassifier(info, model)
        // seq_4: int8, (q - (-3)) * 0.5
        assertArrayEquals(floatArrayOf(2f, -2f), classifier.logits(encoding(3)), 0f)
        assertArrayEquals(floatArrayOf(0.25f, -1.5f), classifier.logits(encoding(6)), 0f)
        assertEquals(listOf("seq_4", "serving_default"), model.runs)
    }

    @Test fun labelsJsonWithoutSignatureOutputsReadsFloatLogits() {
        val old = ModelInfo.parse(labels.substringBefore(""""signature_outputs"""").trimEnd().removeSuffix(",") + "}")
        assertEquals("logits", old.outputFor(4).name)
        val model = FakeModel(mapOf("seq_4" to ("logits" to "float32"), "serving_default" to ("logits" to "float32"))) { _, _ ->
            floatArrayOf(1f, 2f)
        }
        assertArrayEquals(floatArrayOf(1f, 2f), BucketedClassifier(old, model).logits(encoding(2)), 0f)
    }

    @Test fun dequantizeUsesScaleAndZeroPoint() {
        val spec = ModelInfo.parse(labels).outputFor(4)
        assertArrayEquals(floatArrayOf(-62.5f, 1.5f, 65f), spec.dequantize(byteArrayOf(-128, 0, 127)), 0f)
    }

    @Test(expected = IllegalArgumentException::class) fun unsupportedOutputTypeIsRefused() {
        ModelInfo.parse(labels.replace(""""dtype": "int8"""", """"dtype": "uint8""""))
    }

    @Test(expected = IllegalArgumentException::class) fun missingSignatureOutputIsRefused() {
        ModelInfo.parse(labels.replace(""""seq_4": {"name"""", """"seq_x": {"name"""")).outputFor(4)
    }

    /** The golden test: the app's assets for a full-integer model (skipped for assets with float outputs). */
    @Test fun int8GoldenThroughTheClassifier() {
        val dir = GoldenFiles.dir
        val labelsFile = dir?.let { File(it, "labels.json") }?.takeIf { it.isFile }
        val goldenFile = dir?.let { File(it, "golden.json") }?.takeIf { it.isFile }
        assumeTrue("no app assets with golden.json", labelsFile != null && goldenFile != null)
        val info = ModelInfo.parse(labelsFile!!.readText())
        val cases = ((MiniJson.parse(goldenFile!!.readText()) as Map<*, *>)["cases"] as List<*>).map { it as Map<*, *> }
        assumeTrue("the model's outputs are not int8", cases.any { it["raw_output"] != null })
        fun ints(v: Any?) = (v as List<*>).map { (it as Double).toInt() }.toIntArray()
        val byIds = cases.associateBy { ints(it["input_ids"]).toList() }
        val outputs = info.seqBuckets.associate { b -> info.signatureFor(b) to (info.outputFor(b).name to info.outputFor(b).dtype) }
        val model = FakeModel(outputs) { sig, inputs ->
            val ids = inputs.getValue(info.inputs.getValue("input_ids"))
            val case = byIds.entries.single { (k, _) -> k.take(ids.size) == ids.toList() && k.drop(ids.size).all { it == 0 } }.value
            assertEquals("${case["name"]}: Python ran it on another signature", info.signatureFor((case["bucket"] as Double).toInt()), sig)
            ints(case["raw_output"]).map { it.toByte() }.toByteArray()
        }
        val classifier = BucketedClassifier(info, model)
        var worst = 0f
        for (c in cases) {
            val expected = (c["logits"] as List<*>).map { (it as Double).toFloat() }.toFloatArray()
            val got = classifier.logits(Encoding(ints(c["input_ids"]), ints(c["attention_mask"]), ints(c["token_type_ids"])))
            for (i in expected.indices) worst = maxOf(worst, kotlin.math.abs(expected[i] - got[i]))
            assertArrayEquals("${c["name"]}", expected, got, 2e-6f) // golden.json rounds logits to 6 decimals
        }
        val signatures = cases.map { info.signatureFor((it["bucket"] as Double).toInt()) }.toSet()
        println("int8 golden: ${cases.size} cases on ${signatures.size} signatures ${signatures.sorted()}, max |diff| $worst")
        assertTrue(signatures.size == info.seqBuckets.size)
    }
}
