"""What a user gets from the usual recipes on the teacher vs edgeport's student, side by side, in one run.

    python benchmarks/peer_comparison.py runs/default [--data DIR] [--limit N] [--out benchmarks/results]

Rows (SST-2 validation, batch 1, 1 thread, all on this machine = kind ``host``):
  teacher fp32, torch eager                 the starting point
  teacher + torch dynamic INT8              the seed's recipe (Linear layers -> qint8)
  teacher ONNX + ONNX Runtime dynamic INT8  what an Optimum user gets (per-channel QInt8, dynamic axes)
  teacher TFLite + dynamic-range INT8       litert-torch + ai-edge-quantizer at one static length (128): what a
                                            litert-torch user gets
  teacher ExecuTorch fp32 / XNNPACK INT8    what a PyTorch user would try for phones (torch.export + XNNPACK)
  student <artifact> for every artifact the run exported (every format, fp32 and INT8; TFLite with its buckets)
Each row is timed two ways, in the same process, one row after another:
  fixed     one full-length row of 128 real word pieces per call (the worst case; everything at seq 128)
  workload  the validation sentences themselves, one per call, unpadded: each runtime computes at the length
            it can (true length with dynamic shapes, the smallest bucket of a bucketed TFLite model, the static
            length of a single-length one); each row's median over --passes, then mean/p50/p90 over rows
Columns: accuracy (every row's own runtime on the same unpadded validation rows), size, fixed p50/p90, workload
mean/p50/p90, speed-up vs the fp32 teacher (p50 ratio, fixed and workload). Writes peer_comparison.json and
peer_comparison.md under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeport.bench.host import FEED_TEXT, measure_latency
from edgeport.bench.workload import measure_workload
from edgeport.pipeline.manifest import Manifest
from edgeport.runtimes.eager import EagerRunner


def encode(tokenizer, texts: list[str], seq_len: int) -> list[dict]:
    """Unpadded batch-1 rows, truncated at ``seq_len`` (what an app sends)."""
    enc = tokenizer(texts, truncation=True, max_length=seq_len)
    return [{"input_ids": np.asarray([ids], dtype=np.int64),
             "attention_mask": np.asarray([enc["attention_mask"][i]], dtype=np.int64),
             "token_type_ids": np.asarray([enc["token_type_ids"][i] if "token_type_ids" in enc else [0] * len(ids)],
                                          dtype=np.int64)} for i, ids in enumerate(enc["input_ids"])]


def full_row(tokenizer, seq_len: int) -> dict:
    """One row of exactly ``seq_len`` real word pieces, mask all ones (``bench.host.tokenizer_feed``'s text)."""
    text = FEED_TEXT
    while len(tokenizer(text)["input_ids"]) < seq_len:
        text += " " + FEED_TEXT
    return encode(tokenizer, [text], seq_len)[0]


def accuracy(runner, feeds: list[dict], labels: list[int]) -> float:
    preds = [int(np.asarray(runner(**f)).argmax(-1)[0]) for f in feeds]
    return float(np.mean(np.asarray(preds) == np.asarray(labels)))


def torch_size(model, tmp: Path, name: str) -> int:
    import torch

    path = tmp / f"{name}.pt"
    torch.save(model.state_dict(), path)
    return path.stat().st_size


def peers(teacher_dir: Path, seq_len: int, threads: int, tmp: Path):
    """(name, runner, size_bytes) for the three teacher recipes."""
    import torch

    from edgeport.exporters import QuantizeRequest, get_exporter, make_sample
    from edgeport.models import load_classifier
    from edgeport.runtimes import load

    torch.set_num_threads(threads)
    model = load_classifier(teacher_dir).eval()
    yield "teacher fp32 (torch eager)", EagerRunner(model), torch_size(model, tmp, "fp32")
    q = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    yield "teacher + torch dynamic INT8", EagerRunner(q), torch_size(q, tmp, "int8")
    exporter, sample = get_exporter("onnx"), make_sample(seq_len)
    (tmp / "onnx").mkdir()
    fp32 = exporter.export(model, sample, tmp / "onnx")
    (tmp / "onnx-int8").mkdir()
    path = exporter.quantize(QuantizeRequest(model, fp32, sample, tmp / "onnx-int8", "dynamic", []))
    yield "teacher ONNX + ORT dynamic INT8", load(path, threads=threads), path.stat().st_size
    # The strongest recipe DESIGN.md measured on the teacher: TFLite + dynamic-range INT8 (static [1, seq_len]).
    tflite, tsample = get_exporter("tflite"), make_sample(seq_len, batch=1)
    (tmp / "tflite").mkdir()
    fp32 = tflite.export(model, tsample, tmp / "tflite")
    (tmp / "tflite-int8").mkdir()
    path = tflite.quantize(QuantizeRequest(model, fp32, tsample, tmp / "tflite-int8", "dynamic", []))
    yield "teacher TFLite + dynamic-range INT8", load(path, threads=threads), path.stat().st_size
    # ExecuTorch: torch.export + XNNPACK, fp32 and PT2E dynamic INT8 (what a PyTorch user would try on a phone).
    et = get_exporter("executorch")
    esample = make_sample(seq_len, batch=2 if et.dynamic_shapes else 1)
    (tmp / "et").mkdir()
    fp32 = et.export(model, esample, tmp / "et")
    yield "teacher ExecuTorch fp32 (XNNPACK)", load(fp32, threads=threads), fp32.stat().st_size
    (tmp / "et-int8").mkdir()
    path = et.quantize(QuantizeRequest(model, fp32, esample, tmp / "et-int8", "dynamic", []))
    yield "teacher ExecuTorch + XNNPACK dynamic INT8", load(path, threads=threads), path.stat().st_size


def student_artifacts(run_dir: Path) -> list[dict]:
    m = Manifest.load(run_dir)
    arts = [a for s in ("export", "quantize") for a in (m.entry(s) or {}).get("metrics", {}).get("artifacts", [])]
    if not arts:
        sys.exit(f"{run_dir}: no export/quantize artifacts in the manifest; run the pipeline first")
    return arts


def measure(name: str, runner, size: int, feeds, labels, fixed: dict, timing: dict, passes: int) -> dict:
    t0 = time.perf_counter()
    acc = accuracy(runner, feeds, labels)
    lat = measure_latency(runner, fixed, **timing)
    real = measure_workload(runner, feeds, passes=passes, warmup=timing["warmup"])
    print(f"  {name:<50} acc {acc * 100:6.2f}%  {size / 1e6:7.1f} MB  fixed p50 {lat['p50_ms']:7.2f} ms  "
          f"workload p50 {real['p50_ms']:7.2f} ms  ({time.perf_counter() - t0:.0f}s)", flush=True)
    static = getattr(runner, "seq_len", None)
    return {"name": name, "accuracy": acc, "size_bytes": size, "kind": "host",
            "static_seq_len": static, "seq_buckets": getattr(runner, "seq_buckets", None),
            "fixed": {k: lat[k] for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "runs")},
            "workload": {k: real[k] for k in ("mean_ms", "p50_ms", "p90_ms", "p99_ms", "rows", "passes",
                                              "tokens_mean")}}


def run(args) -> dict:
    from transformers import AutoTokenizer

    from edgeport.runtimes import load
    from edgeport.runtimes.text import artifact_tokenizer

    run_dir = Path(args.run_dir)
    teacher_dir = run_dir / "teacher"
    rows_tsv = (Path(args.data) / "validation.tsv").read_text(encoding="utf-8").splitlines()[1:]
    rows = [line.rsplit("\t", 1) for line in rows_tsv if line.strip()][: args.limit]
    texts, labels = [r[0] for r in rows], [int(r[1]) for r in rows]
    tokenizer = AutoTokenizer.from_pretrained(str(teacher_dir))
    feeds, fixed = encode(tokenizer, texts, args.seq_len), full_row(tokenizer, args.seq_len)
    timing = {"warmup": 10, "runs": args.runs, "min_seconds": args.min_seconds}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, runner, size in peers(teacher_dir, args.seq_len, args.threads, Path(tmp)):
            results.append(measure(name, runner, size, feeds, labels, fixed, timing, args.passes))
    for art in student_artifacts(run_dir):
        runner = load(run_dir / art["path"], threads=args.threads)
        # Each artifact is fed by its own tokenizer: a vocabulary-pruned student has its own, smaller vocab.txt.
        own = artifact_tokenizer(run_dir / art["path"])
        results.append(measure(f"student {art['name']}", runner, art["size_bytes"],
                               encode(own, texts, args.seq_len), labels, full_row(own, args.seq_len), timing,
                               args.passes))
    base, base_real = results[0]["fixed"]["p50_ms"], results[0]["workload"]["p50_ms"]
    for r in results:
        r["speedup_vs_fp32_teacher"] = {"fixed": round(base / r["fixed"]["p50_ms"], 2),
                                        "workload": round(base_real / r["workload"]["p50_ms"], 2)}
    return {"setting": {"data": str(Path(args.data) / "validation.tsv"), "rows": len(labels), "batch": 1,
                        "seq_len": args.seq_len, "threads": args.threads, "passes": args.passes,
                        "run_dir": str(run_dir), "latency_kind": "host",
                        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
                        "date": time.strftime("%Y-%m-%d")},
            "results": results}


def markdown(report: dict) -> str:
    s = report["setting"]
    lines = [f"# Peer comparison ({s['date']})\n",
             f"SST-2 validation ({s['rows']} rows), batch 1, {s['threads']} thread(s); latency measured on this "
             f"machine (**host**: {s['machine']}); student from `{s['run_dir']}`. **Fixed**: one full row of "
             f"{s['seq_len']} word pieces per call. **Workload**: the validation sentences, one per call, unpadded "
             f"(each runtime computes at the length it can), median of {s['passes']} passes per row, then over rows. "
             "Accuracy: each row's own runtime on the same validation rows.\n",
             "| model | accuracy % | size MB | fixed p50 ms | fixed p90 ms | workload mean ms | workload p50 ms | "
             "workload p90 ms | speed-up vs fp32 teacher (fixed / workload p50) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        shape = (f" (buckets {r['seq_buckets']})" if r.get("seq_buckets") and len(r["seq_buckets"]) > 1 else
                 f" (static {r['static_seq_len']})" if r.get("static_seq_len") else "")
        f, w, x = r["fixed"], r["workload"], r["speedup_vs_fp32_teacher"]
        lines.append(f"| {r['name']}{shape} | {r['accuracy'] * 100:.2f} | {r['size_bytes'] / 1e6:.1f} | "
                     f"{f['p50_ms']:.2f} | {f['p90_ms']:.2f} | {w['mean_ms']:.2f} | {w['p50_ms']:.2f} | "
                     f"{w['p90_ms']:.2f} | {x['fixed']:.2f}x / {x['workload']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", help="a finished edgeport run (runs/<name>)")
    default_data = Path(os.environ.get("EDGEPORT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")) / "sst2"
    p.add_argument("--data", default=str(default_data), help="folder with validation.tsv (sentence<TAB>label)")
    p.add_argument("--limit", type=int, help="first N validation rows only (quick checks)")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--passes", type=int, default=3, help="workload: times each validation row is run (median)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args(argv)
    report = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "peer_comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "peer_comparison.md").write_text(markdown(report))
    print("\n" + markdown(report) + f"\nwrote {out / 'peer_comparison.md'} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
