package dev.edgeport.demo.text

/**
 * An answer found in a context: [text] = `context.substring(start, end)` (UTF-16 indices), from token [startToken]
 * to token [endToken] (inclusive) of the window, [score] = start logit + end logit.
 */
data class AnswerSpan(val text: String, val start: Int, val end: Int, val score: Double, val startToken: Int, val endToken: Int)

/** A context token's characters in the context, `[start, end)` (UTF-16 indices). */
data class CharSpan(val start: Int, val end: Int)

/**
 * Extractive question answering post-processing, as `edgeport.tasks.squad.best_span` does it in Python for one window
 * (golden-tested against it; the app runs one window per question): the [nBest] highest start and end logits are
 * paired, a pair is kept when start <= end, both tokens are context tokens (an offset, not null) and the span has at
 * most [maxAnswerLen] tokens; the best score (start + end logit, in double) wins, equal scores going to the earliest
 * (start, end), so the app shows the very span the Python metric scored.
 */
object Spans {
    const val N_BEST = 20
    const val MAX_ANSWER_LEN = 30

    /**
     * The best span of [context] given one window's [startLogits] and [endLogits] and each token's [offsets] (null off
     * the context: question, special and padding tokens); null when no candidate is valid. Logits past the offsets
     * (a longer padded output) are never read.
     */
    fun bestSpan(startLogits: FloatArray, endLogits: FloatArray, offsets: List<CharSpan?>, context: String,
                 nBest: Int = N_BEST, maxAnswerLen: Int = MAX_ANSWER_LEN): AnswerSpan? {
        require(startLogits.size == endLogits.size) { "${startLogits.size} start logits but ${endLogits.size} end logits" }
        require(offsets.size <= startLogits.size) { "${offsets.size} offsets but logits for ${startLogits.size} tokens" }
        require(nBest >= 1 && maxAnswerLen >= 1) { "nBest $nBest and maxAnswerLen $maxAnswerLen must be at least 1" }
        require(startLogits.all { it.isFinite() } && endLogits.all { it.isFinite() }) {
            "the start or end logits hold NaN or infinity; the model's output is unusable"
        }
        for ((i, o) in offsets.withIndex()) {
            require(o == null || (o.start in 0..o.end && o.end <= context.length)) {
                "token $i: offsets $o are not a character span of the context (${context.length} characters)"
            }
        }
        var best: AnswerSpan? = null
        for ((i, j) in candidates(startLogits, endLogits, offsets, nBest, maxAnswerLen)) {
            val score = startLogits[i].toDouble() + endLogits[j].toDouble()
            if (best == null || score > best.score) {  // strictly greater: ties keep the earliest (start, end)
                val start = offsets[i]!!.start
                val end = offsets[j]!!.end
                best = AnswerSpan(context.substring(start, end), start, end, score, i, j)
            }
        }
        return best
    }

    /** Valid (start, end) pairs of the n-best starts and ends, in (start, end) order (see [bestSpan]). */
    private fun candidates(startLogits: FloatArray, endLogits: FloatArray, offsets: List<CharSpan?>, nBest: Int,
                           maxAnswerLen: Int): List<Pair<Int, Int>> {
        val n = offsets.size
        val pairs = ArrayList<Pair<Int, Int>>()
        for (i in topIndices(startLogits, nBest, n)) {
            for (j in topIndices(endLogits, nBest, n)) {
                if (offsets[i] == null || offsets[j] == null) continue  // not a context token
                if (j < i || j - i + 1 > maxAnswerLen) continue
                pairs.add(Pair(i, j))
            }
        }
        return pairs.sortedWith(compareBy({ it.first }, { it.second }))
    }

    /**
     * The [n] indices of the largest of the first [limit] values, largest first; equal values in index order (numpy's
     * stable argsort). Compared as primitives, so -0.0 equals 0.0 as in numpy (a boxed Float orders them).
     */
    fun topIndices(values: FloatArray, n: Int, limit: Int = values.size): List<Int> =
        (0 until limit).sortedWith { a, b ->
            when {
                values[a] > values[b] -> -1
                values[a] < values[b] -> 1
                else -> a.compareTo(b)
            }
        }.take(n)

    /**
     * Each token's [CharSpan] in UTF-16 indices from spans in code points (how Python, `edgeport predict` and the
     * golden files count characters: an emoji is one there, two in a Kotlin String); null stays null.
     */
    fun fromCodePoints(context: String, offsets: List<Pair<Int, Int>?>): List<CharSpan?> =
        offsets.map { o -> o?.let { CharSpan(Entities.utf16(context, it.first), Entities.utf16(context, it.second)) } }
}
