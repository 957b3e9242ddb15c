"""Pruning a question-answering model: heads and FFN neurons scored and recovered on the student's distillation
loss (per-position KD on start and end over each training window's real tokens, against the teacher's logits),
checkpoints chosen on the selection split's ``data.metric`` (official F1 by default), vocabulary pruned to the
tokens of the training questions and contexts (``tasks/pruned.py`` runs the steps)."""

from __future__ import annotations

from .qa import reader, split_metrics, split_windows, task_tokenizer
from .qa_distill import NO_GATE, collate_for, kd_loss, loss_name, training_rows


def vocab_texts(split) -> list[str]:
    """Every question and every distinct context of ``split``, in order: what the model reads of it."""
    return list(split.texts) + list(dict.fromkeys(split.pairs))


def prune(ctx) -> dict:
    from ..models import save_model
    from ..training.loop import training_device
    from . import TASKS, pruned
    from .qa_model import load_qa

    cfg, task, pcfg, data = ctx.cfg, ctx.task(), ctx.cfg.prune, ctx.cfg.data
    batch = pcfg.train.eval_batch_size
    tokenizer = task_tokenizer(ctx.inputs["student"])
    # the teacher reads the student's windows: a question-answering student is built from the teacher's layers and
    # keeps its tokenizer (a student model of its own is refused at config load)
    teacher = load_qa(ctx.inputs["teacher"]).eval().to(training_device())
    rows, counts = training_rows(ctx, teacher, tokenizer, batch)
    del teacher
    measure = lambda model, tok: split_metrics(task, model, tok, data, batch)  # noqa: E731
    job = pruned.PruneJob(
        model=load_qa(ctx.inputs["student"]), tokenizer=tokenizer, rows=rows,
        loss=kd_loss(pcfg.alpha, pcfg.temperature), collate_for=collate_for, split_metrics=measure,
        measured=lambda model, tok: measure(model, tok) | {"useful_gate": NO_GATE, "gate_failures": []},
        selection=lambda tok: reader(task.select, tok, data.max_seq_len, data.stride(), batch).choice_scores,
        sample=lambda tok: split_windows(task.eval.head(16), tok, data.max_seq_len, data.stride()).rows,
        save=save_model, load=load_qa, vocab_texts=vocab_texts(task.train), eval_texts=vocab_texts(task.eval),
        metric=data.metric, outputs=TASKS[data.task].outputs)
    return pruned.run(ctx, job) | counts | {"loss": loss_name(pcfg.alpha, pcfg.temperature)}
