"""Tokenisation for artifacts: the tokenizer saved beside each artifact, padded into numpy batches.

Used by ``edgeport predict``, by validation and by INT8 calibration, so all three see the same token ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ArtifactError, EdgeportError
from .common import artifact_meta, model_file

KEYS = ("input_ids", "attention_mask", "token_type_ids")


def artifact_tokenizer(path: Path):
    """The tokenizer saved beside the artifact (transformers' fast tokenizer; no torch needed)."""
    from transformers import AutoTokenizer

    directory = model_file(Path(path)).parent
    if not any((directory / f).is_file() for f in ("tokenizer.json", "vocab.txt")):
        raise ArtifactError(f"{directory}: no tokenizer beside the model (tokenizer.json); re-export the artifact")
    return AutoTokenizer.from_pretrained(str(directory))


def pad_token_id(tokenizer) -> int:
    """The id this tokenizer pads with ([PAD] of its own vocabulary); never a literal: a pruned or foreign
    vocabulary numbers its tokens its own way."""
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        raise ArtifactError(f"the tokenizer ({type(tokenizer).__name__}) has no pad token; edgeport pads batches "
                            f"with it (set tokenizer.pad_token and re-save it)")
    return int(pad)


def encode_rows(tokenizer, texts: list[str], pairs: list[str] | None, max_len: int) -> list[dict[str, list[int]]]:
    enc = tokenizer(list(texts), list(pairs) if pairs else None, truncation=True, max_length=max_len)
    n = len(enc["input_ids"])
    return [{k: (enc[k][i] if k in enc else [0] * len(enc["input_ids"][i])) for k in KEYS} for i in range(n)]


def pad_batch(rows: list[dict[str, list[int]]], width: int | None = None, pad_id: int = 0) -> dict[str, np.ndarray]:
    """Right-pad rows to ``width`` (default: the longest row) with mask 0."""
    width = width or max(len(r["input_ids"]) for r in rows)
    out = {}
    for key in KEYS:
        fill = pad_id if key == "input_ids" else 0
        out[key] = np.array([r[key] + [fill] * (width - len(r[key])) for r in rows], dtype=np.int64)
    return out


def artifact_max_len(path: Path, default: int = 128) -> int:
    """Tokens per text for this artifact: its static length (TFLite) or the max_seq_len it was exported for."""
    meta = artifact_meta(Path(path))
    return int(meta.get("seq_len") or meta.get("max_seq_len") or default)


def predict(path: Path, texts: list[str], pairs: list[str] | None = None, threads: int = 1) -> list[dict]:
    """The artifact's answer for each text: a classifier's label and class probabilities, an embedding model's unit
    vector, a token classifier's entities with character spans (its sidecar's ``task`` and ``output``). Each text
    runs alone, unpadded, as the app and validate run it: in a padded batch a dynamic INT8 file would take its
    activation scales from the whole batch and could answer differently."""
    from . import load

    meta = artifact_meta(Path(path))
    kind = answerable(meta)
    if kind != "logits" and pairs is not None:
        raise EdgeportError(f"{'an embedding model' if kind == 'embedding' else 'a token classifier'} reads one "
                            f"sentence at a time: pass the texts without pairs")
    runner = load(path, threads)
    tokenizer = artifact_tokenizer(path)
    max_len = artifact_max_len(path)
    rows = encode_rows(tokenizer, texts, pairs, max_len)
    pad = pad_token_id(tokenizer)
    outputs = [runner(**pad_batch([row], pad_id=pad)) for row in rows]
    return ANSWERS[kind](outputs, meta, {"texts": list(texts), "tokenizer": tokenizer, "max_len": max_len})


def answer_kind(meta: dict) -> str:
    """What ``predict`` answers: "tags" for a token classifier (its sidecar's ``task``), else the ``output``
    ("logits", or "embedding"); sidecars written before the task registry are classifiers'."""
    return "tags" if meta.get("task") == "token-classification" else meta.get("output", "logits")


def _classes(outputs: list[np.ndarray], meta: dict, _) -> list[dict]:
    logits = np.concatenate(outputs)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    names = meta.get("label_names") or [str(i) for i in range(logits.shape[-1])]
    return [{"label": names[int(p.argmax())], "probs": {n: round(float(v), 6) for n, v in zip(names, p)},
             "logits": [float(x) for x in lg]} for p, lg in zip(probs, logits)]


def _vectors(outputs: list[np.ndarray], meta: dict, _) -> list[dict]:
    return [{"embedding": [float(x) for x in v]} for v in np.concatenate(outputs)]


def _entities(outputs: list[np.ndarray], meta: dict, fed: dict) -> list[dict]:
    """Each text's words (split by the tokenizer's pre-tokenizer, with their spans), their tags read at each word's
    first sub-token, and the strict IOB2 entities with character spans in the text. Words past the artifact's
    length are tagged "O" and counted (``dropped_words``)."""
    from ..tasks import ner

    tokenizer, names = fed["tokenizer"], meta.get("label_names") or []
    split = [ner.text_words(tokenizer, t) for t in fed["texts"]]
    encoded = ner.text_word_ids(tokenizer, fed["texts"], [spans for _, spans in split], fed["max_len"])
    answers = []
    for text, (words, spans), (ids, word_ids), out in zip(fed["texts"], split, encoded, outputs):
        # a TFLite bucket pads the row: its first len(ids) positions are the text's tokens
        tags = ner.word_predictions(out[0, :len(ids)], word_ids, names, num_words=len(words))
        kept = len({w for w in word_ids if w is not None})
        answers.append({"entities": ner.entities(text, spans, tags), "words": words, "tags": tags,
                        "dropped_words": len(words) - kept})
    return answers


# what ``predict`` answers per kind (``answer_kind``: the sidecar's ``task`` and ``output``, from ``tasks.models``)
ANSWERS = {"logits": _classes, "embedding": _vectors, "tags": _entities}


def answerable(meta: dict) -> str:
    """``answer_kind(meta)``, refused when ``predict`` has no answer for it: question-answering's answer is the best
    span over a question's windows (``runtimes/qa_text.py``, kept apart so this module's fingerprint holds)."""
    kind = answer_kind(meta)
    if kind in ANSWERS:
        return kind
    if meta.get("task") == "question-answering":
        raise EdgeportError("a question-answering artifact answers a question over a context, not texts: "
                            "edgeport predict ARTIFACT --question Q --context C (Python: "
                            "edgeport.load_artifact(ARTIFACT).answer(question, context))")
    raise EdgeportError(f"predict has no {meta.get('task', kind)} answer; the artifact's runner "
                        f"(edgeport.runtimes.load) gives its outputs ({', '.join(meta.get('outputs', [kind]))})")
