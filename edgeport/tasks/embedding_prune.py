"""Pruning a sentence embedder: heads and FFN neurons scored and recovered on the distillation loss (the squared
distance to the teacher's unit vectors), checkpoints chosen on the selection split's Spearman, vocabulary pruned
to the training sentences' tokens (``tasks/pruned.py`` runs the steps)."""

from __future__ import annotations

from .embedding import collate_for, encode_sentences, measured, split_metrics, vectors
from .embedding_distill import loss, select_spearman, training_sentences


def prune(ctx) -> dict:
    from ..models import load_tokenizer
    from . import pruned
    from .embedding_model import load_embedder, save_embedder

    cfg, task = ctx.cfg, ctx.task()
    max_len = cfg.data.max_seq_len
    tokenizer = load_tokenizer(ctx.inputs["student"])
    extra = cfg.extra_texts.path if cfg.extra_texts else None  # distill.extra_texts (the stage settings hold it)
    texts, counts = training_sentences(task, cfg.train_rows, extra)
    targets = vectors(load_embedder(ctx.inputs["teacher"]), texts, load_tokenizer(ctx.inputs["teacher"]), max_len,
                      "teacher vectors")
    rows = [r | {"target": t} for r, t in zip(encode_sentences(texts, tokenizer, max_len), targets)]
    eval_texts = sorted(set(task.eval.texts) | set(task.eval.pairs or []))
    job = pruned.PruneJob(
        model=load_embedder(ctx.inputs["student"]), tokenizer=tokenizer, rows=rows, loss=loss,
        collate_for=collate_for, split_metrics=lambda model, tok: split_metrics(task, model, tok, max_len),
        measured=lambda model, tok: measured(task, model, tok, max_len, "prune", cfg.prune.train.useful_gate),
        selection=lambda tok: select_spearman(task, tok, max_len),
        sample=lambda tok: encode_sentences(eval_texts[:64], tok, max_len),
        save=lambda model, tok, out: save_embedder(model, tok, out, max_len), load=load_embedder,
        vocab_texts=texts, eval_texts=eval_texts, metric="spearman")
    return pruned.run(ctx, job) | counts
