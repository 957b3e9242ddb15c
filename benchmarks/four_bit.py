"""Four-bit weights and quantized embeddings (issue 26): size, accuracy and noise of every (format, mode, embeddings).

    python benchmarks/four_bit.py runs/default [--out benchmarks/results] [--select-rows 500] [--only tflite:w4:int4 ...]

For each variant the run's fp32 artifact is quantized with the pipeline's own quantize step (``QuantizeStage._one``:
the same exporter, request and sidecar; fallback and QAT off) and run one row per call as validate runs it:
* on the eval split (SST-2 validation): accuracy and label agreement with the fp32 torch reference (reported only;
  nothing is chosen on it);
* on the selection split (the first ``--select-rows``): max / mean |Δlogit| against the reference and their ratio
  to the yardstick (torch's dynamic INT8 of the reference), as ``benchmarks/int8_noise.py`` measures INT8's: the
  w4 noise budgets in ``exporters.base.INT8_NOISE`` are derived from these ratios the same way (``budgets``).
The fp32 artifacts of the run are measured beside them. Writes four_bit.{json,md} with provenance under --out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import provenance, write_json, write_markdown  # noqa: E402
from _student import load_run_student  # noqa: E402
from int8_noise import budgets  # noqa: E402  (the same derivation as INT8's)

# (format, mode, embeddings): today's INT8 defaults first, then the embedding choices, then w4
VARIANTS = [("tflite", "dynamic", "auto"), ("tflite", "dynamic", "int4"), ("tflite", "w4", "int8"),
            ("tflite", "w4", "int4"),
            ("onnx", "dynamic", "auto"), ("onnx", "dynamic", "int4"), ("onnx", "w4", "int8"), ("onnx", "w4", "int4"),
            ("executorch", "dynamic", "fp32"), ("executorch", "dynamic", "int8"), ("executorch", "w4", "int8"),
            ("executorch", "w4", "int4")]


def quantize(run_dir: Path, cfg, task, src: dict, mode: str, embeddings: str, block: int, scratch: Path, model):
    from edgeport.stages.quantize import QuantizeStage

    qcfg = cfg.quantize.model_copy(update={src["format"]: mode, "embeddings": embeddings, "block_size": block,
                                           "fallback": cfg.quantize.fallback.model_copy(update={"enabled": False})})
    settings = QuantizeStage().configure(cfg.model_copy(update={"quantize": qcfg}))  # what the stage runs with
    ctx = SimpleNamespace(cfg=settings, run_dir=run_dir, out=scratch,
                          task=lambda: task, _cache={}, inputs={})
    path, _ = QuantizeStage()._one(ctx, src, model, model, scratch)
    return path


def measure(path: Path, task, evals, selects, select_split) -> dict:
    import numpy as np

    from edgeport import runtimes
    from edgeport.runtimes import artifact_meta
    from edgeport.validation import artifact_length, artifact_logits, noise_of

    runner = runtimes.load(path, threads=1)
    out = {"size_bytes": path.stat().st_size, "size_mb": round(path.stat().st_size / 1e6, 2)}
    meta = artifact_meta(path)
    out |= {k: meta.get(k) for k in ("precision", "quantization", "embeddings", "block_size")}
    for name, refs, split in (("eval", evals, task.eval), ("select", selects, select_split)):
        length = artifact_length(runner, refs.max_len)
        t = time.time()
        logits, ref = artifact_logits(runner, path, split, refs.max_len), refs(length)
        labels = np.asarray(split.labels)
        noise, yard = noise_of(logits, ref), refs.noise(length)
        flipped = np.flatnonzero(logits.argmax(-1) != ref.argmax(-1))
        from edgeport.validation_gates import margins
        out[name] = {"rows": len(labels), "accuracy": round(float((logits.argmax(-1) == labels).mean()), 5),
                     "reference_accuracy": round(float((ref.argmax(-1) == labels).mean()), 5),
                     "agreement": round(1 - len(flipped) / len(labels), 5),
                     "max_abs": round(noise["max_abs"], 5), "mean_abs": round(noise["mean_abs"], 5),
                     "max_ratio": round(noise["max_abs"] / yard["max_abs"], 3),
                     "mean_ratio": round(noise["mean_abs"] / yard["mean_abs"], 3), "flips": int(len(flipped)),
                     "flip_rate": round(len(flipped) / len(labels), 5), "n": len(labels),
                     "flip_band_use": sorted(round(float(m), 3) for m in
                                             margins(ref)[flipped] / (2 * refs.noise_rows(length)[flipped])),
                     "seconds": round(time.time() - t, 1)}
    return out


def run(args) -> dict:
    from edgeport.validation import References

    s = load_run_student(args.run_dir)
    run_dir, manifest, cfg, export, model_dir = s.run_dir, s.manifest, s.cfg, s.export, s.model_dir
    model, tokenizer, task, max_len = s.model, s.tokenizer, s.task, s.max_len
    select = task.select.head(args.select_rows)
    print(f"references: {len(task.eval)} eval rows, {len(select)} selection rows ...", flush=True)
    evals, selects = References(model, tokenizer, task.eval, max_len), References(model, tokenizer, select, max_len)
    sources = {a["format"]: a for a in export["artifacts"]}
    rows = {}
    for fmt in ("tflite", "onnx", "executorch"):
        if fmt in sources and (not args.only or any(o.startswith(f"{fmt}:fp32") for o in args.only)):
            print(f"{fmt} fp32 ...", flush=True)
            rows[f"{fmt}:fp32"] = measure(run_dir / sources[fmt]["path"], task, evals, selects, select)
    for fmt, mode, emb in VARIANTS:
        key = f"{fmt}:{mode}:{emb}"
        if fmt not in sources or (args.only and key not in args.only):
            continue
        print(f"{key} ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.time()
            try:
                path = quantize(run_dir, cfg, task, sources[fmt], mode, emb, args.block_size, Path(tmp), model)
            except Exception as exc:  # recorded, not fatal: the table says which variant failed and why
                rows[key] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                print(f"  {rows[key]}", flush=True)
                continue
            quantize_s = round(time.time() - t, 1)
            rows[key] = measure(path, task, evals, selects, select) | {"quantize_seconds": quantize_s}
        print(f"  {({k: v for k, v in rows[key].items() if k not in ('eval', 'select')})} eval acc "
              f"{rows[key]['eval']['accuracy']} agreement {rows[key]['eval']['agreement']}", flush=True)
    w4 = {f"{k.split(':')[0]}:w4": r["select"] for k, r in rows.items()
          if k.split(":")[1] == "w4" and "error" not in r and r.get("embeddings") == "int8"}
    return {"provenance": provenance({"config": manifest.data["config"], "args": vars(args)},
                                     "the measured run's resolved config and the script's arguments"),
            "setting": {"run_dir": str(run_dir), "model_dir": str(model_dir), "eval_split": f"{task.eval.name} "
                        f"({len(task.eval)} rows: accuracy/agreement reported, nothing chosen on it)",
                        "select_split": f"the selection split (first {len(select)} rows: noise ratios, budgets)",
                        "max_len": max_len, "batch": 1, "threads": 1, "block_size": args.block_size,
                        "yardstick_select": {k: round(v, 6) for k, v in selects.noise().items()}},
            "rows": rows, "w4_budgets": budgets(w4)}


def markdown(r: dict) -> str:
    s = r["setting"]
    lines = [f"# Four-bit weights and quantized embeddings ({r['provenance']['date']})\n",
             f"Student of `{s['run_dir']}`; batch 1, 1 thread, block size {s['block_size']}. Accuracy and agreement "
             f"with the fp32 torch reference on {s['eval_split']}; noise ratios (artifact / torch dynamic INT8 of "
             f"the reference) on {s['select_split']}.\n",
             "| artifact (format:mode:embeddings) | precision | size MB | SST-2 validation acc | agreement w/ fp32 "
             "(validation) | selection max ratio | selection mean ratio |", "|---|---|---|---|---|---|---|"]
    for key, row in r["rows"].items():
        if "error" in row:
            lines.append(f"| {key} | error: {row['error']} | | | | | |")
            continue
        e, sel = row["eval"], row["select"]
        lines.append(f"| {key} | {row.get('precision') or 'fp32'} | {row['size_mb']:.2f} | {e['accuracy'] * 100:.2f}% "
                     f"| {e['agreement'] * 100:.2f}% ({e['flips']} flips) | {sel['max_ratio']:.2f} | "
                     f"{sel['mean_ratio']:.2f} |")
    ref = next(iter(r["rows"].values()), {}).get("eval", {}).get("reference_accuracy")
    if ref is not None:
        lines.append(f"\nfp32 torch reference: {ref * 100:.2f}% on SST-2 validation.")
    lines += ["", "w4 budgets (int8 embeddings; derived as INT8's: 2 x ratio rounded up to 0.5, within [1.5, 2]):", "",
              "| (format, mode) | max factor | mean factor | capped | counted flips |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {b['max_factor']:g} | {b['mean_factor']:g} | {b.get('capped', '')} | "
              f"{b.get('counted_flips', '')} |" for k, b in r["w4_budgets"].items() if b.get("measured", True)]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--select-rows", type=int, default=500)
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument("--only", nargs="*", help="only these FORMAT:MODE:EMBEDDINGS keys (FORMAT:fp32 for fp32)")
    args = p.parse_args()
    result = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "four_bit.json", result, result["provenance"])
    write_markdown(out / "four_bit.md", markdown(result), result["provenance"])
    print(markdown(result))


if __name__ == "__main__":
    main()
