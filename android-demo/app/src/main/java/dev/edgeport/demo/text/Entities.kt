package dev.edgeport.demo.text

/** A word of the input text: [text] = `input.substring(start, end)` (UTF-16 indices). */
class Word(val text: String, val start: Int, val end: Int) {
    override fun equals(other: Any?) = other is Word && other.text == text && other.start == start && other.end == end
    override fun hashCode() = (text.hashCode() * 31 + start) * 31 + end
    override fun toString() = "$text@$start-$end"
}

/** A named entity: its [type] (PER, LOC...), `[start, end)` in the input text, that [text], words `[firstWord, endWord)`. */
data class Entity(val type: String, val start: Int, val end: Int, val text: String, val firstWord: Int, val endWord: Int)

/**
 * How a token classifier's output becomes word tags and entities, from labels.json (see [ModelInfo]): the output is
 * every token's tag scores, [1, seq, tags]; a word's tag is read from its first sub-token ([labelsOn]
 * `first_subtoken`) and entities are decoded as strict IOB2 ([scheme]). That is the one reading the app does (and
 * `edgeport.tasks.ner`), so any other is refused rather than shown wrongly.
 */
class TagOutput(val labelsOn: String, val scheme: String) {
    init {
        require(labelsOn == FIRST_SUBTOKEN) { "labels.json: labels_on '$labelsOn' is not one the app reads ('$FIRST_SUBTOKEN')" }
        require(scheme == IOB2) { "labels.json: tag scheme '$scheme' is not one the app decodes ('$IOB2')" }
    }

    companion object {
        const val FIRST_SUBTOKEN = "first_subtoken"
        const val IOB2 = "IOB2"
    }
}

/**
 * Token classification post-processing, as `edgeport.tasks.ner` does it in Python (golden-tested against it):
 * per-token logits -> one tag per word, read from the word's first sub-token (the token the model was trained on)
 * -> entities decoded as strict IOB2 (seqeval's `mode="strict"`): an entity is a `B-X` and every `I-X` right after
 * it; an `I-X` that does not continue an X entity starts nothing, so the app shows exactly the entities the
 * model's F1 counted.
 */
object Entities {
    const val OUTSIDE = "O"

    /**
     * The tag of each of [numWords] words: arg-max of the logits of the word's first token ([wordIds] gives each
     * token's word, -1 for special tokens and padding). A word with no token (truncated away) is "O".
     */
    fun wordTags(logits: Array<FloatArray>, tagNames: List<String>, wordIds: IntArray, numWords: Int): List<String> {
        require(logits.size >= wordIds.size) { "logits for ${logits.size} tokens but ${wordIds.size} word ids" }
        tagNames.forEach { splitTag(it) }
        val tags = MutableList(numWords) { OUTSIDE }
        val seen = BooleanArray(numWords)
        for ((i, w) in wordIds.withIndex()) {
            if (w < 0) continue
            require(w < numWords) { "word id $w at token $i but $numWords words" }
            if (seen[w]) continue
            require(logits[i].size == tagNames.size) {
                "the model gives ${logits[i].size} scores per token but there are ${tagNames.size} tag names"
            }
            seen[w] = true
            tags[w] = tagNames[Postprocess.argmax(logits[i])]
        }
        return tags
    }

    /** (type, first word, end word) of each entity in IOB2 [tags], strict reading (see the class comment). */
    fun decode(tags: List<String>): List<Triple<String, Int, Int>> {
        val out = ArrayList<Triple<String, Int, Int>>()
        var type: String? = null
        var start = 0
        for ((i, tag) in tags.withIndex()) {
            val (prefix, kind) = splitTag(tag)
            if (type != null && (prefix != "I" || kind != type)) {
                out.add(Triple(type, start, i))
                type = null
            }
            if (prefix == "B") {
                type = kind
                start = i
            }
        }
        if (type != null) out.add(Triple(type, start, tags.size))
        return out
    }

    /** The entities of [text] whose [words] got [tags] (one per word). */
    fun entities(text: String, words: List<Word>, tags: List<String>): List<Entity> {
        require(words.size == tags.size) { "${words.size} words but ${tags.size} tags" }
        return decode(tags).map { (type, i, j) ->
            val start = words[i].start
            val end = words[j - 1].end
            Entity(type, start, end, text.substring(start, end), i, j)
        }
    }

    /** Words and their places in `words.joinToString(" ")`, how a sentence given as words is shown. */
    fun wordSpans(words: List<String>): List<Word> {
        var start = 0
        return words.map { w -> Word(w, start, start + w.length).also { start += w.length + 1 } }
    }

    /** The whole path for one input: the text's [words], the tokenizer's [encoding] of them, the model's [logits]. */
    fun fromLogits(text: String, words: List<Word>, encoding: WordEncoding, logits: Array<FloatArray>,
                   tagNames: List<String>): List<Entity> =
        entities(text, words, wordTags(logits, tagNames, encoding.wordIds, words.size))

    /**
     * The tag scores of each token a model ran on, from its output [1, bucket, tags] read flat (as LiteRT reads it;
     * a length-bucketed model outputs only its bucket's positions).
     */
    fun tokenRows(values: FloatArray, numTags: Int): Array<FloatArray> {
        require(numTags > 0 && values.isNotEmpty() && values.size % numTags == 0) {
            "the model output has ${values.size} values: not [1, seq, $numTags] for $numTags tag names"
        }
        return Array(values.size / numTags) { values.copyOfRange(it * numTags, (it + 1) * numTags) }
    }

    /**
     * [wordTags] from a model's flat output on an encoding whose token words are [wordIds] (padded to the model's
     * seq_len with -1): the output covers the bucket the model ran on, which holds every real token.
     */
    fun wordTagsFromOutput(values: FloatArray, tagNames: List<String>, wordIds: IntArray, numWords: Int): List<String> {
        val rows = tokenRows(values, tagNames.size)
        require((rows.size until wordIds.size).all { wordIds[it] < 0 }) {
            "the model output covers ${rows.size} tokens but the text has more"
        }
        return wordTags(rows, tagNames, IntArray(rows.size) { if (it < wordIds.size) wordIds[it] else -1 }, numWords)
    }

    /**
     * The tokenizer of the entity path: BERT's WordPiece, whose [BertTokenizer.words] are the words Python's
     * pre-tokenizer gives (`edgeport android` refuses a token classifier with another tokenizer).
     */
    fun wordTokenizer(tokenizer: TextTokenizer): BertTokenizer = tokenizer as? BertTokenizer
        ?: throw IllegalArgumentException("the entity mode splits words as BERT's WordPiece tokenizer does; this " +
            "model's tokenizer is a ${tokenizer.javaClass.simpleName}")

    /**
     * An entity of [text] as `edgeport.tasks.ner.entities` writes it, `{type, start, end, text, words: [i, j]}`, its
     * span in Python's characters (code points) made UTF-16 indices ([utf16]).
     */
    fun parse(m: Map<*, *>, text: String): Entity {
        val words = m["words"] as List<*>
        return Entity(m["type"] as String, utf16(text, (m["start"] as Double).toInt()), utf16(text, (m["end"] as Double).toInt()),
            m["text"] as String, (words[0] as Double).toInt(), (words[1] as Double).toInt())
    }

    /**
     * The UTF-16 index of [text]'s code point [codePoint]: Python counts a character outside the BMP (an emoji) as
     * one, a Kotlin String as two, so Python's spans are converted before they are compared or cut with substring.
     */
    fun utf16(text: String, codePoint: Int): Int = text.offsetByCodePoints(0, codePoint)

    /** [utf16] the other way: the span Python (and `edgeport predict`) would give for a UTF-16 index. */
    fun codePoints(text: String, utf16: Int): Int = text.codePointCount(0, utf16)

    /** "B-PER" -> ("B", "PER"), "O" -> ("O", null); anything else is not an IOB2 tag and is refused. */
    fun splitTag(tag: String): Pair<String, String?> {
        if (tag == OUTSIDE) return Pair(OUTSIDE, null)
        val dash = tag.indexOf('-')
        require(dash == 1 && tag[0] in "BI" && tag.length > 2) { "tag '$tag' is not O, B-TYPE or I-TYPE (IOB2)" }
        return Pair(tag.substring(0, 1), tag.substring(2))
    }
}
