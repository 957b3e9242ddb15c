package dev.edgeport.demo.text

import kotlin.math.abs

/**
 * One golden vector written by `edgeport android`: text (and pair) -> ids expected from Python, optional logits (the
 * model's output on the case's bucket, flat, as the app reads it) and what the task makes of them: a sentence
 * embedder's [embedding], a token classifier's [entities], a question-answering model's [answer] (its case is
 * [text] = the question, [textPair] = the paragraph, the ids its window's).
 */
class GoldenCase(
    val name: String,
    val text: String,
    val textPair: String?,
    val inputIds: IntArray,
    val attentionMask: IntArray,
    val tokenTypeIds: IntArray,
    val logits: FloatArray?,
    val embedding: FloatArray? = null,
    val entities: GoldenEntities? = null,
    val answer: GoldenAnswer? = null,
) {
    fun encoding() = Encoding(inputIds, attentionMask, tokenTypeIds)

    override fun toString() = name
}

/**
 * A token classifier's golden case, from `edgeport.tasks.ner`: the text's [words] (with their spans), each real
 * token's word ([wordIds], -1 for special tokens), the words truncation dropped, each word's tag read from the
 * golden logits and the strict IOB2 entities with their character spans (golden.json gives spans in code points,
 * as Python indexes a str; they are held here as UTF-16 indices, as the app's [Word] and [Entity] are).
 */
class GoldenEntities(
    val words: List<Word>,
    val wordIds: IntArray,
    val droppedWords: Int,
    val wordTags: List<String>,
    val entities: List<Entity>,
)

/**
 * A question-answering model's golden case, from `edgeport.tasks.squad`: the window's per-position paragraph
 * [offsets] (UTF-16 indices; null off the paragraph) and the answer `squad.best_span` read from the golden logits
 * ([expected]; null: no valid span), with the window's n-best and answer-length settings.
 */
class GoldenAnswer(val offsets: List<CharSpan?>, val expected: AnswerSpan?)

/** golden.json; [minCosine]: the least cosine an embedding may have to its golden vector (tolerance `min_cosine`). */
class GoldenSet(
    val seqLen: Int,
    val atol: Float,
    val rtol: Float,
    val cases: List<GoldenCase>,
    val minCosine: Float = DEFAULT_MIN_COSINE,
) {
    companion object {
        const val FORMAT = "edgeport-golden/1"
        const val DEFAULT_MIN_COSINE = 0.99f

        fun parse(json: String): GoldenSet {
            val root = MiniJson.parse(json) as? Map<*, *> ?: throw IllegalArgumentException("golden: not an object")
            require(root["format"] == FORMAT) { "golden: format ${root["format"]}, expected $FORMAT" }
            val tol = root["tolerance"] as? Map<*, *> ?: emptyMap<String, Any>()
            val cases = (root["cases"] as List<*>).map { parseCase(it as Map<*, *>) }
            return GoldenSet(
                (root["seq_len"] as Double).toInt(),
                (tol["atol"] as? Double ?: 0.0).toFloat(),
                (tol["rtol"] as? Double ?: 0.0).toFloat(),
                cases,
                (tol["min_cosine"] as? Double)?.toFloat() ?: DEFAULT_MIN_COSINE,
            )
        }

        private fun parseCase(m: Map<*, *>) = GoldenCase(
            m["name"] as String,
            m["text"] as String,
            m["text_pair"] as String?,
            ints(m["input_ids"]),
            ints(m["attention_mask"]),
            ints(m["token_type_ids"]),
            floats(m["logits"]),
            floats(m["embedding"]),
            if (m["word_tags"] == null) null else parseEntities(m),
            if (m["offsets"] == null) null else parseAnswer(m),
        )

        /** A question-answering case: offsets and the answer in code points (as Python counts) made UTF-16. */
        private fun parseAnswer(m: Map<*, *>): GoldenAnswer {
            val context = m["text_pair"] as String
            val offsets = Spans.fromCodePoints(context, (m["offsets"] as List<*>).map { o ->
                (o as List<*>?)?.let { Pair((it[0] as Double).toInt(), (it[1] as Double).toInt()) }
            })
            val expected = (m["answer"] as Map<*, *>?)?.let {
                AnswerSpan(it["text"] as String, Entities.utf16(context, (it["start"] as Double).toInt()),
                    Entities.utf16(context, (it["end"] as Double).toInt()), it["score"] as Double,
                    (it["start_token"] as Double).toInt(), (it["end_token"] as Double).toInt())
            }
            return GoldenAnswer(offsets, expected)
        }

        private fun parseEntities(m: Map<*, *>): GoldenEntities {
            val text = m["text"] as String
            val words = (m["words"] as List<*>).map { it as String }
            val spans = (m["spans"] as List<*>).map { s -> (s as List<*>).map { Entities.utf16(text, (it as Double).toInt()) } }
            return GoldenEntities(
                words.indices.map { Word(words[it], spans[it][0], spans[it][1]) },
                ints(m["word_ids"]),
                (m["dropped_words"] as Double).toInt(),
                (m["word_tags"] as List<*>).map { it as String },
                (m["entities"] as List<*>).map { Entities.parse(it as Map<*, *>, text) },
            )
        }

        private fun ints(v: Any?): IntArray = (v as List<*>).let { l -> IntArray(l.size) { (l[it] as Double).toInt() } }

        private fun floats(v: Any?): FloatArray? = (v as List<*>?)?.let { l -> FloatArray(l.size) { (l[it] as Double).toFloat() } }
    }
}

/** What the start-up self-check found; [passed] is what the app shows in green or red. */
class CheckReport(
    val cases: Int,
    val tokenizerMismatches: List<String>,
    val modelCases: Int,
    val modelFailures: List<String>,
    val maxAbsDiff: Float,
) {
    val passed: Boolean get() = cases > 0 && tokenizerMismatches.isEmpty() && modelFailures.isEmpty()

    fun summary(): String = buildString {
        append(if (passed) "PASS" else "FAIL")
        append(": tokenizer ${cases - tokenizerMismatches.size}/$cases identical")
        if (modelCases > 0) {
            append(", model ${modelCases - modelFailures.size}/$modelCases within tolerance")
            append(" (max |Δlogit| ${"%.4g".format(maxAbsDiff)})")
        } else {
            append(", no golden logits to check the model against")
        }
    }
}

object SelfCheck {
    /** Element-wise |actual - expected| <= atol + rtol * |expected| (numpy.allclose semantics). */
    fun logitsWithin(actual: FloatArray, expected: FloatArray, atol: Float, rtol: Float): Boolean =
        actual.size == expected.size && actual.indices.all { abs(actual[it] - expected[it]) <= atol + rtol * abs(expected[it]) }

    /**
     * The label must agree unless the golden top-2 margin is within 2*atol: a near tie may flip on another CPU's
     * kernels without the model being wrong.
     */
    fun labelAgrees(actual: FloatArray, expected: FloatArray, atol: Float): Boolean =
        Postprocess.argmax(actual) == Postprocess.argmax(expected) || nearTie(expected, atol)

    /** Whether the top two of [expected] are within 2*atol: another CPU's kernels may order them either way. */
    fun nearTie(expected: FloatArray, atol: Float): Boolean {
        val sorted = expected.sortedArrayDescending()
        return sorted.size > 1 && sorted[0] - sorted[1] <= 2 * atol
    }

    /** [run] for a classifier: the logits within tolerance and the same label ([OutputChecks.LABEL]). */
    fun run(golden: GoldenSet, tokenizer: TextTokenizer, model: ((Encoding) -> FloatArray)?): CheckReport =
        run(golden, tokenizer, model, OutputChecks.LABEL)

    /**
     * Tokenizer: Kotlin ids, mask and types must equal Python's exactly. Model: run on the *golden* inputs (so a
     * tokenizer bug is not counted twice), compare the output with the golden logits within the golden tolerance,
     * then what the screen makes of it with [check] (the model's kind: [OutputChecks.forModel]).
     */
    fun run(golden: GoldenSet, tokenizer: TextTokenizer, model: ((Encoding) -> FloatArray)?, check: OutputCheck): CheckReport {
        require(tokenizer.seqLen == golden.seqLen) { "tokenizer seq_len ${tokenizer.seqLen} != golden ${golden.seqLen}" }
        // the encoding the model's screen makes of the case's text(s): a question-answering window for that task
        val mismatches = golden.cases.mapNotNull { c -> tokenizerMismatch(c, check.encode(c, tokenizer)) }
        val failures = ArrayList<String>()
        var modelCases = 0
        var maxDiff = 0f
        if (model != null) for (c in golden.cases) {
            val expected = c.logits ?: continue
            val actual = model(c.encoding())
            modelCases++
            if (actual.size == expected.size) maxDiff = maxOf(maxDiff, actual.indices.maxOf { abs(actual[it] - expected[it]) })
            val disagreement = if (!logitsWithin(actual, expected, golden.atol, golden.rtol)) {
                "logits ${shown(actual)} vs golden ${shown(expected)}"
            } else {
                check.disagreement(c, actual, golden)
            }
            if (disagreement != null) failures.add("${c.name}: $disagreement")
        }
        return CheckReport(golden.cases.size, mismatches, modelCases, failures, maxDiff)
    }

    /** A model output for a message: whole when short (a classifier's), else where it starts and its size. */
    private fun shown(values: FloatArray): String =
        if (values.size <= 8) values.contentToString() else values.take(4).joinToString(", ", "[", ", ... (${values.size} values)]")

    /** null when equal, else a message naming the first differing position. */
    fun tokenizerMismatch(c: GoldenCase, e: Encoding): String? {
        for ((what, want, got) in listOf(
            Triple("input_ids", c.inputIds, e.inputIds),
            Triple("attention_mask", c.attentionMask, e.attentionMask),
            Triple("token_type_ids", c.tokenTypeIds, e.tokenTypeIds),
        )) {
            if (want.contentEquals(got)) continue
            val at = (0 until minOf(want.size, got.size)).firstOrNull { want[it] != got[it] } ?: minOf(want.size, got.size)
            return "${c.name}: $what differ at $at: python ${want.slice(at until minOf(want.size, at + 6))} " +
                "kotlin ${got.slice(at until minOf(got.size, at + 6))}"
        }
        return null
    }
}
