"""Accuracy-aware fallback: when a quantized artifact loses too much accuracy, keep its most sensitive layers at a
higher precision: in float for the INT8 modes, at 8 bits for the 4-bit ``w4`` mode (each exporter's
``keep_precision`` per mode says which, and its own per-layer mechanism does it: ONNX Runtime's node exclusion,
ai-edge-quantizer's per-scope recipe entries, torch / torchao module filters).

Judged on *selection-split* rows (held out from training; never the eval split, which the validate stage
keeps for the verdict): accuracy of the INT8 artifact vs the fp32 torch model on the same rows, the same measure
as validate's gate. Steps, with the format's real quantizer and runtime (no simulation):
1. quantize everything; if the drop is within ``fallback.max_accuracy_drop``, done;
2. sensitivity, "keep one": for each Linear layer, quantize all the others and measure the mean |Δlogit| against
   the fp32 model; a layer's sensitivity is how much keeping it (in float, or at 8 bits) cuts the error of the
   fully quantized artifact (one re-quantization per layer, so it sees interactions a one-layer-quantized
   measure would miss: the error that remains when everything else is quantized);
3. keep the 1, 2, ... ``max_fp_layers`` most sensitive layers, re-quantize, re-measure, and stop at the first
   within the limit (else keep the best candidate; the validate gate then reports the failure).
Size and latency of the first and the final artifact are measured, so the cost of each float layer is reported.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch


def linear_names(model) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]


class Judge:
    """INT8 candidates scored on labelled rows against the fp32 torch model's logits on the same rows, each row
    run alone (batch 1, the runtime's own length) as validate and the app run it."""

    def __init__(self, reference_model, rows: list[dict], labels: list[int], pad_id: int,
                 metric: str = "accuracy", num_labels: int | None = None):
        from ..bench.workload import run_rows
        from ..runtimes.eager import EagerRunner
        from ..runtimes.text import pad_batch

        self.rows, self.labels, self.pad_id = rows, np.asarray(labels), pad_id
        # one row per call, unpadded, as validate judges and the app runs: a dynamic INT8 candidate scored in
        # padded batches would take its activation scales from the whole batch, padding included
        self.feeds = [pad_batch([r], pad_id=pad_id) for r in rows]
        self.metric = metric
        self.num_labels = num_labels or int(reference_model.config.num_labels)
        self.ref = run_rows(EagerRunner(reference_model), self.feeds)
        self.ref_accuracy = float((self.ref.argmax(-1) == self.labels).mean())
        self.ref_score = self._value(self.ref)

    def _value(self, logits) -> float:
        """The task metric (``data.metric``) of these logits' labels on the judge's rows."""
        from ..stats import metric_value

        return metric_value(self.metric, self.labels.tolist(), logits.argmax(-1).tolist(), self.num_labels)

    def score(self, path: Path) -> dict:
        from .. import runtimes
        from ..bench.workload import run_rows

        logits = run_rows(runtimes.load(path, threads=torch.get_num_threads()), self.feeds)
        diff = np.abs(logits.astype(np.float64) - self.ref)
        accuracy = float((logits.argmax(-1) == self.labels).mean())
        value = self._value(logits)
        # "accuracy_drop" is the drop of the task metric in points (x100), whatever the metric: the fallback's
        # limit (quantize.fallback.max_accuracy_drop) is read in points of data.metric.
        return {"accuracy": round(accuracy, 6), "metric": self.metric, self.metric: value,
                "accuracy_drop": round((self.ref_score - value) * 100, 3),
                "agreement": round(float((logits.argmax(-1) == self.ref.argmax(-1)).mean()), 6),
                "mean_abs_diff": float(diff.mean()), "max_abs_diff": float(diff.max())}


# the precision a kept layer gets -> (the QuantizeRequest field naming such layers, the report's / sidecar's key)
KEPT = {"fp32": ("keep_fp", "layers_fp"), "int8": ("keep_int8", "layers_int8")}


def kept_precision(exporter, mode: str) -> str | None:
    """What the fallback keeps a sensitive layer at under ``mode`` (None: the converter has no per-layer option)."""
    return getattr(exporter, "keep_precision", {}).get(mode) if hasattr(exporter, "quant_units") else None


def quantize_with_fallback(exporter, req, judge: Judge, fcfg, source_model, latency_seq: int) -> tuple[Path, dict]:
    """``exporter.quantize(req)``, then the fallback when the drop exceeds the limit; returns (path, report)."""
    path = exporter.quantize(req)
    first = judge.score(path)
    keep = kept_precision(exporter, req.mode)
    field, key = KEPT[keep or "fp32"]
    report = {"rows": len(judge.rows), "reference_accuracy": round(judge.ref_accuracy, 6), "metric": judge.metric,
              f"reference_{judge.metric}": round(judge.ref_score, 6), "initial": first,
              "limit": fcfg.max_accuracy_drop, "triggered": first["accuracy_drop"] > fcfg.max_accuracy_drop,
              "kept_at": keep, key: []}
    if not report["triggered"]:
        return path, report
    if keep is None:
        report["skipped"] = f"{exporter.format}: no per-layer option in its {req.mode} converter"
        return path, report
    vocab = source_model.config.vocab_size
    before = {"size_bytes": path.stat().st_size, "p50_ms": _p50(path, latency_seq, vocab)}
    units = exporter.quant_units(req.fp32_path, linear_names(source_model))
    ranking = sensitivity(exporter, req, judge, units, first["mean_abs_diff"], field)
    report["sensitivity"] = ranking
    best, steps = None, []
    for k in range(1, min(fcfg.max_fp_layers, len(ranking)) + 1):
        layers = [r["layer"] for r in ranking[:k]]
        path = exporter.quantize(replace(req, **{field: tuple(units[n] for n in layers)}))
        step = {key: layers} | judge.score(path)
        steps.append(step)
        if best is None or step["accuracy_drop"] < best["accuracy_drop"]:
            best = step
        if step["accuracy_drop"] <= fcfg.max_accuracy_drop:
            break
    if best is not steps[-1]:  # no candidate passed: ship the least bad one
        path = exporter.quantize(replace(req, **{field: tuple(units[n] for n in best[key])}))
    after = {"size_bytes": path.stat().st_size, "p50_ms": _p50(path, latency_seq, vocab)}
    passed = best["accuracy_drop"] <= fcfg.max_accuracy_drop
    report |= {"steps": steps, "final": best, key: best[key], "passed": passed,
               "why": f"{req.mode}: {first['accuracy_drop']:g} points of {judge.metric} lost on {len(judge.rows)} "
                      f"selection-split rows > the limit {fcfg.max_accuracy_drop:g}; kept at {keep} the "
                      f"{len(best[key])} layer(s) whose {keep} copy cut the artifact's mean |dlogit| most "
                      f"({', '.join(best[key])}): {best['accuracy_drop']:g} points "
                      f"{'within' if passed else 'still over'} the limit",
               "cost": {"before": before, "after": after,
                        "size_bytes_added": after["size_bytes"] - before["size_bytes"],
                        "p50_ms_added": round(after["p50_ms"] - before["p50_ms"], 3)}}
    return path, report


def sensitivity(exporter, req, judge: Judge, units: dict[str, str], all_quantized_error: float,
                field: str = "keep_fp") -> list[dict]:
    """Layers sorted by how much keeping each one alone (``field``: in float, or at 8 bits) reduces the mean
    |Δlogit| of the fully quantized artifact (most first); each row also carries the candidate's selection-row
    figures (accuracy drop, agreement)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for layer, unit in units.items():
            out = Path(tmp) / "candidate"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            path = exporter.quantize(replace(req, out_dir=out, **{field: (unit,)}))
            score = judge.score(path)
            error = score["mean_abs_diff"]
            rows.append({"layer": layer, "mean_abs_diff_with_layer_kept": error,
                         "error_reduction": all_quantized_error - error,
                         "accuracy_drop": score["accuracy_drop"], "agreement": score["agreement"]})
    return sorted(rows, key=lambda r: -r["error_reduction"])


def _p50(path: Path, seq_len: int, vocab: int | None = None) -> float:
    """1-thread batch-1 p50 (short: a cost comparison between two artifacts of one run, not a benchmark), on a
    row from the artifact's own tokenizer (``vocab`` is not needed any more: the ids are the tokenizer's)."""
    from .. import runtimes
    from ..bench.host import measure_latency, tokenizer_feed

    threads = torch.get_num_threads()
    try:
        runner = runtimes.load(path, threads=1)
        feed = tokenizer_feed(path, runner.seq_len or seq_len)
        return round(measure_latency(runner, feed, 3, 20, 0.5)["p50_ms"], 3)
    finally:
        torch.set_num_threads(threads)  # the TorchScript runner sets the process-wide pool
