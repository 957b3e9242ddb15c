package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Assume.assumeTrue
import org.junit.Test

/**
 * Every code point, every table: the Kotlin character classes must equal what the installed Python `tokenizers`
 * measures (unicode-probe.txt, written by android-demo/tools/unicode_tables.py at test time). This catches a stale
 * UnicodeTables.kt after a tokenizers upgrade, not only the characters the golden texts happen to contain.
 */
class UnicodeTablesTest {
    private val probe: Map<String, String>? = GoldenFiles.file("unicode-probe.txt")?.readLines()
        ?.associate { line -> line.substringBefore(' ') to line.substringAfter(' ', "") }

    private fun sets() = probe.also { assumeTrue("no unicode-probe.txt", it != null) }!!

    private fun assertSet(name: String, kotlin: (Int) -> Boolean) {
        val want = RangeSet.parse(sets().getValue(name))
        val diff = allCodePoints().filter { want.contains(it) != kotlin(it) }.take(10).toList()
        assertEquals("$name differs at ${diff.map { "U+%04X".format(it) }}", 0, diff.size)
    }

    private fun assertMap(name: String, kotlin: (Int) -> String?) {
        val want = HashMap<Int, String>()
        for (token in sets().getValue(name).split(' ').filter { it.isNotEmpty() }) {
            val rhs = token.substringAfter('=')
            val value = StringBuilder()
            if (rhs.isNotEmpty()) rhs.split('.').forEach { value.appendCodePoint(it.toInt(16)) }
            want[token.substringBefore('=').toInt(16)] = value.toString()
        }
        val diff = allCodePoints().filter { cp ->
            val expected = want[cp] ?: String(Character.toChars(cp))
            (kotlin(cp) ?: String(Character.toChars(cp))) != expected
        }.take(10).toList()
        assertEquals("$name differs at ${diff.map { "U+%04X".format(it) }}", 0, diff.size)
    }

    private fun assertForm(name: String, kotlin: (String) -> String) =
        assertMap(name) { cp -> String(Character.toChars(cp)).let { s -> kotlin(s).takeIf { it != s } } }

    @Test fun removed() = assertSet("removed", CharClasses::isRemoved)
    @Test fun space() = assertSet("space", CharClasses::isSpace)
    @Test fun split() = assertSet("split", CharClasses::isSplit)
    @Test fun punct() = assertSet("punct", CharClasses::isPunct)
    @Test fun cjk() = assertSet("cjk", CharClasses::isCjk)
    @Test fun stripAccents() = assertMap("strip", CharClasses::stripAccents)
    @Test fun lowercase() = assertMap("lower", CharClasses::lowercase)

    // Byte-level BPE regex classes (Oniguruma) and Rust whitespace.
    @Test fun regexSpace() = assertSet("regex_space") { CharClasses.regexSpace.contains(it) }
    @Test fun regexLetter() = assertSet("regex_letter") { CharClasses.regexLetter.contains(it) }
    @Test fun regexNumber() = assertSet("regex_number") { CharClasses.regexNumber.contains(it) }
    @Test fun whitespace() = assertSet("whitespace", CharClasses::isWhitespace)

    // The translated regex classes match exactly the measured sets, through java.util.regex itself.
    @Test fun regexClassesThroughJavaRegex() {
        for ((cls, name) in listOf("""\s""" to "regex_space", """\p{L}""" to "regex_letter", """\p{N}""" to "regex_number")) {
            val want = RangeSet.parse(sets().getValue(name))
            val pos = OnigRegex.compile(cls)
            val neg = OnigRegex.compile("[^$cls]")
            val diff = allCodePoints().filter { cp ->
                val s = String(Character.toChars(cp))
                pos.matcher(s).matches() != want.contains(cp) || neg.matcher(s).matches() == want.contains(cp)
            }.take(10).toList()
            assertEquals("$cls differs at ${diff.map { "U+%04X".format(it) }}", 0, diff.size)
        }
    }

    // Grapheme-cluster classes of the Precompiled normalizer.
    @Test fun graphemeClasses() {
        // The same three probes as unicode_tables.py, asked of the Kotlin segmentation rules.
        assertSet("grapheme_extend") { !Graphemes.isBreak('a'.code, it) }
        assertSet("grapheme_prepend") { !Graphemes.isBreak(it, 'a'.code) }
        assertSet("grapheme_control") { Graphemes.isBreak(it, 0x301) }
    }

    // Normalization forms: tables, then the whole algorithm on every single code point.
    @Test fun nfcOfEveryCodePoint() = assertForm("nfc_single", UnicodeNorm::nfc)
    @Test fun nfkcOfEveryCodePoint() = assertForm("nfkc_single", UnicodeNorm::nfkc)
    @Test fun nfdOfEveryCodePoint() = assertForm("nfd") { s -> UnicodeNorm.nfd(s).takeIf { s.codePointAt(0) !in 0xAC00..0xD7A3 } ?: s }
    @Test fun lowercaseNormalizerEqualsBertLower() = assertForm("lowercase") { Normalizers.Lowercase.normalize(it) }

    @Test fun combiningClasses() {
        val want = UnicodeNorm.parseValues(sets().getValue("ccc"))
        val diff = allCodePoints().filter { (want[it] ?: 0) != UnicodeNorm.combiningClass(it) }.take(10).toList()
        assertEquals("ccc differs at ${diff.map { "U+%04X".format(it) }}", 0, diff.size)
    }

    private fun allCodePoints() = (0 until 0x110000).asSequence().filter { it !in 0xD800..0xDFFF }
}
