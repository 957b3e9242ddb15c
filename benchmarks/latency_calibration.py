"""Calibrate counted instructions against published device latencies: the table behind ``estimate.calibration``.

For each usable point of ``benchmarks/data/published_latency.yaml`` (published CPU latency with its URL and quote),
this builds the cited model's shape with transformers (random weights, seeded: only speed matters), exports it to
TFLite fp32 with litert-torch at the cited sequence length (static ``[1, seq_len]`` int32 inputs, one signature,
cached under ``--work``), and counts the instructions of one steady-state inference on the point's QEMU CPU model
(``edgeport.bench.emulated``'s counter: qemu-aarch64 + the counting plugin, one thread, the median of ``--calls``
calls after the first). Then it fits one factor per core class (``edgeport.bench.calibration.fit``: ms per 10^9
instructions, geometric mean) and predicts each point from the others (leave-one-out). Writes
``benchmarks/results/latency_calibration.{json,md}`` with provenance and prints the table.

    .venv/bin/python benchmarks/latency_calibration.py [--calls 2] [--work /tmp/edgeport-calibration]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import yaml
from _provenance import args_dict, provenance, write_json, write_markdown

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO / "benchmarks" / "data" / "published_latency.yaml"


def build_tflite(spec: dict, seq_len: int, work: Path, seed: int) -> Path:
    """The cited shape as a single-signature fp32 TFLite file (cached by shape, length and seed)."""
    key = hashlib.sha256(json.dumps([spec, seq_len, seed], sort_keys=True).encode()).hexdigest()[:12]
    path = work / f"{spec['class']}-{seq_len}-{key}" / "model.tflite"
    if path.is_file():
        return path
    import litert_torch
    import torch
    import transformers

    torch.manual_seed(seed)
    config = getattr(transformers, spec["config"])(**spec.get("args", {}))
    model = getattr(transformers, spec["class"])(config).eval()

    class Logits(torch.nn.Module):  # one output tensor: a QA model's start and end logits stacked
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            if hasattr(out, "start_logits"):
                return torch.stack([out.start_logits, out.end_logits], -1)
            return out.logits

    sample = {k: torch.ones(1, seq_len, dtype=torch.int32) for k in ("input_ids", "attention_mask", "token_type_ids")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    litert_torch.signature("serving_default", Logits(model), sample_kwargs=sample).convert().export(str(tmp))
    tmp.rename(path)
    return path


def feed(seq_len: int, vocab: int, seed: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, vocab, size=(1, seq_len), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def main() -> None:
    from edgeport.arm.counting import counter as make_counter
    from edgeport.bench import calibration
    from edgeport.bench.emulated import _run

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--calls", type=int, default=2, help="steady calls counted after the first (median)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgeport-calibration"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args()
    data = yaml.safe_load(args.data.read_text())
    prov = provenance({"args": args_dict(args) | {"out": None, "work": None}, "data": data},
                      "the script's arguments and the published-latency data file")
    counter = make_counter()
    counts: dict[tuple, dict] = {}
    rows, points = [], []
    clock = time.monotonic()
    for p in data["points"]:
        row = {k: p.get(k) for k in ("name", "ms", "device", "core", "cpu_model", "core_class", "threads",
                                     "precision", "seq_len", "url", "use", "why_not")}
        if p.get("use"):
            key = (json.dumps(p["model"], sort_keys=True), p["seq_len"], p["cpu_model"])
            if key not in counts:
                path = build_tflite(p["model"], p["seq_len"], args.work, args.seed)
                vocab = 30522
                t0 = time.monotonic()
                spans = _run(path, p["cpu_model"], [feed(p["seq_len"], vocab, args.seed)] * (1 + args.calls),
                             counter)
                steady = sorted(spans["call"][1:])
                counts[key] = {"first": spans["call"][0], "steady": steady[len(steady) // 2],
                               "steady_min": steady[0], "steady_max": steady[-1], "load": spans["load"][0],
                               "file_mb": round(path.stat().st_size / 1e6, 2), "emulation_s":
                               round(time.monotonic() - t0, 1)}
                print(f"  {p['name']}: {counts[key]}", flush=True)
            row["count"] = counts[key]
            points.append(calibration.Point(p["name"], p["core_class"], counts[key]["steady"], p["ms"]))
        rows.append(row)
    result = calibration.fit(points) if points else {"classes": {}, "loo": [], "loo_rms": None}
    loo = {r["name"]: r for r in result["loo"]}
    for row in rows:
        if row["name"] in loo:
            cls = result["classes"][row["core_class"]]
            row["fit_ms"] = row["count"]["steady"] / 1e9 * cls["factor"]
            row["loo"] = loo[row["name"]]
    out = {"emulator": counter.emulator.version, "plugin": counter.digest, "calls": args.calls, "seed": args.seed,
           "points": rows, "classes": result["classes"], "loo_rms": result["loo_rms"],
           "wall_s": round(time.monotonic() - clock, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "latency_calibration.json", out, prov)
    table = markdown(out)
    write_markdown(args.out / "latency_calibration.md", table, prov)
    print(table)


def markdown(res: dict) -> str:
    def pct(x):
        return "-" if x is None else f"{x * 100:+.1f}%"

    def num(x, fmt):
        return "-" if x is None else format(x, fmt)

    lines = ["# Latency calibration: counted instructions vs published device latencies", "",
             f"Published CPU latencies (`benchmarks/data/published_latency.yaml`: URL, device, threads, quote) "
             f"against the instructions of the same shape (random weights, TFLite fp32 from litert-torch) counted "
             f"under qemu-aarch64 {res['emulator']} (plugin `{res['plugin']}`), one thread, steady state (median of "
             f"{res['calls']} calls after the first). Model: ms = instructions x factor, one factor per core class "
             f"(the geometric mean of ms / instructions over its points). LOO: each point predicted by the factor "
             f"of the other points of its class; error = predicted / published - 1.", "",
             "| point | device | threads | seq | CPU model | class | published ms | counted M (steady) | "
             "first-call M | fit ms | LOO factor ms/G | LOO predicted ms | LOO error |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["points"]:
        if not r.get("use"):
            continue
        c, lo = r["count"], r.get("loo") or {}
        lines.append(f"| {r['name']} | {r['device']} | {r['threads']} | {r['seq_len']} | {r['cpu_model']} | "
                     f"{r['core_class']} | {r['ms']} | {c['steady'] / 1e6:.1f} | {c['first'] / 1e6:.1f} | "
                     f"{r['fit_ms']:.1f} | {num(lo.get('factor'), '.3f')} | {num(lo.get('predicted_ms'), '.1f')} | "
                     f"{pct(lo.get('error'))} |")
    lines += ["", "| core class | points | factor (ms per 10^9 instructions) | LOO RMS error |", "|---|---|---|---|"]
    for name, cls in res["classes"].items():
        lines.append(f"| {name} | {cls['points']} | {cls['factor']:.4f} | "
                     f"{num(cls['loo_rms'] and cls['loo_rms'] * 100, '.1f')}% |")
    lines += ["", f"Leave-one-out RMS error over all points: "
                  f"{num(res['loo_rms'] and res['loo_rms'] * 100, '.1f')}%.", "",
              "Not fitted (kept in the data file with the reason):", ""]
    lines += [f"- {r['name']} ({r['ms']} ms, {r['device']}): {r['why_not']}" for r in res["points"]
              if not r.get("use")]
    lines += ["", f"Total wall time: {res['wall_s']} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
