"""Length buckets vs one static length, for the TFLite student of a finished run, in one process.

    python benchmarks/seq_buckets.py runs/default [--out benchmarks/results] [--passes 3]

The run's model stage (the student the run exported) is converted twice with the pipeline's own exporter:
``single`` = one signature at the export length (what every TFLite artifact was before buckets) and ``buckets`` =
one signature per length of the run's ``seq_buckets`` (its export stage's metrics); each in fp32 and dynamic-range
INT8 (ai-edge-quantizer, the pipeline's default). Per file, on the run's evaluation split through edgeport's
runner: accuracy and label agreement with the fp32 torch model (``validation.artifact_logits``, as validate
computes them), size, the fixed-length host p50 (one full row of export-length real word pieces) and the workload
host p50/mean/p90 (every eval row, one per call, unpadded, at the bucket the runner picks; ``bench.workload``), all
batch 1, 1 thread, kind ``host``. Checks printed at the end: bucketed INT8 workload p50 <= 40% of its fixed p50,
the same accuracy and agreement as ``single``, and the bucketed file within 10% of the single one's size.
Writes seq_buckets.json and seq_buckets.md under --out.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from _provenance import args_dict, provenance, run_config, write_json, write_markdown


def export_pair(model, tokenizer, buckets: list[int], out: Path, max_seq_len: int) -> dict[str, Path]:
    """fp32 + dynamic INT8 TFLite artifact directories for these buckets (the pipeline's exporter and sidecar)."""
    from edgeport.exporters import QuantizeRequest, make_sample, write_sidecar
    from edgeport.exporters.base import label_names
    from edgeport.exporters.tflite import TFLiteExporter

    exporter, longest = TFLiteExporter(), max(buckets)
    sample = make_sample(longest, vocab=tokenizer.vocab_size)
    paths = {}
    fp32_dir = out / "fp32"
    fp32_dir.mkdir(parents=True)
    common = dict(label_names=label_names(model), seq_len=longest, max_seq_len=max_seq_len, tokenizer=tokenizer,
                  model=model, export_seq_len=longest)
    paths["fp32"] = exporter.export(model, sample, fp32_dir, buckets=buckets)
    write_sidecar(fp32_dir, fmt="tflite", precision="fp32", model_file="model.tflite",
                  extra={"seq_buckets": buckets}, **common)
    int8_dir = out / "int8"
    shutil.copytree(fp32_dir, int8_dir, ignore=shutil.ignore_patterns("model.tflite"))
    paths["int8"] = exporter.quantize(QuantizeRequest(model=model, fp32_path=paths["fp32"], sample=sample,
                                                      out_dir=int8_dir, mode="dynamic", calibration=[]))
    write_sidecar(int8_dir, fmt="tflite", precision="int8", model_file="model.tflite",
                  extra={"seq_buckets": buckets, "quantization": "dynamic"}, **common)
    return paths


def measure(path: Path, split, ref, longest: int, max_seq_len: int, passes: int, timing: dict) -> dict:
    import numpy as np

    from edgeport import runtimes
    from edgeport.bench.host import measure_latency, tokenizer_feed
    from edgeport.bench.workload import encode_split, measure_workload
    from edgeport.validation import artifact_logits, compare

    runner = runtimes.load(path, threads=1)
    logits = artifact_logits(runner, path, split, max_seq_len)
    quality = compare(logits, ref, split.labels)
    fixed = measure_latency(runner, tokenizer_feed(path, longest), **timing)
    real = measure_workload(runner, encode_split(path, split.texts, split.pairs, longest), passes=passes)
    return {"size_bytes": path.stat().st_size, "signatures": list(runner.seq_buckets or [runner.seq_len]),
            "accuracy": quality["accuracy"], "agreement": quality["agreement"],
            "max_abs_diff": float(np.round(quality["max_abs_diff"], 6)),
            "fixed": {k: fixed[k] for k in ("p50_ms", "p90_ms", "runs")},
            "workload": {k: real[k] for k in ("mean_ms", "p50_ms", "p90_ms", "rows", "passes", "tokens_mean")}}


def run(args) -> dict:
    from edgeport.config import PipelineConfig
    from edgeport.data import load_task
    from edgeport.hostinfo import host_identity
    from edgeport.models import load_classifier, load_tokenizer
    from edgeport.pipeline.manifest import Manifest
    from edgeport.validation import reference_logits

    run_dir = Path(args.run_dir)
    manifest = Manifest.load(run_dir)
    export = (manifest.entry("export") or {}).get("metrics") or {}
    if not export.get("seq_buckets"):
        sys.exit(f"{run_dir}: its export stage recorded no seq_buckets; re-run the pipeline with this edgeport")
    cfg = PipelineConfig.model_validate(manifest.data["config"])
    buckets, longest = list(export["seq_buckets"]), int(export["seq_len"])
    model_dir = run_dir / export["source_stage"]
    model, tokenizer = load_classifier(model_dir).eval(), load_tokenizer(model_dir)
    split = load_task(cfg.data, seed=cfg.run.seed).eval
    print(f"reference: fp32 torch {model_dir} on {len(split)} {split.name} rows ...", flush=True)
    ref = reference_logits(model, tokenizer, split, cfg.data.max_seq_len)
    timing = {"warmup": 10, "runs": args.runs, "min_seconds": args.min_seconds}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, bks in (("single", [longest]), ("buckets", buckets)):
            print(f"exporting {name} {bks} ...", flush=True)
            paths = export_pair(model, tokenizer, bks, Path(tmp) / name, cfg.data.max_seq_len)
            for precision, path in paths.items():
                row = measure(path, split, ref, longest, cfg.data.max_seq_len, args.passes, timing)
                results[f"{name}-{precision}"] = row
                print(f"  {name}-{precision:<5} {row['size_bytes'] / 1e6:7.2f} MB  acc {row['accuracy'] * 100:.2f}%  "
                      f"agree {row['agreement'] * 100:.2f}%  fixed p50 {row['fixed']['p50_ms']:.3f} ms  "
                      f"workload p50 {row['workload']['p50_ms']:.3f} ms", flush=True)
    checks = {}
    for p in ("fp32", "int8"):
        s, b = results[f"single-{p}"], results[f"buckets-{p}"]
        checks[p] = {"size_ratio": round(b["size_bytes"] / s["size_bytes"], 4),
                     "workload_p50_over_fixed_p50": round(b["workload"]["p50_ms"] / b["fixed"]["p50_ms"], 4),
                     "same_accuracy": b["accuracy"] == s["accuracy"], "same_agreement": b["agreement"] == s["agreement"]}
    return {"setting": {"run_dir": str(run_dir), "model_dir": str(model_dir), "buckets": buckets,
                        "export_seq_len": longest, "eval_split": f"{split.name} ({len(split)} rows)", "threads": 1,
                        "batch": 1, "latency_kind": "host", "passes": args.passes,
                        "machine": host_identity()},
            "results": results, "checks": checks}


def markdown(report: dict) -> str:
    s = report["setting"]
    lines = ["# Length buckets vs one static length\n",
             f"TFLite student of `{s['run_dir']}` (`{s['model_dir']}`), buckets {s['buckets']} vs one signature at "
             f"{s['export_seq_len']}; {s['eval_split']} (eval split) through edgeport's runner, batch 1, 1 thread, "
             f"host ({s['machine']['cpu_model']}, {s['machine']['cores']} cores). Fixed: one full row of {s['export_seq_len']} word pieces. Workload: every eval "
             f"row, one per call, at the bucket the runner picks (median of {s['passes']} passes per row).\n",
             "| artifact | signatures | size MB | accuracy % | agreement % | max abs dlogit | fixed p50 ms | "
             "workload mean ms | workload p50 ms | workload p90 ms |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in report["results"].items():
        f, w = r["fixed"], r["workload"]
        lines.append(f"| {name} | {r['signatures']} | {r['size_bytes'] / 1e6:.2f} | {r['accuracy'] * 100:.2f} | "
                     f"{r['agreement'] * 100:.2f} | {r['max_abs_diff']:.4g} | {f['p50_ms']:.3f} | {w['mean_ms']:.3f} | "
                     f"{w['p50_ms']:.3f} | {w['p90_ms']:.3f} |")
    lines.append("")
    for p, c in report["checks"].items():
        lines.append(f"- {p}: bucketed file / single file = {c['size_ratio']:.3f}; bucketed workload p50 / its fixed "
                     f"p50 = {c['workload_p50_over_fixed_p50']:.3f}; same accuracy {c['same_accuracy']}, same "
                     f"agreement {c['same_agreement']}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", help="a finished edgeport run (runs/<name>) whose export recorded seq_buckets")
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args(argv)
    prov = provenance({"args": args_dict(args) | {"out": None}, "run_config": run_config(Path(args.run_dir))},
                      "the script's arguments and the run's resolved config (its manifest.json)")
    report = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "seq_buckets.json", report, prov)
    write_markdown(out / "seq_buckets.md", markdown(report), prov)
    print("\n" + markdown(report) + f"\nwrote {out / 'seq_buckets.md'} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
