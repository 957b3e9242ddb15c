package dev.edgeport.demo.text

import java.util.regex.Pattern

/** One Hugging Face pre-tokenizer step: the current pieces in, finer pieces out (empty pieces are dropped). */
fun interface PreTokenizer {
    fun preTokenize(pieces: List<String>): List<String>
}

/** The pre-tokenizers of tokenizer.json that BERT-like checkpoints use, by their tokenizer.json names. */
object PreTokenizers {
    /** GPT-2's split, hard-coded in tokenizers' `pre_tokenizers/byte_level.rs` (and written into labels.json). */
    const val GPT2_PATTERN = """'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

    class Sequence(private val steps: List<PreTokenizer>) : PreTokenizer {
        override fun preTokenize(pieces: List<String>) = steps.fold(pieces) { p, step -> step.preTokenize(p) }
    }

    /**
     * `ByteLevel`: optionally prefix a space, split with the regex (every match and every gap is a piece, tokenizers'
     * `Isolated`), then spell each piece's UTF-8 bytes with GPT-2's byte-to-unicode alphabet.
     */
    class ByteLevel(private val addPrefixSpace: Boolean, private val regex: Pattern?) : PreTokenizer {
        override fun preTokenize(pieces: List<String>): List<String> = pieces.flatMap { piece ->
            val p = if (addPrefixSpace && !piece.startsWith(' ')) " $piece" else piece
            (if (regex == null) listOf(p) else isolated(regex, p)).filter { it.isNotEmpty() }.map { ByteLevelAlphabet.encode(it) }
        }
    }

    /**
     * `Metaspace`: spaces (U+0020 only) become [replacement], which is prepended when the piece does not start with it
     * ("always"; "never" prepends nothing), then with [split] the text is cut before each replacement (tokenizers'
     * `MergedWithNext`: "▁a▁▁b" -> "▁a", "▁", "▁b").
     */
    class Metaspace(replacement: String, private val prepend: Boolean, private val split: Boolean) : PreTokenizer {
        private val rep: Int = replacement.codePointAt(0)
        private val repString = replacement

        init {
            require(replacement.codePointCount(0, replacement.length) == 1) { "Metaspace replacement must be one character" }
        }

        override fun preTokenize(pieces: List<String>): List<String> = pieces.flatMap { piece ->
            var p = piece.replace(" ", repString)
            if (prepend && !p.startsWith(repString)) p = repString + p
            if (!split) listOf(p) else mergedWithNext(p)
        }.filter { it.isNotEmpty() }

        /**
         * tokenizers' `MergedWithNext` (normalizer.rs folds the spans from the right): a replacement character joins
         * the text right after it; one followed by another replacement (or by nothing) stays a piece of its own.
         */
        private fun mergedWithNext(s: String): List<String> {
            // Spans: each replacement character alone, each run of other characters; as (start, end, isMatch).
            val spans = ArrayList<Triple<Int, Int, Boolean>>()
            var i = 0
            while (i < s.length) {
                val cp = s.codePointAt(i)
                val end = i + Character.charCount(cp)
                val isMatch = cp == rep
                val last = spans.lastOrNull()
                if (!isMatch && last != null && !last.third) spans[spans.size - 1] = Triple(last.first, end, false)
                else spans.add(Triple(i, end, isMatch))
                i = end
            }
            val merged = ArrayList<IntArray>() // [start, end], built right to left
            var previousMatch = false
            for (span in spans.asReversed()) {
                if (span.third && !previousMatch && merged.isNotEmpty()) merged.last()[0] = span.first
                else merged.add(intArrayOf(span.first, span.second))
                previousMatch = span.third
            }
            return merged.asReversed().map { s.substring(it[0], it[1]) }
        }
    }

    /** `WhitespaceSplit`: split on Rust-whitespace characters, which are dropped. */
    val WhitespaceSplit = PreTokenizer { pieces ->
        pieces.flatMap { piece ->
            val out = ArrayList<String>()
            val current = StringBuilder()
            var i = 0
            while (i < piece.length) {
                val cp = piece.codePointAt(i)
                i += Character.charCount(cp)
                if (CharClasses.isWhitespace(cp)) {
                    if (current.isNotEmpty()) out.add(current.toString())
                    current.setLength(0)
                } else {
                    current.appendCodePoint(cp)
                }
            }
            if (current.isNotEmpty()) out.add(current.toString())
            out
        }
    }

    /** `BertPreTokenizer`: whitespace dropped, each punctuation character a piece of its own. */
    val Bert = PreTokenizer { pieces -> pieces.flatMap { BertTokenizer.preTokenize(it) } }

    /** tokenizers' `Isolated` split: each regex match and each gap between matches is a piece. */
    fun isolated(regex: Pattern, s: String): List<String> {
        val out = ArrayList<String>()
        val m = regex.matcher(s)
        var prev = 0
        while (m.find()) {
            if (m.end() == m.start()) continue // Oniguruma's find_iter yields no empty match for these patterns
            if (m.start() > prev) out.add(s.substring(prev, m.start()))
            out.add(s.substring(m.start(), m.end()))
            prev = m.end()
        }
        if (prev < s.length) out.add(s.substring(prev))
        return out
    }

    fun fromSpec(spec: Map<*, *>?): PreTokenizer? {
        if (spec == null) return null
        return when (val type = spec["type"]) {
            "Sequence" -> Sequence((spec["pretokenizers"] as List<*>).mapNotNull { fromSpec(it as Map<*, *>) })
            "ByteLevel" -> ByteLevel(
                spec["add_prefix_space"] as? Boolean ?: true,
                if (spec["use_regex"] as? Boolean ?: true) OnigRegex.compile(spec["regex"] as? String ?: GPT2_PATTERN) else null,
            )
            "Metaspace" -> {
                val scheme = spec["prepend_scheme"] as? String ?: "always"
                require(scheme == "always" || scheme == "never") { "Metaspace prepend_scheme '$scheme' is not implemented in the app" }
                Metaspace(spec["replacement"] as? String ?: "\u2581", scheme == "always", spec["split"] as? Boolean ?: true)
            }
            "WhitespaceSplit" -> WhitespaceSplit
            "BertPreTokenizer" -> Bert
            else -> throw IllegalArgumentException("pre-tokenizer $type is not implemented in the app")
        }
    }
}

/** GPT-2's reversible byte-to-unicode map: printable bytes stand for themselves, the rest move to U+0100 and up. */
object ByteLevelAlphabet {
    private val byteChar: IntArray = IntArray(256).also { map ->
        val printable = (0x21..0x7E) + (0xA1..0xAC) + (0xAE..0xFF)
        for (b in printable) map[b] = b
        var n = 0
        for (b in 0 until 256) if (b !in printable) map[b] = 256 + n++
    }

    fun char(byte: Int): Int = byteChar[byte and 0xFF]

    fun encode(s: String): String {
        val bytes = s.toByteArray(Charsets.UTF_8)
        val out = StringBuilder(bytes.size)
        for (b in bytes) out.appendCodePoint(byteChar[b.toInt() and 0xFF])
        return out.toString()
    }
}
