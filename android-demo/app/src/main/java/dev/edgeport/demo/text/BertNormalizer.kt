package dev.edgeport.demo.text

/**
 * The Hugging Face `BertNormalizer`: clean text, pad CJK ideographs with spaces, strip accents, lower-case.
 * Each step maps one code point at a time, as the Rust implementation does, so they compose per code point.
 * (NFD's canonical reordering of surviving combining marks is the one whole-string effect not reproduced; after
 * non-spacing marks are dropped it can only reorder rare spacing combining marks.)
 */
class BertNormalizer(
    private val lowercase: Boolean = true,
    stripAccents: Boolean? = null,
    private val cleanText: Boolean = true,
    private val handleChineseChars: Boolean = true,
) {
    // HF semantics: strip_accents unset (null) follows lowercase.
    private val stripAccents: Boolean = stripAccents ?: lowercase

    fun normalize(text: String): String {
        val out = StringBuilder(text.length + 8)
        var i = 0
        while (i < text.length) {
            val cp = text.codePointAt(i)
            i += Character.charCount(cp)
            appendNormalized(cp, out)
        }
        return out.toString()
    }

    /**
     * [normalize] with, for every UTF-16 unit of the result, the characters of [text] it came from (`[start, end)`:
     * the whole code point that produced it), as the HF normalizer's alignments map normalized text back to the
     * original. A removed character maps to nothing; one that becomes several (a CJK ideograph padded with spaces, a
     * lowercase that expands) maps each of them to itself.
     */
    fun normalizeAligned(text: String): Aligned {
        val out = StringBuilder(text.length + 8)
        val starts = ArrayList<Int>(text.length + 8)
        val ends = ArrayList<Int>(text.length + 8)
        var i = 0
        while (i < text.length) {
            val cp = text.codePointAt(i)
            val next = i + Character.charCount(cp)
            val before = out.length
            appendNormalized(cp, out)
            repeat(out.length - before) { starts.add(i); ends.add(next) }
            i = next
        }
        return Aligned(out.toString(), starts.toIntArray(), ends.toIntArray())
    }

    /** Normalized [text] and, per UTF-16 unit of it, the original characters `[starts[k], ends[k])` it came from. */
    class Aligned(val text: String, val starts: IntArray, val ends: IntArray)

    private fun appendNormalized(cp: Int, out: StringBuilder) {
        if (cleanText && CharClasses.isRemoved(cp)) return
        val c = if (cleanText && CharClasses.isSpace(cp)) ' '.code else cp
        if (handleChineseChars && CharClasses.isCjk(c)) {
            out.append(' ')
            appendCased(c, out)
            out.append(' ')
            return
        }
        appendCased(c, out)
    }

    private fun appendCased(cp: Int, out: StringBuilder) {
        val stripped = if (stripAccents) CharClasses.stripAccents(cp) else null
        if (stripped == null) {
            appendLower(cp, out)
            return
        }
        var i = 0
        while (i < stripped.length) {
            val c = stripped.codePointAt(i)
            i += Character.charCount(c)
            appendLower(c, out)
        }
    }

    private fun appendLower(cp: Int, out: StringBuilder) {
        val lower = if (lowercase) CharClasses.lowercase(cp) else null
        if (lower != null) out.append(lower) else out.appendCodePoint(cp)
    }
}
