"""Token classification (named entities): the pure building blocks the pipeline stages are wired from.

Reading tagged sentences, tag schemes, aligning word tags with sub-word tokens, strict entity metrics and entities
with character spans. Nothing here trains or loads a model; every function takes plain lists (and a Hugging Face
fast tokenizer where tokens are needed), so each piece is tested on its own.

Conventions, one per concern:

* **Tags are IOB2 strings** inside edgeport (``O``, ``B-PER``, ``I-PER``...). Other schemes are converted on the way
  in (``to_iob2``); a sequence that cannot be converted is refused, never guessed at.
* **One label per word, on its first sub-token** (the Hugging Face convention): the other sub-tokens and the special
  tokens get ``IGNORE`` (-100, what PyTorch's cross-entropy skips), and a word's prediction is read from its first
  sub-token (``word_predictions``).
* **Entities are decoded the way seqeval's strict IOB2 mode counts them** (``decode_iob2``): an entity is a ``B-X``
  followed by every ``I-X`` directly after it. An ``I-X`` that does not continue an ``X`` entity (sentence start,
  after ``O``, after another type) starts nothing. The default conlleval reading would start an entity there; using
  the strict one everywhere means the entities the app and ``edgeport predict`` show are exactly the ones the F1
  counted, and a model is never credited for an ill-formed sequence.
* **Truncation is never silent**: ``align`` returns how many words did not fit (``dropped_words``) for the caller
  to count and report; such words are predicted ``O`` by ``word_predictions(num_words=...)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..errors import DataError, ModelError

IGNORE = -100  # the label of tokens no loss or metric reads (PyTorch cross-entropy's default ignore_index)
OUTSIDE = "O"
SCHEMES = ("IOB2", "IOB1", "BILOU", "BIOES")
_PREFIXES = {"B", "I", "O", "E", "S", "L", "U"}

# ------------------------------------------------------------------------------------------ reading


def read_tagged(path, words_column: str = "tokens", tags_column: str = "ner_tags",
                tag_names: Sequence[str] | None = None) -> tuple[list[list[str]], list[list[str]]]:
    """Words and tags of every sentence of a JSONL file (one JSON object per line, a word list and a tag list).

    Tags are strings, or integers indexing ``tag_names`` (the Hugging Face ``datasets`` ClassLabel layout). Tags
    are returned as read: convert them with ``to_iob2`` when the file is not IOB2. Every unusable line is a
    ``DataError`` naming the file, the line and what to change."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the JSONL file of tagged sentences")
    words, tags = [], []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = _json_row(path, lineno, line)
            w = _column(path, lineno, row, words_column, "word")
            t = _column(path, lineno, row, tags_column, "tag")
            where = f"{path}:{lineno}"
            if not w:
                raise DataError(f"{where}: '{words_column}' is empty; every sentence needs at least one word "
                                f"(drop the line)")
            if len(w) != len(t):
                raise DataError(f"{where}: {len(w)} words but {len(t)} tags; '{words_column}' and '{tags_column}' "
                                f"need one tag per word")
            if any(not isinstance(x, str) or not x for x in w):
                raise DataError(f"{where}: '{words_column}' holds a non-string or empty word; words must be "
                                f"non-empty strings")
            words.append(w)
            tags.append(_tag_strings(where, t, tags_column, tag_names))
    if not words:
        raise DataError(f"{path}: no sentences; the file needs one JSON object per line")
    return words, tags


def _json_row(path: Path, lineno: int, line: str) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg}); each line must be one JSON object") from None
    if not isinstance(row, dict):
        raise DataError(f"{path}:{lineno}: expected a JSON object per line, got {type(row).__name__}")
    return row


def _column(path: Path, lineno: int, row: dict, name: str, what: str) -> list:
    if name not in row:
        raise DataError(f"{path}:{lineno}: no '{name}' field (fields: {', '.join(map(str, row)) or 'none'}); "
                        f"name the {what} column with the {what}s column argument")
    value = row[name]
    if not isinstance(value, list):
        raise DataError(f"{path}:{lineno}: '{name}' is a {type(value).__name__}, not a list; it must be the "
                        f"sentence's {what}s, one per word")
    return value


def _tag_strings(where: str, tags: list, column: str, tag_names: Sequence[str] | None) -> list[str]:
    """String tags as they are; integer tags looked up in ``tag_names`` (a bool is neither)."""
    out = []
    for i, tag in enumerate(tags):
        if isinstance(tag, str) and tag:
            out.append(tag)
        elif isinstance(tag, int) and not isinstance(tag, bool):
            if tag_names is None:
                raise DataError(f"{where}: '{column}' holds integer tags ({tag}); pass tag_names, the tag string "
                                f"of each integer (the dataset's ClassLabel names)")
            if not 0 <= tag < len(tag_names):
                raise DataError(f"{where}: tag {tag} at word {i} is not an index of the {len(tag_names)} tag names "
                                f"({', '.join(tag_names)}); fix the tag or the tag_names list")
            out.append(tag_names[tag])
        else:
            raise DataError(f"{where}: tag {tag!r} at word {i} is neither a tag string nor an integer")
    return out


# ------------------------------------------------------------------------------------------ tag schemes


def split_tag(tag: str) -> tuple[str, str | None]:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", None)``; any other shape is a ``DataError``."""
    if tag == OUTSIDE:
        return OUTSIDE, None
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in _PREFIXES - {OUTSIDE} or not kind:
        raise DataError(f"tag {tag!r} is not O or PREFIX-TYPE with a prefix of B, I, E, S, L or U (e.g. B-PER)")
    return prefix, kind


def detect_scheme(tags: Sequence[Sequence[str]]) -> str:
    """The tag scheme of a dataset (a list of sentences' tags): "IOB2", "IOB1", "BILOU" or "BIOES".

    Read from the prefixes: E/S mean BIOES, L/U BILOU (both kinds at once is refused). With only B, I and O the
    sequences decide: IOB1 writes the first word of an entity as I-X (B-X only between two adjacent X entities), so
    any I-X that does not continue an X entity means IOB1. All-O data is IOB2."""
    prefixes, stray = set(), False
    for sentence in tags:
        previous = None
        for tag in sentence:
            prefix, kind = split_tag(tag)
            prefixes.add(prefix)
            stray = stray or (prefix == "I" and previous != kind)
            previous = kind
    if prefixes & {"E", "S"} and prefixes & {"L", "U"}:
        raise DataError(f"tags mix BIOES (E-, S-) and BILOU (L-, U-) prefixes ({', '.join(sorted(prefixes))}); "
                        f"one dataset must use one scheme")
    if prefixes & {"E", "S"}:
        return "BIOES"
    if prefixes & {"L", "U"}:
        return "BILOU"
    return "IOB1" if stray else "IOB2"


def to_iob2(tags: Sequence[Sequence[str]], scheme: str) -> list[list[str]]:
    """Every sentence's tags in IOB2, from ``scheme`` (one of ``SCHEMES``).

    IOB1: an I-X that starts an entity (sentence start, after O or another type) becomes B-X; B-X stays (IOB1
    only writes it between two X entities, and a B-X after O, which real IOB1 files have, starts an entity under
    either reading). BILOU/BIOES: U-X/S-X -> B-X, L-X/E-X -> I-X, with every entity checked to open with B and close
    with L/E. IOB2 input is checked, not changed. A tag outside the scheme, or a sequence the scheme does not allow
    (an IOB2 I-X starting an entity, an unclosed BILOU entity), is a ``DataError``: guessing would change the gold
    entities."""
    if scheme not in SCHEMES:
        raise DataError(f"unknown tag scheme {scheme!r}; one of {', '.join(SCHEMES)} (detect_scheme finds it)")
    convert = {"IOB2": _check_iob2, "IOB1": _from_iob1, "BILOU": _from_bilou, "BIOES": _from_bilou}[scheme]
    out = []
    for n, sentence in enumerate(tags):
        try:
            out.append(convert(list(sentence), scheme))
        except DataError as exc:
            raise DataError(f"sentence {n}: {exc}") from None
    return out


def _prefixes(sentence: list[str], allowed: str, scheme: str) -> list[tuple[str, str | None]]:
    parsed = [split_tag(t) for t in sentence]
    for i, (prefix, _) in enumerate(parsed):
        if prefix not in allowed:
            raise DataError(f"word {i}: tag {sentence[i]!r} has a prefix {scheme} does not use (it uses "
                            f"{', '.join(allowed)}); check the scheme (detect_scheme) or the tag")
    return parsed


def _check_iob2(sentence: list[str], scheme: str) -> list[str]:
    previous = None
    for i, (prefix, kind) in enumerate(_prefixes(sentence, "BIO", scheme)):
        if prefix == "I" and previous != kind:
            raise DataError(f"word {i}: {sentence[i]} does not continue a {kind} entity, which IOB2 does not allow; "
                            f"the tags look like IOB1: convert with to_iob2(tags, 'IOB1')")
        previous = kind
    return sentence


def _from_iob1(sentence: list[str], scheme: str) -> list[str]:
    out, previous = [], None
    for prefix, kind in _prefixes(sentence, "BIO", scheme):
        if kind is None:
            out.append(OUTSIDE)
        else:
            out.append(f"B-{kind}" if prefix == "I" and previous != kind else f"{prefix}-{kind}")
        previous = kind
    return out


def _from_bilou(sentence: list[str], scheme: str) -> list[str]:
    last, single = ("L", "U") if scheme == "BILOU" else ("E", "S")
    out, open_kind = [], None  # the type of the entity opened by B/I and not yet closed
    for i, (prefix, kind) in enumerate(_prefixes(sentence, "BIO" + last + single, scheme)):
        continues = prefix in ("I", last)
        if continues != (open_kind is not None) or (continues and kind != open_kind):
            need = f"I-{open_kind} or {last}-{open_kind}" if open_kind else f"O, B-, or {single}-"
            raise DataError(f"word {i}: {sentence[i]} where {scheme} needs {need}; the sequence is not valid "
                            f"{scheme} and is not converted")
        out.append(OUTSIDE if kind is None else f"{'B' if prefix in ('B', single) else 'I'}-{kind}")
        open_kind = kind if prefix in ("B", "I") else None
    if open_kind is not None:
        raise DataError(f"the {open_kind} entity at the end is never closed with {last}-{open_kind}; the sequence "
                        f"is not valid {scheme}")
    return out


def tag_names(all_tags) -> list[str]:
    """The label list of a task from its IOB2 tags (sentences of tags, or one flat list): "O" first, then B-X, I-X
    for each entity type in sorted order. Every type gets both tags, so a model can predict an I-X the training
    data happens to lack, and two datasets with the same types get the same label ids."""
    flat = [t for s in all_tags for t in ([s] if isinstance(s, str) else s)]
    kinds = set()
    for tag in flat:
        prefix, kind = split_tag(tag)
        if prefix not in ("B", "I", OUTSIDE):
            raise DataError(f"tag {tag!r} is not IOB2; convert the tags with to_iob2 first")
        if kind is not None:
            kinds.add(kind)
    return [OUTSIDE] + [f"{p}-{k}" for k in sorted(kinds) for p in ("B", "I")]


# ------------------------------------------------------------------------------------------ tokens


def _byte_level(tokenizer) -> dict | None:
    """The tokenizer's ByteLevel pre-tokenizer spec (alone or inside a Sequence), None without one."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str()).get("pre_tokenizer") or {}
    for part in [spec] + list(spec.get("pretokenizers") or []):
        if part.get("type") == "ByteLevel":
            return part
    return None


def needs_prefix_space(tokenizer) -> bool:
    """True for a byte-level BPE tokenizer (RoBERTa, GPT-2 style) without ``add_prefix_space``: fed pre-split words
    it encodes each word as if it began the text, with no leading space, so "world" becomes other tokens than in
    "hello world" and the model sees inputs it was never trained on."""
    part = _byte_level(tokenizer)
    return part is not None and not part.get("add_prefix_space", False)


def pretokenized_tokenizer(tokenizer):
    """``tokenizer`` ready for pre-split words: itself when it already is, else a copy whose ByteLevel
    pre-tokenizer adds the prefix space (the same tokens as loading it with ``add_prefix_space=True``). The
    caller's tokenizer is never changed."""
    if not needs_prefix_space(tokenizer):
        return tokenizer
    import copy

    from tokenizers import Tokenizer

    fixed = copy.deepcopy(tokenizer)
    state = json.loads(fixed.backend_tokenizer.to_str())
    _byte_level_in(state)["add_prefix_space"] = True
    fixed.backend_tokenizer.pre_tokenizer = Tokenizer.from_str(json.dumps(state)).pre_tokenizer
    if hasattr(fixed, "add_prefix_space"):
        fixed.add_prefix_space = True
    return fixed


def _byte_level_in(state: dict) -> dict:
    spec = state["pre_tokenizer"]
    return spec if spec.get("type") == "ByteLevel" else next(
        p for p in spec["pretokenizers"] if p.get("type") == "ByteLevel")


def align(tokenizer, words: Sequence[str], tags_ids: Sequence[int] | None, max_len: int) -> dict:
    """Tokenise one sentence of pre-split ``words`` and put each word's tag id on its first sub-token.

    Returns ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the tokenizer gives them), ``labels``
    (``IGNORE`` on special tokens and on every sub-token but a word's first; absent when ``tags_ids`` is None, for
    prediction), ``word_ids`` (the word of each token, None for special tokens) and ``dropped_words``: the words
    truncation to ``max_len`` tokens removed entirely, for the caller to count and report. A word cut after its
    first sub-token keeps its label and is not dropped."""
    words = list(words)
    if tags_ids is not None and len(tags_ids) != len(words):
        raise DataError(f"{len(words)} words but {len(tags_ids)} tag ids; align needs one tag id per word")
    _check_pre_split(tokenizer)
    enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_len)
    word_ids = enc.word_ids()
    out = {k: list(enc[k]) for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
    if tags_ids is not None:
        out["labels"] = first_subtoken_labels(word_ids, tags_ids)
    out["word_ids"] = word_ids
    out["dropped_words"] = _dropped(tokenizer, words, word_ids, max_len)
    return out


def words_input_ids(tokenizer, sentences: Sequence[Sequence[str]], max_len: int) -> list[list[int]]:
    """The ``input_ids`` ``align`` gives each sentence of pre-split words, in one batched call (no labels, no
    word ids: for comparing encodings cheaply)."""
    _check_pre_split(tokenizer)
    return list(tokenizer([list(w) for w in sentences], is_split_into_words=True, truncation=True,
                          max_length=max_len)["input_ids"])


def _check_pre_split(tokenizer) -> None:
    """Refuse a tokenizer that cannot encode pre-split words as running text: a slow one (no word ids) and a
    byte-level BPE without its prefix space."""
    if not getattr(tokenizer, "is_fast", True):
        raise ModelError(f"{type(tokenizer).__name__} is a slow tokenizer: it has no word ids; load the fast "
                         f"(tokenizers-backed) one")
    if needs_prefix_space(tokenizer):
        raise ModelError(f"{type(tokenizer).__name__} is byte-level BPE without add_prefix_space: pre-split words "
                         f"would be encoded with no leading space, unlike in running text. Pass "
                         f"pretokenized_tokenizer(tokenizer), or load it with add_prefix_space=True")


def first_subtoken_labels(word_ids: Sequence[int | None], tags_ids: Sequence[int]) -> list[int]:
    """Each token's label: its word's tag id on the word's first sub-token, ``IGNORE`` elsewhere."""
    labels, previous = [], None
    for w in word_ids:
        labels.append(IGNORE if w is None or w == previous else int(tags_ids[w]))
        previous = w
    return labels


def _dropped(tokenizer, words: list[str], word_ids: list, max_len: int) -> int:
    """Words with tokens in the untruncated encoding but none in the truncated one (a word the tokenizer gives no
    token at all, such as a lone zero-width space, was not dropped by truncation and is not counted)."""
    if len(word_ids) < max_len:
        return 0
    full = tokenizer(words, is_split_into_words=True, truncation=False).word_ids()
    return len({w for w in full if w is not None} - {w for w in word_ids if w is not None})


# ------------------------------------------------------------------------------------------ predictions & metrics


def word_predictions(logits, word_ids: Sequence[int | None], tag_names: Sequence[str],
                     num_words: int | None = None) -> list[str]:
    """Word-level tags from one sentence's token logits ``[seq, num_tags]``: the arg-max of each word's first
    sub-token (the token it was trained on). Rows past ``word_ids`` (padding) are ignored. With ``num_words`` the
    list has one tag per word of the sentence and a word with no token (dropped by truncation) is "O"; without it,
    it covers the words up to the last one with a token."""
    import numpy as np

    scores = np.asarray(logits)
    if scores.ndim != 2 or scores.shape[1] != len(tag_names):
        raise ModelError(f"logits of shape {scores.shape} for {len(tag_names)} tag names; the model must give one "
                         f"score per tag for each token ([seq, {len(tag_names)}])")
    if len(word_ids) > scores.shape[0]:
        raise DataError(f"{len(word_ids)} word ids but logits for {scores.shape[0]} tokens; pass the word ids of "
                        f"the encoding the logits came from")
    present = [w for w in word_ids if w is not None]
    n = num_words if num_words is not None else (max(present) + 1 if present else 0)
    tags = [OUTSIDE] * n
    seen = set()
    for i, w in enumerate(word_ids):
        if w is None or w in seen:
            continue
        if w >= n:
            raise DataError(f"word id {w} at token {i} but the sentence has {n} words")
        seen.add(w)
        tags[w] = tag_names[int(np.argmax(scores[i]))]
    return tags


def entity_scores(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict:
    """Entity precision / recall / F1 with seqeval's strict IOB2 matching, micro over all entities and per type.

    Strict: an entity counts only where both sequences hold the same well-formed ``B-X I-X...`` span, so an
    ill-formed prediction (a sentence starting with I-PER) earns nothing, where conlleval's default would credit
    it. Returns ``precision``, ``recall``, ``f1``, ``support`` (gold entities), ``per_type`` {type: {precision,
    recall, f1, support}} for every type in either sequence, and ``token_accuracy`` over all words (``tokens``
    words). Zero divisions are 0."""
    gold, pred = [list(s) for s in gold_tags], [list(s) for s in pred_tags]
    _check_pairs(gold, pred)
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    micro = report.pop("micro avg")
    per_type = {k: _scores(v) for k, v in report.items() if not k.endswith(" avg")}
    tokens = sum(len(s) for s in gold)
    right = sum(g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    return {**_scores(micro), "per_type": per_type, "token_accuracy": right / tokens if tokens else 0.0,
            "tokens": tokens}


def _scores(row: dict) -> dict:
    return {"precision": float(row["precision"]), "recall": float(row["recall"]), "f1": float(row["f1-score"]),
            "support": int(row["support"])}


def _check_pairs(gold: list[list[str]], pred: list[list[str]]) -> None:
    if len(gold) != len(pred):
        raise DataError(f"{len(gold)} gold sentences but {len(pred)} predicted; give one prediction per sentence")
    for n, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise DataError(f"sentence {n}: {len(g)} gold tags but {len(p)} predicted; predict one tag per word "
                            f"(word_predictions with num_words gives 'O' to words truncation dropped)")
        for tag in g + p:
            if split_tag(tag)[0] not in ("B", "I", OUTSIDE):
                raise DataError(f"sentence {n}: tag {tag!r} is not IOB2; convert with to_iob2 first")


# ------------------------------------------------------------------------------------------ entities


def decode_iob2(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, first word, end word) of each entity, read as seqeval's strict IOB2 mode reads them: a B-X and every
    I-X right after it. An I-X that does not continue an X entity starts nothing (see the module docstring)."""
    out, current = [], None  # current: [type, start] of the open entity
    for i, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if prefix not in ("B", "I", OUTSIDE):
            raise DataError(f"word {i}: tag {tag!r} is not IOB2; convert with to_iob2 first")
        if current is not None and (prefix != "I" or kind != current[0]):
            out.append((current[0], current[1], i))
            current = None
        if prefix == "B":
            current = [kind, i]
    if current is not None:
        out.append((current[0], current[1], len(tags)))
    return out


def word_spans(words: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of ``words`` in ``" ".join(words)``, the text ``edgeport predict`` shows for a sentence given
    as words."""
    spans, start = [], 0
    for word in words:
        spans.append((start, start + len(word)))
        start += len(word) + 1
    return spans


def text_words(tokenizer, text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Words of a raw text and their character spans, split by the tokenizer's own pre-tokenizer (BERT: whitespace
    and each punctuation character), so that the words are the units the tokenizer would see in running text.

    Each word is the slice of ``text`` at the pre-tokenizer's offsets with surrounding whitespace trimmed (a
    byte-level pre-tokenizer's pieces carry their leading space as "Ġ"); the pre-tokenizer runs on the raw text, so
    the offsets are in it (the normalizer, e.g. lower-casing, applies later to each word)."""
    pre = tokenizer.backend_tokenizer.pre_tokenizer
    if pre is None:
        raise ModelError(f"{type(tokenizer).__name__} has no pre-tokenizer to split a text into words; split the "
                         f"text yourself and use word_spans")
    words, spans = [], []
    for _, (start, end) in pre.pre_tokenize_str(text):
        piece = text[start:end]
        lead = len(piece) - len(piece.lstrip())
        start, end = start + lead, start + len(piece.rstrip())
        if end > start:
            words.append(text[start:end])
            spans.append((start, end))
    return words, spans


def entities(text_or_words, spans: Sequence[tuple[int, int]] | None, tags: Sequence[str]) -> list[dict]:
    """The entities of one sentence with their place in the text: [{"type", "start", "end", "text", "words": [i,
    j)}], ``start``/``end`` in characters of the text. ``text_or_words`` is the text (with ``spans`` of its words,
    e.g. from ``text_words``) or the list of words, shown as ``" ".join(words)`` (``spans`` then may be None).
    Decoding is ``decode_iob2``: the entities strict IOB2 F1 counts."""
    if isinstance(text_or_words, str):
        text = text_or_words
        if spans is None:
            raise DataError("entities of a text need the words' spans (text_words or word_spans)")
    else:
        text = " ".join(text_or_words)
        spans = word_spans(text_or_words) if spans is None else spans
    if len(spans) != len(tags):
        raise DataError(f"{len(spans)} word spans but {len(tags)} tags; give one tag per word")
    for i, (start, end) in enumerate(spans):
        if not 0 <= start <= end <= len(text):
            raise DataError(f"word {i}: span ({start}, {end}) is outside the text of {len(text)} characters")
    out = []
    for kind, i, j in decode_iob2(tags):
        start, end = spans[i][0], spans[j - 1][1]
        out.append({"type": kind, "start": start, "end": end, "text": text[start:end], "words": [i, j]})
    return out


def text_word_ids(tokenizer, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                  max_len: int) -> list[tuple[list[int], list[int | None]]]:
    """(input_ids, word of each token) of each text encoded as running text, the way an artifact is fed it
    (``tokenizer(text)``, truncated at ``max_len`` tokens). A token belongs to the word whose character span
    (``spans``: ``word_spans`` of a sentence's words, or ``text_words`` of a raw text) holds its first character,
    or to the next word when that character lies between two words (a byte-level BPE token's leading space);
    special tokens have None. Feeding the words (``align``) or the text gives the same tokens for a tokenizer that
    splits on whitespace first and marks every word alike (WordPiece; byte-level BPE with its prefix space, which
    ``pretokenized_tokenizer`` adds; Metaspace with prepend_scheme "always"); preflight and the teacher stage check
    that for the tokenizer the task ships (``tasks.tokens.check_same_tokens``)."""
    import bisect

    enc = tokenizer(list(texts), truncation=True, max_length=max_len, return_offsets_mapping=True)
    out = []
    for i, word_spans_ in enumerate(spans):
        starts = [s for s, _ in word_spans_]
        words = []
        for w, (start, _) in zip(enc.word_ids(i), enc["offset_mapping"][i]):
            if w is None or not starts:
                words.append(None)
                continue
            j = max(0, bisect.bisect_right(starts, start) - 1)
            if start >= word_spans_[j][1] and j + 1 < len(starts):
                j += 1  # between two words: the token starts the next one
            words.append(j)
        out.append((list(enc["input_ids"][i]), words))
    return out
