"""Pruning a token classifier: heads and FFN neurons scored and recovered on the distillation loss (per-token KD
on each word's first sub-token, against the teacher's logits), checkpoints chosen on the selection split's entity
F1, vocabulary pruned to the training sentences' tokens (``tasks/pruned.py`` runs the steps)."""

from __future__ import annotations

from .tokens import collate_for, encode_tagged, measured, selection_f1, split_metrics, token_logits
from .tokens_distill import kd_loss


def prune(ctx) -> dict:
    from ..models import load_tokenizer, save_model
    from . import pruned
    from .token_model import load_tagger

    cfg, task, pcfg = ctx.cfg, ctx.task(), ctx.cfg.prune
    max_len = cfg.data.max_seq_len
    tokenizer = load_tokenizer(ctx.inputs["student"])
    train = task.train.head(cfg.train_rows)
    rows, dropped = encode_tagged(train, tokenizer, max_len)
    # the teacher reads the same token ids: a token-classification student is built from the teacher's layers
    # and keeps its tokenizer (a student model of its own is refused at config load)
    for row, logits in zip(rows, token_logits(load_tagger(ctx.inputs["teacher"]), rows, collate_for(tokenizer))):
        row["teacher_logits"] = logits
    job = pruned.PruneJob(
        model=load_tagger(ctx.inputs["student"]), tokenizer=tokenizer, rows=rows,
        loss=kd_loss(pcfg.alpha, pcfg.temperature), collate_for=collate_for,
        split_metrics=lambda model, tok: split_metrics(task, model, tok, max_len),
        measured=lambda model, tok: measured(task, model, tok, max_len, "prune", pcfg.train.useful_gate),
        selection=lambda tok: selection_f1(task, tok, max_len),
        sample=lambda tok: encode_tagged(task.eval.head(64), tok, max_len)[0],
        save=save_model, load=load_tagger,
        # the words as pre-split text: the same tokens the rows were aligned with (ner.pretokenized_tokenizer)
        vocab_texts=list(task.train.texts), eval_texts=list(task.eval.texts), metric="entity_f1")
    return pruned.run(ctx, job) | {"train_dropped_words": dropped, "loss": f"per-token KD on first sub-tokens: "
                                   f"{pcfg.alpha} x CE + {1 - pcfg.alpha:g} x T^2 x KL (T={pcfg.temperature})"}
