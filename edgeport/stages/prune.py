"""Prune stage: remove the least important attention heads and FFN neurons physically, recover with a short
distillation from the teacher, optionally prune the vocabulary; measure every step in one table.

Order: score -> heads -> re-score -> FFN -> recovery distillation -> vocabulary. FFN neurons are re-scored after
the heads go because the heads' removal shifts what the FFN sees. Vocabulary pruning comes last: it changes no
logit on training text, so it needs no recovery, and recovery can reuse distill's cached teacher logits
(same tokenizer, same rows).

The steps above are the classifier's (``_classifier``); the other tasks run the same steps with their own loss,
metric and saving (``RECIPES``: ``tasks/pruned.py`` with the task's ``PruneJob``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..pipeline import dist
from ..pipeline import fingerprint as fp

if TYPE_CHECKING:
    from ..config import AugmentConfig, DataSpec, PruneConfig
    from ..training.loop import TrainEnv


@dataclass(frozen=True)
class PruneSettings:
    prune: PruneConfig
    data: DataSpec
    # recovery rows: prune.train_limit, else distill.train_limit, else data.train_limit (the same rows reuse
    # distill's cached teacher logits)
    train_rows: int | None
    seed: int
    env: TrainEnv
    # a sentence embedder's recovery learns the teacher's vectors of distill's sentences, these included
    extra_texts: object | None = fp.optional_input()  # corpus.CorpusFiles of distill.extra_texts
    augment: AugmentConfig  # distill.augment: a classifier's recovery fills its budget with copies too
    libs: fp.Libraries


class PruneStage:
    name = "prune"
    uses_data = True
    distributed = True
    gate_stops_run = True  # a model no better than the majority class stops the run here
    key_metric = "eval_accuracy"

    def enabled(self, cfg) -> bool:
        return cfg.prune.enabled

    def inputs(self, cfg) -> dict[str, str]:
        return {"student": "distill" if cfg.distill.enabled else "teacher", "teacher": "teacher"}

    def configure(self, cfg) -> PruneSettings:
        from ..corpus import CorpusFiles
        from ..tasks import TASKS
        from ..training.loop import train_env  # torch: only when planning a run

        rows = cfg.prune.train_limit or cfg.distill.train_limit or cfg.data.train_limit
        extra = cfg.distill.extra_texts if TASKS[cfg.data.task].prune_reads_extra_texts else None
        return PruneSettings(prune=cfg.prune, data=cfg.data.spec(), train_rows=rows, seed=cfg.run.seed,
                             env=train_env(cfg.prune.train, cfg.run.threads),
                             extra_texts=CorpusFiles(extra) if extra else None, augment=cfg.distill.augment,
                             libs=fp.libraries("model", "training"))

    def run(self, ctx) -> dict:
        return RECIPES[ctx.cfg.data.task](ctx)

    @staticmethod
    def _classifier(ctx) -> dict:
        # torch and the pruning library load here, not at import: `edgeport run --dry-run` imports every stage.
        from ..models import load_classifier, load_tokenizer
        from ..pruning import (heads_to_keep, neurons_to_keep, prune_ffn, prune_heads, save_pruned,
                               top_k_per_layer, unit_importance)
        from ..pruning.measure import param_count
        from ..pruning.recovery import recover_or_keep
        from ..pruning.structured import ffn_width, heads_per_layer
        from ..data import encode
        from ..training import distillation, recipe

        cfg, pcfg, task = ctx.cfg, ctx.cfg.prune, ctx.task()
        metric = cfg.data.metric
        tokenizer = load_tokenizer(ctx.inputs["student"])
        model = load_classifier(ctx.inputs["student"]).eval()  # load_classifier reslices a head-pruned input
        collate = recipe.collate_for(tokenizer)
        train = task.train.head(cfg.train_rows)
        rows = encode(train, tokenizer, cfg.data.max_seq_len)
        splits = {"select": encode(task.select, tokenizer, cfg.data.max_seq_len),
                  "eval": encode(task.eval, tokenizer, cfg.data.max_seq_len)}
        structured = pcfg.heads_fraction > 0 or pcfg.ffn_fraction > 0
        kd = distillation.KD(pcfg.alpha, pcfg.temperature)
        if structured and pcfg.recover:
            copies, metrics_aug = _teacher_rows(ctx, rows, train, tokenizer)
        else:
            copies, metrics_aug = [], {}
        loss_fn = _loss(kd)
        table = Table(ctx, collate, tokenizer, metric, task.num_labels)
        table.add("unpruned", model, splits)
        metrics = {"heads_per_layer_before": heads_per_layer(model), "ffn_width_before": ffn_width(model)}
        metrics |= metrics_aug
        if pcfg.heads_fraction > 0:
            keep = heads_to_keep(heads_per_layer(model), pcfg.heads_fraction)
            head_scores, _ = unit_importance(model, _score_loader(rows, pcfg, collate), loss_fn, pcfg.score_batches)
            kept = top_k_per_layer(head_scores, keep)
            prune_heads(model, kept)
            metrics["head_scores"] = [[round(v, 6) for v in r] for r in head_scores.tolist()]
            table.add("heads-pruned", model, splits)
        if pcfg.ffn_fraction > 0:
            _, ffn_scores = unit_importance(model, _score_loader(rows, pcfg, collate), loss_fn, pcfg.score_batches)
            prune_ffn(model, top_k_per_layer(ffn_scores, neurons_to_keep(ffn_width(model), pcfg.ffn_fraction)))
            table.add("ffn-pruned", model, splits)
        if structured and pcfg.recover:
            result, kept = recover_or_keep(model, table.rows[-1][f"select_{metric}"], lambda: distillation.distill(
                model, rows + copies, splits["select"], pcfg.train, kd, collate, cfg.seed, desc="prune recovery",
                metric=metric))
            metrics["recovery"] = result.metrics() | kept
            table.add("recovered", model.eval(), splits)
        if pcfg.vocab:
            model, tokenizer, splits, metrics["vocab"] = _vocab_or_keep(ctx, model, tokenizer, splits, table)
            collate = table.collate
        if dist.is_main():
            save_pruned(model, tokenizer, ctx.out)
            metrics["reload_max_abs_diff"] = _reload_check(ctx.out, model, splits["eval"], collate)
        final = table.rows[-1]
        metrics |= {"heads_per_layer": heads_per_layer(model), "ffn_width": ffn_width(model),
                    "vocab_size": model.config.vocab_size, "params": param_count(model),
                    "select_accuracy": final["select_accuracy"], "eval_accuracy": final["eval_accuracy"],
                    "metric": metric, "select_metric": metric,
                    "eval_split": task.eval.name, "eval_rows": len(splits["eval"]),
                    "select_rows": len(splits["select"]), "train_rows": len(rows), "variants": table.rows}
        if metric != "accuracy":
            metrics |= {f"select_{metric}": final[f"select_{metric}"], f"eval_{metric}": final[f"eval_{metric}"]}
        evidence = recipe.useful_test(task.select.labels, train.labels, task.label_names, metric=metric,
                                      select_accuracy=final["select_accuracy"],
                                      select_preds=recipe.predictions(model, splits["select"], collate),
                                      seed=cfg.seed)
        failure = recipe.useless_message("prune", evidence, task.label_names)
        metrics["useful_gate"] = evidence
        metrics["gate_failures"] = [failure] if failure and pcfg.train.useful_gate else []
        if getattr(model.config, "edgeport_kept_heads", None):
            metrics["kept_heads"] = model.config.edgeport_kept_heads
        return metrics


def _loss(kd):
    """Importance is scored with the recovery loss (KD), or the task loss alone when there is no recovery."""
    import torch.nn.functional as F

    from ..training import distillation
    from ..training.loop import model_inputs

    distil = distillation.kd_loss_fn(kd)

    def loss_fn(model, batch):
        if "teacher_logits" in batch:
            return distil(model, batch)
        return F.cross_entropy(model(**model_inputs(batch)).logits, batch["labels"])

    return loss_fn


def _score_loader(rows, pcfg, collate):
    from torch.utils.data import DataLoader

    return DataLoader(rows[: pcfg.score_batches * pcfg.train.batch_size], batch_size=pcfg.train.batch_size,
                      collate_fn=collate)


def _teacher_rows(ctx, rows, train, tokenizer) -> tuple[list[dict], dict]:
    """Recovery's rows get the teacher's logits (cached: distill's rows reuse them), and a small task's recovery
    gets word-replaced copies of its training texts to fill its budget (``distill.augment``, the same rule as
    distill's: ``training.augment``); returns the copies' rows and their record."""
    from ..corpus import OverlapFilter
    from ..data import encode
    from ..models import load_classifier, load_tokenizer
    from ..training import augment, distillation, recipe

    cfg, task = ctx.cfg, ctx.task()
    teacher_dir = ctx.inputs["teacher"]
    teacher, teacher_tok = load_classifier(teacher_dir).eval(), load_tokenizer(teacher_dir)

    def attach(target, split):
        distillation.attach_teacher_logits(target, teacher, teacher_tok, split, cfg.data.max_seq_len, ctx.cache_dir,
                                           ctx.manifest.outputs_digest("teacher"),
                                           recipe.resolve_precision(cfg.prune.train.precision))

    attach(rows, train)
    split, info = augment.copies_for(train, OverlapFilter(task.eval, task.select), len(rows), cfg.augment,
                                     cfg.prune.train, teacher, teacher_tok, cfg.seed)
    if split is None:
        return [], {"recovery_" + k: v for k, v in info.items()}
    copies = encode(split, tokenizer, cfg.data.max_seq_len)
    attach(copies, split)
    return copies, {"recovery_" + k: v for k, v in info.items()}


def _vocab_or_keep(ctx, model, tokenizer, splits, table):
    """The vocabulary cut, kept only when it costs at most ``prune.vocab_max_drop`` on the selection split
    (``pruning.VocabTrial``); returns the model, tokenizer and encoded splits that go on, and the cut's record."""
    from ..pruning import VocabTrial
    from ..training import recipe

    key = f"select_{ctx.cfg.data.metric}"
    trial = VocabTrial(model, ctx.out)
    new_tok, new_splits, info = _prune_vocab(ctx, model, tokenizer)
    table.collate, table.tokenizer = recipe.collate_for(new_tok), new_tok
    table.add("vocab-pruned", model, new_splits)
    info |= trial.judge(table.rows[-2][key], table.rows[-1][key], ctx.cfg.prune.vocab_max_drop)
    if info["kept"] == "pruned":
        return model, new_tok, new_splits, info
    model = trial.undo()
    table.collate, table.tokenizer = recipe.collate_for(tokenizer), tokenizer
    table.add("vocab-kept", model, splits)
    return model, tokenizer, splits, info


def _prune_vocab(ctx, model, tokenizer):
    from ..pruning import prune_vocab, token_change, tokenizer_family
    from ..data import encode

    cfg, task = ctx.cfg, ctx.task()
    texts = task.train.texts + (task.train.pairs or [])  # the whole training split, not only the trained rows
    before = model.config.vocab_size
    width = model.get_input_embeddings().embedding_dim  # not hidden_size: ELECTRA's embeddings are narrower
    family = tokenizer_family(tokenizer)
    new_tok, kept = prune_vocab(model, tokenizer, texts, ctx.out, cfg.prune.vocab_top_k)
    info = {"tokenizer_family": family, "vocab_before": before, "vocab_after": len(kept),
            "embedding_params_removed": (before - len(kept)) * width,
            "eval_token_change": token_change(tokenizer, new_tok, task.eval.texts, task.eval.pairs)}
    splits = {"select": encode(task.select, new_tok, cfg.data.max_seq_len),
              "eval": encode(task.eval, new_tok, cfg.data.max_seq_len)}
    return new_tok, splits, info


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

    def __init__(self, ctx, collate, tokenizer, metric: str = "accuracy", num_labels: int | None = None):
        self.pcfg, self.collate, self.tokenizer = ctx.cfg.prune, collate, tokenizer
        self.metric, self.num_labels = metric, num_labels
        self.rows: list[dict] = []

    def add(self, step: str, model, splits: dict) -> None:
        from ..pruning.measure import cpu_latency, param_count, saved_file_mb, weights_mb
        from ..pruning.structured import ffn_width, heads_per_layer
        from ..training import recipe

        row = {"step": step}
        for split in ("select", "eval"):
            scores = recipe.measure(model, splits[split], self.collate, self.metric, self.num_labels)
            row |= {f"{split}_{name}": value for name, value in scores.items()}
        row |= {"params": param_count(model),
               "heads_per_layer": heads_per_layer(model), "ffn_width": ffn_width(model),
               "vocab_size": model.config.vocab_size, "weights_mb": weights_mb(model)}
        if dist.is_main():
            row["file_mb"] = saved_file_mb(model, self.tokenizer)
            if self.pcfg.latency_seconds > 0:
                lat = cpu_latency(model, self.pcfg.latency_seq_len, self.pcfg.latency_seconds, threads=1)
                row |= {"p50_ms": lat["p50_ms"], "p90_ms": lat["p90_ms"], "latency_runs": lat["runs"]}
        self.rows.append(row)


def _embedding(ctx) -> dict:
    from ..tasks.embedding_prune import prune  # imported when it runs: the module pulls in numpy

    return prune(ctx)


def _tokens(ctx) -> dict:
    from ..tasks.tokens_prune import prune

    return prune(ctx)


def _qa(ctx) -> dict:
    from ..tasks.qa_prune import prune

    return prune(ctx)


RECIPES = {"sequence-classification": PruneStage._classifier, "sentence-embedding": _embedding,
           "token-classification": _tokens, "question-answering": _qa}
