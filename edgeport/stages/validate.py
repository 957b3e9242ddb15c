"""Validate stage: every exported/quantized artifact on the full evaluation split, gated by the config.

The reference for every artifact, fp32 and INT8, is the fp32 torch model of the model stage (the student).
Results go to ``validate/results.json`` and ``results.md`` and into the stage metrics; failed gates are listed
under ``gate_failures`` and fail the run after everything is written (the runner collects them).

The drop gates judge the task metric (``data.metric``). Accuracy: paired McNemar evidence
(``validation.gate_stats``). F1, macro-F1, MCC (not sums over rows, so no McNemar table): the same rows, a paired
bootstrap 95% interval of the drop and a one-sided paired approximate randomisation p (``stats.metric_drop``,
seeded with ``run.seed``), the same verdict rule (fail only when the limit is missed and p < significance); the
accuracy evidence stays beside it, ungated (``eval_accuracy_drop_vs_*``). Agreement gates stay label agreement.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..pipeline import fingerprint as fp
from ..pipeline.stage import model_stage

if TYPE_CHECKING:
    from ..config import DataSpec, ValidateConfig


@dataclass(frozen=True)
class ValidateSettings:
    validate: ValidateConfig
    data: DataSpec
    seed: int  # the selection split's carving, and the randomisation tests of the non-accuracy metrics
    threads: int | None  # run.threads: the runtimes and the torch reference compute with it
    source_stage: str  # the fp32 torch model every artifact is compared with (prune, distill or teacher)
    libs: fp.Libraries


class ValidateStage:
    name = "validate"
    uses_data = True
    distributed = False
    key_metric = "gates"

    def enabled(self, cfg) -> bool:
        return cfg.validate.enabled and cfg.export.enabled

    def inputs(self, cfg) -> dict[str, str]:
        inputs = {"model": model_stage(cfg), "export": "export"}
        if cfg.quantize.enabled:
            inputs["quantize"] = "quantize"
        if cfg.validate.max_drop_vs_teacher is not None:
            inputs["teacher"] = "teacher"  # the end-to-end gate: every artifact against the teacher
        return inputs

    def configure(self, cfg) -> ValidateSettings:
        # the runtimes of the exported formats judge here; latency is the bench stage's
        return ValidateSettings(validate=cfg.validate, data=cfg.data.spec(), seed=cfg.run.seed,
                                threads=cfg.run.threads, source_stage=model_stage(cfg),
                                libs=fp.libraries("model", *(f"runtime.{f}" for f in cfg.export.formats)))

    def run(self, ctx) -> dict:
        import torch

        from ..models import load_classifier, load_tokenizer
        from ..validation import References, compare

        cfg, split = ctx.cfg, ctx.task().eval
        threads = torch.get_num_threads()
        model_dir = ctx.inputs["model"]
        # per tokenisation length: an artifact static at a shorter length is compared with the reference there
        ref = References(load_classifier(model_dir), load_tokenizer(model_dir), split,
                         cfg.data.max_seq_len, cfg.validate.batch_size)
        ref_acc = compare(ref(), ref(), split.labels)["accuracy"]
        teacher = self._teacher_logits(ctx, ref)
        artifacts = [a for role in ("export", "quantize") if role in ctx.inputs
                     for a in ctx.input_metrics(role).get("artifacts", [])]
        try:
            rows = [self._one(ctx, a, ref, ref_acc, threads, teacher=teacher) for a in artifacts]
        finally:
            torch.set_num_threads(threads)  # the TorchScript runner sets the process-wide pool
        for row in rows:
            row["verdict"] = _verdict(ctx.run_dir, row).to_dict()
        return self._finish(ctx, rows, ref_acc, len(split), teacher, ref())

    @staticmethod
    def _teacher_logits(ctx, refs):
        """The teacher's fp32 torch logits on the eval split (its own tokenizer, ``data.max_seq_len``): what the
        end-to-end gate compares every artifact with, row by row. None when that gate is off."""
        if "teacher" not in ctx.inputs or ctx.cfg.validate.max_drop_vs_teacher is None:
            return None
        if ctx.inputs["teacher"] == ctx.inputs["model"]:
            return refs()  # no distill/prune: the reference is the teacher
        from ..models import load_classifier, load_tokenizer
        from ..validation import reference_logits

        tdir = ctx.inputs["teacher"]
        print("  teacher on the eval split (end-to-end gate) ...", flush=True)
        return reference_logits(load_classifier(tdir), load_tokenizer(tdir), ctx.task().eval,
                                ctx.cfg.data.max_seq_len, ctx.cfg.validate.batch_size)

    @staticmethod
    def _one(ctx, art: dict, refs, ref_acc: float, eval_threads: int, teacher=None) -> dict:
        from .. import runtimes
        from ..exporters import non_builtin_ops, tflite_ops
        from ..validation import (artifact_length, artifact_logits, compare, gate_failures, gate_notes, gate_stats,
                                  resolved_tolerance)

        cfg, vcfg = ctx.cfg, ctx.cfg.validate
        path = ctx.run_dir / art["path"]
        print(f"  validating {art['name']} ...", flush=True)
        runner = runtimes.load(path, threads=eval_threads)
        logits = artifact_logits(runner, path, ctx.task().eval, cfg.data.max_seq_len, vcfg.batch_size)
        # the reference on the same tokenisation (a TFLite model's static length truncates rows)
        length = artifact_length(runner, cfg.data.max_seq_len)
        ref = refs(length)
        row = dict(art) | compare(logits, ref, ctx.task().eval.labels) | {"reference_seq_len": length}
        if length != refs.max_len:
            ref_acc = compare(ref, ref, ctx.task().eval.labels)["accuracy"]
            row["reference_accuracy"] = ref_acc
        meta = runtimes.artifact_meta(path)  # INT8 mode and QAT: the tolerance is per (format, mode)
        row["tolerance"] = resolved_tolerance(art["format"], art["precision"], vcfg,
                                              logit_range=float(ref.max() - ref.min()), mode=meta.get("quantization"),
                                              qat=bool(meta.get("qat")))
        if art["format"] == "tflite":
            row["ops"] = tflite_ops(path)
            row["non_builtin_ops"] = non_builtin_ops(path)
        row |= gate_stats(art["precision"], logits, ref, ctx.task().eval.labels, vcfg, teacher)
        task, metric = ctx.task(), cfg.data.metric
        if metric == "accuracy":
            row["gate_failures"] = gate_failures(row, vcfg, row["tolerance"])
            row["gate_notes"] = gate_notes(row, vcfg)
            return row
        metric_gates(row, metric, logits, ref, teacher, task.eval.labels, task.label_names, vcfg, cfg.seed)
        # validation's texts describe McNemar evidence: it writes the agreement/tolerance/op gates, the metric drops
        # are written here
        others = {k: v for k, v in row.items() if k not in _DROP_KEYS}
        row["gate_failures"] = gate_failures(others, vcfg, row["tolerance"]) + metric_gate_texts(row, "fail", vcfg)
        row["gate_notes"] = gate_notes(others, vcfg) + metric_gate_texts(row, "inconclusive", vcfg)
        return row

    def _finish(self, ctx, rows: list[dict], ref_acc: float, n: int, teacher=None, ref=None) -> dict:
        from ..validation import compare, markdown_table

        failures = [f for r in rows for f in r["gate_failures"]]
        notes = [f for r in rows for f in r.get("gate_notes", [])]
        vcfg = ctx.cfg.validate
        gates = {"fp32_min_agreement": vcfg.fp32_min_agreement, "int8_max_accuracy_drop": vcfg.int8_max_accuracy_drop,
                 "int8_min_agreement": vcfg.int8_min_agreement, "max_drop_vs_teacher": vcfg.max_drop_vs_teacher,
                 "significance": vcfg.significance, "check_tolerances": vcfg.check_tolerances,
                 "decision": "a label gate whose point estimate misses its limit fails when the one-sided exact test "
                             "on the eval rows (McNemar for drops, binomial for agreement) gives p < significance; "
                             "else it is inconclusive (noted, not failed)"}
        task, metric = ctx.task(), ctx.cfg.data.metric
        labels = task.eval.labels
        teacher_acc = None if teacher is None else compare(teacher, teacher, labels)["accuracy"]
        reference = {"stage": ctx.cfg.source_stage, "format": "torch", "precision": "fp32",
                     "accuracy": ref_acc, "eval_accuracy": ref_acc}
        teacher_row = None if teacher is None else {"stage": "teacher", "format": "torch", "precision": "fp32",
                                                    "eval_accuracy": teacher_acc}
        metric_txt = ""
        if metric != "accuracy":
            from ..stats import RESAMPLES, metric_title, metric_value

            value = lambda logits: metric_value(metric, labels, logits.argmax(-1), task.num_labels)  # noqa: E731
            reference[f"eval_{metric}"] = value(ref)
            if teacher_row is not None:
                teacher_row[f"eval_{metric}"] = value(teacher)
            title = metric_title(metric, task.label_names)
            gates["decision"] = (f"drop gates judge data.metric {metric} ({title}) in points (100 x the metric): "
                                 f"a drop whose point estimate misses its limit fails when the one-sided paired "
                                 f"approximate randomisation test ({RESAMPLES} rounds, seed run.seed) gives p < "
                                 f"significance, with a paired bootstrap 95% CI; agreement gates: one-sided exact "
                                 f"binomial; else inconclusive (noted, not failed)")
            metric_txt = (f" Task metric (data.metric): {title}: reference {reference[f'eval_{metric}'] * 100:.2f}"
                          + ("" if teacher_row is None else f", teacher {teacher_row[f'eval_{metric}'] * 100:.2f}")
                          + f"; the drop columns are in points of {title} (paired bootstrap 95% CI, one-sided "
                            f"approximate randomisation p), accuracy is shown beside it.")
        result = {"metric": metric, "reference": reference, "teacher": teacher_row,
                  "eval_split": getattr(task.eval, "name", "eval"), "eval_rows": n,
                  "gates": "pass" if not failures else f"fail ({len(failures)})",
                  "gate_limits": gates, "artifacts": rows, "gate_failures": failures, "gate_notes": notes,
                  "host_cpus": os.cpu_count()}
        table = markdown_table(rows) + (metric_table(rows, metric, task.label_names) if metric != "accuracy" else "")
        teacher_txt = "" if teacher is None else f"; teacher (fp32 torch) {teacher_acc * 100:.2f}%"
        one_row = 100 / n if n else 0.0
        header = (f"Reference: fp32 torch `{ctx.cfg.source_stage}` model, accuracy {ref_acc * 100:.2f}% on "
                  f"{n} eval rows (one row = {one_row:.2f} points){teacher_txt}.{metric_txt} Drops are paired on the "
                  f"same rows ({'Newcombe 95% CI, McNemar' if metric == 'accuracy' else 'bootstrap 95% CI, randomisation'}"
                  f"); a drop or agreement gate fails only when its one-sided test gives "
                  f"p < {vcfg.significance:g}, else it is inconclusive. Latency: the bench stage "
                  f"(bench/results.md and the report).\n\n")
        (ctx.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
        (ctx.out / "results.md").write_text("# Validation\n\n" + header + table
                                            + "".join(f"\n- gate failed: {f}" for f in failures)
                                            + "".join(f"\n- {f}" for f in notes) + "\n")
        print("\n" + header + table + "".join(f"\n- {f}" for f in notes), flush=True)
        return result


def _verdict(run_dir, row: dict):
    """The typed verdict on the judged file's bytes (``edgeport.verdict``): one gate per failure and note."""
    from ..pipeline.manifest import sha256_file
    from ..verdict import ArtifactVerdict, Gate, State

    gates = ([Gate("gate", State.FAIL, message=m) for m in row["gate_failures"]]
             + [Gate("gate", State.INCONCLUSIVE, message=m) for m in row.get("gate_notes", [])])
    return ArtifactVerdict(row["name"], row["path"], sha256_file(run_dir / row["path"]),
                           tuple(gates) or (Gate("gates", State.PASS),))


_DROP_KEYS = ("eval_drop_vs_fp32", "eval_drop_vs_teacher")
_AGAINST = {"eval_drop_vs_fp32": "fp32 torch", "eval_drop_vs_teacher": "the teacher"}


def metric_gates(row: dict, metric: str, logits, reference, teacher, labels, label_names: list[str], vcfg,
                 seed: int) -> None:
    """Re-judge ``row``'s drop gates on ``metric`` (in place): ``eval_drop_vs_fp32`` / ``eval_drop_vs_teacher``
    become the metric's paired evidence (``stats.metric_drop``) with the same limits and verdict rule; the accuracy
    evidence ``gate_stats`` wrote moves to ``eval_accuracy_drop_vs_*``, ungated. Also records the artifact's
    ``eval_<metric>``."""
    import numpy as np

    from ..stats import metric_drop, metric_title, metric_value

    labels = np.asarray(labels)
    k, pred = len(label_names), logits.argmax(-1)
    row[metric] = row[f"eval_{metric}"] = metric_value(metric, labels, pred, k)
    others = {"eval_drop_vs_fp32": reference, "eval_drop_vs_teacher": teacher}
    for key in _DROP_KEYS:
        if key not in row:
            continue
        accuracy_stats = row.pop(key)
        limit = accuracy_stats.get("limit")
        row[key.replace("eval_drop", "eval_accuracy_drop")] = accuracy_stats | {"limit": None, "verdict": "not gated"}
        s = metric_drop(metric, labels, others[key].argmax(-1), pred, k, seed=seed)
        if limit is None:
            verdict = "not gated"
        elif s["drop_points"] <= limit:
            verdict = "pass"
        else:
            verdict = "fail" if s["p_worse"] < vcfg.significance else "inconclusive"
        row[key] = s | {"title": metric_title(metric, label_names), "limit": limit, "verdict": verdict}


def metric_gate_texts(row: dict, verdict: str, vcfg) -> list[str]:
    """Failure ('fail') or note ('inconclusive') lines of the metric drop gates, worded like validation's."""
    from ..stats import metric_title

    out = []
    for key in _DROP_KEYS:
        s = row.get(key)
        if not s or s.get("verdict") != verdict or "metric" not in s:
            continue
        lo, hi = s["ci95_points"]
        text = (f"{s.get('title') or metric_title(s['metric'])} drop {s['drop_points']:.2f} points vs {_AGAINST[key]} on {s['n']} eval "
                f"rows ({s['value'] * 100:.2f} vs {s['ref_value'] * 100:.2f}; accuracy {s['accuracy'] * 100:.2f}% vs "
                f"{s['ref_accuracy'] * 100:.2f}%; paired bootstrap 95% CI [{lo:.2f}, {hi:.2f}], one-sided "
                f"randomisation p={s['p_worse']:.2g}) vs limit <= {s['limit']}")
        out.append(f"{row['name']}: {text}" if verdict == "fail" else
                   f"{row['name']}: inconclusive: {text}; fails only when p < {vcfg.significance:g}")
    return out


def metric_table(rows: list[dict], metric: str, label_names: list[str]) -> str:
    """The task metric per artifact, beside validation's accuracy table."""
    from ..stats import metric_title

    title = metric_title(metric, label_names)
    lines = ["", f"| artifact | {title} | drop vs fp32, pts [95% CI] | drop vs teacher, pts [95% CI] |",
             "|---|---|---|---|"]
    for r in rows:
        cells = []
        for key in _DROP_KEYS:
            s = r.get(key)
            if not s:
                cells.append("-")
                continue
            lo, hi = s["ci95_points"]
            mark = {"fail": " **FAIL**", "inconclusive": " (inconclusive)"}.get(s.get("verdict"), "")
            cells.append(f"{s['drop_points']:+.2f} [{lo:+.2f}, {hi:+.2f}]{mark}")
        lines.append(f"| {r['name']} | {r.get(metric, float('nan')) * 100:.2f} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"
