package dev.edgeport.demo.text

/** A tokenizer as the app uses it: ids for one text (or pair), truncated and padded to the model's length. */
interface TextTokenizer {
    val seqLen: Int

    /** Token ids of [text] without special tokens, truncation or padding. */
    fun tokenize(text: String): List<Int>

    fun encode(text: String, pair: String? = null): Encoding
}

/** A tokenizer model (WordPiece, BPE, Unigram): one pre-tokenized word in, its ids appended to [out]. */
interface TokenModel {
    fun tokenize(word: String, out: MutableList<Int>)
}

/** One added token of tokenizer.json (special or not) and how tokenizers matches it in the text. */
class AddedToken(
    val content: String,
    val id: Int,
    val lstrip: Boolean = false,
    val rstrip: Boolean = false,
    /** Matched in the normalized text (true) or in the raw text before normalization (false). */
    val normalized: Boolean = false,
)

/** A piece of text after added-token extraction: either an added token's [id] or plain [text] (id null). */
class Piece(val text: String, val id: Int?)

/**
 * tokenizers' `AddedVocabulary` split: leftmost-longest matches of the added tokens, non-overlapping, left to
 * right; lstrip/rstrip widen a match over the Rust-whitespace next to it.
 */
class AddedTokens(tokens: List<AddedToken>) {
    // Longest first, so that at one position the longest token wins.
    private val raw = tokens.filter { !it.normalized }.sortedByDescending { it.content.length }
    private val normalizedTokens = tokens.filter { it.normalized }

    /** The normalized-text tokens, their content normalized by [normalizer] (as tokenizers does when it adds them). */
    fun normalizedMatcher(normalizer: TextNormalizer?): AddedTokens = AddedTokens(normalizedTokens.map {
        AddedToken(normalizer?.normalize(it.content) ?: it.content, it.id, it.lstrip, it.rstrip, normalized = false)
    })

    fun split(text: String): List<Piece> {
        if (text.isEmpty()) return emptyList()
        if (raw.isEmpty()) return listOf(Piece(text, null))
        val out = ArrayList<Piece>()
        var startOffset = 0
        var i = 0
        while (i < text.length) {
            val token = raw.firstOrNull { it.content.isNotEmpty() && text.startsWith(it.content, i) }
            if (token == null) {
                i++
                continue
            }
            var start = i
            var stop = i + token.content.length
            if (token.lstrip) {
                var s = start
                while (s > 0 && CharClasses.isWhitespace(text.codePointBefore(s))) s -= Character.charCount(text.codePointBefore(s))
                start = maxOf(s, startOffset)
            }
            if (token.rstrip) {
                while (stop < text.length && CharClasses.isWhitespace(text.codePointAt(stop))) stop += Character.charCount(text.codePointAt(stop))
            }
            if (startOffset < start) out.add(Piece(text.substring(startOffset, start), null))
            out.add(Piece(text.substring(start, stop), token.id))
            startOffset = stop
            i = stop
        }
        if (startOffset < text.length) out.add(Piece(text.substring(startOffset), null))
        return out
    }
}

/**
 * A post-processor as a template (tokenizers' TemplateProcessing; RobertaProcessing and BertProcessing are written
 * as templates by `edgeport android`): special-token ids and the two sequences, each with its type id.
 */
class Template(private val single: List<Item>, private val pair: List<Item>) {
    /** [sequence] is "A" or "B" for a sequence, null for special tokens [ids]. */
    class Item(val sequence: String?, val ids: IntArray, val typeId: Int)

    fun addedTokens(isPair: Boolean): Int = (if (isPair) pair else single).sumOf { if (it.sequence == null) it.ids.size else 0 }

    fun apply(a: List<Int>, b: List<Int>?, ids: MutableList<Int>, types: MutableList<Int>) {
        for (item in if (b == null) single else pair) {
            val part: List<Int> = when (item.sequence) {
                null -> item.ids.toList()
                "A" -> a
                "B" -> b ?: emptyList()
                else -> throw IllegalArgumentException("template: unknown sequence ${item.sequence}")
            }
            ids.addAll(part)
            repeat(part.size) { types.add(item.typeId) }
        }
    }

    companion object {
        fun fromSpec(spec: Map<*, *>): Template {
            fun items(key: String) = (spec[key] as List<*>).map { raw ->
                val m = raw as Map<*, *>
                val ids = (m["special"] as List<*>?)?.map { (it as Double).toInt() }?.toIntArray() ?: IntArray(0)
                Item(m["sequence"] as String?, ids, (m["type_id"] as? Double ?: 0.0).toInt())
            }
            return Template(items("single"), items("pair"))
        }
    }
}

/** tokenizers' LongestFirst truncation, shared by every tokenizer here. */
object Truncation {
    /**
     * Lengths kept for a budget of [max] tokens: if only the longer sequence must shrink it alone is cut, otherwise
     * both get half (the longer one the odd token). Not the slow Python tokenizer's one-token-at-a-time loop, whose
     * results differ on ties.
     */
    fun longestFirst(a: Int, b: Int?, max: Int): Pair<Int, Int> {
        if (b == null) return Pair(minOf(a, maxOf(max, 0)), 0)
        if (a + b <= max) return Pair(a, b)
        val swap = a > b
        var n1 = minOf(a, b)
        var n2: Int = if (n1 > max) n1 else maxOf(n1, max - n1)
        if (n1 + n2 > max) {
            n1 = max / 2
            n2 = n1 + max % 2
        }
        val (ta, tb) = if (swap) Pair(n2, n1) else Pair(n1, n2)
        return Pair(minOf(a, ta), minOf(b, tb))
    }
}

/**
 * The generic Hugging Face pipeline: added tokens taken out of the raw text, the rest normalized, added tokens of
 * the normalized kind taken out, pre-tokenized, and each word run through the [model]; then LongestFirst
 * truncation, the post-processing [template] and right padding with [padId]. With [typeIds] false the model gets
 * zeros as token types (what transformers feeds when the tokenizer does not return token_type_ids).
 */
class PipelineTokenizer(
    override val seqLen: Int,
    private val addedTokens: AddedTokens,
    private val normalizer: TextNormalizer?,
    private val preTokenizer: PreTokenizer?,
    private val model: TokenModel,
    private val template: Template,
    private val padId: Int,
    private val typeIds: Boolean,
) : TextTokenizer {
    private val normalizedAdded = addedTokens.normalizedMatcher(normalizer)

    init {
        require(seqLen >= template.addedTokens(isPair = true)) { "seq_len $seqLen is shorter than the special tokens" }
    }

    override fun tokenize(text: String): List<Int> {
        val ids = ArrayList<Int>()
        for (piece in addedTokens.split(text)) {
            if (piece.id != null) {
                ids.add(piece.id)
                continue
            }
            val normalized = normalizer?.normalize(piece.text) ?: piece.text
            for (inner in normalizedAdded.split(normalized)) {
                if (inner.id != null) {
                    ids.add(inner.id)
                    continue
                }
                val words = preTokenizer?.preTokenize(listOf(inner.text)) ?: listOf(inner.text)
                for (word in words) if (word.isNotEmpty()) model.tokenize(word, ids)
            }
        }
        return ids
    }

    override fun encode(text: String, pair: String?): Encoding {
        val a = tokenize(text)
        // transformers treats an empty text_pair as no pair at all; match what Python feeds the model.
        val b = pair?.takeIf { it.isNotEmpty() }?.let { tokenize(it) }
        val (na, nb) = Truncation.longestFirst(a.size, b?.size, seqLen - template.addedTokens(b != null))
        val ids = ArrayList<Int>(seqLen)
        val types = ArrayList<Int>(seqLen)
        template.apply(a.subList(0, na), b?.subList(0, nb), ids, types)
        val real = ids.size
        return Encoding(
            IntArray(seqLen) { if (it < real) ids[it] else padId },
            IntArray(seqLen) { if (it < real) 1 else 0 },
            IntArray(seqLen) { if (it < real && typeIds) types[it] else 0 },
        )
    }
}

/** Length of [s] in UTF-8 bytes (what Rust's `str::len` counts). */
internal fun utf8Length(s: String): Int {
    var n = 0
    var i = 0
    while (i < s.length) {
        val cp = s.codePointAt(i)
        i += Character.charCount(cp)
        n += when {
            cp < 0x80 -> 1
            cp < 0x800 -> 2
            cp < 0x10000 -> 3
            else -> 4
        }
    }
    return n
}
