"""Token-classification recipes (named entities): the teacher fine-tuned on the tags, the student distilled per
token, and the measurements both report and validate judges.

Rows are sentences: ``Split.words`` holds each sentence's words, ``Split.labels`` their IOB2 tag ids
(``data.tagged_splits``) and ``Split.texts`` the words joined by single spaces, which is what an artifact is fed.
Training rows put each word's tag on its first sub-token (``ner.align``; -100 elsewhere, which the cross-entropy
skips); a word's prediction is read from the same token (``ner.word_predictions``). The metric every choice is
made on is strict IOB2 entity F1 (``ner.entity_scores``, seqeval): ``select_entity_f1`` chooses the checkpoint,
``eval_entity_f1`` is reported with precision, recall and per-type figures.

Truncation at ``data.max_seq_len`` tokens can remove the last words of a long sentence: they are predicted "O"
(so their entities count as missed) and every stage counts them (``*_dropped_words``) and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from . import ner

# ------------------------------------------------------------------------------------------------ rows


def gold_tags(split, tag_names: list[str]) -> list[list[str]]:
    return [[tag_names[i] for i in ids] for ids in split.labels]


def task_tokenizer(spec):
    """The tokenizer a token classifier trains with, saves and ships: the model's own, made ready for pre-split
    words (``ner.pretokenized_tokenizer``: a byte-level BPE gets its prefix space). Saved with the teacher, every
    later stage, artifact and app encodes a text with it the way the words were encoded in training (a RoBERTa
    tokenizer without the prefix space would give a sentence's first word other tokens in the text)."""
    from ..models import load_tokenizer

    return ner.pretokenized_tokenizer(load_tokenizer(spec))


def encode_tagged(split, tokenizer, max_len: int) -> tuple[list[dict], int]:
    """(rows, dropped words): each sentence aligned (``ner.align``: inputs, first-sub-token ``labels``,
    ``word_ids``) and how many words truncation removed over the split. ``tokenizer`` is the one the task ships
    (``task_tokenizer``); it is not adjusted here, so one that would encode a text otherwise is refused."""
    rows, dropped = [], 0
    for words, ids in zip(split.words, split.labels):
        row = ner.align(tokenizer, words, ids, max_len)
        dropped += row.pop("dropped_words")
        rows.append(row)
    return rows, dropped


def check_same_tokens(tokenizer, split, max_len: int) -> None:
    """The model trains on words (``ner.align``) and runs on their text (artifacts, ``edgeport predict``): both
    must give the same tokens, or the tags learnt on one would be read on other tokens. ``tokenizer`` is the one
    the task ships (``task_tokenizer``), checked as it is."""
    by_words = ner.words_input_ids(tokenizer, split.words, max_len)
    by_text = tokenizer(list(split.texts), truncation=True, max_length=max_len)["input_ids"]
    for i, (words_ids, text_ids) in enumerate(zip(by_words, by_text)):
        if words_ids != text_ids:
            raise ModelError(f"{type(tokenizer).__name__} encodes the words of sentence {i} ({split.texts[i][:60]!r}) "
                             f"differently from their text ({_first_difference(tokenizer, words_ids, text_ids)}): "
                             f"the tags would be learnt on other tokens than the artifacts read. Token "
                             f"classification needs a tokenizer that splits on whitespace first and marks every "
                             f"word alike: WordPiece (BERT, ELECTRA), byte-level BPE (RoBERTa; edgeport adds its "
                             f"prefix space) or SentencePiece with a Metaspace pre-tokenizer whose prepend_scheme "
                             f"is 'always' (XLM-R, DeBERTa-v3). Fix the pre_tokenizer in the teacher's "
                             f"tokenizer.json, or use such a teacher")


def _first_difference(tokenizer, words_ids: list[int], text_ids: list[int]) -> str:
    """Where two encodings part, as tokens: "words [...] vs text [...]" from the first differing token on."""
    at = next((i for i, (a, b) in enumerate(zip(words_ids, text_ids)) if a != b), min(len(words_ids), len(text_ids)))
    show = lambda ids: tokenizer.convert_ids_to_tokens(ids[at:at + 4])  # noqa: E731
    return f"from token {at}: words {show(words_ids)} vs text {show(text_ids)}"


def check_tokenizer(spec, data, seed: int) -> None:
    """Preflight of a local teacher: ``check_same_tokens`` on the selection split (what the teacher stage checks),
    so a tokenizer that cannot work is refused before anything runs. A hub id is checked by the teacher stage once
    it is downloaded."""
    from pathlib import Path

    from ..data import load_task

    if isinstance(spec, Path):
        check_same_tokens(task_tokenizer(spec), load_task(data, seed=seed).select, data.max_seq_len)


def collate_for(tokenizer):
    """Dynamic padding: inputs with the pad id (mask 0), ``labels`` with -100, ``teacher_logits`` with zeros."""
    import torch

    pad = tokenizer.pad_token_id or 0

    def collate(rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        fill = {"input_ids": pad, "labels": ner.IGNORE}
        batch = {k: torch.tensor([r[k] + [fill.get(k, 0)] * (width - len(r[k])) for r in rows])
                 for k in ("input_ids", "token_type_ids", "attention_mask", "labels") if k in rows[0]}
        if "teacher_logits" in rows[0]:
            t = np.zeros((len(rows), width, rows[0]["teacher_logits"].shape[-1]), dtype=np.float32)
            for i, r in enumerate(rows):
                t[i, :len(r["teacher_logits"])] = r["teacher_logits"]
            batch["teacher_logits"] = torch.from_numpy(t)
        return batch

    return collate


def token_logits(model, rows: list[dict], collate, batch_size: int = 64) -> list[np.ndarray]:
    """Each row's logits ``[its tokens, num_tags]`` (fp32, padded batches: the mask keeps padding out)."""
    import torch

    from ..training.loop import model_device, model_inputs

    model.eval()
    device, out = model_device(model), []
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            logits = model(**model_inputs(collate(chunk), device)).logits.float().cpu().numpy()
            out += [logits[j, :len(r["input_ids"])] for j, r in enumerate(chunk)]
    return out


def predicted_tags(model, split, rows: list[dict], collate, tag_names: list[str]) -> list[list[str]]:
    logits = token_logits(model, rows, collate)
    return [ner.word_predictions(lg, r["word_ids"], tag_names, num_words=len(w))
            for lg, r, w in zip(logits, rows, split.words)]


def entity_counts(gold: list[list[str]], pred: list[list[str]]) -> np.ndarray:
    """Per sentence ``[correct, predicted, gold]`` entities under strict IOB2 (``ner.decode_iob2``, the spans
    seqeval's strict mode counts): summed, micro F1 = 2 x correct / (predicted + gold)."""
    out = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, pred)):
        gs, ps = set(ner.decode_iob2(g)), set(ner.decode_iob2(p))
        out[i] = len(gs & ps), len(ps), len(gs)
    return out


# ------------------------------------------------------------------------------------------------ measurement


def scores_of(gold: list[list[str]], pred: list[list[str]], prefix: str) -> dict:
    """``{prefix}_entity_f1`` (micro, strict IOB2) with precision, recall, per type and word accuracy."""
    s = ner.entity_scores(gold, pred)
    per_type = {k: {m: round(v, 6) if isinstance(v, float) else v for m, v in t.items()}
                for k, t in s["per_type"].items()}
    return {f"{prefix}_entity_f1": round(s["f1"], 6), f"{prefix}_entity_precision": round(s["precision"], 6),
            f"{prefix}_entity_recall": round(s["recall"], 6), f"{prefix}_entities": s["support"],
            f"{prefix}_word_accuracy": round(s["token_accuracy"], 6), f"{prefix}_per_type": per_type}


def split_metrics(task, model, tokenizer, max_len: int) -> dict:
    """Entity F1 on the selection split (where models are chosen; micro only) and the evaluation split (measured,
    with per-type figures), and the words truncation dropped in each."""
    collate, out = collate_for(tokenizer), {"metric": "entity_f1", "select_metric": "entity_f1"}
    for prefix, split in (("select", task.select), ("eval", task.eval)):
        rows, dropped = encode_tagged(split, tokenizer, max_len)
        pred = predicted_tags(model, split, rows, collate, task.label_names)
        figures = scores_of(gold_tags(split, task.label_names), pred, prefix)
        if prefix == "select":
            figures = {k: v for k, v in figures.items() if k != "select_per_type"}
            out["select_counts"] = entity_counts(gold_tags(split, task.label_names), pred).sum(0).tolist()
        out |= figures | {f"{prefix}_rows": len(split), f"{prefix}_dropped_words": dropped}
    out["eval_split"] = task.eval.name
    return out


def useful_gate(metrics: dict, what: str) -> tuple[dict, str | None]:
    """A tagger that finds no entity of the selection split exactly is useless: always answering "O" (the majority
    tag, most words) scores entity F1 0, so F1 must be above 0, i.e. at least one entity found with its type and
    both ends right."""
    correct, predicted, gold = metrics["select_counts"]
    evidence = {"test": "entity F1 > 0 on the selection split (always answering O scores 0)",
                "entity_f1": metrics["select_entity_f1"], "correct_entities": correct,
                "predicted_entities": predicted, "gold_entities": gold, "sentences": metrics["select_rows"]}
    if correct > 0:
        return evidence, None
    return evidence, (f"{what}: entity F1 0 on the {metrics['select_rows']} selection sentences: none of its "
                      f"{predicted} predicted entities matches one of the {gold} gold entities exactly; it does no "
                      f"better than answering O everywhere and nothing after it is worth shipping")


def measured(task, model, tokenizer, max_len: int, what: str, gate_on: bool) -> dict:
    metrics = split_metrics(task, model, tokenizer, max_len)
    evidence, failure = useful_gate(metrics, what)
    metrics.pop("select_counts")
    dropped = {k: v for k, v in metrics.items() if k.endswith("_dropped_words") and v}
    if dropped:  # truncation is never silent: the metrics hold the counts, the log says so
        print(f"  {what}: words past data.max_seq_len {max_len} tokens, predicted O: {dropped}", flush=True)
    return metrics | {"useful_gate": evidence, "gate_failures": [failure] if failure and gate_on else []}


def _ce_loss(model, batch):
    import torch.nn.functional as F

    from ..training.loop import model_inputs

    logits = model(**model_inputs(batch)).logits
    return F.cross_entropy(logits.flatten(0, 1).float(), batch["labels"].flatten(), ignore_index=ner.IGNORE)


def selection_f1(task, tokenizer, max_len: int):
    """``fit``'s evaluate_fn: strict entity F1 on the selection split (seqeval, IOB2)."""
    rows, _ = encode_tagged(task.select, tokenizer, max_len)
    gold, collate = gold_tags(task.select, task.label_names), collate_for(tokenizer)

    def evaluate(model) -> dict:
        pred = predicted_tags(model, task.select, rows, collate, task.label_names)
        return {"entity_f1": ner.entity_scores(gold, pred)["f1"]}

    return evaluate


# ------------------------------------------------------------------------------------------------ stages


def teacher(ctx) -> dict:
    """The teacher stage: a token-classification head fine-tuned with per-token cross-entropy on the first
    sub-tokens (``teacher.finetune`` auto: unless the checkpoint already tags exactly these tags)."""
    from ..models import resolve_model_dir, save_model
    from ..pipeline import dist
    from ..training.loop import fit
    from .token_model import has_tagger_head, load_tagger

    cfg, task = ctx.cfg, ctx.task()
    max_len, spec = cfg.data.max_seq_len, resolve_model_dir(cfg.teacher.model)
    tokenizer = task_tokenizer(spec)  # saved below: the student and every artifact encode text with it
    check_same_tokens(tokenizer, task.select, max_len)
    ready = has_tagger_head(spec, task.label_names)
    if cfg.teacher.finetune == "never" and not ready:
        raise ModelError(f"teacher.finetune is 'never' but {cfg.teacher.model} has no token-classification head for "
                         f"the tags {task.label_names}; set teacher.finetune: auto")
    finetune = cfg.teacher.finetune == "always" or not ready
    model = load_tagger(spec, label_names=task.label_names, allow_pickle=cfg.teacher.allow_pickle,
                        dropout=cfg.teacher.dropout)
    metrics = {"model": cfg.teacher.model, "finetuned": finetune, "pretrained": False,
               "params": sum(p.numel() for p in model.parameters()), "layers": model.config.num_hidden_layers,
               "hidden_size": model.config.hidden_size, "labels_on": "first_subtoken", "tags": task.label_names}
    if finetune:
        rows, dropped = encode_tagged(task.train.head(cfg.train_rows), tokenizer, max_len)
        result = fit(model, rows, [], cfg.teacher.train, _ce_loss, collate_for(tokenizer), cfg.seed, "teacher",
                     metric="entity_f1", evaluate_fn=selection_f1(task, tokenizer, max_len))
        metrics |= {"train_rows": len(rows), "train_dropped_words": dropped, "loss": "per-token cross-entropy"}
        metrics |= {k: v for k, v in result.metrics().items() if k != "select_accuracy"}
    metrics |= measured(task, model, tokenizer, max_len, "teacher", cfg.teacher.train.useful_gate)
    if dist.is_main():
        save_model(model, tokenizer, ctx.out)
    return metrics


@dataclass(frozen=True)
class WordRows:
    """Where each word's first sub-token sits in a split's per-token outputs as ``bench.workload.run_rows`` gives
    them (every row's real tokens, one after another: ``[total tokens, num_tags]``), for one truncation length.
    Words truncation removed have no row; they are predicted "O" (``tags``) and counted (``dropped_words``)."""

    first: np.ndarray  # per kept word: the row of its first sub-token in the flattened outputs
    sentence: np.ndarray  # ... its sentence
    word: np.ndarray  # ... its index in the sentence
    gold_ids: np.ndarray  # ... its gold tag id
    num_words: tuple[int, ...]  # words per sentence
    tokens: int  # rows of the flattened outputs
    dropped_words: int
    tag_names: tuple[str, ...]
    gold: tuple[tuple[str, ...], ...]  # every sentence's gold tags (all its words)

    def tags(self, logits: np.ndarray) -> list[list[str]]:
        """Each sentence's predicted tags (one per word; "O" for a dropped word) from flattened outputs."""
        self.check(logits)
        out = [["O"] * n for n in self.num_words]
        for s, w, t in zip(self.sentence, self.word, np.asarray(logits)[self.first].argmax(-1)):
            out[s][w] = self.tag_names[t]
        return out

    def check(self, logits: np.ndarray) -> None:
        if len(logits) != self.tokens:
            raise ModelError(f"{len(logits)} token outputs for {self.tokens} tokens of the eval sentences; the "
                             f"artifact's tokenizer does not split the sentences as the reference's does")

    def f1(self, logits: np.ndarray) -> float:
        return round(ner.entity_scores(self.gold, self.tags(logits))["f1"], 6)


def word_rows(tokenizer, split, max_len: int, tag_names: list[str]) -> WordRows:
    """The ``WordRows`` of ``split`` fed as text (``Split.texts``) truncated at ``max_len`` tokens."""
    spans = [ner.word_spans(w) for w in split.words]
    first, sentence, word, gold_ids, tokens, dropped = [], [], [], [], 0, 0
    for s, (_, ids) in enumerate(ner.text_word_ids(tokenizer, split.texts, spans, max_len)):
        seen = set()
        for i, w in enumerate(ids):
            if w is not None and w not in seen:
                seen.add(w)
                first.append(tokens + i)
                sentence.append(s)
                word.append(w)
                gold_ids.append(split.labels[s][w])
        dropped += len(split.words[s]) - len(seen)
        tokens += len(ids)
    arr = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
    return WordRows(arr(first), arr(sentence), arr(word), arr(gold_ids), tuple(len(w) for w in split.words),
                    tokens, dropped, tuple(tag_names), tuple(tuple(tag_names[i] for i in ids) for ids in split.labels))


@dataclass(frozen=True)
class TokenEvidence:
    """What the token gates read beside an artifact's flattened outputs: its ``WordRows`` (the reference runs at
    the same length) and the teacher's predicted tags (at validate's length; None: no end-to-end gate)."""

    rows: WordRows
    teacher_tags: list[list[str]] | None = None
