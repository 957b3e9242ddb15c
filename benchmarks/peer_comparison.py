"""What a user gets from the usual recipes on the teacher vs edgeport's student, side by side, in one run.

    python benchmarks/peer_comparison.py runs/default [--data DIR] [--limit N] [--repeats 3] [--out benchmarks/results]

Rows (SST-2 validation, batch 1, 1 thread, all on this machine = kind ``host``):
  teacher fp32, torch eager                 the starting point
  teacher + torch dynamic INT8              the seed's recipe (Linear layers -> qint8)
  teacher ONNX + ONNX Runtime dynamic INT8  what an Optimum user gets (per-channel QInt8, dynamic axes)
  teacher TFLite + dynamic-range INT8       litert-torch + ai-edge-quantizer through edgeport's exporter with the
                                            *same length buckets the run gave its student* (what a careful
                                            litert-torch user does: one static length costs ~3.5x on short text)
  teacher ExecuTorch fp32 / XNNPACK INT8    what a PyTorch user would try for phones (torch.export + XNNPACK)
  student <artifact> for every artifact the run exported (every format, fp32 and INT8; TFLite with its buckets)
Each row is timed three ways, in the same process:
  fixed       one full row of the export length (real word pieces) per call: the worst case
  workload    model only: the validation sentences, pre-tokenised, one per call, unpadded: each runtime computes
              at the length it can (true length with dynamic shapes, the smallest bucket of a bucketed TFLite
              model); mean/p50/p90 over rows
  end-to-end  text in, label out: the row's own tokenizer (transformers' fast tokenizer, as edgeport's runners
              use it) + the model + argmax, one sentence per call; mean/p50/p90 over rows
The whole timing runs ``--repeats`` times (3), in rounds over all rows, so drift of a shared machine spreads over
every row; each figure is reported as the median of the rounds and their [min, max] range, to two significant
digits. Accuracy (every row's own runtime on the same unpadded validation rows) is deterministic and measured once;
the end-to-end labels are checked against it. Writes peer_comparison.json and peer_comparison.md under --out.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _provenance import args_dict, provenance, run_config, write_json, write_markdown
from edgeport.bench.host import FEED_TEXT, measure_latency
from edgeport.bench.workload import measure_workload
from edgeport.hostinfo import host_identity
from edgeport.pipeline.manifest import Manifest
from edgeport.runtimes.eager import EagerRunner

SECTIONS = {"fixed": ("p50_ms", "p90_ms", "mean_ms"), "workload": ("mean_ms", "p50_ms", "p90_ms"),
            "end_to_end": ("mean_ms", "p50_ms", "p90_ms")}


@dataclass
class Row:
    """One model of the table: its runner, its own tokenizer and the feeds made with it."""
    name: str
    runner: object
    size: int
    tokenizer: object
    feeds: list[dict]
    fixed: dict


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


def make_row(name: str, runner, size: int, tokenizer, texts: list[str], seq_len: int) -> Row:
    return Row(name, runner, size, tokenizer, encode(tokenizer, texts, seq_len), full_row(tokenizer, seq_len))


def predictions(runner, feeds: list[dict]) -> list[int]:
    return [int(np.asarray(runner(**f)).argmax(-1)[0]) for f in feeds]


def end_to_end(row: Row, texts: list[str], seq_len: int, warmup: int = 10) -> tuple[dict, list[int]]:
    """Text in, label out, one sentence per call: tokenizer + model + argmax, timed as one. Returns the summary
    over rows and the labels."""
    def classify(text: str) -> int:
        enc = row.tokenizer(text, truncation=True, max_length=seq_len, return_tensors="np")
        feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
        return int(np.asarray(row.runner(**feed)).argmax(-1)[0])

    for text in texts[:warmup]:
        classify(text)
    ms, labels = np.empty(len(texts)), []
    for i, text in enumerate(texts):
        t0 = time.perf_counter()
        labels.append(classify(text))
        ms[i] = (time.perf_counter() - t0) * 1e3
    p50, p90 = np.percentile(ms, [50, 90])
    return {"mean_ms": float(ms.mean()), "p50_ms": float(p50), "p90_ms": float(p90), "rows": len(texts)}, labels


def torch_size(model, tmp: Path, name: str) -> int:
    import torch

    path = tmp / f"{name}.pt"
    torch.save(model.state_dict(), path)
    return path.stat().st_size


def peers(teacher_dir: Path, seq_len: int, buckets: list[int], threads: int, tmp: Path):
    """(name, runner, size_bytes) for the teacher recipes."""
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
    # TFLite + dynamic-range INT8 with the student's length buckets: a signature per bucket, weights shared.
    tflite, tsample = get_exporter("tflite"), make_sample(seq_len, batch=1)
    (tmp / "tflite").mkdir()
    fp32 = tflite.export(model, tsample, tmp / "tflite", buckets=buckets)
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


def run_export(run_dir: Path) -> tuple[list[dict], int, list[int]]:
    """The run's student artifacts, its export length and its length buckets (from the manifest)."""
    m = Manifest.load(run_dir)
    arts = [a for s in ("export", "quantize") for a in (m.entry(s) or {}).get("metrics", {}).get("artifacts", [])]
    export = (m.entry("export") or {}).get("metrics") or {}
    if not arts or not export.get("seq_len"):
        sys.exit(f"{run_dir}: no export/quantize artifacts in the manifest; run the pipeline first")
    seq_len = int(export["seq_len"])
    return arts, seq_len, list(export.get("seq_buckets") or [seq_len])


def one_round(row: Row, texts: list[str], seq_len: int, timing: dict) -> tuple[dict, list[int]]:
    lat = measure_latency(row.runner, row.fixed, **timing)
    real = measure_workload(row.runner, row.feeds, passes=1, warmup=timing["warmup"])
    e2e, labels = end_to_end(row, texts, seq_len, timing["warmup"])
    return {"fixed": lat, "workload": real, "end_to_end": e2e}, labels


def spread(rounds: list[dict]) -> dict:
    """Per section and figure: median of the rounds and their [min, max]."""
    out: dict[str, dict] = {}
    for sec, keys in SECTIONS.items():
        out[sec] = {}
        for key in keys:
            values = [r[sec][key] for r in rounds]
            out[sec][key] = {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}
    return out


def load_rows(run_dir: Path, texts: list[str], seq_len: int, buckets: list[int], arts, args, tmp: Path) -> list[Row]:
    from transformers import AutoTokenizer

    from edgeport.runtimes import load
    from edgeport.runtimes.text import artifact_tokenizer

    teacher_dir = run_dir / "teacher"
    tokenizer = AutoTokenizer.from_pretrained(str(teacher_dir))
    rows = [make_row(name, runner, size, tokenizer, texts, seq_len)
            for name, runner, size in peers(teacher_dir, seq_len, buckets, args.threads, tmp)]
    for art in arts:
        # Each artifact is fed by its own tokenizer: a vocabulary-pruned student has its own, smaller vocab.txt.
        path = run_dir / art["path"]
        rows.append(make_row(f"student {art['name']}", load(path, threads=args.threads), art["size_bytes"],
                             artifact_tokenizer(path), texts, seq_len))
    return rows


def run(args) -> dict:
    run_dir = Path(args.run_dir)
    arts, export_len, buckets = run_export(run_dir)
    seq_len = args.seq_len or export_len
    rows_tsv = (Path(args.data) / "validation.tsv").read_text(encoding="utf-8").splitlines()[1:]
    split = [line.rsplit("\t", 1) for line in rows_tsv if line.strip()][: args.limit]
    texts, labels = [r[0] for r in split], [int(r[1]) for r in split]
    timing = {"warmup": 10, "runs": args.runs, "min_seconds": args.min_seconds}
    with tempfile.TemporaryDirectory() as tmp:
        rows = load_rows(run_dir, texts, seq_len, buckets, arts, args, Path(tmp))
        preds = {r.name: predictions(r.runner, r.feeds) for r in rows}
        rounds: dict[str, list[dict]] = {r.name: [] for r in rows}
        mismatches = {r.name: 0 for r in rows}
        for k in range(args.repeats):
            print(f"round {k + 1}/{args.repeats}", flush=True)
            for row in rows:
                t0 = time.perf_counter()
                figures, e2e_labels = one_round(row, texts, seq_len, timing)
                rounds[row.name].append(figures)
                differ = sum(a != b for a, b in zip(e2e_labels, preds[row.name]))
                mismatches[row.name] = max(mismatches[row.name], differ)
                print(f"  {row.name:<45} fixed p50 {figures['fixed']['p50_ms']:.3g} ms  workload p50 "
                      f"{figures['workload']['p50_ms']:.3g} ms  end-to-end p50 {figures['end_to_end']['p50_ms']:.3g} ms"
                      f"  ({time.perf_counter() - t0:.0f}s)", flush=True)
        results = [{"name": r.name, "accuracy": float(np.mean(np.asarray(preds[r.name]) == np.asarray(labels))),
                    "end_to_end_label_mismatches": mismatches[r.name], "size_bytes": r.size, "kind": "host",
                    "static_seq_len": getattr(r.runner, "seq_len", None),
                    "seq_buckets": getattr(r.runner, "seq_buckets", None),
                    "rounds": rounds[r.name]} | spread(rounds[r.name]) for r in rows]
    base = results[0]
    for r in results:
        r["speedup_vs_fp32_teacher"] = {sec: base[sec]["p50_ms"]["median"] / r[sec]["p50_ms"]["median"]
                                        for sec in SECTIONS}
    return {"setting": {"data": str(Path(args.data) / "validation.tsv"), "eval_split": "SST-2 validation",
                        "rows": len(labels), "batch": 1, "seq_len": seq_len, "seq_buckets": buckets,
                        "threads": args.threads, "repeats": args.repeats, "run_dir": str(run_dir),
                        "latency_kind": "host", "machine": host_identity()},
            "results": results}


def sig2(x: float) -> str:
    """Two significant digits, no exponent: 37.68 -> 38, 5.54 -> 5.5, 0.523 -> 0.52."""
    return f"{float(f'{x:.2g}'):g}"


def cell(fig: dict) -> str:
    return f"{sig2(fig['median'])} [{sig2(fig['min'])}–{sig2(fig['max'])}]"


def markdown(report: dict) -> str:
    s, m = report["setting"], report["setting"]["machine"]
    lines = ["# Peer comparison\n",
             f"{s['eval_split']} ({s['rows']} rows, the evaluation split), batch 1, {s['threads']} thread(s); "
             f"latency measured on this machine (**host**: {m['cpu_model']}, {m['cores']} cores); student from "
             f"`{s['run_dir']}` (export length {s['seq_len']}, buckets {s['seq_buckets']}; the teacher's TFLite file "
             f"gets the same buckets). **Fixed**: one full row of {s['seq_len']} word pieces per call. **Workload** "
             "(model only): the validation sentences, pre-tokenised, one per call, unpadded (each runtime computes "
             "at the length it can). **End-to-end**: text in, label out (the model's own tokenizer + model + "
             f"argmax), one sentence per call. Every latency: median of {s['repeats']} rounds [min–max], ms, two "
             "significant digits. Accuracy: each row's own runtime on the same validation rows.\n",
             "| model | accuracy % | size MB | fixed p50 ms | workload p50 ms | workload p90 ms | end-to-end p50 ms | "
             "end-to-end p90 ms | speed-up vs fp32 teacher (fixed / workload / end-to-end p50) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        shape = (f" (buckets {r['seq_buckets']})" if r.get("seq_buckets") and len(r["seq_buckets"]) > 1 else
                 f" (static {r['static_seq_len']})" if r.get("static_seq_len") else "")
        f, w, e, x = r["fixed"], r["workload"], r["end_to_end"], r["speedup_vs_fp32_teacher"]
        lines.append(f"| {r['name']}{shape} | {r['accuracy'] * 100:.2f} | {r['size_bytes'] / 1e6:.1f} | "
                     f"{cell(f['p50_ms'])} | {cell(w['p50_ms'])} | {cell(w['p90_ms'])} | {cell(e['p50_ms'])} | "
                     f"{cell(e['p90_ms'])} | {sig2(x['fixed'])}x / {sig2(x['workload'])}x / {sig2(x['end_to_end'])}x |")
    odd = [f"{r['name']}: {r['end_to_end_label_mismatches']}" for r in report["results"]
           if r["end_to_end_label_mismatches"]]
    lines += ["", "End-to-end labels differing from the model-only ones: " + ("; ".join(odd) if odd else "none") + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", help="a finished edgeport run (runs/<name>)")
    default_data = Path(os.environ.get("EDGEPORT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")) / "sst2"
    p.add_argument("--data", default=str(default_data), help="folder with validation.tsv (sentence<TAB>label)")
    p.add_argument("--limit", type=int, help="first N validation rows only (quick checks)")
    p.add_argument("--seq-len", type=int, help="fixed-row and export length (default: the run's export length)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--repeats", type=int, default=3, help="rounds of the whole timing (median and range)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args(argv)
    prov = provenance({"args": args_dict(args) | {"out": None}, "run_config": run_config(Path(args.run_dir))},
                      "the script's arguments and the run's resolved config (its manifest.json)")
    report = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "peer_comparison.json", report, prov)
    write_markdown(out / "peer_comparison.md", markdown(report), prov)
    print("\n" + markdown(report) + f"\nwrote {out / 'peer_comparison.md'} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
