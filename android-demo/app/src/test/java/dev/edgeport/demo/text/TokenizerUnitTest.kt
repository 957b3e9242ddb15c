package dev.edgeport.demo.text

import org.junit.Assert.assertEquals
import org.junit.Assert.assertArrayEquals
import org.junit.Test

/** Small hand-checked cases that do not need the golden files (vocab of a few tokens). */
class TokenizerUnitTest {
    private val vocab = Vocab(listOf("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "cafe", ",", "hello", "x"))
    private val tok = BertTokenizer(vocab, 10)

    @Test fun wordPieceGreedyLongestMatch() = assertEquals(listOf(5, 6, 7), tok.tokenize("unaffable"))
    @Test fun unknownPieceMakesWholeWordUnk() = assertEquals(listOf(1), tok.tokenize("unaffablez"))
    @Test fun accentsStrippedAndLowercased() = assertEquals(listOf(8, 9, 10), tok.tokenize("CAFÉ,Hello"))
    @Test fun specialTokensKeptWhole() = assertEquals(listOf(10, 2, 10, 4), tok.tokenize("hello[CLS]hello [MASK]"))
    @Test fun controlAndZeroWidthRemoved() = assertEquals(listOf(10), tok.tokenize("hel\u200blo\u0000"))

    @Test fun overLongWordIsUnk() {
        val long = WordPiece(Vocab(listOf("[UNK]", "x", "##x")))
        val out = ArrayList<Int>()
        long.tokenize("x".repeat(101), out)
        assertEquals(listOf(0), out)
    }

    @Test fun pairLayoutAndPadding() {
        val e = tok.encode("hello", "x")
        assertArrayEquals(intArrayOf(2, 10, 3, 11, 3, 0, 0, 0, 0, 0), e.inputIds)
        assertArrayEquals(intArrayOf(1, 1, 1, 1, 1, 0, 0, 0, 0, 0), e.attentionMask)
        assertArrayEquals(intArrayOf(0, 0, 0, 1, 1, 0, 0, 0, 0, 0), e.tokenTypeIds)
    }

    @Test fun emptyPairIsNoPair() = assertArrayEquals(tok.encode("hello").inputIds, tok.encode("hello", "").inputIds)

    @Test fun longestFirstTruncation() {
        assertEquals(Pair(3, 9), BertTokenizer.truncatedLengths(3, 200, 12))   // only the longer one is cut
        assertEquals(Pair(6, 6), BertTokenizer.truncatedLengths(10, 10, 12))  // both halved
        assertEquals(Pair(6, 7), BertTokenizer.truncatedLengths(10, 10, 13))  // the odd token goes to the second
        assertEquals(Pair(7, 6), BertTokenizer.truncatedLengths(11, 10, 13))  // ...or to the longer first
        assertEquals(Pair(4, 5), BertTokenizer.truncatedLengths(4, 5, 12))    // fits: untouched
    }

    @Test fun preTokenizerSplitsPunctuation() =
        assertEquals(listOf("a", ",", "b", "!", "c"), BertTokenizer.preTokenize("a, b!c"))
}
