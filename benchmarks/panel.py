"""The shipped default config on a panel of tasks, only its ``data`` section changed: does the recipe ship a student
on data it was not tuned on?

    python benchmarks/panel.py [--tasks sst2,sst2-2k,stsb-binary,stsb-3class] [--work runs/panel] [--tag before]
                               [--threads N] [--reuse]

Tasks, built at run time from ``$EDGEPORT_DATA_DIR`` into the work directory (nothing is copied into the repository):

- ``sst2``: SST-2 with the default config as shipped (67k training rows; the config's own data section);
- ``sst2-2k``: 2,000 SST-2 training rows (seeded), evaluated on SST-2 validation: small data;
- ``stsb-binary``: STS-B pairs, label 1 when the similarity score is >= 3 (5,749 training pairs);
- ``stsb-3class``: STS-B pairs as low (< 2), mid (2 to < 4) and high (>= 4) similarity.

Each task runs ``edgeport run`` end to end in its own process. Per task the table gives the teacher, the student, the
pruned student and the shipped INT8 TFLite file on the evaluation split, that file's drop vs the teacher with its
95% CI (validate's ``drop_vs_teacher`` gate), every artifact's verdict and the wall time. Nothing here chooses
anything: the evaluation split is only reported. Prints a table and writes ``benchmarks/results/panel[_TAG].{json,md}``;
each row names the commit its run was made at (``--reuse`` summarises earlier runs of the same work directory).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml
from _provenance import ARGS_ONLY, RESULTS, args_dict, provenance, write_json, write_markdown

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = "tflite-int8"  # what the Android app ships by default


def read_tsv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def write_tsv(path: Path, rows: list[list[str]]) -> None:
    path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")


def sst2_sample(src: Path, out: Path, n: int = 2000) -> None:
    header, *rows = read_tsv(src / "train.tsv")
    write_tsv(out / "train.tsv", [header] + random.Random(0).sample(rows, n))
    write_tsv(out / "validation.tsv", read_tsv(src / "validation.tsv"))


def stsb_classes(bins: Callable[[float], int]) -> Callable[[Path, Path], None]:
    def build(src: Path, out: Path) -> None:
        for split in ("train", "validation"):
            _, *rows = read_tsv(src / f"{split}.tsv")
            write_tsv(out / f"{split}.tsv", [["sentence1", "sentence2", "label"]]
                      + [[a, b, str(bins(float(score)))] for a, b, score in rows])
    return build


@dataclass(frozen=True)
class Task:
    source: str                                   # folder under the data directory
    build: Callable[[Path, Path], None] | None    # None: the default config's own data section
    data: dict                                    # the data section (without ``local``)
    about: str


TASKS = {
    "sst2": Task("sst2", None, {}, "SST-2, the default config as shipped"),
    "sst2-2k": Task("sst2", sst2_sample, {"text_column": "sentence", "label_column": "label",
                                          "label_names": ["negative", "positive"]},
                    "2,000 seeded SST-2 training rows"),
    "stsb-binary": Task("stsb", stsb_classes(lambda s: int(s >= 3)),
                        {"text_column": "sentence1", "text_pair_column": "sentence2", "label_column": "label",
                         "label_names": ["dissimilar", "similar"]}, "STS-B pairs, score >= 3"),
    "stsb-3class": Task("stsb", stsb_classes(lambda s: 0 if s < 2 else 1 if s < 4 else 2),
                        {"text_column": "sentence1", "text_pair_column": "sentence2", "label_column": "label",
                         "label_names": ["low", "mid", "high"]}, "STS-B pairs, score < 2 / 2-4 / >= 4"),
}


def config(name: str, task: Task, data_dir: Path, work: Path, threads: int | None = None) -> Path:
    cfg = yaml.safe_load((ROOT / "edgeport" / "configs" / "default.yaml").read_text())
    if task.build is not None:
        built = work / "data" / name
        built.mkdir(parents=True, exist_ok=True)
        task.build(data_dir / task.source, built)
        cfg["data"] = {"local": str(built)} | task.data
    cfg["run"] = (cfg.get("run") or {}) | {"name": name, "runs_dir": str(work / "runs")}
    if threads is not None:  # how the run executes, not the recipe (two runs side by side on 2 cores: 1 each)
        cfg["run"]["threads"] = threads
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def metrics_of(stages: dict, name: str) -> dict:
    stage = stages.get(name) or {}
    return (stage.get("metrics") or {}) if stage.get("status") == "done" else {}


def split_metric(stages: dict, name: str, split: str, metric: str) -> float | None:
    # no fallback to accuracy: an F1 task's row must never show an accuracy under the F1 label
    return metrics_of(stages, name).get(f"{split}_{metric}")


def headline(artifact: dict, metric: str) -> dict:
    verdict = artifact.get("verdict") or {}
    drop = next((g for g in verdict.get("gates", []) if g["name"] == "drop_vs_teacher"), None)
    return {"metric": artifact.get(metric), "state": verdict.get("state"),
            "drop_points": drop and drop["evidence"].get("drop_points"),
            "ci95_points": drop and drop["evidence"].get("ci95_points"),
            "failed_gates": [g["message"] for g in verdict.get("gates", []) if g["state"] != "pass"]}


def summarise(name: str, task: Task, run_dir: Path, code: int, seconds: float, log: str) -> dict:
    manifest_path = run_dir / "manifest.json"
    stages = json.loads(manifest_path.read_text())["stages"] if manifest_path.is_file() else {}
    results_path = run_dir / "validate" / "results.json"
    validated = json.loads(results_path.read_text()) if results_path.is_file() else {}
    metric = validated.get("metric", "accuracy")
    teacher, distill = metrics_of(stages, "teacher"), metrics_of(stages, "distill")
    models = (("teacher", "teacher"), ("student", "distill"), ("pruned", "prune"))
    row = {"task": name, "about": task.about, "exit_code": code, "seconds": round(seconds), "metric": metric,
           "stage_seconds": {k: round(v.get("seconds") or 0) for k, v in stages.items()},
           "train_rows": teacher.get("train_rows"), "select_rows": teacher.get("select_rows"),
           "eval_rows": teacher.get("eval_rows"), "majority": teacher.get("select_majority_rate"),
           **{k: split_metric(stages, s, "eval", metric) for k, s in models},
           # the selection split: where the recipe's choices (the augmentation rule among them) are judged
           "select": {k: split_metric(stages, s, "select", metric) for k, s in models},
           "teacher_steps": teacher.get("steps"), "distill_steps": distill.get("steps"),
           "augment": distill.get("augment"), "augmented_rows": distill.get("augmented_rows"),
           "verdicts": {a["name"]: (a.get("verdict") or {}).get("state", "missing")
                        for a in validated.get("artifacts", [])},
           "headline": next((headline(a, metric) for a in validated.get("artifacts", []) if a["name"] == HEADLINE),
                            None),
           "log_tail": "" if code == 0 else log[-1500:]}
    row["shippable"] = sorted(k for k, v in row["verdicts"].items() if v == "pass")
    return row


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.2f}"


def table(rows: list[dict]) -> str:
    lines = ["| task | train rows | teacher | student | pruned | tflite-int8 | drop vs teacher [95% CI] | "
             "verdicts (pass/fail/inc.) | ships | exit | wall | commit |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        h = r["headline"] or {}
        ci = h.get("ci95_points")
        drop = "-" if h.get("drop_points") is None else f"{h['drop_points']:+.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}]"
        states = list(r["verdicts"].values())
        counts = "/".join(str(states.count(s)) for s in ("pass", "fail", "inconclusive"))
        lines.append(f"| {r['task']} | {r['train_rows'] or '-'} | {pct(r['teacher'])} | {pct(r['student'])} | "
                     f"{pct(r['pruned'])} | {pct(h.get('metric'))} ({h.get('state', '-')}) | {drop} | {counts} | "
                     f"{'yes' if r['shippable'] else 'no'} | {r['exit_code']} | {r['seconds'] / 60:.1f} min | "
                     f"`{r.get('commit', '-')[:7]}` |")
    return "\n".join(lines)


def select_table(rows: list[dict]) -> str:
    lines = ["| task | selection rows | majority | teacher | student | pruned | teacher / distill steps | "
             "augmented rows |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sel = r.get("select") or {}
        lines.append(f"| {r['task']} | {r['select_rows'] or '-'} | {pct(r['majority'])} | {pct(sel.get('teacher'))} | "
                     f"{pct(sel.get('student'))} | {pct(sel.get('pruned'))} | {r['teacher_steps'] or '-'} / "
                     f"{r['distill_steps'] or '-'} | {r.get('augmented_rows') or 0} |")
    return "\n".join(lines)


def run(cfg: Path, data_dir: Path) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    # the shipped data section names its folder under EDGEPORT_DATA_DIR
    env = os.environ | {"EDGEPORT_DATA_DIR": str(data_dir)}
    proc = subprocess.run([sys.executable, "-m", "edgeport.cli", "run", str(cfg)], capture_output=True, text=True,
                          env=env)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0


def chosen(ap: argparse.ArgumentParser, value: str, known, what: str) -> list[str]:
    """The comma-separated names in ``value``; an unknown one is a usage error (exit 2) naming the choices."""
    names = [v for v in value.split(",") if v]
    unknown = sorted(set(names) - set(known))
    if unknown:
        ap.error(f"unknown {what}(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, of: {', '.join(TASKS)}")
    ap.add_argument("--work", default=str(ROOT / "runs" / "panel"))
    ap.add_argument("--tag", default="", help="results go to panel_TAG.{json,md} (e.g. before)")
    ap.add_argument("--threads", type=int, help="run.threads of each run (default: all cores); torch's bf16 "
                    "training differs with the thread count, so compare rows run with the same")
    ap.add_argument("--data", default=os.environ.get("EDGEPORT_DATA_DIR", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--reuse", action="store_true", help="summarise tasks already run in --work (their "
                    "panel-run.json: exit code, wall time, commit) instead of running them again")
    args = ap.parse_args()
    names = chosen(ap, args.tasks, TASKS, "task")
    work, data_dir = Path(args.work), Path(args.data)
    prov = provenance({"args": args_dict(args) | {"work": None, "data": None}}, ARGS_ONLY)
    rows = []
    for name in names:
        record = work / "runs" / name / "panel-run.json"
        if args.reuse and record.is_file():
            done = json.loads(record.read_text())
            code, log, seconds, commit = done["exit_code"], done.get("log_tail", ""), done["seconds"], done["commit"]
            print(f"[panel] {name}: reusing its run at {commit[:12]} ({record})", flush=True)
        else:
            cfg = config(name, TASKS[name], data_dir, work, args.threads)
            print(f"[panel] {name}: edgeport run {cfg}", flush=True)
            code, log, seconds = run(cfg, data_dir)
            commit = prov["commit"]
            record.write_text(json.dumps({"exit_code": code, "seconds": round(seconds), "commit": commit,
                                          "log_tail": log[-1500:]}, indent=2) + "\n")
        rows.append(summarise(name, TASKS[name], work / "runs" / name, code, seconds, log) | {"commit": commit})
        print(table(rows[-1:]), flush=True)
    text = "# Panel: the default config, only `data` changed\n\n" + table(rows) + (
        "\n\nEvaluation split: SST-2 validation (872 rows) for the SST-2 tasks, STS-B validation (1,500 pairs) for "
        "STS-B's. Figures are the task's metric (x100) on it; the drop is the shipped INT8 TFLite file's vs the fp32 "
        "teacher with its 95% CI (validate's drop_vs_teacher gate). Verdicts count the run's artifacts; a task "
        "ships when at least one artifact passes every gate.\n\n## The selection split (where choices are made)\n\n"
        + select_table(rows))
    print("\n" + text)
    stem = "panel" + (f"_{args.tag}" if args.tag else "")
    write_json(RESULTS / f"{stem}.json", rows, prov)
    write_markdown(RESULTS / f"{stem}.md", text, prov)
    print(f"\nwrote {RESULTS / stem}.{{json,md}}")


if __name__ == "__main__":
    main()
