"""A small sentence-pair task run with the shipped default config, only its data section changed.

    python benchmarks/small_task.py [--pairs 3700] [--work runs/small-task] [--until teacher]

The task ("do these two sentences share a sentiment?") is built from SST-2 rows at run time into the work
directory (nothing is copied into the repository): train pairs from SST-2 train, evaluation pairs from SST-2
validation. It runs twice: the default recipe, and the same with ``teacher.train.lr=1e-7`` (a teacher that
cannot learn), which must fail the useless-model gate with a message that says what to change. Prints a table and
writes ``benchmarks/results/small_task.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import yaml
from _provenance import ARGS_ONLY, RESULTS, args_dict, provenance, write_json

ROOT = Path(__file__).resolve().parents[1]


def read_tsv(path: Path) -> list[tuple[str, int]]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [(s, int(y)) for s, y in (line.rsplit("\t", 1) for line in lines if line.strip())]


def pairs(rows: list[tuple[str, int]], n: int, seed: int) -> str:
    rng = random.Random(seed)
    rng.shuffle(rows)
    out = ["sentence1\tsentence2\tlabel"]
    for (a, ya), (b, yb) in list(zip(rows[0::2], rows[1::2]))[:n]:
        out.append(f"{a}\t{b}\t{int(ya == yb)}")
    return "\n".join(out) + "\n"


def build_data(sst2: Path, out: Path, n_pairs: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.tsv").write_text(pairs(read_tsv(sst2 / "train.tsv"), n_pairs, 1), encoding="utf-8")
    (out / "validation.tsv").write_text(pairs(read_tsv(sst2 / "validation.tsv"), 10_000, 2), encoding="utf-8")
    return out


def config(work: Path, data: Path, name: str) -> Path:
    cfg = yaml.safe_load((ROOT / "edgeport" / "configs" / "default.yaml").read_text())
    cfg["data"] = {"local": str(data), "text_column": "sentence1", "text_pair_column": "sentence2",
                   "label_column": "label", "label_names": ["different", "same"]}
    cfg["run"] |= {"name": name, "runs_dir": str(work / "runs")}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run(cfg: Path, until: str, *overrides: str) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    args = [sys.executable, "-m", "edgeport.cli", "run", str(cfg), "--until", until]
    for o in overrides:
        args += ["-o", o]
    proc = subprocess.run(args, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3700, help="training pairs (each from two SST-2 rows)")
    ap.add_argument("--work", default=str(ROOT / "runs" / "small-task"))
    ap.add_argument("--until", default="teacher", help="last stage to run")
    ap.add_argument("--data", default=os.environ.get("EDGEPORT_DATA_DIR", str(ROOT.parent / "shared" / "data")))
    args = ap.parse_args()
    prov = provenance({"args": args_dict(args) | {"work": None}}, ARGS_ONLY)
    work = Path(args.work)
    data = build_data(Path(args.data) / "sst2", work / "data", args.pairs)
    results = []
    for name, overrides in (("default-recipe", ()), ("useless-teacher", ("teacher.train.lr=1e-7",))):
        code, log, seconds = run(config(work, data, name), args.until, *overrides)
        manifest = json.loads((work / "runs" / name / "manifest.json").read_text())
        m = manifest["stages"]["teacher"]["metrics"]
        results.append({"run": name, "overrides": list(overrides), "exit_code": code, "seconds": round(seconds),
                        "train_rows": m.get("train_rows"), "steps": m.get("steps"), "epochs": m.get("epochs"),
                        "select_rows": m["select_rows"], "select_majority_rate": m["select_majority_rate"],
                        "select_accuracy": m["select_accuracy"], "eval_accuracy": m["eval_accuracy"],
                        "eval_rows": m["eval_rows"], "gate_failures": m.get("gate_failures", [])})
    print("| run | exit | train rows | steps (epochs) | majority % (selection) | teacher selection % | "
          "teacher eval % (validation) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['run']} | {r['exit_code']} | {r['train_rows']} | {r['steps']} ({r['epochs']}) | "
              f"{r['select_majority_rate'] * 100:.2f} | {r['select_accuracy'] * 100:.2f} | "
              f"{r['eval_accuracy'] * 100:.2f} |")
    for r in results:
        for failure in r["gate_failures"]:
            print(f"\n{r['run']} gate: {failure}")
    out = RESULTS / "small_task.json"
    write_json(out, results, prov)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
