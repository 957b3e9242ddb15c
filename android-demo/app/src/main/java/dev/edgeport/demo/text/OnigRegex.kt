package dev.edgeport.demo.text

import java.util.regex.Pattern

/**
 * Runs the Oniguruma patterns of the Rust tokenizer (the byte-level BPE pre-tokenizer's, `Replace` normalizers')
 * on `java.util.regex`, with their Unicode classes replaced by explicit code point ranges measured from the Python
 * tokenizer: `\s`, `\S`, `\p{L}`, `\P{L}`, `\p{N}`, `\P{N}` (also inside `[...]`, where they are expanded flat, so
 * that no engine-specific nested-class semantics is involved: Android's java.util.regex is ICU underneath). `.` is
 * Oniguruma's "anything but LF". Everything else (literals, groups, alternation, quantifiers, look-around, escapes
 * like `\n`) has the same meaning in both engines; constructs whose classes would again depend on the platform's
 * Unicode tables (`\w`, `\d`, `\b`, other `\p{..}`, case-insensitive flags) are refused, naming the construct.
 */
object OnigRegex {
    fun compile(onig: String): Pattern = Pattern.compile(translate(onig))

    fun translate(onig: String): String {
        val out = StringBuilder()
        var i = 0
        var inClass = false
        while (i < onig.length) {
            val c = onig[i]
            when {
                c == '\\' -> {
                    require(i + 1 < onig.length) { "regex ends with a backslash: $onig" }
                    val e = onig[i + 1]
                    when (e) {
                        's', 'S' -> {
                            out.append(klass(CharClasses.regexSpace, negate = e == 'S', inClass))
                            i += 2
                        }
                        'p', 'P' -> {
                            val close = onig.indexOf('}', i)
                            require(onig.getOrNull(i + 2) == '{' && close > 0) { "regex: bad \\$e at $i in $onig" }
                            val set = when (val name = onig.substring(i + 3, close)) {
                                "L" -> CharClasses.regexLetter
                                "N" -> CharClasses.regexNumber
                                else -> throw IllegalArgumentException("regex class \\$e{$name} is not measured for the app ($onig)")
                            }
                            out.append(klass(set, negate = e == 'P', inClass))
                            i = close + 1
                        }
                        'w', 'W', 'd', 'D', 'b', 'B', 'h', 'H', 'X', 'R' ->
                            throw IllegalArgumentException("regex escape \\$e is not supported by the app ($onig)")
                        else -> {
                            out.append(c).append(e)
                            i += 2
                        }
                    }
                }
                inClass -> {
                    if (c == ']') inClass = false
                    if (c == '[') throw IllegalArgumentException("nested character classes are not supported ($onig)")
                    out.append(c)
                    i++
                }
                c == '[' -> {
                    inClass = true
                    out.append(c)
                    i++
                    if (onig.getOrNull(i) == '^') { out.append('^'); i++ }
                    if (onig.getOrNull(i) == ']') { out.append("\\]"); i++ } // a leading ] is a literal
                }
                c == '.' -> { out.append("[^\\n]"); i++ }
                c == '(' && onig.startsWith("(?", i) && !onig.startsWith("(?:", i) && !onig.startsWith("(?=", i) &&
                    !onig.startsWith("(?!", i) && !onig.startsWith("(?<=", i) && !onig.startsWith("(?<!", i) ->
                    throw IllegalArgumentException("regex group/flag ${onig.substring(i, minOf(onig.length, i + 4))} is not supported ($onig)")
                else -> { out.append(c); i++ }
            }
        }
        return out.toString()
    }

    /** [set] as a flat class body (inside `[...]`) or a whole class. A negated set inside a class is its complement. */
    private fun klass(set: RangeSet, negate: Boolean, inClass: Boolean): String {
        val ranges = if (negate && inClass) complement(set) else (0 until set.size).map { set.start(it) to set.end(it) }
        val body = StringBuilder()
        for ((a, b) in ranges) {
            body.append("\\x{").append(Integer.toHexString(a)).append('}')
            if (b != a) body.append("-\\x{").append(Integer.toHexString(b)).append('}')
        }
        return when {
            inClass -> body.toString()
            negate -> "[^$body]"
            else -> "[$body]"
        }
    }

    private fun complement(set: RangeSet): List<Pair<Int, Int>> {
        val out = ArrayList<Pair<Int, Int>>()
        var next = 0
        for (k in 0 until set.size) {
            if (set.start(k) > next) out.add(next to set.start(k) - 1)
            next = set.end(k) + 1
        }
        if (next <= 0x10FFFF) out.add(next to 0x10FFFF)
        // Leave out the surrogate block: a Kotlin String from valid text never holds a lone surrogate.
        return out.flatMap { (a, b) ->
            listOf(a to minOf(b, 0xD7FF), maxOf(a, 0xE000) to b).filter { it.first <= it.second }
        }
    }
}
