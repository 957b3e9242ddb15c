package dev.edgeport.demo.text

/**
 * labels.json written by `edgeport android`: label names, sequence length, model I/O names and the `tokenizer` section
 * (family, files, settings; see [TokenizerSpec]), plus the WordPiece flags older files carry at the top level.
 *
 * The task (labels.json `task`, default `text-classification`, which every file written before the key existed is):
 * a `sentence-embedding` model has no labels; its `output` names the graph's output, `embedding` ([1, d], pooled in
 * the graph) or `last_hidden_state` ([1, seq, d], pooled by the app), and `pooling` (default `mean`), `normalize`
 * (default true) and `embedding_dim` (optional) say how the embedding is made from it ([EmbeddingOutput]).
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
    /** labels.json `task`: [TEXT_CLASSIFICATION] or [SENTENCE_EMBEDDING]. */
    val task: String = TEXT_CLASSIFICATION,
    /** How the embedding is read from the output; non-null exactly for a [SENTENCE_EMBEDDING] model. */
    val embedding: EmbeddingOutput? = null,
) {
    init {
        require(task in TASKS) { "labels.json: task '$task' is not one the app runs (${TASKS.joinToString()})" }
        require((task == SENTENCE_EMBEDDING) == (embedding != null)) {
            "labels.json: a $task model ${if (embedding == null) "needs" else "has no"} embedding settings"
        }
        require(task != TEXT_CLASSIFICATION || labels.size >= 2) { "labels.json: need at least two labels" }
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

    val isSentenceEmbedding: Boolean get() = task == SENTENCE_EMBEDDING

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
        const val TEXT_CLASSIFICATION = "text-classification"
        const val SENTENCE_EMBEDDING = "sentence-embedding"
        val TASKS = listOf(TEXT_CLASSIFICATION, SENTENCE_EMBEDDING)

        fun parse(json: String): ModelInfo {
            val m = MiniJson.parse(json) as? Map<*, *> ?: throw IllegalArgumentException("labels.json: not an object")
            require(m["format"] == FORMAT) { "labels.json: format ${m["format"]}, expected $FORMAT" }
            val task = m["task"] as String? ?: TEXT_CLASSIFICATION
            val embedding = if (task != SENTENCE_EMBEDDING) null else EmbeddingOutput(
                m["output"] as String? ?: throw IllegalArgumentException("labels.json: a sentence-embedding model needs `output`"),
                m["pooling"] as String? ?: EmbeddingOutput.MEAN,
                m["normalize"] as Boolean? ?: true,
                (m["embedding_dim"] as Double?)?.toInt(),
            )
            // A classifier needs its labels (checked in init); an embedding model has none.
            val labels = (m["labels"] as List<*>? ?: if (embedding != null) emptyList<String>() else
                throw IllegalArgumentException("labels.json: no labels")).map { it as String }
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
                task,
                embedding,
            )
        }
    }
}
