"""The question-answering student: a student built from the teacher's layers (its span head copied from the
teacher's) learns the teacher's start and end distributions over each training window and the gold span.

The teacher's start and end logits of every training window (the teacher's windows: ``qa.split_windows``) are
computed once, in fp32, before training. The loss per window is, for start and for end alike, the classifier's
``training.kd.kd_loss`` with the window's positions as the classes: ``alpha`` x the cross-entropy of the gold
position + (1 - alpha) x T^2 x KL(softmax(teacher / T) || softmax(student / T)); the two are averaged, as the
teacher's span loss averages its two cross-entropies. Both softmaxes run over the window's real tokens only:
padding is masked out, so neither the teacher's nor the student's scores on padding count, and a window's loss
does not depend on how much its batch pads it. Every choice is made on the selection split's ``data.metric``
(official F1 by default, ``qa.Reader``); the evaluation split is only measured. Its own module (not ``qa.py``), so
the teacher stage's code fingerprint does not hold the KD loss.
"""

from __future__ import annotations

import numpy as np

from .qa import Windows, collate_for as span_collate_for, reader, span_logits, split_metrics, split_windows

SIDES = ("start", "end")
# Padding's score before the softmax: far below any real logit at any sane temperature (its probability is 0), yet
# finite, so that KL's p * (log p - log q) is 0 x finite at padding, never 0 x (-inf - -inf) = NaN.
MASKED = -1.0e9
NO_GATE = {"test": "not built for question-answering yet: no model is stopped as useless"}


def loss_name(alpha: float, temperature: float) -> str:
    return (f"per-position KD on start and end over each window's real tokens: {alpha} x span CE + "
            f"{1 - alpha:g} x T^2 x KL (T={temperature})")


def collate_for(tokenizer):
    """``qa.collate_for`` plus the teacher's start and end logits, padded with zeros (masked out by the loss)."""
    import torch

    spans = span_collate_for(tokenizer)

    def collate(rows: list[dict]) -> dict:
        batch = spans(rows)
        if "teacher_start" in rows[0]:
            width = batch["input_ids"].shape[1]
            for side in SIDES:
                padded = np.zeros((len(rows), width), dtype=np.float32)
                for i, row in enumerate(rows):
                    padded[i, :len(row[f"teacher_{side}"])] = row[f"teacher_{side}"]
                batch[f"teacher_{side}"] = torch.from_numpy(padded)
        return batch

    return collate


def masked(logits, real):
    """fp32 logits with every padding position at ``MASKED``: a softmax over them reads the real tokens only."""
    return logits.float().masked_fill(~real, MASKED)


def kd_loss(alpha: float, temperature: float):
    """(model, batch) -> the mean over start and end of ``training.kd.kd_loss`` over each window's real tokens
    (``distill.alpha`` weights the hard-label cross-entropy, as for a classifier)."""
    from ..training import kd
    from ..training.loop import model_inputs

    def loss(model, batch):
        out = model(**model_inputs(batch))
        real = batch["attention_mask"].bool()
        terms = [kd.kd_loss(masked(getattr(out, f"{side}_logits"), real), masked(batch[f"teacher_{side}"], real),
                            batch[f"{side}_positions"], alpha, temperature) for side in SIDES]
        return (terms[0] + terms[1]) / 2

    return loss


def with_teacher_logits(teacher, windows: Windows, tokenizer, batch_size: int) -> list[dict]:
    """The training windows' rows, each with the teacher's fp32 start and end logits over its real tokens."""
    logits = span_logits(teacher, windows, span_collate_for(tokenizer), batch_size, "teacher logits")
    return [row | {"teacher_start": start, "teacher_end": end} for row, (start, end) in zip(windows.rows, logits)]


def training_rows(ctx, teacher, tokenizer, batch_size: int) -> tuple[list[dict], dict]:
    """(rows, counts): the windows of the first ``train_rows`` training questions, labelled, with the teacher's
    logits; distill and prune recovery train on these."""
    data, task = ctx.cfg.data, ctx.task()
    train = task.train.head(ctx.cfg.train_rows)
    windows = split_windows(train, tokenizer, data.max_seq_len, data.stride(), labels=True)
    counts = {"train_rows": len(train), "train_windows": len(windows.rows),
              "train_windows_with_answer": windows.with_answer()}
    return with_teacher_logits(teacher, windows, tokenizer, batch_size), counts


def teacher_comparison(ctx, student, teacher, tokenizer, batch_size: int) -> dict:
    """The teacher's recorded figures beside the student's, and how often the two give the same answer text on the
    selection questions (measured, never used to choose)."""
    data, task = ctx.cfg.data, ctx.task()
    select = reader(task.select, tokenizer, data.max_seq_len, data.stride(), batch_size)
    ours, theirs = select.answers(student, "student answers"), select.answers(teacher, "teacher answers")
    same = sum(ours.get(e.id) == theirs.get(e.id) for e in task.select.examples)
    recorded = ctx.input_metrics("teacher")
    figures = {f"teacher_{s}_{m}": recorded.get(f"{s}_{m}")
               for s in ("select", "eval") for m in ("squad_f1", "squad_em")}
    return figures | {"select_teacher_agreement": round(same / max(len(task.select), 1), 6)}


def distill(ctx) -> dict:
    """The distill stage: a student of ``distill.student.layers`` of the teacher learns its start and end logits
    on the training windows and the gold spans; the checkpoint is chosen on the selection split's ``data.metric``."""
    from ..models import save_model
    from ..models.student import build_student
    from ..pipeline import dist
    from ..training.loop import fit, training_device
    from .qa import task_tokenizer
    from .qa_model import load_qa, new_qa

    cfg, task, dcfg, data = ctx.cfg, ctx.task(), ctx.cfg.distill, ctx.cfg.data
    batch = dcfg.train.eval_batch_size
    tokenizer, teacher = task_tokenizer(ctx.inputs["teacher"]), load_qa(ctx.inputs["teacher"]).eval()
    student = build_student(teacher, dcfg.student, make=new_qa)  # every weight outside the layers, the head too
    rows, counts = training_rows(ctx, teacher.to(training_device()), tokenizer, batch)
    select = reader(task.select, tokenizer, data.max_seq_len, data.stride(), batch)
    result = fit(student, rows, [], dcfg.train, kd_loss(dcfg.alpha, dcfg.temperature), collate_for(tokenizer),
                 cfg.seed, "distill", metric=data.metric, evaluate_fn=select.choice_scores)
    metrics = {"params": sum(p.numel() for p in student.parameters()), "layers": student.config.num_hidden_layers,
               "student_layers": list(dcfg.student.layers), "hidden_size": student.config.hidden_size,
               "student_model": None, "student_tokenizer": "teacher's", "max_seq_len": data.max_seq_len,
               "doc_stride": data.stride(), "loss": loss_name(dcfg.alpha, dcfg.temperature)} | counts
    metrics |= {k: v for k, v in result.metrics().items() if k != "select_accuracy"}
    metrics |= split_metrics(task, student, tokenizer, data, batch)
    metrics |= teacher_comparison(ctx, student, teacher, tokenizer, batch)
    metrics |= {"useful_gate": NO_GATE, "gate_failures": []}
    if dist.is_main():
        save_model(student, tokenizer, ctx.out)
    return metrics
