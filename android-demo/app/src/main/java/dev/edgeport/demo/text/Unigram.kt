package dev.edgeport.demo.text

/**
 * The Hugging Face `Unigram` model (SentencePiece unigram: XLM-R, DeBERTa-v3, ALBERT...), as tokenizers'
 * `models/unigram` `encode_optimized`: a Viterbi pass over character positions where every vocabulary piece that
 * starts at a position is a candidate (shortest first; a later candidate must score strictly higher to win), a
 * character no single-character piece covers gets `unk` with score `min_score - 10`, consecutive unknowns are fused
 * into one unk (tokenizers' `fuse_unk`, always on), and a fused piece absent from the vocabulary becomes `<0xNN>`
 * byte pieces with [byteFallback] (if all exist) or the unk id. Scores are added in double precision in the same
 * order as in Rust, so ties resolve identically.
 */
class Unigram(pieces: List<Pair<String, Double>>, private val unkId: Int, private val byteFallback: Boolean = false) : TokenModel {
    private val ids: Map<String, Int> = HashMap<String, Int>(pieces.size * 2).also { m -> pieces.forEachIndexed { i, p -> m[p.first] = i } }
    private val scores: DoubleArray = DoubleArray(pieces.size) { pieces[it].second }
    private val minScore: Double = pieces.minOfOrNull { it.second } ?: Double.POSITIVE_INFINITY
    private val maxPieceChars: Int = pieces.maxOfOrNull { it.first.codePointCount(0, it.first.length) } ?: 0

    init {
        require(unkId in pieces.indices) { "Unigram unk_id $unkId is outside the vocabulary (${pieces.size} pieces)" }
    }

    override fun tokenize(word: String, out: MutableList<Int>) {
        for (piece in encode(word)) {
            val id = ids[piece]
            if (id != null) {
                out.add(id)
                continue
            }
            if (byteFallback) {
                val byteIds = piece.toByteArray(Charsets.UTF_8).map { ids["<0x%02X>".format(it.toInt() and 0xFF)] }
                if (byteIds.all { it != null }) {
                    byteIds.forEach { out.add(it!!) }
                    continue
                }
            }
            out.add(unkId)
        }
    }

    /** The best segmentation of [text] as strings (fused unknown runs included), as tokenizers' `encode`. */
    fun encode(text: String): List<String> {
        if (text.isEmpty()) return emptyList()
        val unkScore = minScore - K_UNK_PENALTY
        val starts = IntArray(text.length + 1) // char offsets of code point starts, and the end
        var n = 0
        run {
            var i = 0
            while (i < text.length) {
                starts[n++] = i
                i += Character.charCount(text.codePointAt(i))
            }
            starts[n] = text.length
        }
        // best path ending at code point position k (0..n)
        val bestScore = DoubleArray(n + 1)
        val bestStart = IntArray(n + 1) { -1 }
        val bestId = IntArray(n + 1)
        for (k in 0 until n) {
            val tillHere = bestScore[k]
            var hasSingle = false
            val limit = minOf(n, k + maxPieceChars)
            for (e in k + 1..limit) {
                val id = ids[text.substring(starts[k], starts[e])] ?: continue
                val candidate = scores[id] + tillHere
                if (bestStart[e] == -1 || candidate > bestScore[e]) {
                    bestScore[e] = candidate
                    bestStart[e] = k
                    bestId[e] = id
                }
                if (e == k + 1) hasSingle = true
            }
            if (!hasSingle) {
                val candidate = unkScore + tillHere
                if (bestStart[k + 1] == -1 || candidate > bestScore[k + 1]) {
                    bestScore[k + 1] = candidate
                    bestStart[k + 1] = k
                    bestId[k + 1] = unkId
                }
            }
        }
        val results = ArrayList<String>()
        val unknown = ArrayList<String>()
        var end = n
        while (end > 0) {
            val start = bestStart[end]
            val piece = text.substring(starts[start], starts[end])
            if (bestId[end] == unkId) {
                unknown.add(piece)
            } else {
                if (unknown.isNotEmpty()) {
                    results.add(unknown.asReversed().joinToString(""))
                    unknown.clear()
                }
                results.add(piece)
            }
            end = start
        }
        if (unknown.isNotEmpty()) results.add(unknown.asReversed().joinToString(""))
        return results.asReversed()
    }

    companion object {
        const val K_UNK_PENALTY = 10.0

        /** unigram.tsv: "piece<TAB>score" per line (split at the last tab), the id is the line number. */
        fun parsePieces(text: String): List<Pair<String, Double>> {
            val lines = text.split('\n').map { it.removeSuffix("\r") }
            return (if (lines.isNotEmpty() && lines.last().isEmpty()) lines.dropLast(1) else lines).map { line ->
                val tab = line.lastIndexOf('\t')
                require(tab >= 0) { "unigram.tsv: no score in '$line'" }
                line.substring(0, tab) to line.substring(tab + 1).toDouble()
            }
        }
    }
}
