"""Extractive question answering (SQuAD v1.1): the pure building blocks the pipeline stages will be wired from.

Reading SQuAD-format JSON, question + context windows with token labels and character offsets, the best answer
span from start/end logits, and the official v1.1 exact-match / F1 metric. Nothing here trains or loads a model;
every function takes plain Python/numpy values (and a Hugging Face fast tokenizer where tokens are needed), so each
piece is tested on its own (tests/test_squad.py); the app's Kotlin twin of ``best_span`` is ``text/Spans.kt``.

Conventions, one per concern:

* **Examples are flat** (``read_squad``): one ``Example`` per question with its paragraph's context and every gold
  answer (text + character start). A malformed file is a ``DataError`` naming the file, the record
  (``data[a].paragraphs[p].qas[q]`` and the question id) and what is wrong.
* **Answer offsets**: for evaluation (``training=False``, the default) every answer must sit at its
  ``answer_start`` (``context[start:start + len(text)] == text``), else the file is refused: the metric reads the
  texts only, but a wrong offset means the file is not what it claims to be. For training (``training=True``) an
  answer not at its offset but present elsewhere in the context is moved to the occurrence nearest the given offset
  (the offset is the only evidence of which occurrence was meant; an off-by-a-few offset is the usual fault), and
  the example counts it in ``moved_answers`` for the caller to report; an answer absent from the context is still
  refused. The rebuilt train file in shared/data/squad has every answer at its offset, but ~2% of those offsets
  point at an identical string elsewhere in the context (its README): that cannot be detected here and is
  tolerated for training (the label still covers the answer's words), never used for evaluation.
* **Windows** (``windows``): the question and the context are tokenised as a pair with the context truncated and
  split into overlapping windows (``truncation="only_second"``, ``stride`` tokens of overlap), padded to
  ``max_len``, as in the Hugging Face QA examples. ``offsets`` keep each context token's character span and are
  None on every other token (question, special, padding), so a span can only be read from the context. Training
  labels are the first answer's first and last token; a window that does not hold the whole answer is labelled
  "no answer" with both positions on the CLS token (index 0 for BERT-like tokenizers). A tokenizer whose
  ``padding_side`` is "left" takes the context first and the question second (the HF examples' convention, e.g.
  XLNet); the same code handles both orders. A question so long that a window has no more room for the context
  than the stride is refused, naming the question, rather than truncated.
* **The best span** (``best_span``) is searched over every window of an example: the ``n_best`` highest start and
  end logits of each window, kept when start <= end, both are context tokens and the span has at most
  ``max_answer_len`` tokens; the score is start logit + end logit (float64) and the answer text is cut from the
  context at the tokens' character offsets. Ties go to the earliest (window, start, end), so the Kotlin twin picks
  the same span. No valid span gives None (the official script then scores the question 0).
* **The metric** (``squad_scores``) is the official evaluate-v1.1.py: ``normalize_answer`` (lower case, drop
  ASCII punctuation, drop the articles a/an/the, collapse whitespace), exact match and token F1 taken as the max
  over the gold answers, averaged over every question of the file x100; a question without a prediction scores 0
  and is counted in ``missing``. It is written out here (twenty lines) rather than imported: Hugging Face
  ``evaluate``'s "squad" metric wraps this same script, but it is not installed here and loads the metric's code
  from the hub at run time (nothing can be fetched on these machines); ``datasets`` no longer ships metrics; the
  official script is no package. tests/test_squad.py checks it on hand cases worked through the official code.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import DataError, ModelError

INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# ------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Example:
    """One question: its paragraph's context and every gold answer (texts and character starts, same order)."""

    id: str
    title: str
    context: str
    question: str
    answer_texts: tuple[str, ...]
    answer_starts: tuple[int, ...]
    moved_answers: int = 0  # training only: answers moved to another occurrence of their text (module docstring)


def read_squad(path, training: bool = False) -> list[Example]:
    """The questions of a SQuAD-v1.1-format JSON file (``{"data": [{"title", "paragraphs": [{"context", "qas":
    [{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}``), in file order.

    ``training``: how an answer not at its ``answer_start`` is treated (moved or refused; module docstring). Every
    unusable record is a ``DataError`` naming the file, the record and what to change."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give a SQuAD v1.1 JSON file")
    try:
        root = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); give a SQuAD v1.1 JSON "
                        f"file") from None
    if not isinstance(root, dict) or not isinstance(root.get("data"), list):
        raise DataError(f"{path}: no 'data' list at the top; a SQuAD v1.1 file is {{\"data\": [articles]}}")
    examples, seen = [], {}
    for a, article in enumerate(root["data"]):
        where = f"{path}: data[{a}]"
        paragraphs = _field(where, article, "paragraphs", list)
        title = article.get("title", "")
        if not isinstance(title, str):
            raise DataError(f"{where}: 'title' is a {type(title).__name__}, not a string")
        for p, paragraph in enumerate(paragraphs):
            examples.extend(_paragraph(path, f"data[{a}].paragraphs[{p}]", paragraph, title, training, seen))
    if not examples:
        raise DataError(f"{path}: no questions; the file holds no data[].paragraphs[].qas[] entries")
    return examples


def _field(where: str, record, key: str, kind: type):
    """``record[key]``, which must exist and be a ``kind``."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if key not in record:
        raise DataError(f"{where}: no '{key}' key (keys: {', '.join(map(str, record)) or 'none'})")
    value = record[key]
    # bool is an int subclass: a true/false answer_start is a mistake, not an offset
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataError(f"{where}: '{key}' is a {type(value).__name__}, not a {kind.__name__}")
    return value


def _paragraph(path: Path, record: str, paragraph, title: str, training: bool, seen: dict) -> list[Example]:
    where = f"{path}: {record}"
    context = _field(where, paragraph, "context", str)
    if not context.strip():
        raise DataError(f"{where}: 'context' is empty; every paragraph needs the text its answers come from")
    out = []
    for q, qa in enumerate(_field(where, paragraph, "qas", list)):
        qrecord = f"{record}.qas[{q}]"
        qwhere = f"{path}: {qrecord}"
        qid = _field(qwhere, qa, "id", str)
        qwhere += f" (id {qid!r})"
        if not qid:
            raise DataError(f"{qwhere}: 'id' is empty; every question needs a unique id")
        if qid in seen:
            raise DataError(f"{qwhere}: id {qid!r} is already used by {seen[qid]}; ids must be unique (predictions "
                            f"are keyed by id)")
        seen[qid] = qrecord
        question = _field(qwhere, qa, "question", str)
        if not question.strip():
            raise DataError(f"{qwhere}: 'question' is empty")
        if qa.get("is_impossible"):
            raise DataError(f"{qwhere}: an unanswerable question (SQuAD v2's is_impossible); only SQuAD v1.1, where "
                            f"every question has an answer in its context, is supported")
        answers = _field(qwhere, qa, "answers", list)
        if not answers:
            raise DataError(f"{qwhere}: 'answers' is empty; SQuAD v1.1 gives every question at least one answer")
        texts, starts, moved = [], [], 0
        for n, answer in enumerate(answers):
            text, start, was_moved = _answer(f"{qwhere}.answers[{n}]", answer, context, training)
            texts.append(text)
            starts.append(start)
            moved += was_moved
        out.append(Example(qid, title, context, question, tuple(texts), tuple(starts), moved))
    return out


def _answer(where: str, answer, context: str, training: bool) -> tuple[str, int, bool]:
    """(text, start, moved) of one answer, checked against the context (module docstring: answer offsets)."""
    text = _field(where, answer, "text", str)
    start = _field(where, answer, "answer_start", int)
    if not text.strip():
        raise DataError(f"{where}: 'text' is empty; an answer is a non-empty span of the context")
    if 0 <= start and context[start:start + len(text)] == text:
        return text, start, False
    # every occurrence, overlapping ones too ("aa" in "aaa"), so that the nearest one is found
    found = [i for i in range(len(context)) if context.startswith(text, i)]
    if 0 <= start <= len(context):
        at = f"'answer_start' {start} holds {context[start:start + len(text)]!r}, not the answer {text!r}"
    else:
        at = f"'answer_start' {start} is outside the context ({len(context)} characters)"
    if not found:
        raise DataError(f"{where}: {at}, and the text occurs nowhere in the context; fix the answer text")
    if not training:
        raise DataError(f"{where}: {at}; it occurs at {', '.join(map(str, found[:5]))} in the context. Evaluation "
                        f"data must have exact offsets: fix 'answer_start'")
    return text, min(found, key=lambda i: (abs(i - start), i)), True


# ------------------------------------------------------------------------------------------ windows


def question_first(tokenizer) -> bool:
    """True when the question is the first sequence of the pair (``padding_side`` "right", BERT-like); False for a
    tokenizer that pads on the left, which takes the context first (the Hugging Face QA examples' convention)."""
    side = getattr(tokenizer, "padding_side", "right")
    if side not in ("right", "left"):
        raise ModelError(f"{type(tokenizer).__name__} has padding_side {side!r}; expected 'right' or 'left'")
    return side == "right"


def windows(tokenizer, examples: Sequence[Example], max_len: int, stride: int, labels: bool = True,
            batch: int = 1000) -> dict:
    """Every example's question + context as windows of ``max_len`` tokens (padded), overlapping by ``stride``
    tokens of context.

    Returns lists with one entry per window: ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the
    tokenizer gives them), ``offsets`` (each token's (start, end) characters in the context, None on non-context
    tokens), ``example_index`` (into ``examples``), ``example_id`` and, with ``labels``, ``start_positions`` /
    ``end_positions`` (the first answer's first and last token, or the CLS index when the window does not hold the
    whole answer) and ``has_answer``."""
    _check_window_args(tokenizer, max_len, stride)
    out: dict[str, list] = {}
    for first in range(0, len(examples), batch):
        part = examples[first:first + batch]
        _check_room(tokenizer, part, max_len, stride)
        for key, values in _windows(tokenizer, part, first, max_len, stride, labels).items():
            out.setdefault(key, []).extend(values)
    return out


@dataclass(frozen=True)
class Windows:
    """A split's windows as a model reads them: ``rows`` (inputs cut to their real tokens, with the labels when
    asked), each window's context ``offsets`` (cut alike; None off the context) and the question it belongs to."""

    rows: list[dict]
    offsets: list[list]
    example_index: list[int]

    def with_answer(self) -> int:
        """Training windows that hold their question's whole answer (the others are labelled on CLS)."""
        return sum(1 for r in self.rows if r["has_answer"])


def split_windows(split, tokenizer, max_len: int, stride: int, labels: bool = False) -> Windows:
    """Every question of ``split`` as windows (``squad.windows``), each cut to its attention mask: the windows are
    padded to ``max_len`` there, and most SQuAD contexts need far fewer tokens."""
    w = windows(tokenizer, split.examples, max_len, stride, labels=labels)
    rows, offsets = [], []
    for i, mask in enumerate(w["attention_mask"]):
        real = [j for j, m in enumerate(mask) if m]  # one block: padding is all on one side
        first, end = real[0], real[-1] + 1
        row = {k: w[k][i][first:end] for k in INPUTS if k in w}
        if labels:  # positions move with the cut (a left-padding tokenizer's real tokens start after the padding)
            row |= {"start_positions": w["start_positions"][i] - first, "end_positions": w["end_positions"][i] - first,
                    "has_answer": w["has_answer"][i]}
        rows.append(row)
        offsets.append(w["offsets"][i][first:end])
    return Windows(rows, offsets, list(w["example_index"]))


def _check_window_args(tokenizer, max_len: int, stride: int) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"{type(tokenizer).__name__} is a slow tokenizer: it has no character offsets; load the "
                         f"fast (tokenizers-backed) one")
    if tokenizer.cls_token_id is None:
        raise ModelError(f"{type(tokenizer).__name__} has no CLS token, where a window without the answer is "
                         f"labelled; question answering needs one")
    if not 0 <= stride < max_len:
        raise DataError(f"stride {stride} must be at least 0 and below max_len {max_len} (it is the overlap of two "
                        f"windows, in tokens)")


def _check_room(tokenizer, examples: Sequence[Example], max_len: int, stride: int) -> None:
    """Refuse a question that leaves a window no more context tokens than the stride: the tokenizer would fail with
    an unclear error (or step one token at a time), and cutting the question would change what is asked."""
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    lengths = tokenizer([e.question.lstrip() for e in examples], add_special_tokens=False)["input_ids"]
    for e, ids in zip(examples, lengths):
        room = max_len - specials - len(ids)
        if room <= stride:
            raise DataError(f"question {e.id!r} is {len(ids)} tokens long: a window of {max_len} tokens leaves "
                            f"{room} for the context, not more than the stride {stride}; raise max_len or lower the "
                            f"stride")


def _windows(tokenizer, examples: Sequence[Example], first: int, max_len: int, stride: int, labels: bool) -> dict:
    q_first = question_first(tokenizer)
    # leading spaces in a question only waste tokens' room (the HF examples strip them too)
    questions = [e.question.lstrip() for e in examples]
    contexts = [e.context for e in examples]
    enc = tokenizer(questions if q_first else contexts, contexts if q_first else questions,
                    truncation="only_second" if q_first else "only_first", max_length=max_len, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")
    context_seq = 1 if q_first else 0
    out = {k: [list(x) for x in enc[k]] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
    out.update(offsets=[], example_index=[], example_id=[])
    if labels:
        out.update(start_positions=[], end_positions=[], has_answer=[])
    for w, sample in enumerate(enc["overflow_to_sample_mapping"]):
        seq_ids = enc.sequence_ids(w)
        offsets = [tuple(o) if s == context_seq else None for o, s in zip(enc["offset_mapping"][w], seq_ids)]
        out["offsets"].append(offsets)
        out["example_index"].append(first + sample)
        out["example_id"].append(examples[sample].id)
        if labels:
            cls = out["input_ids"][w].index(tokenizer.cls_token_id)
            e = examples[sample]
            start, end = answer_tokens(offsets, e.answer_starts[0], e.answer_starts[0] + len(e.answer_texts[0]))
            out["has_answer"].append(start is not None)
            out["start_positions"].append(cls if start is None else start)
            out["end_positions"].append(cls if end is None else end)
    return out


def answer_tokens(offsets: Sequence[tuple[int, int] | None], start_char: int,
                  end_char: int) -> tuple[int | None, int | None]:
    """The first and last token of the characters ``[start_char, end_char)`` in a window (``offsets``: None off the
    context), or (None, None) when the window's context does not cover them all.

    The first token is the last one starting at or before ``start_char``, the last token the first one ending at or
    after ``end_char``: an answer that starts or ends inside a token (``"1990s"`` for the answer ``"1990"``) gets
    the whole token, as the model can only point at tokens."""
    ctx = [i for i, o in enumerate(offsets) if o is not None]
    if not ctx or offsets[ctx[0]][0] > start_char or offsets[ctx[-1]][1] < end_char:
        return None, None
    first = max(i for i in ctx if offsets[i][0] <= start_char)
    last = min(i for i in ctx if offsets[i][1] >= end_char)
    return first, last


# ------------------------------------------------------------------------------------------ best span


def best_span(start_logits, end_logits, offsets: Sequence[Sequence[tuple[int, int] | None]], context: str,
              n_best: int = 20, max_answer_len: int = 30) -> dict | None:
    """The best answer to one example over its windows (module docstring), or None when no candidate is valid.

    ``start_logits``/``end_logits``: ``[windows, seq]`` and ``offsets`` each window's from ``windows``; or, for
    one window, ``[seq]`` logits and that window's offsets. Returns ``{"text", "start", "end", "score", "window",
    "start_token", "end_token"}``, ``start`` and ``end`` in characters of ``context`` (``text ==
    context[start:end]``)."""
    import numpy as np

    if np.ndim(start_logits) == 1:  # one window: its logits [seq] and its offsets
        start_logits, end_logits, offsets = [start_logits], [end_logits], [offsets]
    starts, ends = np.asarray(start_logits), np.asarray(end_logits)
    if starts.ndim != 2 or starts.shape != ends.shape:
        raise ModelError(f"start logits {starts.shape} and end logits {ends.shape}: the model must give both for "
                         f"every token of every window ([windows, seq])")
    if not (np.isfinite(starts).all() and np.isfinite(ends).all()):
        raise ModelError("the start or end logits hold NaN or infinity; the model's output is unusable")
    if len(offsets) != starts.shape[0]:
        raise DataError(f"{len(offsets)} windows of offsets but logits for {starts.shape[0]}")
    if n_best < 1 or max_answer_len < 1:
        raise DataError(f"n_best {n_best} and max_answer_len {max_answer_len} must be at least 1")
    for w, window in enumerate(offsets):
        _check_offsets(w, window, starts.shape[1], len(context))
    best = None
    for score, w, i, j in scored_candidates(starts, ends, offsets, n_best, max_answer_len):
        if best is None or score > best[0]:  # strictly greater: ties keep the earliest (w, i, j)
            best = (score, w, i, j)
    if best is None:
        return None
    score, w, i, j = best
    start, end = offsets[w][i][0], offsets[w][j][1]
    return {"text": context[start:end], "start": start, "end": end, "score": score, "window": w,
            "start_token": i, "end_token": j}


def scored_candidates(starts, ends, offsets, n_best: int = 20, max_answer_len: int = 30):
    """Every valid (score, window, start token, end token) of ``best_span``'s search, window by window in (start,
    end) order; score = start logit + end logit in double. ``best_span`` takes the first of the highest; validate
    reads the runner-up too (how close the question is to a tie)."""
    for w, window in enumerate(offsets):
        for i, j in _candidates(starts[w], ends[w], window, n_best, max_answer_len):
            yield float(starts[w][i]) + float(ends[w][j]), w, i, j


def _check_offsets(w: int, window, seq: int, chars: int) -> None:
    if len(window) > seq:
        raise DataError(f"window {w}: {len(window)} offsets but logits for {seq} tokens")
    for i, o in enumerate(window):
        if o is not None and not (len(o) == 2 and 0 <= o[0] <= o[1] <= chars):
            raise DataError(f"window {w}, token {i}: offsets {o} are not None or a character span (start, end) of "
                            f"the context ({chars} characters)")


def top_indices(logits, n: int) -> list[int]:
    """The ``n`` indices of the largest logits, largest first; equal logits in index order (stable)."""
    import numpy as np

    return [int(i) for i in np.argsort(-np.asarray(logits, dtype=np.float64), kind="stable")[:n]]


def _candidates(starts, ends, window, n_best: int, max_answer_len: int):
    """Valid (start, end) token pairs of one window's n-best starts and ends, in (start, end) order so that the
    first of equal scores is the earliest span."""
    n = len(window)  # logits past the offsets (padding beyond them) are never read
    pairs = []
    for i in top_indices(starts[:n], n_best):
        for j in top_indices(ends[:n], n_best):
            if window[i] is None or window[j] is None:
                continue  # not a context token: question, special or padding
            if j < i or j - i + 1 > max_answer_len:
                continue
            pairs.append((i, j))
    return sorted(pairs)


# ------------------------------------------------------------------------------------------ metric


def normalize_answer(s: str) -> str:
    """The official evaluate-v1.1.py normalisation: lower case, remove ASCII punctuation, remove the words a/an/the,
    collapse whitespace (in that order, as the script does)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


_PUNCTUATION = set(string.punctuation)


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    """Token F1 of the normalised answers; 0 when they share no token (also when either is empty, as in the
    official script, even though two empty answers are an exact match)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def squad_scores(examples: Sequence[Example], predictions: dict[str, str]) -> dict:
    """Exact match and F1 (x100) of ``predictions`` (question id -> answer text) over every question of
    ``examples``, each the max over the question's gold answers; an unanswered question scores 0 and is counted in
    ``missing``. Returns ``{"exact_match", "f1", "total", "missing"}``."""
    if not examples:
        raise DataError("no questions to score")
    em = f = 0.0
    missing = 0
    for e in examples:
        if e.id not in predictions:
            missing += 1
            continue
        em += max(exact_match(predictions[e.id], g) for g in e.answer_texts)
        f += max(f1(predictions[e.id], g) for g in e.answer_texts)
    total = len(examples)
    return {"exact_match": 100.0 * em / total, "f1": 100.0 * f / total, "total": total, "missing": missing}
