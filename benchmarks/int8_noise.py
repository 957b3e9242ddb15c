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
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
HEADROOM = 2.0  # logit-tolerance factor = headroom x the measured noise ratio (rounded up to 0.5)
TIE_HEADROOM = 1.5  # tie factor = headroom x the largest band use of a sound mode's flips (rounded up to 0.25)
MIN_AGREEMENT = 0.99  # the agreement floor: 2% of 872 rows flipped beyond 8-bit noise fails (p = 0.008)
SOUND_DROP = 1.0  # a mode losing more selection accuracy than this (points) wrecks the model: no budget from it


def provenance(cfg_data: dict) -> dict:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    digest = hashlib.sha256(json.dumps(cfg_data, sort_keys=True).encode()).hexdigest()
    return {"commit": commit, "config_digest": digest, "date": time.strftime("%Y-%m-%d")}


def stats(logits, reference, labels, yardstick: dict, row_noise) -> dict:
    import numpy as np

    from edgeport.stats import paired_drop
    from edgeport.validation import noise_of
    from edgeport.validation_gates import margins

    noise = noise_of(logits, reference)
    flipped = np.flatnonzero(logits.argmax(-1) != reference.argmax(-1))
    drop = paired_drop(reference.argmax(-1) == np.asarray(labels), logits.argmax(-1) == np.asarray(labels))
    return {"max_abs": round(noise["max_abs"], 6), "mean_abs": round(noise["mean_abs"], 6),
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
    ctx = SimpleNamespace(cfg=cfg.model_copy(update={"quantize": qcfg}), run_dir=run_dir, out=scratch,
                          task=lambda: task, _cache={}, inputs={})
    path, _ = QuantizeStage()._one(ctx, src, model, model, scratch)
    return path


def measure_modes(run_dir, cfg, task, split, refs, model, wanted) -> dict:
    from edgeport import runtimes
    from edgeport.exporters import EXPORTERS
    from edgeport.pipeline.manifest import Manifest
    from edgeport.validation import artifact_length, artifact_logits

    results = {}
    for src in Manifest.load(run_dir).entry("export")["metrics"]["artifacts"]:
        fmt = src["format"]
        for mode in EXPORTERS[fmt].quantize_modes:
            if wanted and f"{fmt}:{mode}" not in wanted:
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
    from gate_models import with_wrong_scale

    from edgeport.validation import reference_logits

    out = {}
    for layer in layers:
        for factor in factors:
            logits = reference_logits(with_wrong_scale(model, layer, factor), tokenizer, split, refs.max_len)
            out[f"{layer} x{factor:g}"] = stats(logits, refs(), split.labels, refs.noise(), refs.noise_rows())
            print(f"defect {layer} x{factor:g}: {out[f'{layer} x{factor:g}']}", flush=True)
    return out


def budgets(modes: dict) -> dict:
    """Per mode, the factors its own noise calls for, with headroom; ``sound``: its selection drop is within
    SOUND_DROP points (a mode that wrecks the model gets no budget of its own: see ARCHITECTURE.md)."""
    import math

    out = {}
    for key, m in modes.items():
        if "error" in m:
            continue
        up = lambda r, step: math.ceil(r / step) * step  # noqa: E731 - round up to the step
        out[key] = {"sound": m["select_drop_points"] <= SOUND_DROP,
                    "max_factor": up(HEADROOM * m["max_ratio"], 0.5), "mean_factor": up(HEADROOM * m["mean_ratio"], 0.5),
                    "tie_factor": up(TIE_HEADROOM * max(m["flip_band_use"] or [0.0]), 0.25),
                    "min_agreement": MIN_AGREEMENT, "flip_rate": m["flip_rate"]}
    return out


def run(args) -> dict:
    import torch

    from edgeport.config import PipelineConfig
    from edgeport.data import load_task
    from edgeport.models import load_classifier, load_tokenizer
    from edgeport.pipeline.manifest import Manifest
    from edgeport.validation import References

    torch.set_num_threads(1)
    run_dir = Path(args.run_dir)
    manifest = Manifest.load(run_dir)
    cfg = PipelineConfig.model_validate(manifest.data["config"])
    export = manifest.entry("export")["metrics"]
    model_dir = run_dir / export["source_stage"]
    model, tokenizer = load_classifier(model_dir).eval(), load_tokenizer(model_dir)
    task = load_task(cfg.data, seed=cfg.run.seed)
    split = task.select.head(args.rows)
    max_len = min(cfg.data.max_seq_len, cfg.export_seq_len())
    refs = References(model, tokenizer, split, max_len)
    print(f"reference and yardstick on {len(split)} selection rows ...", flush=True)
    yard = refs.noise()
    layers = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".layer." in n]
    chosen = [layers[i] for i in sorted({0, len(layers) // 2, len(layers) - 1})]
    modes = measure_modes(run_dir, cfg, task, split, refs, model, set(args.modes or ()))
    defects = measure_defects(model, tokenizer, split, refs, chosen, [2.0, 0.5])
    return {"provenance": provenance(manifest.data["config"]),
            "setting": {"run_dir": str(run_dir), "model_dir": str(model_dir),
                        "split": f"{split.name} (selection split, {len(split)} rows)", "max_len": max_len,
                        "batch": 1, "threads": 1, "headroom": HEADROOM, "tie_headroom": TIE_HEADROOM,
                        "min_agreement": MIN_AGREEMENT, "sound_drop_points": SOUND_DROP},
            "yardstick": {k: round(v, 6) for k, v in yard.items()}, "modes": modes, "defects": defects,
            "budgets": budgets(modes)}


def markdown(r: dict) -> str:
    s, y = r["setting"], r["yardstick"]
    lines = [f"# INT8 noise budget ({r['provenance']['date']}, commit {r['provenance']['commit'][:10]})\n",
             f"Student of `{s['run_dir']}` on {s['split']}, batch 1 at the runtime's length (max {s['max_len']}), 1 "
             f"thread. Yardstick (torch dynamic INT8 of the reference): max |Δ| {y['max_abs']:.4g}, mean |Δ| "
             f"{y['mean_abs']:.4g}. Ratios are artifact / yardstick; budget factors = {s['headroom']:g} x ratio, "
             f"rounded up to 0.5.\n",
             "| artifact or defect | max abs Δ | mean abs Δ | max ratio | mean ratio | flips | selection drop pts |",
             "|---|---|---|---|---|---|---|"]
    for name, m in list(r["modes"].items()) + list(r["defects"].items()):
        if "error" in m:
            lines.append(f"| {name} | {m['error']} | | | | | |")
            continue
        lines.append(f"| {name} | {m['max_abs']:.4g} | {m['mean_abs']:.4g} | {m['max_ratio']:.2f} | "
                     f"{m['mean_ratio']:.2f} | {m['flips']} ({m['flip_rate'] * 100:.2f}%) | "
                     f"{m['select_drop_points']:+.2f} |")
    lines += ["", "| (format, mode) | sound | max factor | mean factor | tie factor | largest flip band use |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {k} | {b['sound']} | {b['max_factor']:g} | {b['mean_factor']:g} | {b['tie_factor']:g} | "
              f"{max(r['modes'][k]['flip_band_use'] or [0]):.3g} |" for k, b in r["budgets"].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--rows", type=int, default=1000, help="selection-split rows (the first N)")
    p.add_argument("--modes", nargs="*", help="only these FORMAT:MODE pairs (default: every mode of every format)")
    args = p.parse_args()
    result = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "int8_noise.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "int8_noise.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
