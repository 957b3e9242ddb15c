"""`edgeport tune` on SST-2: a teacher study (killed mid-trial and resumed), lr 1e-6 against the best lr, a
student search for a device target, and the chosen student through the normal pipeline.

    python benchmarks/tune_demo.py [--work runs/tune-demo] [--teacher-trials 8] [--student-trials 6]
                                   [--target android-lowend] [--train-rows 1200] [--select-rows 600]
                                   [--distill-rows 8000] [--tight-trials 6] [--out benchmarks/results]

Steps (each a real `edgeport` command in a subprocess, as a user would type it):

1. `edgeport tune demo.yaml --stage teacher`: MiniLM-L6 on `--train-rows` SST-2 rows (max_seq_len 64), lr
   1e-6..3e-4 (log), warm-up, weight decay, batch size 16/32, 1-2 epochs; lr 1e-6 enqueued as the first trial;
   median pruner at 4 selection evaluations per trial (selection split: `--select-rows`). The process is
   SIGKILLed in the middle of its 4th trial and started again: the study resumes (the killed trial is re-run with
   its parameters), no trial counted twice.
2. `edgeport run demo.yaml --params teacher/best_params.yaml --until teacher`: the best trial's config as the
   run's teacher (the same selection accuracy: runs are deterministic), measured once on SST-2 validation.
3. The same with `-o teacher.train.lr=1e-6` (same steps, same everything else): the bad learning rate.
4. `edgeport tune demo.yaml --params ... --stage student --target T`: depth/layers, heads, FFN, vocabulary
   pruning; selection accuracy up, latency (estimate for a device) and size down, budgets as constraints;
   trials train briefly (tune.overrides).
5. `edgeport run demo.yaml --params teacher_best --params student_best`: the chosen student through the whole
   pipeline; the report's budget checks for the target.
6. (``--tight-trials`` > 0) the same student search on a copy of the target with tighter budgets (5 ms, 14 MB).

Writes tune_demo.{json,md} under ``--out`` (default benchmarks/results; + the PNGs copied beside them with their
provenance in PNG text). A tiny setting proves the script runs (about 15 min on 2 shared cores):
``--teacher-trials 3 --enqueue-lr 1e-4 --kill-after 2 --student-trials 1 --tight-trials 0 --train-rows 600
--select-rows 200 --distill-rows 600 --work /tmp/tune-demo --out /tmp/tune-demo-results``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from _provenance import RESULTS, args_dict, provenance, write_json, write_markdown, write_png

ROOT = Path(__file__).resolve().parents[1]
BAD_LR = 1e-6


def demo_config(work: Path, args) -> Path:
    cfg = yaml.safe_load((ROOT / "edgeport" / "configs" / "default.yaml").read_text())
    cfg["run"] = {"name": "tune-demo", "runs_dir": str(work / "runs"), "seed": 42, "threads": args.threads}
    # default.yaml holds out at least 1,000 selection rows; the demo's smaller split lowers both bounds
    cfg["data"] |= {"train_limit": args.train_rows, "max_seq_len": 64, "selection_max_rows": args.select_rows,
                    "selection_min_rows": min(args.select_rows, 200)}
    cfg["teacher"]["train"] = {"lr": 1e-4, "batch_size": 32}
    # the final student: modest training so the demo fits a shared 2-core machine
    cfg["distill"] |= {"train_limit": args.distill_rows}
    cfg["distill"]["train"] = {"lr": 2e-4, "batch_size": 32, "epochs": 1, "eval_every": 125}
    cfg["prune"] |= {"latency_seconds": 0}
    cfg["export"] = {"formats": ["onnx", "tflite"]}
    cfg["bench"] = {"targets": ["host", "android-lowend"]}
    cfg["tune"] = {
        "trials": args.teacher_trials, "evals": 4, "startup_trials": 2, "warmup_evals": 1, "pruner": "median",
        "space": {"lr": {"low": 1e-6, "high": 3e-4, "log": True}, "warmup_ratio": {"low": 0.0, "high": 0.2},
                  "weight_decay": {"low": 0.0, "high": 0.1}, "batch_size": [16, 32],
                  "epochs": {"low": 1, "high": 2, "step": 1}},
        "enqueue": [{"teacher.train.lr": BAD_LR}] + [{"teacher.train.lr": lr} for lr in args.enqueue_lr],
        # student trials train briefly: 2,000 rows, one epoch of distillation, half an epoch of recovery
        "overrides": {"distill.train_limit": 2000, "distill.train.epochs": 1, "distill.train.eval_every": None,
                      "prune.train_limit": 2000, "prune.train.epochs": 0.5},
        "student": {"min_layers": 1, "max_layers": 5},
    }
    path = work / "demo.yaml"
    work.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def cli(*args: str, log: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"\n$ edgeport {' '.join(args)}\n")
        fh.flush()
        code = subprocess.run([sys.executable, "-m", "edgeport.cli", *args], stdout=fh, stderr=subprocess.STDOUT,
                              env=dict(os.environ, PYTHONUNBUFFERED="1")).returncode
    return code, round(time.perf_counter() - t0, 1)


def study_trials(url: str, name: str):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=url).trials


def kill_and_resume(cfg: Path, url: str, name: str, kill_after: int, log: Path) -> dict:
    """Start the teacher study, SIGKILL it in the middle of trial `kill_after`+1, start it again."""
    t0 = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"\n$ edgeport tune {cfg} --stage teacher   (to be killed)\n")
        fh.flush()
        proc = subprocess.Popen([sys.executable, "-m", "edgeport.cli", "tune", str(cfg), "--stage", "teacher"],
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        killed = None
        while proc.poll() is None:
            time.sleep(2)
            try:
                trials = study_trials(url, name)
            except Exception:  # noqa: BLE001 - not created yet
                continue
            finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
            running = [t for t in trials if t.state.name == "RUNNING" and t.intermediate_values]
            if len(finished) >= kill_after and running:
                killed = {"number": running[0].number, "params": running[0].params,
                          "evaluations_reported": len(running[0].intermediate_values),
                          "finished_before_kill": [t.number for t in finished]}
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait()
    first = round(time.perf_counter() - t0, 1)
    before = {t.number: t.state.name for t in study_trials(url, name)}
    code, second = cli("tune", str(cfg), "--stage", "teacher", log=log)
    return {"killed": killed, "states_after_kill": before, "first_run_seconds": first,
            "resume_exit": code, "resume_seconds": second}


def teacher_metrics(run_dir: Path) -> dict:
    m = json.loads((run_dir / "manifest.json").read_text())["stages"]["teacher"]["metrics"]
    keep = ("select_accuracy", "eval_accuracy", "eval_rows", "steps", "best_step", "train_seconds", "gate_failures")
    out = {k: m.get(k) for k in keep}
    out["useful_gate_p"] = (m.get("useful_gate") or {}).get("p")
    return out


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=str(ROOT / "runs" / "tune-demo"))
    ap.add_argument("--teacher-trials", type=int, default=8)
    ap.add_argument("--student-trials", type=int, default=6)
    ap.add_argument("--train-rows", type=int, default=1200)
    ap.add_argument("--select-rows", type=int, default=600, help="data.selection_max_rows")
    ap.add_argument("--distill-rows", type=int, default=8000, help="distill.train_limit of the final run")
    ap.add_argument("--threads", type=int, default=1, help="run.threads (1: the machine is shared)")
    ap.add_argument("--target", default="android-lowend")
    ap.add_argument("--kill-after", type=int, default=3, help="kill the study once this many trials finished")
    ap.add_argument("--enqueue-lr", type=float, action="append", default=[],
                    help="also queue a trial with this teacher lr (a tiny setting: so one trial surely learns)")
    ap.add_argument("--skip-teacher-study", action="store_true", help="reuse a finished teacher study")
    ap.add_argument("--tight-trials", type=int, default=6, help="student trials with tighter budgets (0: none)")
    ap.add_argument("--render-only", action="store_true", help="re-write tune_demo.md from tune_demo.json")
    ap.add_argument("--out", type=Path, default=RESULTS)
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    work, out = Path(args.work), args.out
    if args.render_only:  # the same measurement, so the same provenance
        res = json.loads((out / "tune_demo.json").read_text())
        sdir = work / "runs" / "tune-demo" / "tune" / f"student-{args.target}"
        write_markdown(out / "tune_demo.md", render(res, sdir), res["provenance"])
        return
    log = work / "demo.log"
    cfg = demo_config(work, args)
    prov = provenance({"args": args_dict(args), "config": yaml.safe_load(cfg.read_text())},
                      "the script's arguments and the demo config it writes (demo.yaml)")
    run_dir = work / "runs" / "tune-demo"
    res: dict = {"config": str(cfg), "train_rows": args.train_rows, "select_rows": args.select_rows,
                 "threads": args.threads, "target": args.target, "seconds": {}}
    tdir, best_params = teacher_part(args, cfg, run_dir, res, log)
    sdir = student_part(args, cfg, run_dir, best_params, res, log)
    if args.tight_trials > 0:
        res["tight_search"] = tight_search(work, cfg, best_params, run_dir, args.target, args.tight_trials, log)
    out.mkdir(parents=True, exist_ok=True)
    for src, dst in ((sdir / "pareto.png", "tune_demo_pareto.png"),
                     (tdir / "learning_curves.png", "tune_demo_teacher_curves.png"),
                     (tdir / "history.png", "tune_demo_teacher_history.png"),
                     (tdir / "importances.png", "tune_demo_teacher_importances.png"),
                     (run_dir / "tune" / f"student-{args.target}-tight" / "pareto.png", "tune_demo_pareto_tight.png")):
        if src.is_file():
            write_png(src, out / dst, prov)
    write_json(out / "tune_demo.json", json.loads(json.dumps(res, default=str)), prov)
    write_markdown(out / "tune_demo.md", render(res, sdir), prov)
    print((out / "tune_demo.md").read_text())


def teacher_part(args, cfg: Path, run_dir: Path, res: dict, log: Path) -> tuple[Path, Path]:
    """1. the teacher study, killed and resumed; 2. its best params as the run's teacher; 3. the same at lr 1e-6."""
    url = f"sqlite:///{(run_dir / 'tune' / 'study.db').resolve()}"
    if not args.skip_teacher_study:
        t0 = time.perf_counter()
        res["kill_resume"] = kill_and_resume(cfg, url, "tune-demo-teacher", args.kill_after, log)
        res["seconds"]["teacher_study"] = round(time.perf_counter() - t0, 1)
    tdir = run_dir / "tune" / "teacher"
    res["teacher_study"] = json.loads((tdir / "summary.json").read_text())
    best_params = tdir / "best_params.yaml"
    code, secs = cli("run", str(cfg), "--params", str(best_params), "--until", "teacher", log=log)
    res["best_teacher"] = {"exit": code, "seconds": secs, "params": yaml.safe_load(best_params.read_text())}
    res["best_teacher"] |= teacher_metrics(run_dir)
    code, secs = cli("run", str(cfg), "--params", str(best_params), "-o", f"teacher.train.lr={BAD_LR}",
                     "-o", "run.name=tune-demo-lr1e-6", "--until", "teacher", log=log)
    res["bad_lr_teacher"] = {"exit": code, "seconds": secs, "lr": BAD_LR} | teacher_metrics(
        Path(args.work) / "runs" / "tune-demo-lr1e-6")
    return tdir, best_params


def student_part(args, cfg: Path, run_dir: Path, best_params: Path, res: dict, log: Path) -> Path:
    """4. the student search for the target; 5. the chosen student through the normal pipeline."""
    code, secs = cli("tune", str(cfg), "--params", str(best_params), "--stage", "student", "--target", args.target,
                     "--trials", str(args.student_trials), log=log)
    if code != 0:
        sys.exit(f"the student search failed (exit {code}); its message is at the end of {log}")
    sdir = run_dir / "tune" / f"student-{args.target}"
    res["student_search"] = {"exit": code, "seconds": secs} | json.loads((sdir / "summary.json").read_text())
    res["seconds"]["student_search"] = secs
    code, secs = cli("run", str(cfg), "--params", str(best_params), "--params", str(sdir / "best_params.yaml"),
                     log=log)
    report = json.loads((run_dir / "report" / "report.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())["stages"]
    res["final_run"] = {"exit": code, "seconds": secs,
                        "budget_checks": [c for c in report["budget_checks"] if c["target"] == args.target],
                        "report_gate_failures": manifest["report"]["metrics"].get("gate_failures", []),
                        "validate_gate_failures": manifest["validate"]["metrics"].get("gate_failures", []),
                        "models": {s: {k: manifest[s]["metrics"].get(k) for k in
                                       ("select_accuracy", "eval_accuracy", "params", "layers")}
                                   for s in ("teacher", "distill", "prune") if s in manifest}}
    return sdir


def tight_search(work: Path, cfg: Path, best_params: Path, run_dir: Path, target: str, trials: int,
                 log: Path) -> dict:
    """The same student search on the target's hardware with budgets the full-size students miss: a profile of
    its own (EDGEPORT_TARGETS_DIR), so the constraints decide the choice."""
    src = yaml.safe_load((ROOT / "targets" / f"{target}.yaml").read_text())
    name = f"{target}-tight"
    src |= {"name": name, "description": f"{src['description']}; tighter budgets (tune_demo)"}
    src["budgets"] = {"latency_p90_ms": 5, "model_size_mb": 14, "peak_memory_mb": src["budgets"]["peak_memory_mb"]}
    tdir = work / "targets"
    tdir.mkdir(parents=True, exist_ok=True)
    (tdir / f"{name}.yaml").write_text(yaml.safe_dump(src, sort_keys=False))
    os.environ["EDGEPORT_TARGETS_DIR"] = str(tdir)
    code, secs = cli("tune", str(cfg), "--params", str(best_params), "--stage", "student", "--target", name,
                     "--trials", str(trials), log=log)
    sdir = run_dir / "tune" / f"student-{name}"
    return json.loads((sdir / "summary.json").read_text()) | {
        "exit": code, "seconds": secs, "target": name, "budgets": src["budgets"],
        "pareto_md": (sdir / "pareto.md").read_text() if (sdir / "pareto.md").is_file() else None}


def _f(v, d=4):
    return "-" if v is None else (f"{v:.{d}f}" if isinstance(v, float) else str(v))


def _kill_from_summary(ts: dict) -> dict:
    """The kill, read back from the study (when the driver that killed it did not record it): the failed trial
    that was re-run, how many evaluations it had reported, which trials had finished before it started."""
    rows = {t["number"]: t for t in ts["trials"]}
    for t in ts["trials"]:
        if t.get("reruns_trial") is not None and rows.get(t["reruns_trial"], {}).get("state") == "fail":
            k = rows[t["reruns_trial"]]
            return {"killed": {"number": k["number"], "params": k["params"],
                               "evaluations_reported": len(k.get("intermediate") or {}),
                               "finished_before_kill": [n for n, r in rows.items() if n < k["number"]
                                                        and r["state"] in ("complete", "pruned")]},
                    "states_after_kill": "(read back from the study storage)", "resume_exit": 0}
    return {}


def render(res: dict, sdir: Path) -> str:
    ts = res["teacher_study"]
    c = ts["counts"]
    lines = ["# edgeport tune on SST-2 (benchmarks/tune_demo.py)", "",
             f"Teacher study: MiniLM-L6, {res['train_rows']} SST-2 training rows, max_seq_len 64, selection split "
             f"{res['select_rows']} rows; objective: selection accuracy. {c['finished']} finished: "
             f"**{c['complete']} complete, {c['pruned']} pruned, {c['failed']} failed**, {c['interrupted']} "
             f"interrupted by the kill and re-run.", "",
             "| trial | state | lr | warm-up | weight decay | batch | epochs | selection acc | steps | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for t in ts["trials"]:
        p = t["params"]
        note = ""
        if t.get("pruned_at"):
            note = (f"pruned at eval {t['pruned_at']['eval']}/{ts['evals_per_trial']} "
                    f"(step {t['pruned_at']['step']}/{t['pruned_at']['steps']})")
        if t["state"] == "fail":
            note = "killed mid-trial (SIGKILL); failed by its stale heartbeat"
        if t.get("reruns_trial") is not None:
            note = (note + "; " if note else "") + f"re-run of killed trial {t['reruns_trial']}"
        value = (t.get("values") or [None])[0]
        steps = t.get("steps") or (t.get("pruned_at") or {}).get("step")
        lines.append(f"| {t['number']} | {t['state']} | {_f(p.get('teacher.train.lr'), 7)} | "
                     f"{_f(p.get('teacher.train.warmup_ratio'), 3)} | {_f(p.get('teacher.train.weight_decay'), 3)} | "
                     f"{p.get('teacher.train.batch_size', '-')} | {_f(p.get('teacher.train.epochs'), 0)} | "
                     f"{_f(value)} | {_f(steps)} | {note} |")
    kr = res.get("kill_resume") or _kill_from_summary(ts)
    if kr.get("killed"):
        k = kr["killed"]
        lines += ["", f"Kill and resume: the first process was SIGKILLed during trial {k['number']} after "
                  f"{k['evaluations_reported']} of its selection evaluations (trials {k['finished_before_kill']} "
                  f"finished before); states right after the kill: {kr['states_after_kill']}. The second process "
                  f"(exit {kr['resume_exit']}) re-ran trial {k['number']}'s parameters as a new trial and finished "
                  f"the study; no finished trial was run again."]
    b, bad = res["best_teacher"], res["bad_lr_teacher"]
    lines += ["", "Best learning rate vs lr 1e-6, each the *whole* run (`edgeport run --params best_params.yaml "
              "--until teacher`, the second with `-o teacher.train.lr=1e-6`: same steps, same everything else):", "",
              f"| teacher | lr | steps | selection acc ({res['select_rows']} rows; chosen here) | eval acc, SST-2 validation (872 rows; "
              "measured only) | useful gate | exit |", "|---|---|---|---|---|---|---|",
              f"| best trial's config | {_f(b['params'].get('teacher.train.lr'), 7)} | {b['steps']} | "
              f"{_f(b['select_accuracy'])} | {_f(b['eval_accuracy'])} | {'pass' if not b['gate_failures'] else 'FAIL'} "
              f"| {b['exit']} |",
              f"| same, lr 1e-6 | 1e-06 | {bad['steps']} | {_f(bad['select_accuracy'])} | {_f(bad['eval_accuracy'])} | "
              f"{'pass' if not bad['gate_failures'] else 'FAIL (no better than the majority class)'} | {bad['exit']} |"]
    ss = res["student_search"]
    lines += ["", f"Student search for {res['target']} ({ss['counts']['complete']} complete trials, "
              f"{ss['seconds']} s): see the Pareto table below and `tune_demo_pareto.png`.", ""]
    if (sdir / "pareto.md").is_file():
        lines += (sdir / "pareto.md").read_text().splitlines()[2:]
    fr = res["final_run"]
    lines += ["", f"The chosen student through the normal pipeline (`edgeport run demo.yaml --params teacher "
              f"--params student`, exit {fr['exit']}, {fr['seconds']} s): the report's budget checks for "
              f"{res['target']}:", "", "| artifact | figure | value | limit | kind | ok |", "|---|---|---|---|---|---|"]
    for chk in fr["budget_checks"]:
        lines.append(f"| {chk['artifact']} | {chk['metric']} | {chk['value']} | {chk['limit']} | {chk['kind']} | "
                     f"{'yes' if chk['ok'] else 'no'} |")
    lines += ["", f"Report gate failures: {fr['report_gate_failures'] or 'none'}; validate gate failures: "
              f"{fr['validate_gate_failures'] or 'none'}.",
              f"Models: {json.dumps(fr['models'])}"]
    tight = res.get("tight_search")
    if tight and tight.get("pareto_md"):
        b = tight["budgets"]
        ch = tight.get("chosen") or {}
        name = tight["target"]["name"] if isinstance(tight["target"], dict) else tight["target"]
        lines += ["", f"Tighter budgets, same hardware (`{name}`: latency p90 <= {b['latency_p90_ms']} ms, "
                  f"size <= {b['model_size_mb']} MB; {tight['counts']['complete']} trials, {tight['seconds']} s, "
                  f"`tune_demo_pareto_tight.png`): chosen trial {ch.get('number', 'none')}.", ""]
        lines += tight["pareto_md"].splitlines()[2:]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
