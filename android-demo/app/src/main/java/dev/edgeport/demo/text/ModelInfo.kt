package dev.edgeport.demo.text

/** What the screen does with a model, picked from labels.json's `task` ([ModelInfo.MODES]). */
enum class AppMode(val does: String) {
    CLASSIFY("it classifies a text"),
    SIMILARITY("it compares two texts"),
    ENTITIES("it finds the entities in a text"),
    ANSWER("it answers a question from a paragraph"),
}

/**
 * labels.json written by `edgeport android`: label names, sequence length, model I/O names and the `tokenizer` section
 * (family, files, settings; see [TokenizerSpec]), plus the WordPiece flags older files carry at the top level.
 *
 * The task (labels.json `task`: the name of edgeport's task registry, `edgeport/tasks`; absent in files written
 * before the key existed, which are classifiers') picks the screen ([mode]) and the task's keys, which
 * `edgeport android` copies from the artifact's sidecar (`edgeport/tasks/models.py` `MODELS`):
 *
 * - `sentence-embedding`: no labels; `output` says what the graph outputs, `embedding` ([1, d], pooled in the
 *   graph) or `last_hidden_state` ([1, seq, d], pooled by the app), and `pooling` (default `mean`), `normalize`
 *   (default true) and `embedding_dim` (optional) how the embedding is made from it ([EmbeddingOutput]);
 * - `token-classification`: the labels are the IOB2 tag names; `labels_on` (`first_subtoken`) and `scheme`
 *   (`IOB2`) say how words and entities are read from the per-token scores ([TagOutput]);
 * - `question-answering`: no labels; `outputs` (start and end logits, each signature's pair in
 *   `signature_outputs` as a list in that order), `n_best`, `max_answer_len` and `doc_stride` say how the answer
 *   span is read ([SpanOutput]); the app reads one window of question + paragraph ([QaWindows]).
 *
 * For these tasks `output` is the task's output kind; the tensor the app addresses is each signature's own
 * (`signature_outputs`).
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
    /** labels.json `task`: one of [TASKS]. */
    val task: String = SEQUENCE_CLASSIFICATION,
    /** How the embedding is read from the output; non-null exactly for a [SENTENCE_EMBEDDING] model. */
    val embedding: EmbeddingOutput? = null,
    /** How words and entities are read from the output; non-null exactly for a [TOKEN_CLASSIFICATION] model. */
    val tags: TagOutput? = null,
    /** labels.json `output_shape`, as the artifact gives it (for messages). */
    val outputShape: String? = null,
    /** How the answer span is read; non-null exactly for a [QUESTION_ANSWERING] model. */
    val spans: SpanOutput? = null,
    /**
     * Each signature's outputs when it has several (labels.json `signature_outputs` with a list per signature: a
     * question-answering model's start and end logits, in that order); the classifier returns them one after the other.
     */
    val signatureOutputLists: Map<String, List<OutputSpec>> = emptyMap(),
) {
    init {
        require(task in TASKS) { "labels.json: task '$task' is not one the app runs (${TASKS.joinToString()})" }
        require((task == SENTENCE_EMBEDDING) == (embedding != null)) {
            "labels.json: a $task model ${if (embedding == null) "needs" else "has no"} embedding settings"
        }
        require((task == TOKEN_CLASSIFICATION) == (tags != null)) {
            "labels.json: a $task model ${if (tags == null) "needs" else "has no"} tag settings"
        }
        require((task == QUESTION_ANSWERING) == (spans != null)) {
            "labels.json: a $task model ${if (spans == null) "needs" else "has no"} answer-span settings"
        }
        require(task == SENTENCE_EMBEDDING || task == QUESTION_ANSWERING || labels.size >= 2) { "labels.json: need at least two labels" }
        if (tags != null) labels.forEach { Entities.splitTag(it) } // IOB2 tag names, refused here otherwise
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

    /**
     * Every output of [bucket]'s own signature, in the order the classifier returns them one after the other: the
     * list labels.json gives for a model of several outputs, else [outputFor]'s one.
     */
    fun outputsFor(bucket: Int): List<OutputSpec> {
        if (signatureOutputLists.isEmpty()) return listOf(outputFor(bucket))
        val key = signatureFor(bucket)
        return signatureOutputLists[key] ?: throw IllegalArgumentException("labels.json: signature_outputs has no entry for signature '$key'")
    }

    /** What the screen does with this model. */
    val mode: AppMode get() = MODES.getValue(task)

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
        // The task names of edgeport's registry (edgeport/tasks), as labels.json's `task` carries them.
        const val SEQUENCE_CLASSIFICATION = "sequence-classification"
        const val SENTENCE_EMBEDDING = "sentence-embedding"
        const val TOKEN_CLASSIFICATION = "token-classification"
        const val QUESTION_ANSWERING = "question-answering"

        /** The screen of each task the app shows (edgeport.apps.android.APP_TASKS writes the same tasks). */
        val MODES = mapOf(
            SEQUENCE_CLASSIFICATION to AppMode.CLASSIFY,
            SENTENCE_EMBEDDING to AppMode.SIMILARITY,
            TOKEN_CLASSIFICATION to AppMode.ENTITIES,
            QUESTION_ANSWERING to AppMode.ANSWER,
        )
        val TASKS = MODES.keys.toList()

        fun parse(json: String): ModelInfo {
            val m = MiniJson.parse(json) as? Map<*, *> ?: throw IllegalArgumentException("labels.json: not an object")
            require(m["format"] == FORMAT) { "labels.json: format ${m["format"]}, expected $FORMAT" }
            val task = m["task"] as String? ?: SEQUENCE_CLASSIFICATION
            val embedding = if (task != SENTENCE_EMBEDDING) null else EmbeddingOutput(
                m["output"] as String? ?: throw IllegalArgumentException("labels.json: a sentence-embedding model needs `output`"),
                m["pooling"] as String? ?: EmbeddingOutput.MEAN,
                m["normalize"] as Boolean? ?: true,
                (m["embedding_dim"] as Double?)?.toInt(),
            )
            // No defaults: every token-classification labels.json was written with these keys.
            val tags = if (task != TOKEN_CLASSIFICATION) null else TagOutput(
                m["labels_on"] as String? ?: throw IllegalArgumentException("labels.json: a token-classification model needs `labels_on`"),
                m["scheme"] as String? ?: throw IllegalArgumentException("labels.json: a token-classification model needs `scheme`"),
            )
            val spans = if (task != QUESTION_ANSWERING) null else SpanOutput(
                (m["outputs"] as List<*>? ?: throw IllegalArgumentException("labels.json: a question-answering model needs `outputs`"))
                    .map { it as String },
                (m["n_best"] as Double? ?: Spans.N_BEST.toDouble()).toInt(),
                (m["max_answer_len"] as Double? ?: Spans.MAX_ANSWER_LEN.toDouble()).toInt(),
                (m["doc_stride"] as Double? ?: throw IllegalArgumentException("labels.json: a question-answering model needs `doc_stride`")).toInt(),
            )
            // A signature's output: one {name, dtype, ...}, or a list of them for a model of several outputs.
            val signatureOutputs = m["signature_outputs"] as Map<*, *>? ?: emptyMap<String, Any>()
            // A classifier needs its labels (checked in init); an embedding or question-answering model has none.
            val labels = (m["labels"] as List<*>? ?: if (embedding != null || spans != null) emptyList<String>() else
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
                signatureOutputs.entries.filter { it.value is Map<*, *> }
                    .associate { (k, v) -> k as String to OutputSpec.parse(v as Map<*, *>) },
                task,
                embedding,
                tags,
                m["output_shape"] as String?,
                spans,
                signatureOutputs.entries.filter { it.value is List<*> }
                    .associate { (k, v) -> k as String to (v as List<*>).map { OutputSpec.parse(it as Map<*, *>) } },
            )
        }
    }
}
