package dev.edgeport.demo.text

import java.util.Locale
import kotlin.math.abs

/**
 * The model half of the start-up self-check, past the element-wise tolerance ([SelfCheck.run]): whether what the
 * screen would show from the model's output agrees with what Python made of the golden output.
 */
fun interface OutputCheck {
    /** Why [actual] (the model's output for [case], flat as the classifier returns it) disagrees; null when it agrees. */
    fun disagreement(case: GoldenCase, actual: FloatArray, golden: GoldenSet): String?

    /**
     * The encoding the screen makes of [case]'s text(s), whose ids must be the golden ones: the tokenizer's text (or
     * pair) by default; a question-answering model's window of question + paragraph.
     */
    fun encode(case: GoldenCase, tokenizer: TextTokenizer): Encoding = tokenizer.encode(case.text, case.textPair)
}

/** One [OutputCheck] per screen ([AppMode]): the label, the embedding, the word tags and entities, the answer span. */
object OutputChecks {
    private val BY_MODE: Map<AppMode, (ModelInfo, TextTokenizer) -> OutputCheck> = mapOf(
        AppMode.CLASSIFY to { _, _ -> LABEL },
        AppMode.SIMILARITY to { info, _ -> embedding(info) },
        AppMode.ENTITIES to { info, tokenizer -> entities(info, Entities.wordTokenizer(tokenizer)) },
        AppMode.ANSWER to { info, tokenizer -> answer(info, QaWindows.wordPiece(tokenizer)) },
    )

    /** The check of [info]'s screen, on [tokenizer] (the model's own, from the assets). */
    fun forModel(info: ModelInfo, tokenizer: TextTokenizer): OutputCheck = BY_MODE.getValue(info.mode)(info, tokenizer)

    /** A classifier: the same label, unless the golden top-2 margin is a near tie ([SelfCheck.labelAgrees]). */
    val LABEL = OutputCheck { c, actual, golden ->
        val expected = c.logits!!
        if (SelfCheck.labelAgrees(actual, expected, golden.atol)) null
        else "label ${Postprocess.argmax(actual)} vs golden ${Postprocess.argmax(expected)}"
    }

    /**
     * A sentence embedder: the embedding the app makes of the output ([EmbeddingOutput.embedding], on the mask of
     * the bucket the case runs on) has at least [GoldenSet.minCosine] cosine with Python's vector: for a unit vector
     * the element-wise tolerance alone says little.
     */
    fun embedding(info: ModelInfo): OutputCheck {
        val output = checkNotNull(info.embedding) { "not a sentence-embedding model" }
        return OutputCheck { c, actual, golden ->
            val expected = c.embedding ?: return@OutputCheck null // a golden.json of logits only
            val mask = c.attentionMask.copyOf(info.bucketFor(c.encoding().length))
            val cosine = Vectors.cosine(output.embedding(actual, mask), expected)
            if (cosine >= golden.minCosine) null
            else String.format(Locale.ROOT, "embedding cosine %.4f to the golden vector, under %.4f", cosine, golden.minCosine)
        }
    }

    /**
     * A token classifier: the app's own entity path on the case's text (its words, each tokenized) gives the golden
     * words and ids, and the word tags and entities read from the output are the golden ones. A word whose golden
     * scores at its first token are a near tie ([SelfCheck.nearTie]) may take the other tag; the entities are then
     * not compared. Any other difference is a reading error, even where the two outputs' arg-max agree.
     */
    fun entities(info: ModelInfo, tokenizer: BertTokenizer) = OutputCheck { c, actual, golden ->
        val expected = c.entities ?: return@OutputCheck null
        entityDisagreement(c, expected, actual, golden.atol, tokenizer, info.labels)
    }

    /**
     * A question-answering model: the app's window of the case's question + paragraph ([QaWindows]) gives the golden
     * ids (the tokenizer half of the self-check) and character offsets, and [Spans.bestSpan] on the output finds the
     * golden answer, unless the span it finds scores, on the golden logits, within the logits' tolerance of the
     * golden best (a near tie another CPU's kernels may break the other way).
     */
    fun answer(info: ModelInfo, tokenizer: BertTokenizer): OutputCheck {
        val spans = checkNotNull(info.spans) { "not a question-answering model" }
        return object : OutputCheck {
            override fun encode(case: GoldenCase, tokenizer: TextTokenizer): Encoding = window(case).encoding

            private fun window(c: GoldenCase) = QaWindows.build(tokenizer, c.text, c.textPair ?: "", spans.docStride)

            override fun disagreement(case: GoldenCase, actual: FloatArray, golden: GoldenSet): String? {
                val want = case.answer ?: return null
                val context = case.textPair ?: ""
                val window = window(case)
                if (window.offsets != want.offsets) return "the window's character offsets differ from Python's"
                val (start, end) = spans.split(actual)
                val found = Spans.bestSpan(start, end, window.offsets.take(start.size), context, spans.nBest, spans.maxAnswerLen)
                val expected = want.expected
                if (found?.start == expected?.start && found?.end == expected?.end) return null
                if (found != null && expected != null) { // both spans scored on the golden logits
                    val (goldStart, goldEnd) = spans.split(case.logits!!)
                    val positions = listOf(goldStart[found.startToken], goldEnd[found.endToken], goldStart[expected.startToken], goldEnd[expected.endToken])
                    val tolerance = positions.sumOf { (golden.atol + golden.rtol * abs(it)).toDouble() }
                    val foundScore = goldStart[found.startToken].toDouble() + goldEnd[found.endToken].toDouble()
                    val bestScore = goldStart[expected.startToken].toDouble() + goldEnd[expected.endToken].toDouble()
                    if (abs(bestScore - foundScore) <= tolerance) return null
                }
                return "answer ${found?.let { "'${it.text}' ${it.start}-${it.end}" }} vs golden " +
                    "${expected?.let { "'${it.text}' ${it.start}-${it.end}" }}"
            }
        }
    }

    private fun entityDisagreement(
        c: GoldenCase,
        want: GoldenEntities,
        actual: FloatArray,
        atol: Float,
        tokenizer: BertTokenizer,
        tagNames: List<String>,
    ): String? {
        val words = BertTokenizer.words(c.text)
        if (words != want.words) return "words ${words.take(6)} vs golden ${want.words.take(6)}"
        val enc = tokenizer.encodeWords(words.map { it.text })
        if (!enc.encoding.inputIds.contentEquals(c.inputIds) || !enc.wordIds.copyOf(want.wordIds.size).contentEquals(want.wordIds) ||
            enc.droppedWords != want.droppedWords
        ) {
            return "the words' tokens differ from the golden ones"
        }
        val tags = Entities.wordTagsFromOutput(actual, tagNames, enc.wordIds, words.size)
        val gold = Entities.tokenRows(c.logits!!, tagNames.size)
        for ((w, tag) in tags.withIndex()) {
            val first = enc.wordIds.indexOf(w) // a word truncation dropped is "O" on both sides
            if (tag != want.wordTags[w] && !SelfCheck.nearTie(gold[first], atol)) {
                return "word $w '${words[w].text}': tag $tag vs golden ${want.wordTags[w]}"
            }
        }
        if (tags != want.wordTags) return null // near ties only: the entities may differ with them
        val found = Entities.entities(c.text, words, tags)
        return if (found == want.entities) null else "entities $found vs golden ${want.entities}"
    }
}
