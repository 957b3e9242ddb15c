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

    @Test fun removed() = assertSet("removed", CharClasses::isRemoved)
    @Test fun space() = assertSet("space", CharClasses::isSpace)
    @Test fun split() = assertSet("split", CharClasses::isSplit)
    @Test fun punct() = assertSet("punct", CharClasses::isPunct)
    @Test fun cjk() = assertSet("cjk", CharClasses::isCjk)
    @Test fun stripAccents() = assertMap("strip", CharClasses::stripAccents)
    @Test fun lowercase() = assertMap("lower", CharClasses::lowercase)

    private fun allCodePoints() = (0 until 0x110000).asSequence().filter { it !in 0xD800..0xDFFF }
}
