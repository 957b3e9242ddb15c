package dev.edgeport.demo.text

/** Model inputs for one example, already truncated and padded to the model's sequence length. */
class Encoding(val inputIds: IntArray, val attentionMask: IntArray, val tokenTypeIds: IntArray) {
    val length: Int get() = attentionMask.count { it == 1 }
}

/**
 * Model inputs for pre-split words (Python's `is_split_into_words=True`) with the word of each token: [wordIds] is
 * -1 on special tokens and padding. [droppedWords]: words truncation removed entirely, for the app to report.
 */
class WordEncoding(val encoding: Encoding, val wordIds: IntArray, val droppedWords: Int)

/**
 * The Hugging Face fast BERT tokenizer, end to end: special tokens typed literally in the text are kept whole,
 * the rest is normalized, split on whitespace and punctuation and WordPiece-tokenized; then
 * `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, `longest_first` truncation and right padding to [seqLen].
 */
class BertTokenizer(
    private val vocab: Vocab,
    override val seqLen: Int,
    private val normalizer: BertNormalizer = BertNormalizer(),
    specialTokens: List<String> = DEFAULT_SPECIAL_TOKENS,
    /** False when the tokenizer returns no token_type_ids (DistilBERT): the model then gets zeros, as in Python. */
    private val typeIds: Boolean = true,
) : TextTokenizer {
    private val wordPiece = WordPiece(vocab)
    private val clsId = vocab.require("[CLS]")
    private val sepId = vocab.require("[SEP]")
    private val padId = vocab.require("[PAD]")
    // Longest first, so that at one position the longest special token wins (HF: leftmost-longest match).
    private val specials = specialTokens.sortedByDescending { it.length }.map { it to vocab.require(it) }

    init {
        require(seqLen >= 4) { "seq_len must be at least 4, got $seqLen" }
    }

    /** Token ids of [text] without special tokens, truncation or padding. */
    override fun tokenize(text: String): List<Int> {
        val ids = ArrayList<Int>()
        var segmentStart = 0
        var i = 0
        while (i < text.length) {
            val special = specials.firstOrNull { text.startsWith(it.first, i) }
            if (special == null) {
                i++
                continue
            }
            tokenizeSegment(text.substring(segmentStart, i), ids)
            ids.add(special.second)
            i += special.first.length
            segmentStart = i
        }
        tokenizeSegment(text.substring(segmentStart), ids)
        return ids
    }

    /**
     * [tokenize] with each token's characters in [text], `[start, end)` in UTF-16 indices: what the HF fast
     * tokenizer's `offset_mapping` gives (in code points there). A special token typed in the text spans its
     * literal; a word piece spans the original characters its normalized characters came from
     * ([BertNormalizer.normalizeAligned]); an unknown word's [UNK] spans the whole word.
     */
    fun tokenSpans(text: String): List<TokenSpan> {
        val out = ArrayList<TokenSpan>()
        var segmentStart = 0
        var i = 0
        while (i < text.length) {
            val special = specials.firstOrNull { text.startsWith(it.first, i) }
            if (special == null) {
                i++
                continue
            }
            segmentSpans(text, segmentStart, i, out)
            out.add(TokenSpan(special.second, i, i + special.first.length))
            i += special.first.length
            segmentStart = i
        }
        segmentSpans(text, segmentStart, text.length, out)
        return out
    }

    private fun segmentSpans(text: String, from: Int, to: Int, out: MutableList<TokenSpan>) {
        if (from >= to) return
        val norm = normalizer.normalizeAligned(text.substring(from, to))
        for (word in words(norm.text)) {
            for (piece in wordPiece.pieces(word.text)) {
                val first = word.start + piece.start
                val last = word.start + piece.end - 1
                out.add(TokenSpan(piece.id, from + norm.starts[first], from + norm.ends[last]))
            }
        }
    }

    /**
     * `[CLS] first [SEP] second [SEP]` (types 0 then 1, or all 0 without token types) right-padded to [seqLen]: a
     * pair whose two parts were already cut to fit (e.g. a question and the context tokens of its window).
     */
    fun encodeCut(first: List<Int>, second: List<Int>): Encoding {
        require(first.size + second.size + 3 <= seqLen) {
            "${first.size} + ${second.size} tokens and 3 special tokens do not fit in $seqLen"
        }
        val ids = listOf(clsId) + first + sepId + second + sepId
        val real = ids.size
        val typeOnes = first.size + 2
        return Encoding(
            IntArray(seqLen) { if (it < real) ids[it] else padId },
            IntArray(seqLen) { if (it < real) 1 else 0 },
            IntArray(seqLen) { if (typeIds && it in typeOnes until real) 1 else 0 },
        )
    }

    override fun encode(text: String, pair: String?): Encoding {
        val a = tokenize(text)
        // transformers treats an empty text_pair as no pair at all (one [SEP]); match what Python feeds the model.
        val b = pair?.takeIf { it.isNotEmpty() }?.let { tokenize(it) }
        val (na, nb) = truncatedLengths(a.size, b?.size, seqLen - if (b == null) 2 else 3)
        val ids = ArrayList<Int>(seqLen)
        val types = ArrayList<Int>(seqLen)
        ids.add(clsId); ids.addAll(a.subList(0, na)); ids.add(sepId)
        repeat(ids.size) { types.add(0) }
        if (b != null) {
            ids.addAll(b.subList(0, nb)); ids.add(sepId)
            repeat(nb + 1) { types.add(1) }
        }
        val real = ids.size
        return Encoding(
            IntArray(seqLen) { if (it < real) ids[it] else padId },
            IntArray(seqLen) { if (it < real) 1 else 0 },
            IntArray(seqLen) { if (it < real && typeIds) types[it] else 0 },
        )
    }

    /**
     * Pre-split [words] as the Hugging Face fast tokenizer encodes them with `is_split_into_words=True`: each word
     * tokenized on its own (normalized, pre-tokenized, WordPiece), then `[CLS] ... [SEP]`, truncation to [seqLen]
     * and right padding. Token types are all 0.
     */
    fun encodeWords(words: List<String>): WordEncoding {
        val ids = ArrayList<Int>()
        val owners = ArrayList<Int>()
        for ((w, word) in words.withIndex()) {
            val before = ids.size
            ids.addAll(tokenize(word))
            repeat(ids.size - before) { owners.add(w) }
        }
        val kept = minOf(ids.size, seqLen - 2)
        val dropped = owners.distinct().size - owners.subList(0, kept).distinct().size
        val real = kept + 2
        val inputIds = IntArray(seqLen) { padId }
        val wordIds = IntArray(seqLen) { -1 }
        inputIds[0] = clsId
        for (i in 0 until kept) {
            inputIds[i + 1] = ids[i]
            wordIds[i + 1] = owners[i]
        }
        inputIds[kept + 1] = sepId
        val encoding = Encoding(inputIds, IntArray(seqLen) { if (it < real) 1 else 0 }, IntArray(seqLen))
        return WordEncoding(encoding, wordIds, dropped)
    }

    private fun tokenizeSegment(segment: String, out: MutableList<Int>) {
        if (segment.isEmpty()) return
        for (word in preTokenize(normalizer.normalize(segment))) wordPiece.tokenize(word, out)
    }

    companion object {
        val DEFAULT_SPECIAL_TOKENS = listOf("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

        /** BertPreTokenizer: split on whitespace (dropped), every punctuation character is a word of its own. */
        fun preTokenize(text: String): List<String> = words(text).map { it.text }

        /**
         * The words [preTokenize] finds with their place in [text] (UTF-16 indices, as `String.substring` takes
         * them); on the raw text, this is Python's `pre_tokenizer.pre_tokenize_str(text)` (`edgeport.tasks.ner
         * .text_words`), the words an entity model is given.
         */
        fun words(text: String): List<Word> {
            val words = ArrayList<Word>()
            var start = -1
            var i = 0
            while (i < text.length) {
                val cp = text.codePointAt(i)
                val next = i + Character.charCount(cp)
                when {
                    CharClasses.isSplit(cp) -> start = flush(text, start, i, words)
                    CharClasses.isPunct(cp) -> {
                        flush(text, start, i, words)
                        words.add(Word(text.substring(i, next), i, next))
                        start = -1
                    }
                    start < 0 -> start = i
                }
                i = next
            }
            flush(text, start, text.length, words)
            return words
        }

        /** Ends the word begun at [start] (none when negative) at [end]; returns -1, no word begun. */
        private fun flush(text: String, start: Int, end: Int, words: MutableList<Word>): Int {
            if (start in 0 until end) words.add(Word(text.substring(start, end), start, end))
            return -1
        }

        /** LongestFirst truncation lengths (see [Truncation.longestFirst]). */
        fun truncatedLengths(a: Int, b: Int?, max: Int): Pair<Int, Int> = Truncation.longestFirst(a, b, max)
    }
}
