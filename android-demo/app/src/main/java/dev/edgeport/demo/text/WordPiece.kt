package dev.edgeport.demo.text

/** A WordPiece vocabulary: one token per line, the id is the line number (as HF reads vocab.txt). */
class Vocab(tokens: List<String>) {
    private val ids: Map<String, Int> = HashMap<String, Int>(tokens.size * 2).also { map ->
        tokens.forEachIndexed { i, t -> map.putIfAbsent(t, i) }
    }
    val size: Int = tokens.size

    operator fun get(token: String): Int? = ids[token]

    fun require(token: String): Int =
        ids[token] ?: throw IllegalArgumentException("vocab.txt has no '$token' token; is this a BERT vocab?")

    companion object {
        /** vocab.txt text; HF strips each line's trailing newline only, so keep other whitespace as is. */
        fun parse(text: String): Vocab = Vocab(parseLines(text))

        /** The tokens of a vocab.txt, in id order. */
        fun parseLines(text: String): List<String> {
            val lines = text.split('\n').map { it.removeSuffix("\r") }
            return if (lines.isNotEmpty() && lines.last().isEmpty()) lines.dropLast(1) else lines
        }
    }
}

/** Greedy longest-match-first WordPiece, as the HF `WordPiece` model (continuing pieces carry "##"). */
class WordPiece(
    private val vocab: Vocab,
    private val unkToken: String = "[UNK]",
    private val prefix: String = "##",
    private val maxInputCharsPerWord: Int = 100,
) : TokenModel {
    private val unkId = vocab.require(unkToken)

    override fun tokenize(word: String, out: MutableList<Int>) {
        for (piece in pieces(word)) out.add(piece.id)
    }

    /**
     * The pieces of [word] with where each sits in it, `[start, end)` in UTF-16 indices (as the HF tokenizer's
     * offsets map a piece back to its characters): a known word's greedy pieces, or one [UNK] spanning the whole word.
     */
    fun pieces(word: String): List<TokenSpan> {
        // Lengths count code points, like Rust's chars(); an over-long word is one [UNK].
        if (word.codePointCount(0, word.length) > maxInputCharsPerWord) return listOf(TokenSpan(unkId, 0, word.length))
        val pieces = ArrayList<TokenSpan>()
        var start = 0
        while (start < word.length) {
            var end = word.length
            var found = -1
            while (start < end) {
                val sub = word.substring(start, end)
                val id = vocab[if (start > 0) prefix + sub else sub]
                if (id != null) {
                    found = id
                    break
                }
                end = word.offsetByCodePoints(end, -1)
            }
            if (found < 0) return listOf(TokenSpan(unkId, 0, word.length)) // one unknown piece makes the whole word [UNK]
            pieces.add(TokenSpan(found, start, end))
            start = end
        }
        return pieces
    }
}

/** A token id and the characters it came from, `[start, end)` (UTF-16 indices into the text it was cut from). */
data class TokenSpan(val id: Int, val start: Int, val end: Int)
