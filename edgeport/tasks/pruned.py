"""Pruning a model of any task: the same steps as a classifier's, with the task's loss, metric and saving.

Order (as ``stages/prune.py`` does it for a classifier): score -> heads -> re-score -> FFN -> recovery -> vocabulary.
Importance is the gradient of the task's recovery loss at a gate on each unit (``pruning.unit_importance``), so
a head is kept for what it does to the teacher-matching loss the student trained on (the teacher's unit vectors
for an embedder, its per-token tag distributions for a tagger). Recovery is ``training.loop.fit`` with that loss,
its checkpoint chosen on the selection split's task metric. Every step is measured the same way (selection and
evaluation metric, parameters, bytes, 1-thread latency), one row each.

A task supplies a ``PruneJob`` (``tasks/embedding_prune.py``, ``tasks/tokens_prune.py``, ``tasks/qa_prune.py``); the
classifier keeps its own path in the stage (cached teacher logits, the hard-label test of the useless-model gate).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass
class PruneJob:
    model: Any  # the student, loaded with its heads physically sliced
    tokenizer: Any
    rows: list[dict]  # training rows carrying what ``loss`` reads (the teacher's vectors or logits)
    loss: Callable  # (model, batch) -> scalar: scores importance and drives recovery
    collate_for: Callable  # tokenizer -> collate
    split_metrics: Callable  # (model, tokenizer) -> {"select_<metric>": ..., "eval_<metric>": ...}
    measured: Callable  # (model, tokenizer) -> the stage's final metrics, useful-model gate included
    selection: Callable  # tokenizer -> fit's evaluate_fn (the selection split's metric)
    sample: Callable  # tokenizer -> a few evaluation rows (the reload check)
    save: Callable  # (model, tokenizer, out)
    load: Callable  # out -> model, as export and validate load it
    vocab_texts: list[str]  # every training text: what vocabulary pruning keeps
    eval_texts: list[str]  # what the vocabulary change is measured on
    metric: str
    outputs: tuple[str, ...] = ("logits",)  # the model's outputs by name (``TaskSpec.outputs``): the reload check
    # compares each, the latency table times a forward that gives them


def run(ctx, job: PruneJob) -> dict:
    """The prune stage's metrics for ``job``; the pruned model is saved to ``ctx.out``."""
    from ..pipeline import dist
    from ..pruning.structured import ffn_width, heads_per_layer

    pcfg, model = ctx.cfg.prune, job.model
    table = _Table(job, pcfg)
    table.add("unpruned", model, job.tokenizer)
    metrics = {"heads_per_layer_before": heads_per_layer(model), "ffn_width_before": ffn_width(model)}
    structured = pcfg.heads_fraction > 0 or pcfg.ffn_fraction > 0
    if pcfg.heads_fraction > 0:
        metrics["head_scores"] = _prune_heads(model, job, pcfg)
        table.add("heads-pruned", model, job.tokenizer)
    if pcfg.ffn_fraction > 0:
        _prune_ffn(model, job, pcfg)
        table.add("ffn-pruned", model, job.tokenizer)
    if structured and pcfg.recover:
        metrics["recovery"] = _recover(model, job, pcfg, ctx.cfg.seed, table.rows[-1][f"select_{job.metric}"])
        table.add("recovered", model.eval(), job.tokenizer)
    tokenizer = job.tokenizer
    if pcfg.vocab:
        model, tokenizer, metrics["vocab"] = _vocab_or_keep(model, job, ctx.out, pcfg, table)
    if dist.is_main():
        job.save(model, tokenizer, ctx.out)
        metrics["reload_max_abs_diff"] = _reload_check(job, ctx.out, model, tokenizer)
    from ..pruning.measure import param_count

    metrics |= {"heads_per_layer": heads_per_layer(model), "ffn_width": ffn_width(model),
                "vocab_size": model.config.vocab_size, "params": param_count(model), "train_rows": len(job.rows),
                "variants": table.rows}
    metrics |= job.measured(model, tokenizer)
    if getattr(model.config, "edgeport_kept_heads", None):
        metrics["kept_heads"] = model.config.edgeport_kept_heads
    return metrics


def _score_loader(job: PruneJob, pcfg):
    from torch.utils.data import DataLoader

    size = pcfg.train.batch_size
    return DataLoader(job.rows[: pcfg.score_batches * size], batch_size=size, collate_fn=job.collate_for(job.tokenizer))


def _prune_heads(model, job: PruneJob, pcfg) -> list[list[float]]:
    from ..pruning import heads_to_keep, prune_heads, top_k_per_layer, unit_importance
    from ..pruning.structured import heads_per_layer

    keep = heads_to_keep(heads_per_layer(model), pcfg.heads_fraction)
    scores, _ = unit_importance(model, _score_loader(job, pcfg), job.loss, pcfg.score_batches)
    prune_heads(model, top_k_per_layer(scores, keep))
    return [[round(v, 6) for v in row] for row in scores.tolist()]


def _prune_ffn(model, job: PruneJob, pcfg) -> None:
    """FFN neurons are scored after the heads go: the heads' removal shifts what the FFN sees."""
    from ..pruning import neurons_to_keep, prune_ffn, top_k_per_layer, unit_importance
    from ..pruning.structured import ffn_width

    _, scores = unit_importance(model, _score_loader(job, pcfg), job.loss, pcfg.score_batches)
    prune_ffn(model, top_k_per_layer(scores, neurons_to_keep(ffn_width(model), pcfg.ffn_fraction)))


def _recover(model, job: PruneJob, pcfg, seed: int, before: float) -> dict:
    """Recovery training; the pruned weights (``before``: their selection score) stay when no checkpoint beats
    them (``pruning.recovery``)."""
    from ..pruning.recovery import recover_or_keep
    from ..training.loop import fit

    result, kept = recover_or_keep(model, before, lambda: fit(
        model, job.rows, [], pcfg.train, job.loss, job.collate_for(job.tokenizer), seed, "prune recovery",
        metric=job.metric, evaluate_fn=job.selection(job.tokenizer)))
    return {k: v for k, v in result.metrics().items() if k != "select_accuracy"} | kept


def _vocab_or_keep(model, job: PruneJob, out: Path, pcfg, table):
    """The vocabulary cut, kept only when it costs at most ``prune.vocab_max_drop`` on the selection split
    (``pruning.VocabTrial``); returns the model and tokenizer that go on, and the cut's record."""
    from ..pruning import VocabTrial

    key = f"select_{job.metric}"
    trial = VocabTrial(model, out)
    tokenizer, info = _prune_vocab(model, job, out, pcfg.vocab_top_k)
    table.add("vocab-pruned", model, tokenizer)
    info |= trial.judge(table.rows[-2][key], table.rows[-1][key], pcfg.vocab_max_drop)
    if info["kept"] == "pruned":
        return model, tokenizer, info
    model = trial.undo()
    table.add("vocab-kept", model, job.tokenizer)
    return model, job.tokenizer, info


def _prune_vocab(model, job: PruneJob, out: Path, top_k: int | None):
    """Keep the tokens the training texts use (and the first ``top_k``); it changes no output on those texts, so
    it needs no recovery. The evaluation texts' token change is measured, not assumed."""
    from ..pruning import prune_vocab, token_change, tokenizer_family

    before, width = model.config.vocab_size, model.get_input_embeddings().embedding_dim
    family = tokenizer_family(job.tokenizer)
    new_tok, kept = prune_vocab(model, job.tokenizer, job.vocab_texts, out, top_k)
    return new_tok, {"tokenizer_family": family, "vocab_before": before, "vocab_after": len(kept),
                     "embedding_params_removed": (before - len(kept)) * width,
                     "eval_token_change": token_change(job.tokenizer, new_tok, job.eval_texts)}


def _reload_check(job: PruneJob, out: Path, model, tokenizer) -> float:
    """Max |output difference| over every output between the in-memory model and the saved directory loaded as
    export loads it."""
    import torch

    from ..training.loop import model_inputs

    batch = model_inputs(job.collate_for(tokenizer)(job.sample(tokenizer)))
    with torch.no_grad():
        saved, ours = job.load(out)(**batch), model.eval()(**batch)
    return max(float((getattr(saved, name) - getattr(ours, name)).abs().max()) for name in job.outputs)


class _Table:
    """One row per pruning step: the task metric, size and latency measured the same way for each."""

    def __init__(self, job: PruneJob, pcfg):
        self.job, self.pcfg = job, pcfg
        self.rows: list[dict] = []

    def add(self, step: str, model, tokenizer) -> None:
        from ..pipeline import dist
        from ..pruning.measure import cpu_latency, param_count, weights_mb
        from ..pruning.structured import ffn_width, heads_per_layer

        scores = self.job.split_metrics(model.eval(), tokenizer)
        row = {"step": step} | {f"{s}_{self.job.metric}": scores[f"{s}_{self.job.metric}"] for s in ("select", "eval")}
        row |= {"params": param_count(model), "heads_per_layer": heads_per_layer(model), "ffn_width": ffn_width(model),
                "vocab_size": model.config.vocab_size, "weights_mb": weights_mb(model)}
        if dist.is_main():
            row["file_mb"] = self._file_mb(model, tokenizer)
            if self.pcfg.latency_seconds > 0:
                lat = cpu_latency(model, self.pcfg.latency_seq_len, self.pcfg.latency_seconds, threads=1,
                                  outputs=self.job.outputs)
                row |= {"p50_ms": lat["p50_ms"], "p90_ms": lat["p90_ms"], "latency_runs": lat["runs"]}
        self.rows.append(row)
        print(f"  prune {step}: {self.job.metric} select {row[f'select_{self.job.metric}']} eval "
              f"{row[f'eval_{self.job.metric}']}, params {row['params']:,}", flush=True)

    def _file_mb(self, model, tokenizer) -> float:
        """model.safetensors as the task saves it (head-pruned rows are re-padded there)."""
        with tempfile.TemporaryDirectory() as tmp:
            self.job.save(model, tokenizer, Path(tmp))
            return round((Path(tmp) / "model.safetensors").stat().st_size / 1e6, 3)
