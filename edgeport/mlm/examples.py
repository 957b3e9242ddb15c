"""Pre-training examples: documents -> (segment A, segment B or None, sentence-order label) -> token rows.

* A **document** is one task text (or a text + its pair, for sentence-pair tasks) or one corpus line.
* Documents are split into sentences (``split_sentences``: after ``.``, ``!`` or ``?`` and white space, not after an
  ellipsis, an initial or an abbreviation) and packed greedily into chunks of consecutive sentences that fit ``max_seq_len`` tokens with the special tokens;
  a sentence longer than that is a chunk of its own, truncated.
* **Sentence-order prediction** (ALBERT's SOP): a chunk of two or more sentences becomes a pair of consecutive
  segments, A = its first k sentences and B = the rest (k drawn uniformly from 1..m-1); with probability 1/2 the two
  are swapped, and the label says so (0 = in order, 1 = swapped). A sentence pair of a pair task is a pair of
  segments as it is. SOP applies only where a document has two sentences or is a pair: SST-2's rows are single
  sentences or phrases, so on SST-2 nearly every example is MLM-only (``sop_label`` -100).
* Without SOP every chunk is one segment (a pair task's rows are still encoded as pairs).

All random choices come from one ``random.Random(seed)``: every process builds the same examples.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .masking import NO_WORD

IN_ORDER, SWAPPED, NO_SOP = 0, 1, -100
SEGMENT_OFFSET = 1_000_000  # word ids of segment B are offset so the two segments never share one


@dataclass(frozen=True)
class Doc:
    text: str
    pair: str | None = None


@dataclass(frozen=True)
class Example:
    a: str
    b: str | None
    sop_label: int = NO_SOP


SENTENCE_MARK = re.compile(r"[.!?]\s+")
# a period after these (or after a single letter, an ellipsis, or a word with a period inside: "u.s.") ends no sentence
ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "vs", "jr", "sr", "mt", "no", "etc", "inc", "ltd",
                           "co", "corp", "fig", "vol", "approx"})


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: split after ``.``, ``!`` or ``?`` followed by white space, except after an ellipsis,
    a single letter (an initial), a word with a period inside or a common abbreviation."""
    text = text.strip()
    out, start = [], 0
    for m in SENTENCE_MARK.finditer(text):
        i = m.start()
        if text[i] == ".":
            before = text[start:i].split()
            word = before[-1].lower() if before else ""
            if text[max(0, i - 2):i] == ".." or len(word) == 1 or "." in word or word in ABBREVIATIONS:
                continue
        piece = text[start:i + 1].strip()
        if piece:
            out.append(piece)
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def build_examples(docs: list[Doc], tokenizer, max_len: int, sop: bool, seed: int) -> list[Example]:
    """Examples in document order (see the module docstring)."""
    rng = random.Random(f"sop:{seed}")
    budget = {True: max_len - tokenizer.num_special_tokens_to_add(pair=True),
              False: max_len - tokenizer.num_special_tokens_to_add(pair=False)}
    singles = [d for d in docs if d.pair is None]
    sentences = {d.text: split_sentences(d.text) for d in singles}
    flat = sorted({s for ss in sentences.values() for s in ss})
    lengths = dict(zip(flat, (len(x) for x in tokenizer(flat, add_special_tokens=False)["input_ids"]))) if flat else {}
    out: list[Example] = []
    for doc in docs:
        if doc.pair is not None:
            if sop:
                swap = rng.random() < 0.5
                out.append(Example(doc.pair, doc.text, SWAPPED) if swap else Example(doc.text, doc.pair, IN_ORDER))
            else:
                out.append(Example(doc.text, doc.pair))
            continue
        sents = sentences[doc.text] or [doc.text]
        for chunk in _chunks(sents, lengths, budget[sop]):
            if sop and len(chunk) >= 2:
                k = rng.randint(1, len(chunk) - 1)
                a, b = " ".join(chunk[:k]), " ".join(chunk[k:])
                swap = rng.random() < 0.5
                out.append(Example(b, a, SWAPPED) if swap else Example(a, b, IN_ORDER))
            else:
                out.append(Example(" ".join(chunk), None))
    return out


def _chunks(sents: list[str], lengths: dict[str, int], budget: int) -> list[list[str]]:
    """Consecutive sentences packed greedily into chunks of at most ``budget`` tokens."""
    chunks, current, used = [], [], 0
    for s in sents:
        n = lengths.get(s, 0)
        if current and used + n > budget:
            chunks.append(current)
            current, used = [], 0
        current.append(s)
        used += n
    if current:
        chunks.append(current)
    return chunks


def encode_examples(examples: list[Example], tokenizer, max_len: int) -> list[dict]:
    """Token rows (``input_ids``, the model's other inputs, ``word_ids``, ``sop_label``), in example order."""
    from ..errors import ModelError

    rows: list[dict | None] = [None] * len(examples)
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in tokenizer.model_input_names]
    for paired in (False, True):
        idx = [i for i, e in enumerate(examples) if (e.b is not None) == paired]
        if not idx:
            continue
        a = [examples[i].a for i in idx]
        b = [examples[i].b for i in idx] if paired else None
        enc = tokenizer(a, b, truncation=True, max_length=max_len)
        if not enc.is_fast:
            raise ModelError("MLM pre-training needs a fast (Rust) tokenizer: word boundaries come from its "
                             "word_ids(); save the model with its tokenizer.json")
        for j, i in enumerate(idx):
            words = enc.word_ids(j)
            seqs = enc.sequence_ids(j)
            word_ids = [NO_WORD if w is None else w + (SEGMENT_OFFSET if s == 1 else 0) for w, s in zip(words, seqs)]
            rows[i] = {k: enc[k][j] for k in keys if k in enc} | {"word_ids": word_ids,
                                                                  "sop_label": examples[i].sop_label}
    return rows  # type: ignore[return-value]
