package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Assume.assumeTrue
import org.junit.Test

/**
 * Stage by stage, per family: the Kotlin normalizer and pre-tokenizer against the Python ones on every golden text
 * and 2,000 random strings of awkward characters (stages.json, written by tests/android_golden.py). Ids can agree
 * by luck (two wrong stages, an unknown piece either way); these intermediate strings cannot.
 */
class StageProbeTest {
    private fun check(d: GoldenFiles.GoldenDir): Pair<Int, List<String>> {
        val spec = d.info?.tokenizerSpec ?: return 0 to emptyList()
        val stages = d.dir.resolve("stages.json").takeIf { it.isFile } ?: return 0 to emptyList()
        val normalizer = if (d.family == "wordpiece") {
            val n = spec["normalizer"] as Map<*, *>
            BertNormalizer(n["lowercase"] as Boolean, n["strip_accents"] as Boolean?).let { b -> TextNormalizer { b.normalize(it) } }
        } else {
            Normalizers.fromSpec(spec["normalizer"] as Map<*, *>?, d::read)
        }
        val pre = PreTokenizers.fromSpec(spec["pre_tokenizer"] as Map<*, *>?)
        val bad = ArrayList<String>()
        val cases = (MiniJson.parse(stages.readText()) as Map<*, *>)["cases"] as List<*>
        for (raw in cases) {
            val c = raw as Map<*, *>
            val text = c["text"] as String
            val want = c["normalized"] as String
            val got = normalizer?.normalize(text) ?: text
            if (got != want) {
                bad.add("normalizer: ${esc(text)} -> python ${esc(want)}, kotlin ${esc(got)}")
                continue
            }
            val wantPieces = (c["pre_tokenized"] as List<*>?)?.map { it as String } ?: continue
            val gotPieces = pre?.preTokenize(listOf(want)) ?: listOf(want)
            if (gotPieces != wantPieces) bad.add("pre-tokenizer: ${esc(want)} -> python ${wantPieces.map(::esc)}, kotlin ${gotPieces.map(::esc)}")
        }
        return cases.size to bad
    }

    @Test fun normalizerAndPreTokenizerMatchPython() {
        val dirs = GoldenFiles.familyDirs().filter { it.dir.resolve("stages.json").isFile }
        assumeTrue("no stages.json", dirs.isNotEmpty())
        val all = ArrayList<String>()
        for (d in dirs) {
            val (n, bad) = check(d)
            println("stages ${d.name}: $n texts, ${n - bad.size} identical normalizer + pre-tokenizer output")
            bad.take(5).forEach { println("  $it") }
            all.addAll(bad.map { "${d.name}: $it" })
        }
        assertEquals(all.take(5).joinToString("\n"), 0, all.size)
    }

    companion object {
        fun esc(s: String): String = buildString {
            append('"')
            s.codePoints().forEach { if (it in 0x21..0x7E) appendCodePoint(it) else append("\\u{%x}".format(it)) }
            append('"')
        }
    }
}
