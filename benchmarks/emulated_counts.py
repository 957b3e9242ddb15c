"""Instructions per inference of the default run's INT8 files on each device profile's CPU model, under emulation.

For each artifact (default: ``quantize/tflite-int8`` and ``quantize/onnx-int8`` of ``--run``) and each
``edgeport/profiles`` profile with a ``cpu_model`` (the first model the installed plugin-capable qemu-aarch64
knows), the bench's ``emulated`` measurement (``edgeport.bench.emulated.count``: guest instructions counted by
``edgeport/arm/insn_count.c``, one thread): the fixed length (the artifact's export length, 128) first call and the
median of ``--calls`` more; and a seeded sample of ``--rows`` SST-2 validation rows, tokenised by the artifact's
own tokenizer (truncated at 128) and run at their own length (TFLite: their bucket), the cold first call and a
steady pass (mean / p50 / p90 over rows). Also the instructions of the model's load, and the wall time the
emulation took. Writes benchmarks/results/emulated_counts.{json,md} and prints the table.

    EDGEPORT_DATA_DIR=../shared/data .venv/bin/python benchmarks/emulated_counts.py [--run runs/default]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

from _provenance import args_dict, provenance, run_config, write_json, write_markdown

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def read_sst2(data_dir: Path) -> list[str]:
    with open(data_dir / "sst2" / "validation.tsv", encoding="utf-8", newline="") as f:
        return [r["sentence"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def main() -> None:
    from edgeport.bench.api import workload_feeds
    from edgeport.bench.emulated import Counting, plan
    from edgeport.targets import all_targets

    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, default=REPO / "runs" / "default")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("EDGEPORT_DATA_DIR", REPO.parent / "shared" /
                                                                     "data")))
    ap.add_argument("--artifacts", nargs="+", default=["quantize/tflite-int8", "quantize/onnx-int8"])
    ap.add_argument("--calls", type=int, default=3, help="fixed length: steady calls after the first")
    ap.add_argument("--rows", type=int, default=32, help="workload: SST-2 validation rows counted (seeded sample)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args()
    prov = provenance({"args": args_dict(args) | {"out": None}, "run_config": run_config(args.run)},
                      "the script's arguments and the run's resolved config (its manifest.json)")
    texts = read_sst2(args.data)
    counting = Counting(plan("on", args.calls, args.rows, args.seed))
    profiles = [t for t in all_targets().values() if t.cpu_model]
    results = {"run": str(args.run), "eval_rows": len(texts), "rows": args.rows, "calls": args.calls,
               "seed": args.seed, "emulator": counting.counter.emulator.version, "plugin": counting.counter.digest,
               "counts": []}
    clock = time.monotonic()
    for name in args.artifacts:
        path = args.run / name
        feeds = workload_feeds(path, texts)
        for target in profiles:
            e = counting.measure(path, target, None, feeds)
            results["counts"].append({"artifact": name.split("/")[-1], "profile": target.name} | e)
    results["wall_s"] = round(time.monotonic() - clock, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "emulated_counts.json", results, prov)
    table = markdown(results)
    write_markdown(args.out / "emulated_counts.md", table, prov)
    print(table)


def markdown(res: dict) -> str:
    from edgeport.bench.emulated import table_line

    lines = ["# Instructions per inference under emulation (bench kind `emulated`)", "",
             f"`{res['run']}`, qemu-aarch64 {res['emulator']} with edgeport's counting plugin (`{res['plugin']}`), "
             f"one thread; millions of guest instructions per call, not a time. Fixed: one 128-token row, the "
             f"process's first call, then the median of {res['calls']} more. Workload: {res['rows']} of the "
             f"{res['eval_rows']} SST-2 validation rows (seeded sample, seed {res['seed']}), each at its own length "
             f"(TFLite: its bucket 32/64/128), the cold first call, then a steady pass: mean/p50/p90 over rows. "
             f"Load: the model's load in the guest. Emulation s: wall time of both guests (a shared 2-core "
             f"machine).", "",
             "| artifact | profile | CPU model | fixed seq | fixed first M | fixed steady M | workload first M | "
             "workload mean M | workload p50 M | workload p90 M | emulation s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [table_line(c["artifact"], c["profile"], c) for c in res["counts"]]
    lines += ["", "| artifact | CPU model | load M | workload tokens mean | first-call / steady (fixed) | "
              "steady spread (fixed) |", "|---|---|---|---|---|---|"]
    seen = set()
    for c in res["counts"]:
        if "fixed" not in c or (c["artifact"], c["cpu_model"]) in seen:
            continue
        seen.add((c["artifact"], c["cpu_model"]))
        f = c["fixed"]
        lines.append(f"| {c['artifact']} | {c['cpu_model']} | {f['load'] / 1e6:.1f} | "
                     f"{c['workload']['tokens_mean']} | {f['first'] / f['steady']:.2f}x | "
                     f"{(f['steady_max'] - f['steady_min']) / f['steady'] * 100:.3f}% |")
    lines += ["", f"Total wall time: {res['wall_s']} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
