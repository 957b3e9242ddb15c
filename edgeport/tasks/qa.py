"""Extractive question-answering recipes (SQuAD v1.1): the teacher fine-tuned on answer spans, and the measurement
every stage of the task reports (the student's KD recipe: ``tasks/qa_distill.py``; pruning: ``tasks/qa_prune.py``).

Rows are questions (``data.question_task``: ``Split.examples``). A model reads windows of question + context
(``squad.windows``: ``data.max_seq_len`` tokens, ``data.doc_stride`` tokens of context shared by consecutive
windows), each cut here to its real tokens so that length-grouped batches carry little padding. Training labels
the first answer's first and last token, or the CLS token in a window that does not hold the whole answer (the
Hugging Face examples' convention); the loss is the mean of the start and end cross-entropies. A question's
answer is the best span over all its windows (``squad.best_span``), scored by the official v1.1 exact match and
F1 (``squad.squad_scores``, reported as fractions: the official figures are x100). Every choice (the checkpoint
kept, early stopping) is made on the selection split's ``data.metric`` (F1 by default); the evaluation split is
only measured.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from . import squad
from .squad import INPUTS, Windows, split_windows  # noqa: F401  (the windows live with the pure parts)



# ------------------------------------------------------------------------------------------------ windows


def task_tokenizer(spec):
    """The model's tokenizer, which must be a fast one: answers are read through its character offsets."""
    from ..models import load_tokenizer

    tokenizer = load_tokenizer(spec)
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"the tokenizer of '{spec}' ({type(tokenizer).__name__}) is a slow tokenizer: it gives no "
                         f"character offsets, and question answering reads its answers through them. Save the "
                         f"model's fast tokenizer (tokenizer.json) beside it")
    if tokenizer.cls_token_id is None:
        raise ModelError(f"the tokenizer of '{spec}' has no CLS token, where a window without the answer is "
                         f"labelled; question answering needs one")
    return tokenizer


def check_tokenizer(spec) -> None:
    """Preflight of a local teacher: its tokenizer can give offsets (``task_tokenizer``), before anything runs. A
    hub id is checked by the teacher stage once it is downloaded."""
    from pathlib import Path

    if isinstance(spec, Path):
        task_tokenizer(spec)


def collate_for(tokenizer):
    """Dynamic padding to the batch's longest window (the pad id, mask 0), with the start and end labels."""
    import torch

    pad = tokenizer.pad_token_id or 0

    def collate(rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        batch = {k: torch.tensor([r[k] + [pad if k == "input_ids" else 0] * (width - len(r[k])) for r in rows])
                 for k in INPUTS if k in rows[0]}
        for k in ("start_positions", "end_positions"):
            if k in rows[0]:
                batch[k] = torch.tensor([r[k] for r in rows])
        return batch

    return collate


def span_loss(model, batch):
    """The mean of the start and end cross-entropies over the window's tokens (padding positions take part as
    wrong answers, as in transformers' own QA loss)."""
    import torch.nn.functional as F

    from ..training.loop import model_inputs

    out = model(**model_inputs(batch))
    return (F.cross_entropy(out.start_logits.float(), batch["start_positions"])
            + F.cross_entropy(out.end_logits.float(), batch["end_positions"])) / 2


# ------------------------------------------------------------------------------------------------ answers


def span_logits(model, windows: Windows, collate, batch_size: int, desc: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each window's (start, end) logits over its real tokens, fp32; windows run shortest first so each batch
    carries little padding."""
    import torch

    from ..progress import terminal_progress
    from ..training.loop import model_device, model_inputs

    model.eval()
    device, rows = model_device(model), windows.rows
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    out: list = [None] * len(rows)
    with torch.no_grad():
        for b in terminal_progress(range(0, len(order), batch_size), desc=desc):
            chunk = order[b:b + batch_size]
            pred = model(**model_inputs(collate([rows[i] for i in chunk]), device))
            starts, ends = pred.start_logits.float().cpu().numpy(), pred.end_logits.float().cpu().numpy()
            for j, i in enumerate(chunk):
                n = len(rows[i]["input_ids"])
                out[i] = (starts[j, :n], ends[j, :n])
    return out


def answers(split, windows: Windows, logits: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, str]:
    """Question id -> the best span over its windows (``squad.best_span``); a question with no valid span gets no
    answer (scored 0 and counted as missing)."""
    by_example = defaultdict(list)
    for w, e in enumerate(windows.example_index):
        by_example[e].append(w)
    out = {}
    for e, ws in by_example.items():
        width = max(len(logits[w][0]) for w in ws)  # windows differ in length: pad to the longest (never read)
        starts = np.zeros((len(ws), width), dtype=np.float32)
        ends = np.zeros_like(starts)
        for k, w in enumerate(ws):
            starts[k, :len(logits[w][0])], ends[k, :len(logits[w][1])] = logits[w]
        example = split.examples[e]
        best = squad.best_span(starts, ends, [windows.offsets[w] for w in ws], example.context)
        if best is not None:
            out[example.id] = best["text"]
    return out


def scores(split, predicted: dict[str, str]) -> dict:
    """The official v1.1 figures as fractions: ``squad_f1``, ``squad_em`` and the questions left unanswered."""
    s = squad.squad_scores(split.examples, predicted)
    return {"squad_f1": round(s["f1"] / 100, 6), "squad_em": round(s["exact_match"] / 100, 6),
            "unanswered": s["missing"]}


@dataclass(frozen=True)
class Reader:
    """What measuring a model on a split needs beside the model: its windows, once, and how to batch them."""

    split: object
    windows: Windows
    collate: object
    batch_size: int

    def answers(self, model, desc: str) -> dict[str, str]:
        """Question id -> ``model``'s best span text over the question's windows."""
        return answers(self.split, self.windows, span_logits(model, self.windows, self.collate, self.batch_size, desc))

    def scores(self, model, desc: str) -> dict:
        return scores(self.split, self.answers(model, desc))

    def choice_scores(self, model) -> dict[str, float]:
        """``fit``'s evaluate_fn: F1 and EM on this (the selection) split, one of which ``data.metric`` maximises."""
        figures = self.scores(model, "select answers")
        return {k: figures[k] for k in ("squad_f1", "squad_em")}


def reader(split, tokenizer, max_len: int, stride: int, batch_size: int) -> Reader:
    return Reader(split, split_windows(split, tokenizer, max_len, stride), collate_for(tokenizer), batch_size)


def split_metrics(task, model, tokenizer, data, batch_size: int) -> dict:
    """EM and F1 on the selection split (where the model is chosen) and the evaluation split (only measured), with
    the questions, their windows and the questions left unanswered in each."""
    out = {"metric": data.metric, "select_metric": data.metric, "eval_split": task.eval.name}
    for prefix, split in (("select", task.select), ("eval", task.eval)):
        r = reader(split, tokenizer, data.max_seq_len, data.stride(), batch_size)
        figures = r.scores(model, f"{prefix} answers")
        out |= {f"{prefix}_{k}": v for k, v in figures.items()}
        out |= {f"{prefix}_rows": len(split), f"{prefix}_windows": len(r.windows.rows)}
    return out


# ------------------------------------------------------------------------------------------------ stages


def teacher(ctx) -> dict:
    """The teacher stage: a span head fine-tuned on the training questions' answers (``teacher.finetune`` auto:
    unless the checkpoint already is a question-answering model), measured on selection and evaluation."""
    from ..models import resolve_model_dir, save_model
    from ..pipeline import dist
    from ..training.loop import fit
    from .qa_model import has_qa_head, load_qa

    cfg, task = ctx.cfg, ctx.task()
    data, spec = cfg.data, resolve_model_dir(cfg.teacher.model)
    tokenizer = task_tokenizer(spec)
    ready = has_qa_head(spec)
    if cfg.teacher.finetune == "never" and not ready:
        raise ModelError(f"teacher.finetune is 'never' but {cfg.teacher.model} has no question-answering head; set "
                         f"teacher.finetune: auto")
    finetune = cfg.teacher.finetune == "always" or not ready
    model = load_qa(spec, allow_pickle=cfg.teacher.allow_pickle, dropout=cfg.teacher.dropout)
    metrics = {"model": cfg.teacher.model, "finetuned": finetune, "pretrained": False,
               "params": sum(p.numel() for p in model.parameters()), "layers": model.config.num_hidden_layers,
               "hidden_size": model.config.hidden_size, "max_seq_len": data.max_seq_len, "doc_stride": data.stride(),
               "selection_grouping": task.grouping_note,
               "useful_gate": {"test": "not built for question-answering yet: no model is stopped as useless"}}
    batch = cfg.teacher.train.eval_batch_size
    if finetune:
        train = task.train.head(cfg.train_rows)
        windows = split_windows(train, tokenizer, data.max_seq_len, data.stride(), labels=True)
        select = reader(task.select, tokenizer, data.max_seq_len, data.stride(), batch)
        result = fit(model, windows.rows, [], cfg.teacher.train, span_loss, collate_for(tokenizer), cfg.seed,
                     "teacher", metric=data.metric, evaluate_fn=select.choice_scores)
        metrics |= {"train_rows": len(train), "train_windows": len(windows.rows),
                    "train_windows_with_answer": windows.with_answer(),
                    "moved_answers": sum(e.moved_answers for e in train.examples),
                    "loss": "start + end cross-entropy / 2"}
        metrics |= {k: v for k, v in result.metrics().items() if k != "select_accuracy"}
    metrics |= split_metrics(task, model, tokenizer, data, batch) | {"gate_failures": []}
    if dist.is_main():
        save_model(model, tokenizer, ctx.out)
    return metrics
