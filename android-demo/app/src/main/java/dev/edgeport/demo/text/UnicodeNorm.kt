package dev.edgeport.demo.text

/**
 * NFC, NFD, NFKC and NFKD as the Rust tokenizer computes them (its `unicode-normalization-alignments` crate is older
 * than Python's unicodedata, the JVM's and Android's `java.text.Normalizer`), from tables measured from the Python
 * tokenizer ([UnicodeTables]: full decompositions, combining classes, composition pairs). The algorithm is the
 * standard one (UAX #15): decompose, canonically reorder, compose; Hangul is algorithmic.
 */
internal object UnicodeNorm {
    private const val S_BASE = 0xAC00
    private const val L_BASE = 0x1100
    private const val V_BASE = 0x1161
    private const val T_BASE = 0x11A7
    private const val L_COUNT = 19
    private const val V_COUNT = 21
    private const val T_COUNT = 28
    private const val S_COUNT = L_COUNT * V_COUNT * T_COUNT

    private val nfd: Map<Int, String> by lazy { CharClasses.parseMap(UnicodeTables.NFD_MAP) }
    private val nfkdExtra: Map<Int, String> by lazy { CharClasses.parseMap(UnicodeTables.NFKD_MAP) }
    private val ccc: Map<Int, Int> by lazy { parseValues(UnicodeTables.CCC) }

    /** (first shl 21 or second) -> composite, for every primary composite. */
    private val compose: Map<Long, Int> by lazy {
        CharClasses.parseMap(UnicodeTables.COMPOSE_MAP).entries.associate { (composite, pair) ->
            val first = pair.codePointAt(0)
            val second = pair.codePointAt(Character.charCount(first))
            key(first, second) to composite
        }
    }

    fun nfd(text: String): String = toString(decompose(text, compat = false))

    fun nfkd(text: String): String = toString(decompose(text, compat = true))

    fun nfc(text: String): String = toString(compose(decompose(text, compat = false)))

    fun nfkc(text: String): String = toString(compose(decompose(text, compat = true)))

    fun combiningClass(cp: Int): Int = ccc[cp] ?: 0

    private fun key(a: Int, b: Int): Long = (a.toLong() shl 21) or b.toLong()

    private fun decompose(text: String, compat: Boolean): IntArray {
        val out = IntList(text.length + 8)
        var i = 0
        while (i < text.length) {
            val cp = text.codePointAt(i)
            i += Character.charCount(cp)
            val s = cp - S_BASE
            if (s in 0 until S_COUNT) {
                out.add(L_BASE + s / (V_COUNT * T_COUNT))
                out.add(V_BASE + (s % (V_COUNT * T_COUNT)) / T_COUNT)
                if (s % T_COUNT != 0) out.add(T_BASE + s % T_COUNT)
                continue
            }
            val d = (if (compat) nfkdExtra[cp] else null) ?: nfd[cp]
            if (d == null) out.add(cp) else d.codePoints().forEach { out.add(it) }
        }
        val cps = out.toArray()
        // Canonical ordering: a stable sort of each run of non-starters by combining class.
        var k = 1
        while (k < cps.size) {
            val a = combiningClass(cps[k - 1])
            val b = combiningClass(cps[k])
            if (b != 0 && a > b) {
                val t = cps[k - 1]; cps[k - 1] = cps[k]; cps[k] = t
                if (k > 1) k-- else k++
            } else {
                k++
            }
        }
        return cps
    }

    private fun compose(cps: IntArray): IntArray {
        val out = IntList(cps.size)
        var starter = -1 // index in out of the last starter, -1 before the first
        var lastCcc = -1 // -1: nothing between the starter and the current character
        for (c in cps) {
            val cc = combiningClass(c)
            if (starter >= 0) {
                val s = out[starter]
                val composite = if (lastCcc == -1 || lastCcc in 1 until cc) pairComposite(s, c, adjacent = lastCcc == -1) else null
                if (composite != null) {
                    out[starter] = composite
                    continue
                }
            }
            if (cc == 0) {
                starter = out.size
                lastCcc = -1
            } else {
                lastCcc = cc
            }
            out.add(c)
        }
        return out.toArray()
    }

    private fun pairComposite(s: Int, c: Int, adjacent: Boolean): Int? {
        if (adjacent) {
            if (s in L_BASE until L_BASE + L_COUNT && c in V_BASE until V_BASE + V_COUNT) {
                return S_BASE + ((s - L_BASE) * V_COUNT + (c - V_BASE)) * T_COUNT
            }
            if (s in S_BASE until S_BASE + S_COUNT && (s - S_BASE) % T_COUNT == 0 && c in T_BASE + 1 until T_BASE + T_COUNT) {
                return s + (c - T_BASE)
            }
        }
        return compose[key(s, c)]
    }

    private fun toString(cps: IntArray): String {
        val b = StringBuilder(cps.size + 4)
        for (c in cps) b.appendCodePoint(c)
        return b.toString()
    }

    /** "300-314=e6 315=e8" (hex), as written by unicode_tables.py. */
    fun parseValues(encoded: String): Map<Int, Int> {
        val map = HashMap<Int, Int>()
        for (token in encoded.split(' ')) {
            if (token.isEmpty()) continue
            val value = token.substringAfter('=').toInt(16)
            val range = token.substringBefore('=')
            val dash = range.indexOf('-')
            val from = (if (dash < 0) range else range.substring(0, dash)).toInt(16)
            val to = (if (dash < 0) range else range.substring(dash + 1)).toInt(16)
            for (cp in from..to) map[cp] = value
        }
        return map
    }
}

/** A growable int array (no boxing on the hot paths). */
internal class IntList(capacity: Int = 16) {
    private var data = IntArray(maxOf(capacity, 4))
    var size = 0
        private set

    fun add(v: Int) {
        if (size == data.size) data = data.copyOf(size * 2)
        data[size++] = v
    }

    operator fun get(i: Int): Int = data[i]

    operator fun set(i: Int, v: Int) {
        data[i] = v
    }

    fun toArray(): IntArray = data.copyOf(size)
}
