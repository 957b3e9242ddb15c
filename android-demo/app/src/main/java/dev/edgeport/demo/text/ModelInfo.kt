package dev.edgeport.demo.text

/**
 * labels.json written by `edgeport android`: label names, sequence length, model I/O names and the `tokenizer` section
 * (family, files, settings; see [TokenizerSpec]), plus the WordPiece flags older files carry at the top level.
 */
class ModelInfo(
    val labels: List<String>,
    val seqLen: Int,
    val doLowerCase: Boolean,
    val stripAccents: Boolean?,
    val specialTokens: List<String>,
    /** Model input name per role ("input_ids", "attention_mask", "token_type_ids"); a role may be absent. */
    val inputs: Map<String, String>,
    val output: String?,
    /** Signature name from labels.json; null when the exporter recorded none. */
    val signature: String?,
    /** labels.json's `tokenizer` section (see [TokenizerSpec]); null in files written before it existed (WordPiece). */
    val tokenizerSpec: Map<*, *>? = null,
    /**
     * Length buckets (labels.json `seq_buckets`: one model signature per bucket, ascending, the last = [seqLen]);
     * `[seqLen]` for a single-signature model.
     */
    val seqBuckets: List<Int> = listOf(seqLen),
    /** Signature key per bucket (labels.json `bucket_signatures`); the longest bucket is [signature]. */
    val bucketSignatures: Map<Int, String> = emptyMap(),
    /**
     * Each signature's own output (labels.json `signature_outputs`): name, float32 or int8 with its scale and zero point.
     * Empty in files written before it existed: then every signature's output is [output], float32.
     */
    val signatureOutputs: Map<String, OutputSpec> = emptyMap(),
) {
    init {
        require(seqBuckets.isNotEmpty() && seqBuckets == seqBuckets.sorted().distinct() && seqBuckets.last() == seqLen) {
            "labels.json: seq_buckets $seqBuckets must be ascending and end at seq_len $seqLen"
        }
    }

    /** The smallest bucket that holds [length] tokens (the encoding's attention-mask sum); the longest otherwise. */
    fun bucketFor(length: Int): Int = seqBuckets.firstOrNull { it >= length } ?: seqLen

    /** The signature key of [bucket]: labels.json's name for it, else [signatureKey] for the longest. */
    fun signatureFor(bucket: Int): String =
        bucketSignatures[bucket] ?: if (bucket == seqLen) signatureKey else "seq_$bucket"

    /**
     * The output of [bucket]'s own signature: its name (LiteRT addresses outputs per signature) and how to read it.
     * Never another signature's: each bucket's subgraph has its own output tensor and quantization parameters.
     */
    fun outputFor(bucket: Int): OutputSpec {
        val key = signatureFor(bucket)
        if (signatureOutputs.isEmpty()) return OutputSpec(requireNotNull(output) { "labels.json names no model output" }, OutputSpec.FLOAT32)
        return signatureOutputs[key] ?: throw IllegalArgumentException("labels.json: signature_outputs has no entry for signature '$key'")
    }

    /** wordpiece, bpe or unigram. */
    val tokenizerFamily: String get() = tokenizerSpec?.get("family") as String? ?: "wordpiece"

    /** The asset files the tokenizer reads. */
    val tokenizerAssets: List<String> get() = TokenizerSpec.assetNames(tokenizerSpec)

    /**
     * The signature key to hand LiteRT: its CompiledModel takes a non-null `signature: String` (since 2.1.0; a null
     * would also fail its JNI layer's non-null check), and "" selects the model's first signature.
     */
    val signatureKey: String get() = signature ?: ""

    /** The tokenizer of this model's family, reading the assets labels.json names. */
    fun tokenizer(readAsset: (String) -> String): TextTokenizer = TokenizerSpec.build(tokenizerSpec, seqLen, readAsset, this)

    fun tokenizer(vocab: Vocab) =
        BertTokenizer(vocab, seqLen, BertNormalizer(doLowerCase, stripAccents), specialTokens)

    companion object {
        const val FORMAT = "edgeport-android/1"

        fun parse(json: String): ModelInfo {
            val m = MiniJson.parse(json) as? Map<*, *> ?: throw IllegalArgumentException("labels.json: not an object")
            require(m["format"] == FORMAT) { "labels.json: format ${m["format"]}, expected $FORMAT" }
            val labels = (m["labels"] as List<*>).map { it as String }
            require(labels.size >= 2) { "labels.json: need at least two labels" }
            @Suppress("UNCHECKED_CAST")
            return ModelInfo(
                labels,
                (m["seq_len"] as Double).toInt(),
                m["do_lower_case"] as? Boolean ?: true,
                m["strip_accents"] as Boolean?,
                (m["special_tokens"] as List<*>?)?.map { it as String } ?: BertTokenizer.DEFAULT_SPECIAL_TOKENS,
                (m["inputs"] as Map<String, Any?>? ?: emptyMap()).filterValues { it != null }.mapValues { it.value as String },
                m["output"] as String?,
                m["signature"] as String?,
                m["tokenizer"] as Map<*, *>?,
                (m["seq_buckets"] as List<*>?)?.map { (it as Double).toInt() } ?: listOf((m["seq_len"] as Double).toInt()),
                (m["bucket_signatures"] as Map<*, *>? ?: emptyMap<String, String>())
                    .entries.associate { (k, v) -> (k as String).toInt() to v as String },
                (m["signature_outputs"] as Map<*, *>? ?: emptyMap<String, Any>())
                    .entries.associate { (k, v) -> k as String to OutputSpec.parse(v as Map<*, *>) },
            )
        }
    }
}
