package dev.edgeport.demo.text

import java.util.regex.Matcher
import java.util.regex.Pattern

/** One Hugging Face normalizer: text in, normalized text out (offsets are not tracked: the app needs ids only). */
fun interface TextNormalizer {
    fun normalize(text: String): String
}

/** The normalizers of tokenizer.json that BERT-like checkpoints use, by their tokenizer.json names. */
object Normalizers {
    class Sequence(private val steps: List<TextNormalizer>) : TextNormalizer {
        override fun normalize(text: String) = steps.fold(text) { t, n -> n.normalize(t) }
    }

    val NFC = TextNormalizer { UnicodeNorm.nfc(it) }
    val NFD = TextNormalizer { UnicodeNorm.nfd(it) }
    val NFKC = TextNormalizer { UnicodeNorm.nfkc(it) }
    val NFKD = TextNormalizer { UnicodeNorm.nfkd(it) }

    /** Rust `char::to_lowercase` per character (no context-dependent final sigma). */
    val Lowercase = TextNormalizer { text ->
        val out = StringBuilder(text.length)
        var i = 0
        while (i < text.length) {
            val cp = text.codePointAt(i)
            i += Character.charCount(cp)
            val lower = CharClasses.lowercase(cp)
            if (lower != null) out.append(lower) else out.appendCodePoint(cp)
        }
        out.toString()
    }

    /** Strips Rust-whitespace characters at either end. */
    class Strip(private val left: Boolean, private val right: Boolean) : TextNormalizer {
        override fun normalize(text: String): String {
            var start = 0
            var end = text.length
            if (left) while (start < end && CharClasses.isWhitespace(text.codePointAt(start))) start += Character.charCount(text.codePointAt(start))
            if (right) while (end > start && CharClasses.isWhitespace(text.codePointBefore(end))) end -= Character.charCount(text.codePointBefore(end))
            return text.substring(start, end)
        }
    }

    /** Every non-overlapping match, left to right, replaced by [content]: a literal string or an Oniguruma regex. */
    class Replace(private val pattern: Pattern, private val content: String) : TextNormalizer {
        override fun normalize(text: String): String = pattern.matcher(text).replaceAll(Matcher.quoteReplacement(content))

        companion object {
            fun literal(s: String, content: String) = Replace(Pattern.compile(Pattern.quote(s)), content)

            fun regex(onig: String, content: String) = Replace(OnigRegex.compile(onig), content)
        }
    }

    /**
     * A normalizer from its tokenizer.json form (as `edgeport android` copies it into labels.json); a
     * `Precompiled` charsmap is read from the asset the spec names. Anything else is refused with its name.
     */
    fun fromSpec(spec: Map<*, *>?, readAsset: (String) -> String): TextNormalizer? {
        if (spec == null) return null
        return when (val type = spec["type"]) {
            "Sequence" -> Sequence((spec["normalizers"] as List<*>).mapNotNull { fromSpec(it as Map<*, *>, readAsset) })
            "NFC" -> NFC
            "NFD" -> NFD
            "NFKC" -> NFKC
            "NFKD" -> NFKD
            "Lowercase" -> Lowercase
            "Strip" -> Strip(spec["strip_left"] as Boolean, spec["strip_right"] as Boolean)
            "Replace" -> {
                val pattern = spec["pattern"] as Map<*, *>
                val content = spec["content"] as String
                when {
                    pattern["String"] is String -> Replace.literal(pattern["String"] as String, content)
                    pattern["Regex"] is String -> Replace.regex(pattern["Regex"] as String, content)
                    else -> throw IllegalArgumentException("Replace normalizer: unknown pattern $pattern")
                }
            }
            "Precompiled" -> PrecompiledNormalizer.fromBase64(readAsset(spec["charsmap"] as String))
            "BertNormalizer" -> {
                val bert = BertNormalizer(
                    spec["lowercase"] as? Boolean ?: true,
                    spec["strip_accents"] as Boolean?,
                    spec["clean_text"] as? Boolean ?: true,
                    spec["handle_chinese_chars"] as? Boolean ?: true,
                )
                TextNormalizer { bert.normalize(it) }
            }
            else -> throw IllegalArgumentException("normalizer $type is not implemented in the app")
        }
    }
}
