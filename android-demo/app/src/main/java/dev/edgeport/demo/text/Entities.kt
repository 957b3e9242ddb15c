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

    /** "B-PER" -> ("B", "PER"), "O" -> ("O", null); anything else is not an IOB2 tag and is refused. */
    fun splitTag(tag: String): Pair<String, String?> {
        if (tag == OUTSIDE) return Pair(OUTSIDE, null)
        val dash = tag.indexOf('-')
        require(dash == 1 && tag[0] in "BI" && tag.length > 2) { "tag '$tag' is not O, B-TYPE or I-TYPE (IOB2)" }
        return Pair(tag.substring(0, 1), tag.substring(2))
    }
}
