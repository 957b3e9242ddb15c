"""Counted instructions -> milliseconds: one factor per core class, fitted to published device latencies.

A published CPU latency (device, cores, threads, runtime, precision, sequence length: ``benchmarks/data/
published_latency.yaml``, each with its URL and quote) is matched with the instructions edgeport counts for the
same model shape at the same length on the QEMU CPU model of that device's cores (``bench.emulated``: one thread,
steady state). Within a core class the model is one factor:

    ms = instructions x factor            (factor in ms per 10^9 counted instructions)

It folds in cycles per instruction, the clock and what the published thread count bought (the count is of one
thread's work); nothing else is fitted, because the published points are few. The fit is the geometric mean of
the points' ms / instructions (least squares on log ratios). Its error is **leave-one-out**: each point predicted
by the factor of the others in its class; the class's error is the RMS of those relative errors, and a class with
one point has no error and is not used. ``benchmarks/latency_calibration.py`` counts the points and writes the
table; a profile carries the result as ``estimate.calibration`` (``targets.Calibration``), and the bench's estimate
then is ``calibrated(...)``: counted instructions x factor, "X ms ± Y%"; otherwise the roofline, labelled fallback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KIND = "estimate"  # still an estimate: budgets and "what to ship" treat it as one
MODEL_CALIBRATED = "calibrated"
MODEL_ROOFLINE = "roofline (fallback)"


@dataclass(frozen=True)
class Point:
    """One published latency with its counted instructions."""
    name: str
    core_class: str
    instructions: float  # counted, steady state, one thread
    ms: float  # published


def factor(points: list[Point]) -> float:
    """ms per 10^9 instructions: the geometric mean of the points' ratios (least squares on log(ms / count))."""
    if not points:
        raise ValueError("no points to fit")
    return math.exp(sum(math.log(p.ms / (p.instructions / 1e9)) for p in points) / len(points))


def leave_one_out(points: list[Point]) -> list[dict]:
    """Per point: the factor fitted to the *other* points of its class, the prediction and its relative error
    (prediction / published - 1); ``None`` where the class has no other point."""
    out = []
    for i, p in enumerate(points):
        rest = [q for j, q in enumerate(points) if j != i and q.core_class == p.core_class]
        if not rest:
            out.append({"name": p.name, "core_class": p.core_class, "factor": None, "predicted_ms": None,
                        "error": None})
            continue
        f = factor(rest)
        pred = p.instructions / 1e9 * f
        out.append({"name": p.name, "core_class": p.core_class, "factor": f, "predicted_ms": pred,
                    "error": pred / p.ms - 1})
    return out


def rms(errors: list[float]) -> float | None:
    errors = [e for e in errors if e is not None]
    return math.sqrt(sum(e * e for e in errors) / len(errors)) if errors else None


def fit(points: list[Point]) -> dict:
    """Per core class: its factor on all its points, the leave-one-out errors and their RMS (None with one point);
    and the RMS over every point that has a leave-one-out error."""
    loo = leave_one_out(points)
    classes = {}
    for cls in dict.fromkeys(p.core_class for p in points):
        members = [p for p in points if p.core_class == cls]
        errs = [r["error"] for r in loo if r["core_class"] == cls]
        classes[cls] = {"factor": factor(members), "points": len(members), "loo_rms": rms(errs)}
    return {"classes": classes, "loo": loo, "loo_rms": rms([r["error"] for r in loo])}


def calibrated(emulated: dict | None, cal, roofline: dict, workload: bool = False) -> dict | None:
    """The calibrated estimate from an artifact's ``emulated`` counts on a profile whose ``estimate.calibration``
    is ``cal`` (``targets.Calibration``), or None: no calibration, no counts, or counts on another CPU model (the
    factor holds for the core it was fitted on). ``workload``: from the workload counts (mean / p50 / p90 over the
    sampled rows) instead of the fixed length's steady count. ``roofline``: the fallback figure it replaces, kept
    inside for comparison."""
    if cal is None or not emulated or "not_covered" in emulated or emulated.get("cpu_model") != cal.cpu_model:
        return None
    counts = emulated.get("workload") if workload else emulated.get("fixed")
    if not counts:
        return None
    ms = (lambda n: _sig(n / 1e9 * cal.ms_per_ginstr))  # noqa: E731
    if workload:
        figures = {"mean_ms": ms(counts["mean"]), "p50_ms": ms(counts["p50"]), "p90_ms": ms(counts["p90"]),
                   "rows": counts["rows"], "tokens_mean": counts.get("tokens_mean"), "input": "workload"}
        insn = counts["p50"]
    else:
        figures = {"p50_ms": ms(counts["steady"]), "p90_ms": ms(counts["steady"]), "seq_len": counts["seq_len"],
                   "input": "fixed"}
        insn = counts["steady"]
    error_pct = round(cal.error_pct, 1)
    return figures | {
        "kind": KIND, "model": MODEL_CALIBRATED, "error_pct": error_pct,
        "label": f"{figures['p50_ms']:g} ms ± {error_pct:g}%",
        "instructions": insn, "cpu_model": cal.cpu_model, "ms_per_ginstr": cal.ms_per_ginstr,
        "calibration_points": cal.points, "calibration_source": cal.source,
        "threads": roofline.get("threads"), "target": roofline.get("target"),
        "method": (f"calibrated: {insn / 1e6:.1f} M instructions counted on {cal.cpu_model} x {cal.ms_per_ginstr:g} ms "
                   f"per 10^9 (fitted to {cal.points} published latencies; leave-one-out error {error_pct:g}%)"),
        "roofline": {k: roofline.get(k) for k in ("p50_ms", "p90_ms", "mean_ms", "efficiency", "bound")
                     if roofline.get(k) is not None},
    }


def fallback(roofline: dict) -> dict:
    """The roofline figure, labelled as the fallback (no calibrated factor, or no counts on its CPU model)."""
    if not roofline:
        return roofline
    return roofline | {"model": MODEL_ROOFLINE}


def label(fig: dict) -> str:
    """How a report prints an estimate: "X ms ± Y%" for a calibrated one, "X ms (roofline, fallback)" otherwise."""
    if fig.get("model") == MODEL_CALIBRATED:
        return fig["label"]
    return f"{fig.get('p50_ms')} ms (roofline, fallback)"


def _sig(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")
