package dev.edgeport.demo.text

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

/** Small hand-checked cases of the BPE and Unigram pipelines and their parts (no golden files needed). */
class FamilyUnitTest {
    private fun ids(model: TokenModel, word: String) = ArrayList<Int>().also { model.tokenize(word, it) }

    @Test fun bpeMergesLowestRankFirst() {
        val vocab = listOf("a", "b", "c", "ab", "bc")
        assertEquals(listOf(0, 4), ids(Bpe(vocab, listOf("b" to "c", "a" to "b")), "abc"))  // (b c) ranks first
        assertEquals(listOf(3, 2), ids(Bpe(vocab, listOf("a" to "b", "b" to "c")), "abc"))  // (a b) ranks first
    }

    @Test fun bpeEqualRanksGoLeftFirst() {
        val bpe = Bpe(listOf("a", "aa"), listOf("a" to "a"))
        assertEquals(listOf(1, 0), ids(bpe, "aaa"))
        assertEquals(listOf(1, 1), ids(bpe, "aaaa"))
    }

    @Test fun bpeUnknownCharacters() {
        val vocab = listOf("<unk>", "a", "<0x78>", "<0x79>")
        assertEquals(listOf(1, 1), ids(Bpe(vocab, emptyList()), "axa"))  // no unk token: dropped, as in Rust
        assertEquals(listOf(1, 0, 0, 1), ids(Bpe(vocab, emptyList(), unkToken = "<unk>"), "azza"))
        assertEquals(listOf(1, 0, 1), ids(Bpe(vocab, emptyList(), unkToken = "<unk>", fuseUnk = true), "azza"))
        assertEquals(listOf(2, 3, 0), ids(Bpe(vocab, emptyList(), unkToken = "<unk>", byteFallback = true), "xyz"))
    }

    @Test fun byteLevelAlphabet() {
        assertEquals("\u0120caf\u00c3\u00a9", ByteLevelAlphabet.encode(" café"))
        assertEquals("\u010a\u0109", ByteLevelAlphabet.encode("\n\t"))
    }

    @Test fun gpt2RegexSplit() {
        val re = OnigRegex.compile(PreTokenizers.GPT2_PATTERN)
        assertEquals(listOf("Hello", " ", " world", "'s", " 123", "!!", " \u00e9t\u00e9"),
            PreTokenizers.isolated(re, "Hello  world's 123!! \u00e9t\u00e9"))
        assertEquals(listOf("don", "'t", "  ", " stop", "\n"), PreTokenizers.isolated(re, "don't   stop\n"))
    }

    @Test fun onigTranslationRefusesUnmeasuredClasses() {
        for (p in listOf("""\w+""", """\p{Lu}""", """(?i)abc""", """\d""")) {
            try {
                OnigRegex.compile(p)
                throw AssertionError("accepted $p")
            } catch (e: IllegalArgumentException) {
                // expected
            }
        }
        assertEquals("a b", Normalizers.Replace.regex("""\s{2,}|[\n\r\t]""", " ").normalize("a \t\n b"))
    }

    @Test fun metaspaceCutsBeforeEachReplacement() {
        val m = PreTokenizers.Metaspace("\u2581", prepend = true, split = true)
        assertEquals(listOf("\u2581Hello", "\u2581", "\u2581world"), m.preTokenize(listOf("Hello  world")))
        assertEquals(listOf("\u2581", "\u2581x"), m.preTokenize(listOf("  x"))) // starts with \u2581: nothing prepended
        assertEquals(listOf("\u2581x", "\u2581"), m.preTokenize(listOf("\u2581x ")))
        assertEquals(listOf("ab"), PreTokenizers.Metaspace("\u2581", prepend = false, split = true).preTokenize(listOf("ab")))
    }

    @Test fun unigramViterbiAndUnknowns() {
        val u = Unigram(listOf("<unk>" to 0.0, "a" to -1.0, "b" to -1.0, "ab" to -1.5, "abc" to -5.0, "c" to -2.0), unkId = 0)
        assertEquals(listOf("ab"), u.encode("ab"))                 // -1.5 beats -2
        assertEquals(listOf("ab", "c"), u.encode("abc"))            // -3.5 beats -5
        assertEquals(listOf("a", "xy", "b"), u.encode("axyb"))      // unknown run fused
        assertEquals(listOf(1, 0, 2), ids(u, "axyb"))
    }

    @Test fun unigramTiesKeepTheShorterFirstCandidate() {
        val u = Unigram(listOf("<unk>" to 0.0, "a" to -1.0, "b" to -1.0, "ab" to -2.0), unkId = 0)
        assertEquals(listOf("ab"), u.encode("ab")) // a+b = -2 does not beat ab = -2, found first
    }

    @Test fun unigramByteFallback() {
        val u = Unigram(listOf("<unk>" to 0.0, "a" to -1.0, "<0xC3>" to -5.0, "<0xA9>" to -5.0), unkId = 0, byteFallback = true)
        assertEquals(listOf(1, 2, 3, 1), ids(u, "a\u00e9a"))
    }

    @Test fun addedTokensStripWhitespaceWhenAsked() {
        val added = AddedTokens(listOf(AddedToken("<mask>", 9, lstrip = true), AddedToken("<s>", 0)))
        val pieces = added.split("a   <mask> b<s>")
        assertEquals(listOf("a", "   <mask>", " b", "<s>"), pieces.map { it.text })
        assertEquals(listOf(null, 9, null, 0), pieces.map { it.id })
    }

    @Test fun robertaTemplateAndPadding() {
        val vocab = listOf("<s>", "<pad>", "</s>", "a", "b")
        val template = Template(
            listOf(Template.Item(null, intArrayOf(0), 0), Template.Item("A", IntArray(0), 0), Template.Item(null, intArrayOf(2), 0)),
            listOf(Template.Item(null, intArrayOf(0), 0), Template.Item("A", IntArray(0), 0), Template.Item(null, intArrayOf(2), 0),
                Template.Item(null, intArrayOf(2), 0), Template.Item("B", IntArray(0), 1), Template.Item(null, intArrayOf(2), 1)),
        )
        val tok = PipelineTokenizer(9, AddedTokens(emptyList()), null, null, Bpe(vocab, emptyList()), template, 1, typeIds = false)
        val e = tok.encode("a", "b")
        assertArrayEquals(intArrayOf(0, 3, 2, 2, 4, 2, 1, 1, 1), e.inputIds)
        assertArrayEquals(IntArray(9), e.tokenTypeIds) // not returned by the Python tokenizer: zeros
        val typed = PipelineTokenizer(9, AddedTokens(emptyList()), null, null, Bpe(vocab, emptyList()), template, 1, typeIds = true)
        assertArrayEquals(intArrayOf(0, 0, 0, 0, 1, 1, 0, 0, 0), typed.encode("a", "b").tokenTypeIds)
        assertArrayEquals(intArrayOf(0, 3, 2, 1, 1, 1, 1, 1, 1), tok.encode("a", "").inputIds) // empty pair == no pair
    }

    @Test fun normalizationForms() {
        assertEquals("\u00e9", UnicodeNorm.nfc("e\u0301"))
        assertEquals("\uac01", UnicodeNorm.nfc("\u1100\u1161\u11a8"))
        assertEquals("e\u0323\u0302", UnicodeNorm.nfd("e\u0302\u0323"))           // canonical reordering
        assertEquals("\u1ec7", UnicodeNorm.nfc("e\u0302\u0323"))                 // ...then composition
        assertEquals("\u0915\u093c", UnicodeNorm.nfc("\u0958"))                   // composition exclusion
        assertEquals("fi", UnicodeNorm.nfkc("\ufb01"))
        assertEquals("A", Normalizers.Strip(left = true, right = true).normalize(" \u3000A\u2003\n"))
    }

    @Test fun graphemeClusters() {
        assertEquals(listOf("e\u0301", "\r\n", "\u0600a", "x"), Graphemes.clusters("e\u0301\r\n\u0600ax"))
        assertEquals(listOf("\n", "\u0301"), Graphemes.clusters("\n\u0301"))
    }
}
