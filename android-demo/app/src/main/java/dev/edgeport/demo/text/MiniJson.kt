package dev.edgeport.demo.text

/**
 * A small strict JSON reader (objects -> Map, arrays -> List, numbers -> Double), enough for the app's assets.
 * Kept here so that the text package has no Android (org.json) or library dependency and runs on a bare JVM.
 */
object MiniJson {
    fun parse(text: String): Any? {
        val p = Parser(text)
        val value = p.value()
        p.skipWs()
        if (p.pos != text.length) p.fail("trailing characters")
        return value
    }

    private class Parser(val s: String) {
        var pos = 0

        fun fail(msg: String): Nothing = throw IllegalArgumentException("JSON: $msg at offset $pos")

        fun skipWs() {
            while (pos < s.length && s[pos] in " \t\r\n") pos++
        }

        fun value(): Any? {
            skipWs()
            if (pos >= s.length) fail("unexpected end")
            return when (val c = s[pos]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> str()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> if (c == '-' || c.isDigit()) num() else fail("unexpected '$c'")
            }
        }

        fun literal(word: String, v: Any?): Any? {
            if (!s.startsWith(word, pos)) fail("bad literal")
            pos += word.length
            return v
        }

        fun obj(): Map<String, Any?> {
            val m = LinkedHashMap<String, Any?>()
            pos++
            skipWs()
            if (s.getOrNull(pos) == '}') { pos++; return m }
            while (true) {
                skipWs()
                if (s.getOrNull(pos) != '"') fail("expected a key")
                val k = str()
                skipWs()
                if (s.getOrNull(pos++) != ':') fail("expected ':'")
                m[k] = value()
                skipWs()
                when (s.getOrNull(pos++)) {
                    ',' -> continue
                    '}' -> return m
                    else -> fail("expected ',' or '}'")
                }
            }
        }

        fun arr(): List<Any?> {
            val l = ArrayList<Any?>()
            pos++
            skipWs()
            if (s.getOrNull(pos) == ']') { pos++; return l }
            while (true) {
                l.add(value())
                skipWs()
                when (s.getOrNull(pos++)) {
                    ',' -> continue
                    ']' -> return l
                    else -> fail("expected ',' or ']'")
                }
            }
        }

        fun str(): String {
            val b = StringBuilder()
            pos++
            while (true) {
                if (pos >= s.length) fail("unterminated string")
                val c = s[pos++]
                when (c) {
                    '"' -> return b.toString()
                    '\\' -> escape(b)
                    else -> b.append(c)
                }
            }
        }

        // \uXXXX appends one UTF-16 unit; a surrogate pair arrives as two escapes and joins up in the builder.
        fun escape(b: StringBuilder) {
            when (val e = s.getOrNull(pos++)) {
                '"', '\\', '/' -> b.append(e)
                'b' -> b.append('\b')
                'f' -> b.append('\u000C')
                'n' -> b.append('\n')
                'r' -> b.append('\r')
                't' -> b.append('\t')
                'u' -> {
                    if (pos + 4 > s.length) fail("short \\u escape")
                    b.append(s.substring(pos, pos + 4).toInt(16).toChar())
                    pos += 4
                }
                else -> fail("bad escape")
            }
        }

        fun num(): Double {
            val start = pos
            while (pos < s.length && (s[pos].isDigit() || s[pos] in "+-.eE")) pos++
            return s.substring(start, pos).toDoubleOrNull() ?: fail("bad number")
        }
    }
}
