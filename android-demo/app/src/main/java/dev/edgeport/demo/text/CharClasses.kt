package dev.edgeport.demo.text

/**
 * Character classes and per-code-point mappings of the Hugging Face BERT normalizer, decoded from
 * [UnicodeTables]. Nothing here asks `java.lang.Character`: its Unicode version differs between JVMs and Android
 * releases, and neither matches the Rust tokenizer (see android-demo/tools/unicode_tables.py).
 */
internal object CharClasses {
    private val removed = RangeSet.parse(UnicodeTables.REMOVED)
    private val space = RangeSet.parse(UnicodeTables.SPACE)
    private val split = RangeSet.parse(UnicodeTables.SPLIT)
    private val punct = RangeSet.parse(UnicodeTables.PUNCT)
    private val cjk = RangeSet.parse(UnicodeTables.CJK)
    private val strip = parseMap(UnicodeTables.STRIP_MAP)
    private val lower = parseMap(UnicodeTables.LOWER_MAP)
    private val whitespace = RangeSet.parse(UnicodeTables.WHITESPACE)

    /** What Oniguruma's `\s`, `\p{L}` and `\p{N}` match in the Rust tokenizer (see [OnigRegex]). */
    val regexSpace: RangeSet by lazy { RangeSet.parse(UnicodeTables.REGEX_SPACE) }
    val regexLetter: RangeSet by lazy { RangeSet.parse(UnicodeTables.REGEX_LETTER) }
    val regexNumber: RangeSet by lazy { RangeSet.parse(UnicodeTables.REGEX_NUMBER) }

    /** Dropped by clean_text: control/format/private-use characters, U+0000 and U+FFFD. */
    fun isRemoved(cp: Int) = removed.contains(cp)

    /** Turned into a plain space by clean_text. */
    fun isSpace(cp: Int) = space.contains(cp)

    /** Separates words in the BERT pre-tokenizer (Rust `char::is_whitespace`). */
    fun isSplit(cp: Int) = split.contains(cp)

    /** Becomes a word of its own in the BERT pre-tokenizer. */
    fun isPunct(cp: Int) = punct.contains(cp)

    /** Padded with spaces by handle_chinese_chars. */
    fun isCjk(cp: Int) = cjk.contains(cp)

    /** NFD with non-spacing marks dropped, for one code point ("" when it is a mark; null when unchanged). */
    fun stripAccents(cp: Int): String? = strip[cp] ?: hangul(cp)

    /** Full lower-case mapping of one code point (null when unchanged); also what the `Lowercase` normalizer does. */
    fun lowercase(cp: Int): String? = lower[cp]

    /** Rust `char::is_whitespace`: what `WhitespaceSplit`, `Strip` and added tokens' lstrip/rstrip skip. */
    fun isWhitespace(cp: Int) = whitespace.contains(cp)

    // Hangul syllables decompose algorithmically (Unicode 3.12), which spares 11,172 table rows.
    private fun hangul(cp: Int): String? {
        val s = cp - 0xAC00
        if (s < 0 || s >= 11172) return null
        val out = StringBuilder()
        out.appendCodePoint(0x1100 + s / 588)
        out.appendCodePoint(0x1161 + (s % 588) / 28)
        if (s % 28 != 0) out.appendCodePoint(0x11A7 + s % 28)
        return out.toString()
    }

    fun parseMap(parts: Array<String>): Map<Int, String> {
        val map = HashMap<Int, String>()
        for (part in parts) for (token in part.split(' ')) {
            if (token.isEmpty()) continue
            val eq = token.indexOf('=')
            val value = StringBuilder()
            val rhs = token.substring(eq + 1)
            if (rhs.isNotEmpty()) for (hex in rhs.split('.')) value.appendCodePoint(hex.toInt(16))
            map[token.substring(0, eq).toInt(16)] = value.toString()
        }
        return map
    }
}

/** Sorted, disjoint closed ranges of code points with binary-search lookup. */
internal class RangeSet private constructor(private val starts: IntArray, private val ends: IntArray) {
    val size: Int get() = starts.size

    fun start(i: Int) = starts[i]

    fun end(i: Int) = ends[i]

    fun contains(cp: Int): Boolean {
        var lo = 0
        var hi = starts.size - 1
        while (lo <= hi) {
            val mid = (lo + hi) ushr 1
            when {
                cp < starts[mid] -> hi = mid - 1
                cp > ends[mid] -> lo = mid + 1
                else -> return true
            }
        }
        return false
    }

    companion object {
        /** "a-f 20 3000" (hex) as written by unicode_tables.py. */
        fun parse(encoded: String): RangeSet {
            val tokens = encoded.split(' ').filter { it.isNotEmpty() }
            val starts = IntArray(tokens.size)
            val ends = IntArray(tokens.size)
            tokens.forEachIndexed { i, t ->
                val dash = t.indexOf('-')
                starts[i] = (if (dash < 0) t else t.substring(0, dash)).toInt(16)
                ends[i] = (if (dash < 0) t else t.substring(dash + 1)).toInt(16)
            }
            return RangeSet(starts, ends)
        }
    }
}
