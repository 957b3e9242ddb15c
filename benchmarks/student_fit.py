"""Which student fits a task: its depth, which teacher layers it keeps, and hidden-state KD, judged on the
selection split of the panel's tasks.

    python benchmarks/student_fit.py --task sst2-2k [--variants stride,spread,hidden,depth4] [--work runs/fit]
                                     [--threads 1] [--tag T] [--reuse]

Per task (one of ``panel.py``'s: the shipped default config, only ``data`` changed) the teacher is trained once.
Each variant then copies that run directory and runs ``edgeport run --until distill`` with its overrides, so
every variant distils from the same teacher, on the same rows and copies, and only the student differs:

- ``stride``: the default, teacher layers [0, 2, 4] (every second layer from the bottom);
- ``spread``: [0, 2, 5], which keeps the teacher's last layer, the one its classifier head was trained on;
- ``hidden``: [0, 2, 4] with hidden-state KD (weight 1, TinyBERT's) on the mapped layers;
- ``depth4``: four layers [0, 2, 3, 5] (a third more compute per token than three).

The table gives each student's task metric on the selection split (where a rule is chosen) and, reported only, on
the evaluation split, with its parameters and distill wall time. Writes
``benchmarks/results/student_fit_TASK[_TAG].{json,md}``; ``--reuse`` summarises runs already in ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _provenance import ARGS_ONLY, RESULTS, args_dict, provenance, write_json, write_markdown
from panel import TASKS, chosen, config, metrics_of, pct, split_metric

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {
    "stride": ("[0, 2, 4] (default)", []),
    "spread": ("[0, 2, 5]", ["distill.student.layers=[0,2,5]"]),
    "hidden": ("[0, 2, 4] + hidden-state KD", ["distill.hidden_loss_weight=1.0"]),
    "depth4": ("[0, 2, 3, 5]", ["distill.student.layers=[0,2,3,5]"]),
}


def edgeport(cfg: Path, data_dir: Path, *args: str) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    env = os.environ | {"EDGEPORT_DATA_DIR": str(data_dir)}
    proc = subprocess.run([sys.executable, "-m", "edgeport.cli", "run", str(cfg), *args], capture_output=True,
                          text=True, env=env)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0


def run_variant(task: str, variant: str, cfg: Path, runs: Path, data_dir: Path, commit: str) -> dict:
    """Distil one variant in its own copy of the task's run directory (the teacher stage is reused)."""
    name = f"{task}--{variant}"
    if not (runs / name).exists():
        shutil.copytree(runs / task, runs / name)
    overrides = [f"run.name={name}", *VARIANTS[variant][1]]
    code, log, seconds = edgeport(cfg, data_dir, "--until", "distill", *[a for o in overrides for a in ("-o", o)])
    record = {"exit_code": code, "seconds": round(seconds), "commit": commit, "log_tail": log[-1500:]}
    (runs / name / "fit-run.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def summarise(task: str, variant: str, runs: Path) -> dict:
    run_dir = runs / f"{task}--{variant}"
    record = json.loads((run_dir / "fit-run.json").read_text())
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    metric = metrics_of(stages, "teacher")["select_metric"]  # data.metric, as the teacher stage recorded it
    distill = metrics_of(stages, "distill")
    return {"variant": variant, "student": VARIANTS[variant][0], "exit_code": record["exit_code"],
            "teacher_select": split_metric(stages, "teacher", "select", metric),
            "select": split_metric(stages, "distill", "select", metric),
            "eval": split_metric(stages, "distill", "eval", metric), "params": distill.get("params"),
            "augmented_rows": distill.get("augmented_rows"),
            "distill_seconds": round((stages.get("distill") or {}).get("seconds") or 0), "commit": record["commit"]}


def table(task: str, rows: list[dict]) -> str:
    lines = [f"| {task}: student | selection | evaluation (reported only) | params | distill | exit | commit |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']}: {r['student']} | {pct(r['select'])} | {pct(r['eval'])} | "
                     f"{(r['params'] or 0) / 1e6:.1f}M | {r['distill_seconds'] / 60:.1f} min | {r['exit_code']} | "
                     f"`{r['commit'][:7]}` |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", required=True, choices=sorted(TASKS))
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    ap.add_argument("--work", default=str(ROOT / "runs" / "fit"))
    ap.add_argument("--threads", type=int, default=1, help="run.threads (two runs side by side on 2 cores: 1 each; "
                    "panel.py --threads 1 then continues the same runs)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--data", default=os.environ.get("EDGEPORT_DATA_DIR", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--reuse", action="store_true", help="summarise the variants already run in --work")
    args = ap.parse_args()
    variants = chosen(ap, args.variants, VARIANTS, "variant")
    work, data_dir = Path(args.work), Path(args.data)
    runs = work / "runs"
    prov = provenance({"args": args_dict(args) | {"work": None, "data": None}}, ARGS_ONLY)
    cfg = config(args.task, TASKS[args.task], data_dir, work, args.threads)
    if not args.reuse:
        print(f"[fit] {args.task}: teacher", flush=True)
        code, log, _ = edgeport(cfg, data_dir, "--until", "teacher")
        if code:
            sys.exit(f"the teacher run failed (exit {code}):\n{log[-3000:]}")
    rows = []
    for variant in variants:
        if not args.reuse or not (runs / f"{args.task}--{variant}" / "fit-run.json").is_file():
            print(f"[fit] {args.task}: {variant}", flush=True)
            run_variant(args.task, variant, cfg, runs, data_dir, prov["commit"])
        rows.append(summarise(args.task, variant, runs))
        print(table(args.task, rows[-1:]), flush=True)
    teacher = rows[0]["teacher_select"] if rows else None
    text = (f"# Student fit: {args.task} ({TASKS[args.task].about})\n\nThe teacher: {pct(teacher)} on the selection "
            f"split. Every student distils from it with the shipped default config; only the student differs.\n\n"
            + table(args.task, rows))
    print("\n" + text)
    stem = f"student_fit_{args.task}" + (f"_{args.tag}" if args.tag else "")
    write_json(RESULTS / f"{stem}.json", rows, prov)
    write_markdown(RESULTS / f"{stem}.md", text, prov)
    print(f"\nwrote {RESULTS / stem}.{{json,md}}")


if __name__ == "__main__":
    main()
