"""Kill a real `edgeport run` 20 times at chosen and random moments, re-run it, and tally what happened.

Each trial SIGKILLs the run - at a named point inside the runner (EDGEPORT_FAULT, see edgeport/pipeline/faults.py:
inside the atomic publish, between the stage finishing and the manifest update, half-way through writing the
manifest...) or from outside after a random delay - then runs the same command again without the fault. A trial
passes when the re-run exits 0 and its metrics and weight hashes equal an uninterrupted run's with the same seed,
exactly (CPU, one thread, fixed seed: training is bit-deterministic here, so no tolerance is needed).

    python benchmarks/fault_injection.py [--trials 20] [--seed 0] [--workdir DIR]

Prints a table and a tally, and writes benchmarks/results/fault_injection.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import tinyrun  # noqa: E402
from _provenance import args_dict, provenance, write_json  # noqa: E402

# (scenario, fault): "fresh" starts from an empty run dir; "force" re-runs teacher over a completed run, so the
# publish has a previous version to move aside. Manifest saves count 1 teacher running, 2 teacher done, 3 distill
# running, 4 distill done.
NAMED = [
    ("fresh", "stage.running-marked:1"), ("fresh", "stage.running-marked:2"),
    ("fresh", "stage.ran:1"), ("fresh", "stage.ran:2"),
    ("fresh", "publish.renamed:1"), ("fresh", "publish.renamed:2"),
    ("fresh", "stage.published:1"), ("fresh", "stage.published:2"),
    ("fresh", "manifest.tmp-partial:2"), ("fresh", "manifest.tmp-partial:4"),
    ("fresh", "manifest.tmp-written:1"), ("fresh", "manifest.tmp-written:3"),
    ("force", "publish.moved-aside:1"), ("force", "publish.renamed:1"), ("force", "manifest.tmp-written:2"),
]


def trial(ref: dict, work: Path, scenario: str, fault: str | None, delay: float | None) -> dict:
    """One kill and resume. A random-moment kill that came too late (the run had finished) is retried with half
    the delay, up to three times, so every trial is a real kill."""
    for _ in range(3):
        row = tinyrun.kill_and_resume(ref, work, scenario, fault, delay)
        shutil.rmtree(work, ignore_errors=True)
        if row["killed"] or fault:
            return row
        delay /= 2
    return row


def _timed_fresh_run(ref: dict, work: Path) -> float:
    ws = tinyrun.copy_run(ref["ws"], work)
    shutil.rmtree(ws["runs"])
    t0 = time.perf_counter()
    assert tinyrun.cli("run", ws["config"]).returncode == 0
    seconds = time.perf_counter() - t0
    shutil.rmtree(work, ignore_errors=True)
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fault_injection.json")
    args = ap.parse_args()
    prov = provenance({"args": args_dict(args) | {"workdir": None, "out": None}},
                      "the script's arguments (the tiny run's config is tests/tinyrun.py's, at this commit)")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="edgeport-faults-"))
    rng = random.Random(args.seed)

    ref = tinyrun.reference(work)
    full = _timed_fresh_run(ref, work / "timing")  # warm caches: the first run of a session is slower
    print(f"reference: {json.dumps({s: r['metrics']['eval_accuracy'] for s, r in ref['results'].items()})}; "
          f"a full run takes {full:.1f}s")
    plan = [(s, f, None) for s, f in NAMED][: args.trials]
    while len(plan) < args.trials:  # the rest: killed from outside at a random moment of a fresh run
        plan.append(("fresh", None, rng.uniform(0.5, 0.95 * full)))
    rows = []
    for i, (scenario, fault, delay) in enumerate(plan):
        row = trial(ref, work / f"trial-{i}", scenario, fault, delay)
        rows.append(row)
        ok = "ok" if row["killed"] and row["rerun_rc"] == 0 and row["metrics_equal"] else "FAIL"
        print(f"{i + 1:>2} {scenario:<6} {row['fault']:<26} killed={row['killed']!s:<5} rerun_rc={row['rerun_rc']} "
              f"equal={row['metrics_equal']!s:<5} stale_lock={row['stale_lock_recovered']!s:<5} {row['seconds']:>5}s {ok}")
    tally = {
        "trials": len(rows),
        "killed": sum(r["killed"] for r in rows),
        "finished_before_kill": sum(not r["killed"] for r in rows),
        "resumes_completed": sum(r["rerun_rc"] == 0 for r in rows),
        "metrics_equal": sum(bool(r["metrics_equal"]) for r in rows),
        "stale_lock_recovered": sum(r["stale_lock_recovered"] for r in rows),
        "tolerance": "exact: same metrics (timings excluded) and same sha256 of every output but metrics.json",
    }
    print("tally:", json.dumps(tally))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, {"tally": tally, "full_run_seconds": round(full, 1), "trials": rows,
                          "reference": ref["results"]}, prov)
    print(f"wrote {args.out}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    passed = tally["killed"] == tally["resumes_completed"] == tally["metrics_equal"] == len(rows)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
