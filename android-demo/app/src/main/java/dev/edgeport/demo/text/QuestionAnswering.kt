package dev.edgeport.demo.text

/**
 * How a question-answering model's output is read (labels.json of a `question-answering` model, written by
 * `edgeport android`): [outputs] names the start and end logits in the order the classifier returns them, one flat
 * array: the bucket's start logits, then its end logits ([split]); [nBest] and [maxAnswerLen] are [Spans.bestSpan]'s
 * (edgeport.tasks.squad.best_span's defaults, as the pipeline measured the model); [docStride] is the stride of the
 * windows the model was trained on: a question that leaves the paragraph no more tokens than it is refused, as
 * `squad.windows` refuses it in Python.
 */
class SpanOutput(
    val outputs: List<String>,
    val nBest: Int = Spans.N_BEST,
    val maxAnswerLen: Int = Spans.MAX_ANSWER_LEN,
    val docStride: Int,
) {
    init {
        require(outputs.size == 2) { "labels.json: a question-answering model has two outputs (start and end logits), got $outputs" }
        require(nBest >= 1 && maxAnswerLen >= 1 && docStride >= 0) {
            "labels.json: n_best $nBest and max_answer_len $maxAnswerLen must be at least 1, doc_stride $docStride at least 0"
        }
    }

    /** The start and end logits of one flat output ([outputs] in order, each of the bucket's length). */
    fun split(output: FloatArray): Pair<FloatArray, FloatArray> {
        require(output.isNotEmpty() && output.size % 2 == 0) {
            "model output has ${output.size} values: not the start and end logits of one window (${outputs.joinToString()})"
        }
        val n = output.size / 2
        return Pair(output.copyOfRange(0, n), output.copyOfRange(n, output.size))
    }

    override fun toString() = "${outputs.joinToString(" + ")}, n_best $nBest, max_answer_len $maxAnswerLen"
}

/**
 * One window of question + paragraph as the model reads it: [encoding] (`[CLS] question [SEP] paragraph [SEP]`,
 * padded), [offsets] (per position, the paragraph characters of a paragraph token, UTF-16 indices; null on the
 * question, special tokens and padding), and how much of the paragraph it holds: [contextTokens] of its
 * [totalContextTokens] tokens, up to character [readTo].
 */
class QaWindow(
    val encoding: Encoding,
    val offsets: List<CharSpan?>,
    val contextTokens: Int,
    val totalContextTokens: Int,
    val readTo: Int,
) {
    /** Whether the paragraph was cut: its tokens past the window were not read. */
    val truncated: Boolean get() = contextTokens < totalContextTokens
}

/**
 * The app's question + paragraph window: the *first* window of `edgeport.tasks.squad.windows` (the app runs one
 * window per question; a paragraph longer than the window is cut, and the screen says so, where the pipeline and
 * `edgeport predict` read the rest in further windows). Same ids, token types and per-token character offsets as
 * Python's (golden-tested: QaWindowsTest), for BERT's WordPiece tokenizer, whose offsets the app reproduces.
 */
object QaWindows {
    /** The tokenizer the window needs: BERT's WordPiece (the one whose character offsets the app computes). */
    fun wordPiece(tokenizer: TextTokenizer): BertTokenizer = tokenizer as? BertTokenizer
        ?: throw IllegalArgumentException("the question-answering mode reads character offsets the way BERT's WordPiece " +
            "tokenizer gives them; this model's tokenizer is a ${tokenizer.javaClass.simpleName}")

    /**
     * [question] (leading whitespace stripped, as Python's `str.lstrip`) and as many tokens of [context] as fit in
     * the tokenizer's length, truncating only the context (`only_second`). A question that leaves the context no
     * more than [stride] tokens is refused (Python refuses it too, naming the question).
     */
    fun build(tokenizer: BertTokenizer, question: String, context: String, stride: Int): QaWindow {
        require(question.isNotBlank()) { "type a question" }
        require(context.isNotBlank()) { "type the paragraph that holds the answer" }
        val q = tokenizer.tokenize(lstrip(question))
        val room = tokenizer.seqLen - 3 - q.size
        require(room > stride) {
            "the question is ${q.size} tokens long: a window of ${tokenizer.seqLen} tokens leaves $room for the paragraph, " +
                "not more than the stride $stride; ask a shorter question"
        }
        val all = tokenizer.tokenSpans(context)
        val kept = all.take(room)
        val first = q.size + 2 // [CLS] question [SEP]
        val offsets = List(tokenizer.seqLen) { i -> if (i < first) null else kept.getOrNull(i - first)?.let { CharSpan(it.start, it.end) } }
        return QaWindow(tokenizer.encodeCut(q, kept.map { it.id }), offsets, kept.size, all.size, kept.lastOrNull()?.end ?: 0)
    }

    /** Python's `str.lstrip()`: leading characters `str.isspace` holds true for. */
    fun lstrip(s: String): String {
        var i = 0
        while (i < s.length && isPythonSpace(s[i])) i++
        return s.substring(i)
    }

    /** `str.isspace` for one UTF-16 unit (every such character is in the BMP). */
    fun isPythonSpace(c: Char): Boolean =
        c in '\t'..'\r' || c in '\u001c'..'\u001f' || c == ' ' || c == '\u0085' || c == '\u00a0' || c == '\u1680' ||
            c in '\u2000'..'\u200a' || c == '\u2028' || c == '\u2029' || c == '\u202f' || c == '\u205f' || c == '\u3000'
}

/**
 * What the answer screen shows: the paragraph [text] with the [answer]'s characters highlighted (null: no valid
 * span) and, when the window cut the paragraph, its unread tail ([unread]) dimmed. UTF-16 indices, as Android's
 * spans take them.
 */
data class Highlight(val text: String, val answer: CharSpan?, val unread: CharSpan?) {
    companion object {
        fun of(context: String, answer: AnswerSpan?, window: QaWindow) = Highlight(
            context,
            answer?.let { CharSpan(it.start, it.end) },
            if (window.truncated && window.readTo < context.length) CharSpan(window.readTo, context.length) else null,
        )
    }
}
