package dev.edgeport.demo.text

import java.util.Base64

/**
 * SentencePiece's `Precompiled` normalizer (XLM-R, ALBERT, T5...: the `nmt_nfkc` rules compiled into a double-array
 * trie, `precompiled_charsmap` in tokenizer.json), exactly as the Rust tokenizer applies it (`spm_precompiled` +
 * tokenizers' `normalizers/precompiled.rs`):
 *
 * the text is cut into extended grapheme clusters; a cluster shorter than 6 UTF-8 bytes is looked up whole and, if
 * the trie has a key that is a *prefix* of it, the whole cluster becomes the shortest such key's replacement (so
 * "Ａ" + U+0301 becomes "A": the accent goes, as in Python); otherwise each character is replaced on its own.
 *
 * The trie and its replacements are data (the charsmap asset), so they are read as is. Only the cluster boundaries
 * depend on a Unicode version; they come from [Graphemes], whose classes are measured from the Python tokenizer.
 */
class PrecompiledNormalizer(charsmap: ByteArray) : TextNormalizer {
    private val units: IntArray
    private val normalized: ByteArray

    init {
        require(charsmap.size >= 4) { "precompiled charsmap: too short" }
        val trieBytes = (charsmap[0].toInt() and 0xFF) or ((charsmap[1].toInt() and 0xFF) shl 8) or
            ((charsmap[2].toInt() and 0xFF) shl 16) or ((charsmap[3].toInt() and 0xFF) shl 24)
        require(trieBytes % 4 == 0 && 4 + trieBytes <= charsmap.size) { "precompiled charsmap: bad trie size $trieBytes" }
        units = IntArray(trieBytes / 4) { i ->
            val o = 4 + 4 * i
            (charsmap[o].toInt() and 0xFF) or ((charsmap[o + 1].toInt() and 0xFF) shl 8) or
                ((charsmap[o + 2].toInt() and 0xFF) shl 16) or ((charsmap[o + 3].toInt() and 0xFF) shl 24)
        }
        normalized = charsmap.copyOfRange(4 + trieBytes, charsmap.size)
    }

    override fun normalize(text: String): String {
        val out = StringBuilder(text.length + 8)
        for (cluster in Graphemes.clusters(text)) {
            if (utf8Length(cluster) < 6) {
                val whole = transform(cluster)
                if (whole != null) {
                    out.append(whole)
                    continue
                }
            }
            var i = 0
            while (i < cluster.length) {
                val cp = cluster.codePointAt(i)
                val n = Character.charCount(cp)
                val one = cluster.substring(i, i + n)
                out.append(transform(one) ?: one)
                i += n
            }
        }
        return out.toString()
    }

    /** The replacement of the shortest key that is a prefix of [chunk]'s UTF-8 bytes, or null. */
    internal fun transform(chunk: String): String? {
        val key = chunk.toByteArray(Charsets.UTF_8)
        var pos = offset(units[0])
        for (b in key) {
            val c = b.toInt() and 0xFF
            if (c == 0) break
            pos = pos xor c
            if (pos < 0 || pos >= units.size) return null
            val unit = units[pos]
            if ((unit and (Int.MIN_VALUE or 0xFF)) != c) return null
            pos = pos xor offset(unit)
            if ((unit ushr 8) and 1 == 1) {
                if (pos < 0 || pos >= units.size) return null
                val start = units[pos] and 0x7FFFFFFF
                var end = start
                while (end < normalized.size && normalized[end].toInt() != 0) end++
                return String(normalized, start, end - start, Charsets.UTF_8)
            }
        }
        return null
    }

    private fun offset(unit: Int): Int = (unit ushr 10) shl ((unit and (1 shl 9)) ushr 6)

    companion object {
        /** The charsmap asset: base64 text, as `precompiled_charsmap` appears in tokenizer.json. */
        fun fromBase64(text: String) = PrecompiledNormalizer(Base64.getMimeDecoder().decode(text.trim()))
    }
}

/**
 * Extended grapheme clusters as the Rust `unicode-segmentation` crate cuts them, for the parts that can matter to
 * [PrecompiledNormalizer]: CR LF; breaks around controls; no break before Extend/ZWJ/SpacingMark or after Prepend
 * (all three classes measured from the Python tokenizer, see tools/unicode_tables.py); Hangul syllable sequences.
 * Not modelled (a break is assumed): emoji ZWJ sequences (GB11), regional-indicator pairs (GB12/13) and Indic
 * conjuncts (GB9c). Each of those only joins clusters of 6 bytes or more, which the normalizer handles character by
 * character either way, so they cannot change its output.
 */
internal object Graphemes {
    private val extend by lazy { RangeSet.parse(UnicodeTables.GRAPHEME_EXTEND) }
    private val prepend by lazy { RangeSet.parse(UnicodeTables.GRAPHEME_PREPEND) }
    private val control by lazy { RangeSet.parse(UnicodeTables.GRAPHEME_CONTROL) }

    fun clusters(text: String): List<String> {
        val out = ArrayList<String>()
        var start = 0
        var i = 0
        var prev = -1
        while (i < text.length) {
            val cp = text.codePointAt(i)
            if (prev >= 0 && isBreak(prev, cp)) {
                out.add(text.substring(start, i))
                start = i
            }
            prev = cp
            i += Character.charCount(cp)
        }
        if (start < text.length) out.add(text.substring(start))
        return out
    }

    fun isBreak(a: Int, b: Int): Boolean {
        if (a == 0x0D && b == 0x0A) return false
        if (control.contains(a) || control.contains(b)) return true
        val ha = hangul(a)
        val hb = hangul(b)
        if (ha == L && (hb == L || hb == V || hb == LV || hb == LVT)) return false
        if ((ha == LV || ha == V) && (hb == V || hb == T)) return false
        if ((ha == LVT || ha == T) && hb == T) return false
        if (extend.contains(b)) return false
        if (prepend.contains(a)) return false
        return true
    }

    private const val L = 1
    private const val V = 2
    private const val T = 3
    private const val LV = 4
    private const val LVT = 5

    // Hangul_Syllable_Type: stable since Unicode 5.2 (these pairs are 6+ bytes, so they cannot be measured the way
    // the other classes are; the syllables' own L/V/T/LV/LVT split is arithmetic).
    private fun hangul(cp: Int): Int = when (cp) {
        in 0x1100..0x115F, in 0xA960..0xA97C -> L
        in 0x1160..0x11A7, in 0xD7B0..0xD7C6 -> V
        in 0x11A8..0x11FF, in 0xD7CB..0xD7FB -> T
        in 0xAC00..0xD7A3 -> if ((cp - 0xAC00) % 28 == 0) LV else LVT
        else -> 0
    }
}
