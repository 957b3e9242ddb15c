package dev.edgeport.demo.text

import java.util.PriorityQueue

/**
 * The Hugging Face `BPE` model (RoBERTa's byte-level BPE and others), as tokenizers' `models/bpe`: each character
 * of the word is a symbol (its vocabulary id; unknown characters become `unk`, fused when [fuseUnk], or byte tokens
 * `<0xNN>` with [byteFallback], or are dropped when there is no unk token), then merges are applied lowest rank
 * first and, within a rank, leftmost first (a min-heap of (rank, position), stale entries skipped).
 *
 * [merges] are in rank order, each a pair of tokens; the merged token is `a + b` without [continuingSubwordPrefix].
 */
class Bpe(
    vocab: List<String>,
    merges: List<Pair<String, String>>,
    unkToken: String? = null,
    private val fuseUnk: Boolean = false,
    private val byteFallback: Boolean = false,
    private val continuingSubwordPrefix: String? = null,
    private val endOfWordSuffix: String? = null,
    private val ignoreMerges: Boolean = false,
) : TokenModel {
    private val ids: Map<String, Int> = HashMap<String, Int>(vocab.size * 2).also { m -> vocab.forEachIndexed { i, t -> m[t] = i } }
    private val unkId: Int? = unkToken?.let { ids[it] ?: throw IllegalArgumentException("BPE unk token '$it' is not in the vocabulary") }

    /** (left id shl 32 | right id) -> rank shl 32 | merged id. A repeated pair keeps its last rank, as in Rust. */
    private val mergeMap: Map<Long, Long> = HashMap<Long, Long>(merges.size * 2).also { m ->
        val prefixLength = continuingSubwordPrefix?.length ?: 0
        merges.forEachIndexed { rank, (a, b) ->
            val aId = ids[a] ?: throw IllegalArgumentException("BPE merge token '$a' is not in the vocabulary")
            val bId = ids[b] ?: throw IllegalArgumentException("BPE merge token '$b' is not in the vocabulary")
            val merged = a + b.substring(minOf(prefixLength, b.length))
            val newId = ids[merged] ?: throw IllegalArgumentException("BPE merged token '$merged' is not in the vocabulary")
            m[pairKey(aId, bId)] = (rank.toLong() shl 32) or newId.toLong()
        }
    }

    override fun tokenize(word: String, out: MutableList<Int>) {
        if (word.isEmpty()) return
        if (ignoreMerges) ids[word]?.let { out.add(it); return }
        val symbols = initialSymbols(word)
        mergeAll(symbols)
        for (s in symbols) if (s.len > 0) out.add(s.id)
    }

    private class Symbol(var id: Int, var prev: Int, var next: Int, var len: Int)

    private fun initialSymbols(word: String): ArrayList<Symbol> {
        val symbols = ArrayList<Symbol>()
        fun add(id: Int, len: Int) {
            if (symbols.isNotEmpty()) symbols.last().next = symbols.size
            symbols.add(Symbol(id, symbols.size - 1, -1, len))
        }
        var unk: Pair<Int, Int>? = null // (id, byte length) of a pending unknown run
        var i = 0
        while (i < word.length) {
            val cp = word.codePointAt(i)
            val end = i + Character.charCount(cp)
            val ch = word.substring(i, end)
            val byteLen = utf8Length(ch)
            var s = ch
            if (i > 0 && continuingSubwordPrefix != null) s = continuingSubwordPrefix + s
            if (end == word.length && endOfWordSuffix != null) s += endOfWordSuffix
            i = end
            val id = ids[s]
            if (id != null) {
                unk?.let { add(it.first, it.second); unk = null }
                add(id, byteLen)
                continue
            }
            if (byteFallback) {
                val byteIds = s.toByteArray(Charsets.UTF_8).map { ids["<0x%02X>".format(it.toInt() and 0xFF)] }
                if (byteIds.all { it != null }) {
                    byteIds.forEach { add(it!!, 1) }
                    continue
                }
            }
            if (unkId != null) {
                val pending = unk
                unk = if (pending != null && fuseUnk) {
                    pending.first to pending.second + byteLen
                } else {
                    if (pending != null) add(pending.first, pending.second)
                    unkId to byteLen
                }
            }
        }
        unk?.let { add(it.first, it.second) }
        return symbols
    }

    private class Merge(val pos: Int, val rank: Int, val newId: Int)

    private fun mergeAll(symbols: ArrayList<Symbol>) {
        val queue = PriorityQueue<Merge>(maxOf(symbols.size, 1), compareBy<Merge>({ it.rank }, { it.pos }))
        for (k in 0 until symbols.size - 1) {
            mergeMap[pairKey(symbols[k].id, symbols[k + 1].id)]?.let { queue.add(Merge(k, rank(it), newId(it))) }
        }
        while (true) {
            val top = queue.poll() ?: break
            val current = symbols[top.pos]
            if (current.len == 0 || current.next == -1) continue
            val right = symbols[current.next]
            val m = mergeMap[pairKey(current.id, right.id)]
            if (m == null || newId(m) != top.newId) continue
            // merge right into current
            current.id = top.newId
            current.len += right.len
            current.next = right.next
            right.len = 0
            if (right.next > -1 && right.next < symbols.size) symbols[right.next].prev = top.pos
            if (current.prev >= 0) {
                mergeMap[pairKey(symbols[current.prev].id, current.id)]?.let { queue.add(Merge(current.prev, rank(it), newId(it))) }
            }
            if (current.next > -1 && current.next < symbols.size) {
                mergeMap[pairKey(current.id, symbols[current.next].id)]?.let { queue.add(Merge(top.pos, rank(it), newId(it))) }
            }
        }
    }

    private fun pairKey(a: Int, b: Int): Long = (a.toLong() shl 32) or (b.toLong() and 0xFFFFFFFFL)

    private fun rank(m: Long): Int = (m ushr 32).toInt()

    private fun newId(m: Long): Int = (m and 0xFFFFFFFFL).toInt()

    companion object {
        /** merges.txt: one "left right" pair per line in rank order (a "#version" header line is skipped). */
        fun parseMerges(text: String): List<Pair<String, String>> = text.split('\n').map { it.removeSuffix("\r") }
            .filterIndexed { i, line -> line.isNotEmpty() && !(i == 0 && line.startsWith("#version")) }
            .map { line ->
                val space = line.indexOf(' ')
                require(space > 0 && line.indexOf(' ', space + 1) < 0) { "merges.txt: bad line '$line'" }
                line.substring(0, space) to line.substring(space + 1)
            }
    }
}
