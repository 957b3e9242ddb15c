"""Prune stage: remove the least important attention heads and FFN neurons physically, recover with a short
distillation from the teacher, optionally prune the vocabulary; measure every step in one table.

Order: score -> heads -> re-score -> FFN -> recovery distillation -> vocabulary. FFN neurons are re-scored after
the heads go because the heads' removal shifts what the FFN sees. Vocabulary pruning comes last: it changes no
logit on training text, so it needs no recovery, and recovery can reuse distill's cached teacher logits
(same tokenizer, same rows).
"""

from __future__ import annotations

from ..pipeline import dist
from .distill import _attach_teacher_logits


class PruneStage:
    name = "prune"
    sections = ("data", "distill", "prune")
    uses_data = True
    distributed = True
    key_metric = "eval_accuracy"

    def enabled(self, cfg) -> bool:
        return cfg.prune.enabled

    def inputs(self, cfg) -> dict[str, str]:
        return {"student": "distill" if cfg.distill.enabled else "teacher", "teacher": "teacher"}

    def run(self, ctx) -> dict:
        # torch and the pruning library load here, not at import: `edgeport run --dry-run` imports every stage.
        from ..data import encode
        from ..models import load_classifier, load_tokenizer
        from ..pruning import (heads_to_keep, neurons_to_keep, prune_ffn, prune_heads, save_pruned,
                               top_k_per_layer, unit_importance)
        from ..pruning.measure import param_count
        from ..pruning.structured import ffn_width, heads_per_layer
        from ..training import fit
        from ..training.loop import make_collate

        cfg, pcfg, task = ctx.cfg, ctx.cfg.prune, ctx.task()
        tokenizer = load_tokenizer(ctx.inputs["student"])
        model = load_classifier(ctx.inputs["student"]).eval()  # load_classifier reslices a head-pruned input
        collate = make_collate(tokenizer.pad_token_id or 0)
        rows = encode(task.train.head(pcfg.train_limit or cfg.distill.train_limit or cfg.data.train_limit),
                      tokenizer, cfg.data.max_seq_len)
        eval_rows = encode(task.eval, tokenizer, cfg.data.max_seq_len)
        structured = pcfg.heads_fraction > 0 or pcfg.ffn_fraction > 0
        if structured and pcfg.recover:
            _attach_teacher_logits(ctx, load_classifier(ctx.inputs["teacher"]).eval(), rows, collate)
        loss_fn = _loss(pcfg)
        table = Table(ctx, collate, tokenizer)
        table.add("unpruned", model, eval_rows)
        metrics = {"heads_per_layer_before": heads_per_layer(model), "ffn_width_before": ffn_width(model)}
        if pcfg.heads_fraction > 0:
            keep = heads_to_keep(heads_per_layer(model), pcfg.heads_fraction)
            head_scores, _ = unit_importance(model, _score_loader(rows, pcfg, collate), loss_fn, pcfg.score_batches)
            kept = top_k_per_layer(head_scores, keep)
            prune_heads(model, kept)
            metrics["head_scores"] = [[round(v, 6) for v in r] for r in head_scores.tolist()]
            table.add("heads-pruned", model, eval_rows)
        if pcfg.ffn_fraction > 0:
            _, ffn_scores = unit_importance(model, _score_loader(rows, pcfg, collate), loss_fn, pcfg.score_batches)
            prune_ffn(model, top_k_per_layer(ffn_scores, neurons_to_keep(ffn_width(model), pcfg.ffn_fraction)))
            table.add("ffn-pruned", model, eval_rows)
        if structured and pcfg.recover:
            result = fit(model, rows, eval_rows, pcfg.train, loss_fn, collate, cfg.run.seed, "prune recovery")
            metrics |= {"recovery_steps": result.steps, "recovery_seconds": result.seconds,
                        "recovery_history": result.history}
            table.add("recovered", model.eval(), eval_rows)
        if pcfg.vocab:
            tokenizer, eval_rows, metrics["vocab"] = _prune_vocab(ctx, model, tokenizer, eval_rows)
            table.tokenizer = tokenizer
            table.add("vocab-pruned", model, eval_rows)
        if dist.is_main():
            save_pruned(model, tokenizer, ctx.out)
            metrics["reload_max_abs_diff"] = _reload_check(ctx.out, model, eval_rows, collate)
        metrics |= {"heads_per_layer": heads_per_layer(model), "ffn_width": ffn_width(model),
                    "vocab_size": model.config.vocab_size, "params": param_count(model),
                    "eval_accuracy": table.rows[-1]["eval_accuracy"], "train_rows": len(rows),
                    "variants": table.rows}
        if getattr(model.config, "edgeport_kept_heads", None):
            metrics["kept_heads"] = model.config.edgeport_kept_heads
        return metrics


def _loss(pcfg):
    import torch.nn.functional as F

    from ..training import kd_loss
    from ..training.loop import model_inputs

    def loss_fn(model, batch):
        logits = model(**model_inputs(batch)).logits
        if "teacher_logits" not in batch:  # scoring without recovery: the task loss alone
            return F.cross_entropy(logits, batch["labels"])
        return kd_loss(logits, batch["teacher_logits"], batch["labels"], pcfg.alpha, pcfg.temperature)

    return loss_fn


def _score_loader(rows, pcfg, collate):
    from torch.utils.data import DataLoader

    return DataLoader(rows[: pcfg.score_batches * pcfg.train.batch_size], batch_size=pcfg.train.batch_size,
                      collate_fn=collate)


def _prune_vocab(ctx, model, tokenizer, eval_rows):
    from ..data import encode
    from ..pruning import prune_vocab, token_change

    cfg, task = ctx.cfg, ctx.task()
    texts = task.train.texts + (task.train.pairs or [])  # the whole training split, not only the trained rows
    before = model.config.vocab_size
    new_tok, kept = prune_vocab(model, tokenizer, texts, ctx.out, cfg.prune.vocab_top_k)
    info = {"vocab_before": before, "vocab_after": len(kept),
            "embedding_params_removed": (before - len(kept)) * model.config.hidden_size,
            "eval_token_change": token_change(tokenizer, new_tok, task.eval.texts, task.eval.pairs)}
    return new_tok, encode(task.eval, new_tok, cfg.data.max_seq_len), info


def _reload_check(out, model, eval_rows, collate) -> float:
    """Max |logit difference| between the in-memory model and plain transformers loading the saved directory."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from ..training.loop import model_inputs

    reloaded = AutoModelForSequenceClassification.from_pretrained(str(out)).eval()
    batch = model_inputs(collate(eval_rows[:64]))
    with torch.no_grad():
        return float((reloaded(**batch).logits - model.eval()(**batch).logits).abs().max())


class Table:
    """One row per pruning step: accuracy, size and latency measured the same way for each."""

    def __init__(self, ctx, collate, tokenizer):
        self.pcfg, self.collate, self.tokenizer = ctx.cfg.prune, collate, tokenizer
        self.batch_size = ctx.cfg.prune.train.eval_batch_size
        self.rows: list[dict] = []

    def add(self, step: str, model, eval_rows) -> None:
        from torch.utils.data import DataLoader

        from ..pruning.measure import cpu_latency, param_count, saved_file_mb, weights_mb
        from ..pruning.structured import ffn_width, heads_per_layer
        from ..training import evaluate

        loader = DataLoader(eval_rows, batch_size=self.batch_size, collate_fn=self.collate)
        row = {"step": step, "eval_accuracy": evaluate(model, loader), "params": param_count(model),
               "heads_per_layer": heads_per_layer(model), "ffn_width": ffn_width(model),
               "vocab_size": model.config.vocab_size, "weights_mb": weights_mb(model)}
        if dist.is_main():
            row["file_mb"] = saved_file_mb(model, self.tokenizer)
            if self.pcfg.latency_seconds > 0:
                lat = cpu_latency(model, self.pcfg.latency_seq_len, self.pcfg.latency_seconds, threads=1)
                row |= {"p50_ms": lat["p50_ms"], "p90_ms": lat["p90_ms"], "latency_runs": lat["runs"]}
        self.rows.append(row)
