"""The INT8 quantisation-noise budget per (format, mode), measured on a finished run's student, on the selection split.

    python benchmarks/int8_noise.py runs/quick [--out benchmarks/results] [--rows 1000] [--modes onnx:static ...]

For every INT8 mode of every format the run exported, the run's fp32 artifact is quantized with the pipeline's own
quantize step (``QuantizeStage._one``: the same exporter, calibration rows and sidecar) and run on the run's
selection split (held out from training; never the eval split, which the gates judge) exactly as validate runs it:
one row per call, at the length the runtime computes. Against the fp32 torch reference on the same rows it records
max and mean |Δlogit|, flipped labels, the selection accuracy drop, and the same for the yardstick: torch's dynamic
INT8 of the reference (``validation.References.noise``). The noise ratio (artifact / yardstick) is what
``exporters.base.INT8_NOISE`` holds, with headroom. Defects measured beside them on the same student: torch dynamic
INT8 with one Linear layer's weights read at twice (or half) their scale (``tests/gate_models.with_wrong_scale``).

Writes int8_noise.json (top-level ``provenance``: commit, config digest, date) and int8_noise.md under --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import provenance as shared_provenance, write_json, write_markdown  # noqa: E402
from _student import load_run_student  # noqa: E402
HEADROOM = 2.0  # tolerance factor = headroom x the measured noise ratio, rounded up to 0.5 ...
FLOOR, CAP = 1.5, 2.0  # ... within [1.5, 2]: the floor leaves room for the ratio's spread across real models (<= 0.44
# for the sound dynamic modes on the MiniLM student; toy hidden-32 models reach 1.5-1.7, see exporters/base.py);
# the cap: no INT8 artifact may be noisier than twice torch's own dynamic INT8 of the same model
SAME_AS_YARDSTICK = {("torchscript", "dynamic"): 1.2}  # the yardstick's own computation: its ratio is 1 on any
# model (same kernels), so the headroom only covers the trace's float-level differences (rounded up to 0.25)
TIE_FACTOR = 1.0  # a row is tied at 8-bit resolution within 2 x 1 x its own yardstick noise
MIN_AGREEMENT = 0.99  # the agreement floor: 2% of 872 rows flipped beyond 8-bit noise fails (p = 0.008)


def provenance(cfg_data: dict) -> dict:
    """The shared record (``_provenance.py``): commit (``-dirty`` when the tree is), the run's config digest, date."""
    return shared_provenance(cfg_data, "the measured run's resolved config")


def stats(logits, reference, labels, yardstick: dict, row_noise) -> dict:
    import numpy as np

    from edgeport.stats import paired_drop
    from edgeport.validation import noise_of
    from edgeport.validation_gates import margins

    noise = noise_of(logits, reference)
    flipped = np.flatnonzero(logits.argmax(-1) != reference.argmax(-1))
    drop = paired_drop(reference.argmax(-1) == np.asarray(labels), logits.argmax(-1) == np.asarray(labels))
    return {"n": len(labels), "max_abs": round(noise["max_abs"], 6), "mean_abs": round(noise["mean_abs"], 6),
            "max_ratio": round(noise["max_abs"] / yardstick["max_abs"], 3),
            "mean_ratio": round(noise["mean_abs"] / yardstick["mean_abs"], 3),
            "flips": int(len(flipped)), "flip_rate": round(len(flipped) / len(labels), 5),
            # per flip: its reference margin / (2 x the yardstick's largest |Δ| on that row); <= tie_factor is tied
            "flip_band_use": sorted(round(float(m), 3) for m in margins(reference)[flipped] / (2 * row_noise[flipped])),
            "select_drop_points": drop["drop_points"], "select_drop_ci95": drop["ci95_points"]}


def quantize(run_dir: Path, cfg, task, src: dict, mode: str, scratch: Path, model) -> Path:
    """The pipeline's quantize step for one format in ``mode`` (fallback and QAT off), into ``scratch``."""
    from edgeport.stages.quantize import QuantizeStage

    qcfg = cfg.quantize.model_copy(update={src["format"]: mode, "fallback": cfg.quantize.fallback.model_copy(
        update={"enabled": False})})
    settings = QuantizeStage().configure(cfg.model_copy(update={"quantize": qcfg}))  # the stage's own settings
    ctx = SimpleNamespace(cfg=settings, run_dir=run_dir, out=scratch,
                          task=lambda: task, _cache={}, inputs={})
    path, _ = QuantizeStage()._one(ctx, src, model, model, scratch)
    return path


def measure_modes(run_dir, cfg, task, split, refs, model, wanted) -> dict:
    from edgeport import runtimes
    from edgeport.exporters import EXPORTERS
    from edgeport.exporters.base import refusal
    from edgeport.pipeline.manifest import Manifest
    from edgeport.validation import artifact_length, artifact_logits

    results = {}
    for src in Manifest.load(run_dir).entry("export")["metrics"]["artifacts"]:
        fmt = src["format"]
        for mode in EXPORTERS[fmt].quantize_modes:
            if wanted and f"{fmt}:{mode}" not in wanted:
                continue
            if why := refusal(EXPORTERS[fmt], mode, cfg.quantize.embeddings):  # the run's preflight refuses it
                results[f"{fmt}:{mode}"] = {"refused": why}
                continue
            print(f"{fmt} {mode} ...", flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    path = quantize(run_dir, cfg, task, src, mode, Path(tmp), model)
                except Exception as exc:  # a mode that needs an extra or fails on this model: recorded, not fatal
                    results[f"{fmt}:{mode}"] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                    continue
                runner = runtimes.load(path, threads=1)
                length = artifact_length(runner, refs.max_len)
                logits = artifact_logits(runner, path, split, refs.max_len)
            results[f"{fmt}:{mode}"] = stats(logits, refs(length), split.labels, refs.noise(length),
                                             refs.noise_rows(length))
            print(f"  {results[f'{fmt}:{mode}']}", flush=True)
    return results


def measure_defects(model, tokenizer, split, refs, layers: list[str], factors: list[float]) -> dict:
    """One layer's INT8 weights read at a wrong scale, on top of torch dynamic INT8 (``dynamic+``: the TorchScript
    computation) and of weight-only per-channel INT8 (``weight-only+``: TFLite dynamic range's); the clean
    weight-only INT8 beside them."""
    from gate_models import weight_only_int8, with_wrong_scale

    from edgeport.validation import reference_logits

    variants = {"weight-only (clean)": weight_only_int8(model)}
    for layer in layers:
        for factor in factors:
            variants[f"dynamic+ {layer} x{factor:g}"] = with_wrong_scale(model, layer, factor)
            variants[f"weight-only+ {layer} x{factor:g}"] = weight_only_int8(model, layer, factor)
    out = {}
    for name, variant in variants.items():
        logits = reference_logits(variant, tokenizer, split, refs.max_len)
        out[name] = stats(logits, refs(), split.labels, refs.noise(), refs.noise_rows())
        print(f"defect {name}: {out[name]}", flush=True)
    return out


def budgets(modes: dict) -> dict:
    """Per (format, mode): the tolerance factors its measured noise calls for (with headroom), the tie factor and
    floor, and what the agreement gate would count on these rows. ``qat`` (not measured here: it needs a QAT run)
    takes the loosest measured factors, its weights having moved away from the reference's."""
    import math

    out = {}
    for key, m in modes.items():
        if "error" in m or "refused" in m:
            continue
        fmt, mode = key.split(":")
        if (fmt, mode) in SAME_AS_YARDSTICK:
            up = lambda r: math.ceil(SAME_AS_YARDSTICK[(fmt, mode)] * r / 0.25) * 0.25  # noqa: E731
        else:
            up = lambda r: min(CAP, max(FLOOR, math.ceil(HEADROOM * r / 0.5) * 0.5))  # noqa: E731
        counted = sum(u > TIE_FACTOR for u in m["flip_band_use"])
        out[key] = {"max_factor": up(m["max_ratio"]), "mean_factor": up(m["mean_ratio"]), "tie_factor": TIE_FACTOR,
                    "min_agreement": MIN_AGREEMENT, "capped": max(m["max_ratio"], m["mean_ratio"]) > CAP,
                    "counted_flips": counted, "counted_flip_rate": round(counted / max(1, m["n"]), 5)}
    for fmt in sorted({k.split(":")[0] for k in out}):  # not measured: the cap
        out[f"{fmt}:qat"] = {"max_factor": CAP, "mean_factor": CAP, "tie_factor": TIE_FACTOR,
                             "min_agreement": MIN_AGREEMENT, "measured": False}
    return out


def table(budgets: dict) -> str:
    """``exporters.base.INT8_NOISE`` as these measurements set it."""
    rows = [f'    ("{k.split(":")[0]}", "{k.split(":")[1]}"): NoiseBudget({b["max_factor"]:g}, {b["mean_factor"]:g}, '
            f'{b["tie_factor"]:g}, {b["min_agreement"]:g}),' for k, b in budgets.items()]
    return "\n".join(rows)


def run(args) -> dict:
    import torch

    from edgeport.validation import References

    s = load_run_student(args.run_dir)
    run_dir, manifest, cfg, model_dir = s.run_dir, s.manifest, s.cfg, s.model_dir
    model, tokenizer, task, max_len = s.model, s.tokenizer, s.task, s.max_len
    split = task.select.head(args.rows)
    refs = References(model, tokenizer, split, max_len)
    print(f"reference and yardstick on {len(split)} selection rows ...", flush=True)
    yard = refs.noise()
    layers = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".layer." in n]
    chosen = [layers[i] for i in sorted({0, len(layers) // 2, len(layers) - 1})]
    modes = measure_modes(run_dir, cfg, task, split, refs, model, set(args.modes or ()))
    defects = measure_defects(model, tokenizer, split, refs, chosen, [2.0, 0.5])
    return {"provenance": provenance(manifest.data["config"]),
            "setting": {"run_dir": str(run_dir), "model_dir": str(model_dir),
                        "split": f"the selection split ({len(split)} rows held out of {split.name})", "max_len": max_len,
                        "batch": 1, "threads": 1, "headroom": HEADROOM, "factor_floor": FLOOR, "factor_cap": CAP,
                        "same_as_yardstick": {":".join(k): v for k, v in SAME_AS_YARDSTICK.items()},
                        "tie_factor": TIE_FACTOR, "min_agreement": MIN_AGREEMENT},
            "yardstick": {k: round(v, 6) for k, v in yard.items()}, "modes": modes, "defects": defects,
            "budgets": budgets(modes)}


def markdown(r: dict) -> str:
    s, y = r["setting"], r["yardstick"]
    lines = [f"# INT8 noise budget ({r['provenance']['date']}, commit {r['provenance']['commit'][:10]})\n",
             f"Student of `{s['run_dir']}` on {s['split']}, batch 1 at the runtime's length (max {s['max_len']}), 1 "
             f"thread. Yardstick (torch dynamic INT8 of the reference): max |Δ| {y['max_abs']:.4g}, mean |Δ| "
             f"{y['mean_abs']:.4g}. Ratios are artifact / yardstick; counted flips: beyond the tie band (reference "
             f"margin > 2 x {s['tie_factor']:g} x the row's own yardstick noise), what the agreement gate counts.\n",
             "| artifact or defect | max abs Δ | mean abs Δ | max ratio | mean ratio | flips | counted flips | "
             "selection drop pts |", "|---|---|---|---|---|---|---|---|"]
    for name, m in list(r["modes"].items()) + list(r["defects"].items()):
        if "error" in m or "refused" in m:
            lines.append(f"| {name} | {m.get('error') or 'refused: ' + m['refused']} | | | | | | |")
            continue
        counted = sum(u > s["tie_factor"] for u in m["flip_band_use"])
        lines.append(f"| {name} | {m['max_abs']:.4g} | {m['mean_abs']:.4g} | {m['max_ratio']:.2f} | "
                     f"{m['mean_ratio']:.2f} | {m['flips']} ({m['flip_rate'] * 100:.2f}%) | {counted} | "
                     f"{m['select_drop_points']:+.2f} |")
    lines += ["", f"Budgets: factor = {s['headroom']:g} x ratio rounded up to 0.5, within [{s['factor_floor']:g}, "
              f"{s['factor_cap']:g}] (torchscript dynamic, the yardstick's own computation: "
              f"{s['same_as_yardstick']['torchscript:dynamic']:g} x, to 0.25); counted flips: beyond "
              f"the tie band (margin > 2 x {s['tie_factor']:g} x the row's yardstick noise), against the "
              f"{s['min_agreement']:g} floor.\n",
              "| (format, mode) | max factor | mean factor | capped (noisier than the cap here) | counted flips |",
              "|---|---|---|---|---|"]
    lines += [f"| {k} | {b['max_factor']:g} | {b['mean_factor']:g} | {b.get('capped', 'not measured')} | "
              f"{b.get('counted_flips', 'not measured')} |" for k, b in r["budgets"].items()]
    lines += ["", "```python", table(r["budgets"]), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--rows", type=int, default=1000, help="selection-split rows (the first N)")
    p.add_argument("--modes", nargs="*", help="only these FORMAT:MODE pairs (default: every mode of every format)")
    p.add_argument("--rebudget", metavar="JSON", help="recompute only the budgets of an earlier int8_noise.json")
    args = p.parse_args()
    if args.rebudget:
        result = json.loads(Path(args.rebudget).read_text())
        result["setting"] |= {"headroom": HEADROOM, "factor_floor": FLOOR, "factor_cap": CAP,
                              "same_as_yardstick": {":".join(k): v for k, v in SAME_AS_YARDSTICK.items()}}
        result["budgets"] = budgets(result["modes"])
        result["provenance"]["budgets_commit"] = provenance({})["commit"]
    else:
        result = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "int8_noise.json", result, result["provenance"])
    write_markdown(out / "int8_noise.md", markdown(result), result["provenance"])
    print(markdown(result))


if __name__ == "__main__":
    main()
