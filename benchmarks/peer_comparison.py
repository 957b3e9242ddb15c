"""What a user gets from the usual recipes on the teacher vs edgeport's student, side by side, in one run.

    python benchmarks/peer_comparison.py runs/default [--data DIR] [--limit N] [--out benchmarks/results]

Rows (SST-2 validation, batch 1, seq 128 padded, 1 thread, all on this machine = kind ``host``):
  teacher fp32, torch eager                 the starting point
  teacher + torch dynamic INT8              the seed's recipe (Linear layers -> qint8)
  teacher ONNX + ONNX Runtime dynamic INT8  what an Optimum user gets (per-channel QInt8)
  teacher TFLite + dynamic-range INT8       the best recipe DESIGN.md measured on the teacher (litert-torch +
                                            ai-edge-quantizer)
  student <artifact> for every artifact the run exported (TorchScript / ONNX / TFLite, fp32 and INT8)
Columns: accuracy, size, p50, p90, speed-up vs the fp32 teacher (p50 ratio). Writes peer_comparison.json and
peer_comparison.md under --out. Accuracy is computed here for every row with the same tokenisation (padding to
seq 128), so the rows are comparable; latency uses one real validation sentence padded to seq 128.
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

from edgeport.bench.host import measure_latency
from edgeport.pipeline.manifest import Manifest
from edgeport.runtimes.eager import EagerRunner


def encode(tokenizer, texts: list[str], seq_len: int) -> list[dict]:
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np")
    tt = enc.get("token_type_ids", np.zeros_like(enc["input_ids"]))
    return [{"input_ids": enc["input_ids"][i:i + 1].astype(np.int32),
             "attention_mask": enc["attention_mask"][i:i + 1].astype(np.int32),
             "token_type_ids": tt[i:i + 1].astype(np.int32)} for i in range(len(texts))]


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


def student_artifacts(run_dir: Path) -> list[dict]:
    m = Manifest.load(run_dir)
    arts = [a for s in ("export", "quantize") for a in (m.entry(s) or {}).get("metrics", {}).get("artifacts", [])]
    if not arts:
        sys.exit(f"{run_dir}: no export/quantize artifacts in the manifest; run the pipeline first")
    return arts


def measure(name: str, runner, size: int, feeds, labels, timing: dict, static: int | None = None) -> dict:
    t0 = time.perf_counter()
    acc = accuracy(runner, feeds, labels)
    lat = measure_latency(runner, feeds[0], **timing)
    print(f"  {name:<38} acc {acc * 100:6.2f}%  {size / 1e6:7.1f} MB  p50 {lat['p50_ms']:7.2f} ms  "
          f"({time.perf_counter() - t0:.0f}s)", flush=True)
    return {"name": name, "accuracy": acc, "size_bytes": size, "kind": "host"} | \
        {k: lat[k] for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "runs")} | ({"seq_len": static} if static else {})


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
    feeds = encode(tokenizer, texts, args.seq_len)
    timing = {"warmup": 10, "runs": args.runs, "min_seconds": args.min_seconds}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, runner, size in peers(teacher_dir, args.seq_len, args.threads, Path(tmp)):
            results.append(measure(name, runner, size, feeds, labels, timing))
    for art in student_artifacts(run_dir):
        runner = load(run_dir / art["path"], threads=args.threads)
        static = getattr(runner, "seq_len", None)
        # Each artifact is fed by its own tokenizer: a vocabulary-pruned student has its own, smaller vocab.txt.
        art_feeds = encode(artifact_tokenizer(run_dir / art["path"]), texts, static or args.seq_len)
        results.append(measure(f"student {art['name']}", runner, art["size_bytes"], art_feeds, labels, timing, static))
    base = results[0]["p50_ms"]
    for r in results:
        r["speedup_vs_fp32_teacher"] = round(base / r["p50_ms"], 2)
    return {"setting": {"data": str(Path(args.data) / "validation.tsv"), "rows": len(labels), "batch": 1,
                        "seq_len": args.seq_len, "threads": args.threads, "run_dir": str(run_dir),
                        "latency_kind": "host", "machine": f"{platform.processor() or platform.machine()}, "
                        f"{os.cpu_count()} CPUs", "date": time.strftime("%Y-%m-%d")},
            "results": results}


def markdown(report: dict) -> str:
    s = report["setting"]
    lines = [f"# Peer comparison ({s['date']})\n",
             f"SST-2 validation ({s['rows']} rows), batch 1, seq {s['seq_len']}, {s['threads']} thread(s); latency "
             f"measured on this machine (**host**: {s['machine']}); student from `{s['run_dir']}`.\n",
             "| model | accuracy % | size MB | p50 ms | p90 ms | speed-up vs fp32 teacher |", "|---|---|---|---|---|---|"]
    for r in report["results"]:
        note = f" (static seq {r['seq_len']})" if r.get("seq_len") and r["seq_len"] != s["seq_len"] else ""
        lines.append(f"| {r['name']}{note} | {r['accuracy'] * 100:.2f} | {r['size_bytes'] / 1e6:.1f} | "
                     f"{r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['speedup_vs_fp32_teacher']:.2f}x |")
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
