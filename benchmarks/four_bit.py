"""Four-bit weights and quantized embeddings (issue 26): size, accuracy and noise of every (format, mode, embeddings).

    python benchmarks/four_bit.py runs/default [--out benchmarks/results] [--select-rows 500] [--only tflite:w4:int4 ...]

For each variant the run's fp32 artifact is quantized with the pipeline's own quantize step (``QuantizeStage._one``:
the same exporter, request and sidecar; fallback and QAT off) and run one row per call as validate runs it:
* on the eval split (SST-2 validation): accuracy and label agreement with the fp32 torch reference (reported only;
  nothing is chosen on it);
* on the selection split (the first ``--select-rows``): max / mean |Δlogit| against the reference and their ratio
  to the yardstick validate judges the artifact against (``validation.yardstick_key``: torch's dynamic INT8 of the
  reference for INT8, its 4-bit copy with the artifact's blocks and tables for w4), as ``benchmarks/int8_noise.py``
  measures INT8's: the w4 noise budgets in ``exporters.base.INT8_NOISE`` are derived from these ratios the same
  way (``budgets``).
* latency, 1 thread, batch 1: ``fixed`` p50 at the export length (``bench.host``'s tokenizer feed, the worst case
  a padded model sees) and ``workload`` p50 over the eval split's rows at their own length (``bench.workload``:
  each row's median over ``--passes``), as the bench stage measures them; one process, so the ratios between rows
  are the figures to read on this noisy machine;
* with ``--qat``: the same w4 + int4-table variants made from a 4-bit QAT copy of the student per format (the
  quantize stage's QAT step: fake-quant int4 Linears and tables in the blocks and that format's converter's
  rounding, distilled from the run's teacher on ``--qat-rows`` training rows, the checkpoint kept on the selection
  split), keyed ``FORMAT:w4:int4:qat``;
* the paired accuracy drop on the eval split of every variant against its format's INT8 default
  (``FORMAT:dynamic:auto``; ExecuTorch's ``dynamic:int8``, what the pipeline ships), with its Newcombe 95% interval
  and the one-sided McNemar p (``stats.paired_drop``): reported only, nothing chosen on it.
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
# the INT8 artifact the pipeline ships per format: the yardstick of each row's paired drop
SHIPPED_INT8 = {"tflite": "tflite:dynamic:auto", "onnx": "onnx:dynamic:auto", "executorch": "executorch:dynamic:int8"}


def settings(cfg, fmt: str, mode: str, embeddings: str, block: int, embedding_block: int = 32, qat: dict | None = None):
    """The quantize stage's own settings for one (format, mode, embeddings): fallback off, QAT as given."""
    from edgeport.stages.quantize import QuantizeStage

    qcfg = cfg.quantize.model_copy(update={fmt: mode, "embeddings": embeddings, "block_size": block,
                                           "embedding_block_size": embedding_block,
                                           "fallback": cfg.quantize.fallback.model_copy(update={"enabled": False}),
                                           "qat": cfg.quantize.qat.model_copy(update={"enabled": qat is not None}
                                                                               | (qat or {}))})
    formats = cfg.export.model_copy(update={"formats": [fmt]})
    return QuantizeStage().configure(cfg.model_copy(update={"quantize": qcfg, "export": formats}))


def quantize(run_dir: Path, cfg, task, src: dict, mode: str, embeddings: str, block: int, scratch: Path, model,
             embedding_block: int = 32, source=None):
    """``source`` (a QAT copy of ``model``) is what gets quantized when given, as the stage does after QAT."""
    from edgeport.stages.quantize import QuantizeStage

    ctx = SimpleNamespace(cfg=settings(cfg, src["format"], mode, embeddings, block, embedding_block),
                          run_dir=run_dir, out=scratch, task=lambda: task, _cache={}, inputs={})
    path, _ = QuantizeStage()._one(ctx, src, model, model if source is None else source, scratch)
    return path


def qat_source(s, args, fmt: str):
    """The student after the quantize stage's own QAT step (``stages.quantize_qat.qat_model``) for ``fmt`` in w4 +
    int4 tables in ``args``' blocks (its converter's rounding), with the run's teacher; returns (model, metrics)."""
    from edgeport.pipeline.stage import StageContext
    from edgeport.stages.quantize_qat import qat_model

    qat = {"train_limit": args.qat_rows} | ({"train": s.cfg.quantize.qat.train.model_copy(
        update={"min_steps": args.qat_steps})} if args.qat_steps else {})
    cfg = settings(s.cfg, fmt, "w4", "int4", args.block_size, args.embedding_block_size, qat=qat)
    ctx = StageContext(cfg=cfg, run_dir=s.run_dir, out=s.run_dir / "quantize", manifest=s.manifest,
                       inputs={"model": s.model_dir, "teacher": s.run_dir / "teacher", "export": s.run_dir / "export"},
                       _cache={"task": s.task})
    t = time.time()
    model, metrics = qat_model(ctx, s.model)
    return model, metrics | {"seconds": round(time.time() - t, 1)}


def latency(runner, path: Path, task, max_len: int, passes: int) -> dict:
    """Fixed-length and workload p50 (ms), 1 thread, batch 1, as the bench stage times an artifact."""
    from edgeport.bench.host import measure_latency, tokenizer_feed
    from edgeport.bench.workload import encode_split, measure_workload

    fixed = measure_latency(runner, tokenizer_feed(path, runner.seq_len or max_len), warmup=10, runs=50,
                            min_seconds=2.0)
    feeds = encode_split(path, task.eval.texts, task.eval.pairs, max_len)
    work = measure_workload(runner, feeds, passes=passes, warmup=10)
    return {"fixed_p50_ms": fixed["p50_ms"], "fixed_len": runner.seq_len or max_len,
            "workload_p50_ms": work["p50_ms"], "workload_rows": work["rows"], "workload_passes": passes}


def measure(path: Path, task, evals, selects, select_split, passes: int = 3) -> dict:
    import numpy as np

    from edgeport import runtimes
    from edgeport.runtimes import artifact_meta
    from edgeport.validation import artifact_length, artifact_logits, noise_of, yardstick_key

    runner = runtimes.load(path, threads=1)
    out = {"size_bytes": path.stat().st_size, "size_mb": round(path.stat().st_size / 1e6, 2)}
    meta = artifact_meta(path)
    out |= {k: meta.get(k) for k in ("precision", "quantization", "embeddings", "block_size", "embedding_block_size")}
    key = yardstick_key(meta.get("precision"), meta)  # the noise this precision is judged against (validate's)
    out["yardstick"] = list(key)
    for name, refs, split in (("eval", evals, task.eval), ("select", selects, select_split)):
        length = artifact_length(runner, refs.max_len)
        t = time.time()
        logits, ref = artifact_logits(runner, path, split, refs.max_len), refs(length)
        labels = np.asarray(split.labels)
        noise, yard = noise_of(logits, ref), refs.noise(length, key)
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
                                             margins(ref)[flipped] / (2 * refs.noise_rows(length, key)[flipped])),
                     "seconds": round(time.time() - t, 1)}
        if name == "eval":  # per-row correctness, for the paired drop against the format's INT8 (not written)
            out["_eval_correct"] = (logits.argmax(-1) == labels).tolist()
    return out | latency(runner, path, task, evals.max_len, passes)


def paired_drops(rows: dict) -> None:
    """Each variant's paired eval-split drop against its format's shipped INT8 artifact, in place."""
    from edgeport.stats import paired_drop

    for key, row in rows.items():
        base = rows.get(SHIPPED_INT8.get(key.split(":")[0], ""), {})
        if "error" in row or "_eval_correct" not in base:
            continue
        d = paired_drop(base["_eval_correct"], row["_eval_correct"])
        row["drop_vs_int8"] = {"vs": SHIPPED_INT8[key.split(":")[0]], "points": d["drop_points"],
                               "ci95_points": d["ci95_points"], "p_worse": round(d["p_worse"], 4)}
    for row in rows.values():
        row.pop("_eval_correct", None)


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
            rows[f"{fmt}:fp32"] = measure(run_dir / sources[fmt]["path"], task, evals, selects, select,
                                          args.passes)
    for fmt, mode, emb in VARIANTS:
        key = f"{fmt}:{mode}:{emb}"
        if fmt not in sources or (args.only and key not in args.only):
            continue
        print(f"{key} ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.time()
            try:
                path = quantize(run_dir, cfg, task, sources[fmt], mode, emb, args.block_size, Path(tmp), model,
                                args.embedding_block_size)
            except Exception as exc:  # recorded, not fatal: the table says which variant failed and why
                rows[key] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                print(f"  {rows[key]}", flush=True)
                continue
            quantize_s = round(time.time() - t, 1)
            rows[key] = measure(path, task, evals, selects, select, args.passes) | {"quantize_seconds": quantize_s}
        print(f"  {({k: v for k, v in rows[key].items() if k not in ('eval', 'select', '_eval_correct')})} eval acc "
              f"{rows[key]['eval']['accuracy']} agreement {rows[key]['eval']['agreement']}", flush=True)
    qat = {}
    if args.qat:
        for fmt in ("tflite", "onnx", "executorch"):
            key = f"{fmt}:w4:int4:qat"
            if fmt not in sources or (args.only and key not in args.only):
                continue
            print(f"{key}: QAT (w4 block {args.block_size}, int4 tables block {args.embedding_block_size}) ...",
                  flush=True)
            source, qat[fmt] = qat_source(s, args, fmt)
            print(f"  {({k: v for k, v in qat[fmt].items() if k != 'history'})}", flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                path = quantize(run_dir, cfg, task, sources[fmt], "w4", "int4", args.block_size, Path(tmp), model,
                                args.embedding_block_size, source=source)
                rows[key] = measure(path, task, evals, selects, select, args.passes)
            print(f"  eval acc {rows[key]['eval']['accuracy']} select acc {rows[key]['select']['accuracy']}",
                  flush=True)
    paired_drops(rows)
    w4 = w4_budgets({k: r for k, r in rows.items() if not k.endswith(":qat")})  # QAT weights: not the noise of a rounding
    return {"provenance": provenance({"config": manifest.data["config"], "args": vars(args)},
                                     "the measured run's resolved config and the script's arguments"),
            "setting": {"run_dir": str(run_dir), "model_dir": str(model_dir), "eval_split": f"{task.eval.name} "
                        f"({len(task.eval)} rows: accuracy/agreement reported, nothing chosen on it)",
                        "select_split": f"the selection split (first {len(select)} rows: noise ratios, budgets)",
                        "max_len": max_len, "batch": 1, "threads": 1, "block_size": args.block_size,
                        "embedding_block_size": args.embedding_block_size, "host": host_cpu(),
                        "yardstick_select": {k: round(v, 6) for k, v in selects.noise().items()}},
            "rows": rows, "w4_budgets": w4, "qat": qat}


def w4_budgets(rows: dict) -> dict:
    """The w4 noise budgets, derived as INT8's (``int8_noise.budgets``) from each format's w4 selection ratios; per
    format the looser of its int8- and int4-table variants, so one budget holds for either."""
    per_table = [budgets({f"{k.split(':')[0]}:w4": r["select"] for k, r in rows.items()
                          if k.split(":")[1] == "w4" and "error" not in r and r.get("embeddings") == emb})
                 for emb in ("int8", "int4")]
    out = {}
    for b in per_table:
        for key, row in b.items():
            if key in out:
                row = row | {f: max(row[f], out[key][f]) for f in ("max_factor", "mean_factor")}
            out[key] = row
    return out


def host_cpu() -> str:
    from edgeport.hostinfo import host_identity

    h = host_identity()
    return f"{h['cpu_model']} ({h['cores']} cores)"


def _drop(row: dict) -> str:
    d = row.get("drop_vs_int8")
    if d is None:
        return "-"
    lo, hi = d["ci95_points"]
    return f"{d['points']:+.2f} [{lo:+.2f}, {hi:+.2f}] p={d['p_worse']:.2f}"


def _select_fq(q: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in q.items() if k.startswith("select_") and k.endswith("_fake_quant"))


def markdown(r: dict) -> str:
    s = r["setting"]
    lines = [f"# Four-bit weights and quantized embeddings ({r['provenance']['date']})\n",
             f"Student of `{s['run_dir']}`; one process on {s.get('host', '?')}; batch 1, 1 thread, Linear block "
             f"size {s['block_size']}, int4 table block {s.get('embedding_block_size', 32)}. Accuracy, agreement with "
             f"the fp32 torch reference and the paired drop against the format's shipped INT8 artifact (points, "
             f"Newcombe 95% CI, one-sided McNemar p; positive = worse) on {s['eval_split']}; noise ratios "
             f"(artifact / its yardstick: torch dynamic INT8 of the reference for INT8, its 4-bit copy for w4) on "
             f"{s['select_split']}. Latency p50: fixed = one row "
             f"at the export length, workload = the eval rows at their own length (TFLite: its smallest bucket).\n",
             "| artifact (format:mode:embeddings) | precision | size MB | SST-2 validation acc | drop vs INT8 "
             "(validation) | agreement w/ fp32 (validation) | fixed p50 ms | workload p50 ms | selection max ratio "
             "| selection mean ratio |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key, row in r["rows"].items():
        if "error" in row:
            lines.append(f"| {key} | error: {row['error']} | | | | | | | | |")
            continue
        e, sel = row["eval"], row["select"]
        lines.append(f"| {key} | {row.get('precision') or 'fp32'} | {row['size_mb']:.2f} | {e['accuracy'] * 100:.2f}% "
                     f"| {_drop(row)} | {e['agreement'] * 100:.2f}% ({e['flips']} flips) | "
                     f"{row.get('fixed_p50_ms', float('nan')):.2f} | {row.get('workload_p50_ms', float('nan')):.2f} | "
                     f"{sel['max_ratio']:.2f} | {sel['mean_ratio']:.2f} |")
    for fmt, q in (r.get("qat") or {}).items():
        lines.append(f"\n`{fmt}:w4:int4:qat`: made from a 4-bit QAT copy of the student ({q.get('scheme')}; "
                     f"{q.get('train_rows')} training rows, {q.get('steps')} steps, {q.get('seconds')} s; checkpoint "
                     f"kept on the selection split with fake quantization on: {_select_fq(q)}). Its drop vs INT8 "
                     f"includes what QAT changed.")
    ref = next(iter(r["rows"].values()), {}).get("eval", {}).get("reference_accuracy")
    if ref is not None:
        lines.append(f"\nfp32 torch reference: {ref * 100:.2f}% on SST-2 validation.")
    lines += ["", "w4 budgets in units of the w4 yardstick's noise (the looser of int8 and int4 tables; derived as INT8's: 2 x ratio "
              "rounded up to 0.5, within [1.5, 2]):", "",
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
    p.add_argument("--embedding-block-size", type=int, default=32, help="int4 tables: values per scale")
    p.add_argument("--passes", type=int, default=3, help="workload passes over the eval rows (each row's median)")
    p.add_argument("--qat", action="store_true", help="also w4 + int4 tables from a 4-bit QAT copy (FORMAT:w4:int4:qat)")
    p.add_argument("--qat-rows", type=int, default=2000, help="QAT training rows (quantize.qat.train_limit)")
    p.add_argument("--qat-steps", type=int, default=None, help="QAT optimizer steps at least (quantize.qat.train.min_steps)")
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
