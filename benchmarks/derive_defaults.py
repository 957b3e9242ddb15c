"""Derive the default recipe's training knobs on the selection split only: two Optuna studies through
`edgeport tune`, then the best of each written into edgeport/configs/default.yaml.

    nice python benchmarks/derive_defaults.py [--teacher-trials 6] [--distill-trials 10] [--scale 0.25]
                                              [--budget-seconds 720] [--runs-dir runs] [--no-write] [--smoke]

1. Teacher study (`edgeport tune default --stage teacher`): teacher.train.lr and teacher.train.min_steps.
2. Distill study on the teacher chosen in 1 (`--stage distill --params <1's best_params.yaml>`, the teacher trained
   once): distill.train.lr, distill.train.min_steps, distill.temperature, distill.alpha.

The objective is selection-split accuracy (1,000 whole SST-2 sentences held out from train); the evaluation split
(SST-2 validation) chooses nothing: each trial's stage measures it, as every stage does, and this script drops
those figures; the default run measures it once. Trials run the shipped default.yaml (its sequence length, batch,
selection split) with the sampled values. `tune.space.min_steps` sets a stage's rows to min_steps x 32: one
pass over fresh rows on SST-2, at least min_steps steps on a smaller task (the data-adaptive length).

Sized for this 2-core machine, shared with other work (measured there: a MiniLM step took 1.5-7 s on one thread
instead of 0.21 s on two idle cores, so full-size trials would take hours each):
- proxy trials (--scale 0.25): each trial trains a quarter of the steps it stands for, on a quarter of the rows
  (one pass either way); the learning rates, temperature and alpha it finds are shipped as they are, its length
  times 4. What a proxy cannot show (a longer run's own optimum) the default run measures;
- few trials (6 + 10; the previous recipe's values run first, so the study can only match or beat it on the
  selection split), a coarse step grid so distill trials reuse the cached teacher logits of equal row counts;
- the median pruner after 3 finished trials and 3 of 6 evaluations; one torch thread (see STUDY);
- the best teacher trial's model is the distill study's teacher (not trained again).
The default run must stay within --budget-seconds (12 min): the teacher's steps are capped at 800 and the distill
range is cut to what the chosen teacher leaves (`distill_steps_cap`, a cost model from measured step times).
Resumable: run it again and the studies (SQLite in RUN_DIR/tune/) continue where they stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeport.config import load_config  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import write_json, write_markdown  # noqa: E402
from edgeport.tune.study import TuneRequest, run_tune  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_YAML = ROOT / "edgeport" / "configs" / "default.yaml"
BATCH = 32  # default.yaml's batch size for both stages (not searched: rows = min_steps x BATCH)

# What each study searches (tune.space; every other range null). lr ranges bracket the recipes in use (teacher
# 1e-4, distill 2e-4) by ~5x each way; distill's min_steps high is set from the budget at run time.
SPACES = {
    "teacher": {"lr": {"low": 2e-5, "high": 3e-4, "log": True},
                "min_steps": {"low": 400, "high": 800, "step": 200}},
    "distill": {"lr": {"low": 5e-5, "high": 1e-3, "log": True},
                "min_steps": {"low": 600, "high": None, "step": 200},
                "temperature": {"low": 1.0, "high": 8.0}, "alpha": {"low": 0.0, "high": 1.0}},
}
# Run first: the previous recipe's values at the longest length the budget allows (a baseline inside the study).
BASELINE = {"teacher": {"teacher.train.lr": 1e-4}, "distill": {"distill.train.lr": 2e-4, "distill.temperature": 2.0,
                                                                "distill.alpha": 0.5}}
# run.threads 1: on this shared machine two threads ran a MiniLM step 5-15x slower than one (OpenMP threads
# waiting on each other while other processes hold the cores: 5-23 s vs 1.5 s measured); one thread is the
# same arithmetic up to summation order, so a trial's figures are those of the default run up to that noise.
# The median pruner judges a trial only after 3 finished trials and 3 of its 6 evaluations: judged after 2 and 2,
# a first run pruned 8 of 12 trials at a third of their training against the mean of two, leaving two complete
# trials per study (and a shorter trial, compared at the same fraction of its training, has had fewer steps).
STUDY = {"tune.pruner": "median", "tune.startup_trials": 3, "tune.warmup_evals": 3, "tune.evals": 6,
         "tune.sampler": "tpe", "tune.seed": 0, "run.threads": 1}
SMOKE = {"data.selection_min_rows": 200, "data.selection_max_rows": 200}

# The default run's cost model (2 cores). Step times: benchmarks/results/precision.json (2 threads, nothing else
# running), the faster precision per stage: what `train.precision: auto`'s probe picks on the measuring host. A
# teacher-logit row is a MiniLM forward, ~1/3 of a training step's work per row. FIXED:
# what does not scale with the two searched lengths, from README's default-run table (commit 0573b5a): prune 118 s,
# export..report 148 s, the teacher stage's loading, evaluations and measurement 67 s (275 s - 1,000 x 0.208).
FIXED_SECONDS = 333.0


def step_costs() -> dict[str, float]:
    rows = json.loads((RESULTS / "precision.json").read_text())["results"]
    s: dict[str, float] = {}
    for r in rows:
        s[r["stage"]] = min(s.get(r["stage"], math.inf), r["seconds_per_step"])
    return {"teacher_step": s["teacher"], "distill_step": s["distill"] + s["teacher"] / 3}  # + 32 rows of logits


def estimated_seconds(teacher_steps: int, distill_steps: int, costs: dict[str, float]) -> float:
    return FIXED_SECONDS + teacher_steps * costs["teacher_step"] + distill_steps * costs["distill_step"]


def distill_steps_cap(teacher_steps: int, budget: float, costs: dict[str, float], step: int) -> int:
    """The most distillation steps (on the grid) that keep the estimated default run within ``budget``."""
    left = budget - estimated_seconds(teacher_steps, 0, costs)
    return int(left / costs["distill_step"] // step * step)


# ------------------------------------------------------------------------------------------ provenance


def provenance(config_digest: str) -> dict:
    """The shared provenance record (``_provenance.py``), its digest the resolved config the trials start from."""
    from _provenance import git_commit

    return {"commit": git_commit(), "config_digest": config_digest,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def config_digest(overrides: list[str]) -> str:
    """sha256 of the resolved config the trials start from (default.yaml + this script's overrides)."""
    cfg = load_config("default", overrides)
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()


# ------------------------------------------------------------------------------------------ studies


def space_override(stage: str, ranges: dict) -> str:
    nulls = {k: None for k in ("lr", "warmup_ratio", "weight_decay", "batch_size", "epochs", "min_steps",
                               "temperature", "alpha")}
    return "tune.space=" + json.dumps(nulls | ranges)


def run_study(stage: str, ranges: dict, trials: int, base: list[str], params: list[str],
              extra: list[str] = ()) -> dict:
    enqueue = BASELINE[stage] | {f"{stage}.train.min_steps": int(ranges["min_steps"]["high"])}
    overrides = base + [space_override(stage, ranges), "tune.enqueue=" + json.dumps([enqueue]), *extra]
    print(f"\n== {stage} study: {trials} trials, space {json.dumps(ranges)}", flush=True)
    return run_tune(TuneRequest(config="default", stage=stage, overrides=overrides, trials=trials, params=params))


def trial_rows(summary: dict) -> list[dict]:
    """The trials table: parameters, selection accuracy, length; the evaluation split is left out."""
    rows = []
    for t in summary["trials"]:
        rows.append({"number": t["number"], "state": t["state"], "params": t["params"],
                     "derived": t.get("derived", {}), "select_accuracy": t.get("values", [None])[0],
                     "steps": t.get("steps"), "best_step": t.get("best_step"), "eval_every": t.get("eval_every"),
                     "pruned_at": t.get("pruned_at"), "train_seconds": t.get("train_seconds"),
                     "seconds": t["seconds"]})
    return rows


def best_of(summary: dict, stage: str) -> dict:
    best = summary["best"]
    chosen = next(t for t in summary["trials"] if t["number"] == best["number"])
    values = dict(best["params"]) | chosen.get("derived", {})
    values[f"{stage}.train.eval_every"] = chosen["eval_every"]
    return {"number": best["number"], "select_accuracy": best["value"], "steps": best["steps"],
            "best_step": best["best_step"], "values": values, "params_file": best["params_file"],
            "dir": chosen["dir"]}


# ------------------------------------------------------------------------------------------ outputs


def write_results(out: Path, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "derive_defaults.json", result, result["provenance"])
    write_markdown(out / "derive_defaults.md", markdown(result), result["provenance"])
    print(f"wrote {out / 'derive_defaults.json'} and .md", flush=True)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 0.01 else f"{v:.3f}".rstrip("0").rstrip(".")
    return "" if v is None else str(v)


def _trials_md(stage: str, study: dict) -> list[str]:
    keys = list(SPACES[stage])
    lines = [f"| # | state | {' | '.join(keys)} | rows | selection acc % | steps (best at) | train s | wall s |",
             "|---" * (len(keys) + 7) + "|"]
    for t in study["trials"]:
        shown = [_fmt(t["params"].get(next((k for k in t["params"] if k.endswith("." + key)), ""))) for key in keys]
        acc = t["select_accuracy"]
        if t["state"] == "pruned" and t["pruned_at"]:
            p = t["pruned_at"]
            acc_s = f"pruned at eval {p['eval']} (step {p['step']}/{p['steps']}, best {p['best'] * 100:.2f})"
        else:
            acc_s = "" if acc is None else f"{acc * 100:.2f}"
        rows = next(iter(t["derived"].values()), "")
        lines.append(f"| {t['number']} | {t['state']} | {' | '.join(shown)} | {rows} | {acc_s} | "
                     f"{_fmt(t['steps'])} ({_fmt(t['best_step'])}) | {_fmt(t['train_seconds'])} | "
                     f"{_fmt(t['seconds'])} |")
    return lines


def markdown(r: dict) -> str:
    p = r["provenance"]
    out = ["# derive_defaults: the default recipe's training knobs, chosen on the selection split", "",
           f"Commit `{p['commit']}`, config digest `{p['config_digest'][:16]}`, {p['date']}; "
           f"{r['wall_seconds'] / 60:.1f} min wall on {r['machine']}. Objective: {r['objective']}. "
           "The evaluation split (SST-2 validation) chose nothing and is not reported here: the default run "
           "measures it once.", "",
           f"Proxy: every trial trained {r['proxy_scale']:g} of the steps and rows it stands for (steps and rows "
           f"below are the trial's own); the shipped min_steps is the best trial's / {r['proxy_scale']:g}, its "
           "rows one pass of 32-row batches, its eval_every a sixth of it. Selection figures are the proxies', not "
           "the default run's.", ""]
    for stage in ("teacher", "distill"):
        s = r["studies"][stage]
        b = s["best"]
        out += [f"## {stage} study: {s['counts']['finished']} finished trials ({s['counts']['complete']} complete, "
                f"{s['counts']['pruned']} pruned, {s['counts']['failed']} failed)", "",
                f"Best: trial #{b['number']}, selection accuracy **{b['select_accuracy'] * 100:.2f}%** "
                f"({r['select_rows']} rows; 95% CI ±{s['best_ci_half_width'] * 100:.1f} points), "
                f"{b['steps']} steps, best checkpoint at step {b['best_step']}.", ""]
        out += _trials_md(stage, s) + [""]
    est = r["budget"]
    out += ["## Shipped (edgeport/configs/default.yaml)", "", "```yaml", *[f"{k}: {v!r}" for k, v in
            r["chosen"].items()], "```", "",
            f"Estimated default-run wall time {est['estimated_seconds'] / 60:.1f} min (budget "
            f"{est['budget_seconds'] / 60:.0f} min; cost model in the script: {est['model']})."]
    return "\n".join(out) + "\n"


def write_default_yaml(chosen: dict, path: Path, cite: str) -> bool:
    """Set the chosen values in default.yaml, keeping its comments; False when ruamel.yaml is missing."""
    try:
        from ruamel.yaml import YAML
    except ImportError:
        return False
    yaml = YAML()
    yaml.width = 120
    doc = yaml.load(path)
    for key, value in chosen.items():
        *sections, leaf = key.split(".")
        node = doc
        for name in sections:
            node = node.setdefault(name, {})
        if leaf not in node:
            node.insert(0, leaf, value, comment=cite)  # first: the section's last key carries its blank line
            continue
        node[leaf] = value
        token = (node.ca.items.get(leaf) or [None] * 4)[2]
        if token is None:
            node.yaml_add_eol_comment(cite, leaf)
        else:  # the token also holds the full-line comments and blank lines below the key: keep those
            token.value = f"# {cite}\n{token.value.partition(chr(10))[2]}"
    with path.open("w") as f:
        yaml.dump(doc, f)
    return True


# ------------------------------------------------------------------------------------------ main


def ci_half_width(p: float, n: int) -> float:
    """95% Wilson half-width: how far apart two trials must be before the selection split tells them apart."""
    z = 1.96
    return z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)


def proxy_ranges(ranges: dict, scale: float) -> dict:
    """The space a trial samples: min_steps (shipped units) times the proxy scale."""
    out = json.loads(json.dumps(ranges))
    out["min_steps"] = {k: (None if v is None else int(round(v * scale))) for k, v in ranges["min_steps"].items()}
    return out


def shipped(best: dict, stage: str, scale: float) -> dict:
    """The best trial's values at full size: min_steps / scale, its rows (one pass) and 6 evaluations over it."""
    # 3 significant digits: a proxy's optimum is not sharper than that, and the file stays readable
    values = {k: float(f"{v:.3g}") if isinstance(v, float) else v for k, v in best["values"].items()}
    steps = int(round(values[f"{stage}.train.min_steps"] / scale))
    rows_key = "data.train_limit" if stage == "teacher" else "distill.train_limit"
    return values | {f"{stage}.train.min_steps": steps, rows_key: steps * BATCH,
                     f"{stage}.train.eval_every": math.ceil(steps / STUDY["tune.evals"])}


def studies(args, base: list[str], costs: dict) -> dict:
    """Both studies; the distill range is cut to the budget the chosen teacher leaves."""
    spaces = json.loads(json.dumps(SPACES))
    # the teacher trials keep their models: the best one is the distill study's teacher, not trained again
    teacher = run_study("teacher", proxy_ranges(spaces["teacher"], args.scale), args.teacher_trials, base, [],
                        ["tune.keep_trial_models=true"])
    t_best = best_of(teacher, "teacher")
    t_full = shipped(t_best, "teacher", args.scale)
    cap = distill_steps_cap(t_full["teacher.train.min_steps"], args.budget_seconds, costs,
                            spaces["distill"]["min_steps"]["step"])
    spaces["distill"]["min_steps"]["high"] = max(cap, spaces["distill"]["min_steps"]["low"])
    chosen_teacher = [f"teacher.model={Path(t_best['dir']) / 'teacher'}", "teacher.finetune=never"]
    distill = run_study("distill", proxy_ranges(spaces["distill"], args.scale), args.distill_trials, base,
                        [t_best["params_file"]], chosen_teacher)
    d_best = best_of(distill, "distill")
    return {"spaces": spaces, "summaries": {"teacher": teacher, "distill": distill},
            "best": {"teacher": t_best, "distill": d_best},
            "chosen": t_full | shipped(d_best, "distill", args.scale)}


def arguments():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher-trials", type=int, default=6)
    ap.add_argument("--distill-trials", type=int, default=10)
    ap.add_argument("--scale", type=float, default=0.25, help="proxy: trials train this share of the shipped "
                    "steps (and rows); the shipped min_steps is the best trial's / scale")
    ap.add_argument("--budget-seconds", type=float, default=720.0, help="the default run's wall-time aim (2 cores)")
    ap.add_argument("--runs-dir", default="runs")
    ap.add_argument("--no-write", action="store_true", help="print the YAML to paste instead of editing default.yaml")
    ap.add_argument("--smoke", action="store_true", help="check the plumbing: 2 + 2 trials at scale 0.05 on 200 "
                    "selection rows, results in RUNS_DIR/derive-defaults-smoke/, default.yaml untouched")
    args = ap.parse_args()
    if args.smoke:
        args.teacher_trials, args.distill_trials, args.scale = 2, 2, 0.05
    return args


def main() -> None:
    args = arguments()
    t0 = time.perf_counter()
    name = "derive-defaults-smoke" if args.smoke else "derive-defaults"
    base = [f"run.name={name}", f"run.runs_dir={args.runs_dir}"] + [f"{k}={json.dumps(v)}" for k, v in STUDY.items()]
    base += [f"{k}={json.dumps(v)}" for k, v in SMOKE.items()] if args.smoke else []
    cfg = load_config("default", base)
    if cfg.teacher.train.epochs is not None or cfg.distill.train.epochs is not None:
        sys.exit("default.yaml sets teacher/distill train.epochs, which would override min_steps; remove them")
    prov = provenance(config_digest(base))  # the code and config the studies start from
    costs = step_costs()
    done = studies(args, base, costs)
    chosen, select_rows = done["chosen"], load_task_rows(cfg)
    prov["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    est = estimated_seconds(chosen["teacher.train.min_steps"], chosen["distill.train.min_steps"], costs)
    result = {"provenance": prov, "objective": done["summaries"]["teacher"]["objective"],
              "machine": "this project's 2-core CPU machine, shared with other work (times are contended)",
              "select_rows": select_rows, "proxy_scale": args.scale, "spaces_shipped_units": done["spaces"],
              "study_settings": STUDY | ({"smoke": SMOKE} if args.smoke else {}), "studies": {}, "chosen": chosen,
              "wall_seconds": round(time.perf_counter() - t0, 1),
              "budget": {"budget_seconds": args.budget_seconds, "estimated_seconds": round(est, 1),
                         "model": f"{FIXED_SECONDS} s + teacher steps x {costs['teacher_step']} s + distill steps "
                                  f"x {round(costs['distill_step'], 4)} s", "costs": costs}}
    for stage in ("teacher", "distill"):
        summary, best = done["summaries"][stage], done["best"][stage]
        result["studies"][stage] = {"counts": summary["counts"], "best": best, "trials": trial_rows(summary),
                                    "best_ci_half_width": ci_half_width(best["select_accuracy"], select_rows)}
    write_results(Path(args.runs_dir) / name if args.smoke else RESULTS, result)
    cite = "derive_defaults (benchmarks/results/derive_defaults.json)"
    if args.smoke or args.no_write or not write_default_yaml(chosen, DEFAULT_YAML, cite):
        print("\n# paste into edgeport/configs/default.yaml (" + cite + "):")
        print("\n".join(f"{k}: {v!r}" for k, v in chosen.items()))
    else:
        print(f"wrote the chosen values into {DEFAULT_YAML}")
    print(f"total {time.perf_counter() - t0:.0f} s")


def load_task_rows(cfg) -> int:
    from edgeport.data import load_task

    return len(load_task(cfg.data, seed=cfg.run.seed).select)


if __name__ == "__main__":
    main()
