"""What a study leaves in ``RUN_DIR/tune/<study>/``: ``summary.json`` / ``summary.md`` (best parameters and
value, every trial: complete / pruned / failed), ``history.png`` and ``importances.png`` (Optuna's matplotlib
visualisations; importances by Optuna's default PED-ANOVA evaluator, NumPy only), ``learning_curves.png`` (each
trial's selection evaluations, pruned ones ending early), ``best_params.yaml`` (a params file for
``edgeport run CONFIG --params``); the student search adds ``pareto.md``/``pareto.json``/``pareto.png``.
Every worker rewrites them from the storage, so they describe the whole study, not one process's share."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from .params import write_params
from .study import counts, shown_url


def _metric_key(ctx) -> str:
    return "select_accuracy" if ctx.metric == "accuracy" else f"select_{ctx.metric}"


def _fmt(v, digits: int = 4) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.3g}" if (abs(v) < 1e-3 and v != 0) else f"{v:.{digits}f}".rstrip("0").rstrip(".") or "0"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1] if key.count(".") >= 1 else key


# ------------------------------------------------------------------------------------------ progress


def progress_line(ctx, study, trial) -> str:
    c = counts(study)
    head = f"tune: trial {min(c['finished'], ctx.n_trials)}/{ctx.n_trials} (#{trial.number}) {trial.state.name.lower()}"
    params = ", ".join(f"{_short(k)}={_fmt(v)}" for k, v in trial.params.items())
    tail = f" | pruned {c['pruned']}, failed {c['failed']}" + (f", interrupted {c['interrupted']}" if c["interrupted"] else "")
    if ctx.multi:
        vals = trial.values or []
        now = (f": {_metric_key(ctx)} {vals[0]:.4f}, {trial.user_attrs.get('latency_kind')} p90 {vals[1]:.2f} ms, "
               f"{vals[2]:.2f} MB, within budgets: {_feasible(trial)}" if vals else "")
        chosen = choose(ctx, study)
        best = (f" | chosen so far #{chosen.number} ({chosen.values[0]:.4f})" if chosen else " | none within budgets yet")
        return head + now + best + tail + f" | {params}"
    now = f": {_metric_key(ctx)} {trial.value:.4f}" if trial.value is not None else ""
    if trial.state.name == "PRUNED" and (at := trial.user_attrs.get("pruned_at")):
        now = f" at evaluation {at['eval']}/{ctx.cfg.tune.evals} (step {at['step']}/{at['steps']}, best so far {at['best']:.4f})"
    if trial.state.name == "FAIL":
        now = f": {trial.user_attrs.get('error', '?')[:200]}"
    try:
        b = study.best_trial
        best = f" | best {b.value:.4f} (#{b.number})"
    except ValueError:
        best = " | no complete trial yet"
    return head + now + best + tail + f" | {params}"


# ------------------------------------------------------------------------------------------ student choice


def _feasible(trial) -> bool:
    return all(v <= 0 for v in trial.constraints.values())


def _complete(study):
    return [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.values]


def choose(ctx, study):
    """The chosen student: the best selection metric among complete trials inside every budget (ties: lower
    latency, then smaller)."""
    ok = [t for t in _complete(study) if _feasible(t)]
    return max(ok, key=lambda t: (t.values[0], -t.values[1], -t.values[2])) if ok else None


def pareto_front(trials) -> list:
    """Non-dominated trials: metric up, latency and size down."""
    def dominates(a, b):
        x = (-a.values[0], a.values[1], a.values[2])
        y = (-b.values[0], b.values[1], b.values[2])
        return all(p <= q for p, q in zip(x, y)) and any(p < q for p, q in zip(x, y))

    return [t for t in trials if not any(dominates(o, t) for o in trials if o is not t)]


# ------------------------------------------------------------------------------------------ writing


def _trial_row(t) -> dict:
    row = {"number": t.number, "state": t.state.name.lower(), "params": dict(t.params),
           "seconds": round(t.duration.total_seconds(), 1) if t.duration else None}
    if t.values is not None:
        row["values"] = list(t.values)
    for k in ("pruned_at", "steps", "best_step", "select_accuracy", "derived", "eval_every", "train_seconds",
              "error", "surplus", "interrupted", "overrides",
              "latency_kind", "budgets", "artifact", "quantize_mode", "eval_measured", "gate_failures", "dir"):
        if k in t.user_attrs:
            row[k] = t.user_attrs[k]
    if t.constraints:
        row["constraints"] = dict(t.constraints)
        row["within_budgets"] = _feasible(t)
    retried = t.system_attrs.get("retry_history")
    if retried:
        row["reruns_trial"] = retried[0]
    row["intermediate"] = {int(k): v for k, v in sorted(t.intermediate_values.items())}
    return row


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # workers sharing a run dir write side by side
    tmp.write_text(text)
    tmp.replace(path)


def write_outputs(ctx, study, url: str, plots: bool) -> dict:
    out = ctx.out_dir
    out.mkdir(parents=True, exist_ok=True)
    c = counts(study)
    trials = [t for t in study.get_trials(deepcopy=False)]
    summary = {"study": study.study_name, "storage": shown_url(url), "stage": ctx.stage,
               "metric": ctx.metric, "objective": _metric_key(ctx) + " (selection split; never the eval split)",
               "trials_wanted": ctx.n_trials, "counts": c, "sampler": ctx.cfg.tune.sampler,
               "pruner": None if ctx.multi else ctx.cfg.tune.pruner, "evals_per_trial": ctx.cfg.tune.evals,
               "trial_overrides": dict(ctx.cfg.tune.overrides), "trials_dir": str(out / "trials"),
               "trials": [_trial_row(t) for t in trials]}
    notes: list[str] = []
    if ctx.multi:
        _student_summary(ctx, study, summary, notes)
    else:
        _training_summary(ctx, study, summary)
    if plots:
        notes += _plots(ctx, study, out)
    summary["notes"] = notes
    _atomic_write(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    _atomic_write(out / "summary.md", _summary_md(ctx, summary))
    return summary


def _training_summary(ctx, study, summary: dict) -> None:
    try:
        best = study.best_trial
    except ValueError:
        summary["best"] = None
        return
    eval_every_key = f"{ctx.stage}.train.eval_every"
    params = dict(best.params) | best.user_attrs.get("derived", {})
    every = best.user_attrs.get("eval_every")
    if every is None and best.user_attrs.get("planned_steps"):  # trials recorded before eval_every was
        every = max(1, -(-best.user_attrs["planned_steps"] // ctx.cfg.tune.evals))
    if every is not None:
        params[eval_every_key] = every
    summary["best"] = {"number": best.number, "value": best.value, "params": dict(best.params),
                       "select_accuracy": best.user_attrs.get("select_accuracy"),
                       "steps": best.user_attrs.get("steps"), "best_step": best.user_attrs.get("best_step"),
                       "eval_measured_not_used_to_choose": best.user_attrs.get("eval_measured"),
                       "params_file": str(ctx.out_dir / "best_params.yaml")}
    write_params(ctx.out_dir / "best_params.yaml", params,
                 f"edgeport tune: study '{study.study_name}', best of {summary['counts']['finished']} finished "
                 f"trials: #{best.number},\nselection {ctx.metric} {best.value:.4f} (the selection split; the "
                 f"evaluation split was not used to choose).\n{eval_every_key}: the trial's evaluation interval "
                 f"(kept so the run reproduces the trial's checkpoint choice).\n"
                 + (f"{', '.join(best.user_attrs['derived'])}: min_steps x batch_size, set with it.\n"
                    if best.user_attrs.get("derived") else "")
                 + (f"Trials also ran with tune.overrides {json.dumps(dict(ctx.cfg.tune.overrides))}.\n"
                    if ctx.cfg.tune.overrides else "")
                 + "Use: edgeport run CONFIG --params THIS_FILE")


def _student_summary(ctx, study, summary: dict, notes: list[str]) -> None:
    t = ctx.target
    complete = _complete(study)
    feasible_front = pareto_front([x for x in complete if _feasible(x)])
    front = pareto_front(complete)
    chosen = choose(ctx, study)
    rows = []
    for x in sorted(complete, key=lambda x: (-x.values[0], x.values[1])):
        ov = x.user_attrs.get("overrides", {})
        rows.append({"number": x.number, "layers": ov.get("distill.student.layers"),
                     "heads_fraction": ov.get("prune.heads_fraction"), "ffn_fraction": ov.get("prune.ffn_fraction"),
                     "vocab": ov.get("prune.vocab"), "artifact": x.user_attrs.get("artifact"),
                     "quantize_mode": x.user_attrs.get("quantize_mode"),
                     _metric_key(ctx): x.values[0], "latency_p90_ms": x.values[1],
                     "latency_kind": x.user_attrs.get("latency_kind"), "size_mb": x.values[2],
                     "memory_mb": next((b["value"] for b in x.user_attrs.get("budgets", [])
                                        if b["metric"] == "peak_memory_mb"), None),
                     "within_budgets": _feasible(x), "pareto": x in front, "pareto_within_budgets": x in feasible_front,
                     "chosen": chosen is not None and x.number == chosen.number})
    summary["target"] = {"name": t.name, "kind": t.kind, "format": t.format, "budgets": t.budgets.model_dump()}
    summary["pareto"] = rows
    if chosen is None:
        summary["chosen"] = None
        notes.append(f"no complete trial fits every {t.name} budget; widen the search (fewer layers, more pruning)")
        return
    params = chosen.user_attrs["overrides"]
    summary["chosen"] = {"number": chosen.number, "overrides": params, "artifact": chosen.user_attrs.get("artifact"),
                         "quantize_mode": chosen.user_attrs.get("quantize_mode"), _metric_key(ctx): chosen.values[0],
                         "latency_p90_ms": chosen.values[1], "latency_kind": chosen.user_attrs.get("latency_kind"),
                         "size_mb": chosen.values[2], "budgets": chosen.user_attrs.get("budgets"),
                         "eval_measured_not_used_to_choose": chosen.user_attrs.get("eval_measured"),
                         "params_file": str(ctx.out_dir / "best_params.yaml")}
    write_params(ctx.out_dir / "best_params.yaml", params,
                 f"edgeport tune: student for {t.name} ({t.kind}), study '{study.study_name}': trial #{chosen.number},\n"
                 f"the best selection {ctx.metric} ({chosen.values[0]:.4f}) among trials within every budget "
                 f"({chosen.user_attrs.get('artifact')}: latency p90 {chosen.values[1]:.2f} ms "
                 f"{chosen.user_attrs.get('latency_kind')}, {chosen.values[2]:.2f} MB).\n"
                 + (f"Trials ran with tune.overrides {json.dumps(dict(ctx.cfg.tune.overrides))}.\n"
                    if ctx.cfg.tune.overrides else "")
                 + "Use: edgeport run CONFIG --params THIS_FILE")
    _atomic_write(ctx.out_dir / "pareto.json", json.dumps(rows, indent=2) + "\n")
    _atomic_write(ctx.out_dir / "pareto.md", _pareto_md(ctx, rows))


def _pareto_md(ctx, rows: list[dict]) -> str:
    t, key = ctx.target, _metric_key(ctx)
    b = t.budgets
    lines = [f"# Student search for {t.name}",
             "",
             f"Objectives: {key} (selection split) up; latency p90 ({rows[0]['latency_kind'] if rows else '?'}, "
             f"{t.format}) and size down. Budgets: latency p90 <= {b.latency_p90_ms} ms, size <= "
             f"{b.model_size_mb} MB, peak memory <= {b.peak_memory_mb} MB. Pareto = not dominated on the three "
             f"objectives; chosen = best {key} within every budget.",
             "",
             f"| trial | layers | heads pruned | FFN pruned | vocab pruned | artifact | {key} | p90 ms | size MB "
             f"| memory MB | within budgets | Pareto | chosen |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['number']} | {_fmt(r['layers'])} | {_fmt(r['heads_fraction'])} | {_fmt(r['ffn_fraction'])} "
                     f"| {r['vocab']} | {r['artifact']} | {r[key]:.4f} | {r['latency_p90_ms']:.2f} | "
                     f"{r['size_mb']:.2f} | {_fmt(r['memory_mb'])} | {'yes' if r['within_budgets'] else 'no'} | "
                     f"{'yes' if r['pareto'] else ''} | {'**yes**' if r['chosen'] else ''} |")
    return "\n".join(lines) + "\n"


def _summary_md(ctx, s: dict) -> str:
    c = s["counts"]
    lines = [f"# edgeport tune: {s['study']}", "",
             f"Stage **{s['stage']}**; objective {s['objective']}; storage `{s['storage']}`; sampler {s['sampler']}"
             + (f", pruner {s['pruner']} at {s['evals_per_trial']} selection evaluations per trial" if s["pruner"] else "")
             + ".", "",
             f"Trials: {c['finished']} finished of {s['trials_wanted']} wanted: **{c['complete']} complete, "
             f"{c['pruned']} pruned, {c['failed']} failed**"
             + (f", {c['interrupted']} interrupted (process killed; re-run with the same parameters)"
                if c["interrupted"] else "")
             + (f", {c['surplus']} surplus (not run)" if c["surplus"] else "") + ".", ""]
    if s.get("trial_overrides"):
        lines += [f"Every trial ran with `tune.overrides` {json.dumps(s['trial_overrides'])}.", ""]
    if not ctx.multi:
        best = s.get("best")
        if best:
            lines += ["## Best", "", f"Trial #{best['number']}: selection {ctx.metric} **{best['value']:.4f}**, "
                      + ", ".join(f"`{k}` = {_fmt(v)}" for k, v in best["params"].items())
                      + f" -> `{Path(best['params_file']).name}`.", ""]
            if best.get("eval_measured_not_used_to_choose"):
                lines += ["Measured on the evaluation split once the trial was done (not used to choose): "
                          + ", ".join(f"{k} {_fmt(v)}" for k, v in best["eval_measured_not_used_to_choose"].items()),
                          ""]
        keys = sorted({k for t in s["trials"] for k in t["params"]})
        reruns = {t["reruns_trial"]: t["number"] for t in s["trials"] if t.get("reruns_trial") is not None}
        lines += ["## Trials", "", "| trial | state | " + " | ".join(_short(k) for k in keys)
                  + f" | selection {ctx.metric} | steps | note |",
                  "|---|---|" + "---|" * len(keys) + "---|---|---|"]
        for t in s["trials"]:
            note = ""
            if t.get("pruned_at"):
                p = t["pruned_at"]
                note = f"pruned at eval {p['eval']} (step {p['step']}/{p['steps']}), best so far {p['best']:.4f}"
            elif t.get("error"):
                note = t["error"][:120].replace("|", "/").replace("\n", " ")
            elif t.get("surplus"):
                note = "surplus (other workers finished the study)"
            elif t["state"] == "fail" and t["number"] in reruns:
                note = f"its process died mid-trial (stale heartbeat); re-run as trial {reruns[t['number']]}"
            if t.get("reruns_trial") is not None:
                note = (note + "; " if note else "") + f"re-run of killed trial #{t['reruns_trial']}"
            value = t.get("values", [None])[0]
            steps = t.get("steps") or (t.get("pruned_at") or {}).get("step", "")
            lines.append(f"| {t['number']} | {t['state']} | " + " | ".join(_fmt(t['params'].get(k)) for k in keys)
                         + f" | {'' if value is None else f'{value:.4f}'} | {steps} | {note} |")
    else:
        ch = s.get("chosen")
        lines += ["## Chosen student", ""]
        if ch:
            lines += [f"Trial #{ch['number']} ({ch['artifact']}): selection {ctx.metric} "
                      f"**{ch[_metric_key(ctx)]:.4f}**, latency p90 {ch['latency_p90_ms']:.2f} ms "
                      f"({ch['latency_kind']}), {ch['size_mb']:.2f} MB; "
                      + ", ".join(f"`{k}` = {_fmt(v)}" for k, v in ch["overrides"].items())
                      + " -> `best_params.yaml`. The Pareto table: `pareto.md`.", ""]
        else:
            lines += ["None: no complete trial fits every budget.", ""]
    if s.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in s["notes"]]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ plots


def _save_fig(fig, path: Path, **kw) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fig.savefig(tmp, format="png", dpi=110, **kw)
    tmp.replace(path)


def _plots(ctx, study, out: Path) -> list[str]:
    """PNG plots; a plot that cannot be drawn yet (too few trials) becomes a note, never an error."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import optuna.visualization.matplotlib as vis
        from optuna.exceptions import ExperimentalWarning
    except ImportError as exc:
        return [f"no plots: {exc} (pip install 'edgeport[report]')"]
    notes = []
    target = (lambda t: t.values[0]) if ctx.multi else None
    name = f"selection {ctx.metric}"
    jobs = [("history.png", lambda: vis.plot_optimization_history(study, target=target, target_name=name)),
            ("importances.png", lambda: vis.plot_param_importances(study, target=target, target_name=name))]
    if not ctx.multi:
        jobs.append(("learning_curves.png", lambda: vis.plot_intermediate_values(study)))
    for fname, draw in jobs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                warnings.simplefilter("ignore", UserWarning)
                ax = draw()
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            if fname == "learning_curves.png":
                (ax.flat[0] if hasattr(ax, "flat") else ax).set_xlabel(
                    f"selection evaluation (1..{ctx.cfg.tune.evals}, evenly over each trial's training)")
                (ax.flat[0] if hasattr(ax, "flat") else ax).set_ylabel(f"best selection {ctx.metric} so far")
            _save_fig(fig, out / fname, bbox_inches="tight")
            plt.close(fig)
        except Exception as exc:  # noqa: BLE001 - e.g. too few complete trials for importances
            notes.append(f"{fname} not drawn: {type(exc).__name__}: {str(exc)[:200]}")
            plt.close("all")
    if ctx.multi:
        try:
            _pareto_png(ctx, study, out / "pareto.png", plt)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"pareto.png not drawn: {type(exc).__name__}: {exc}")
            plt.close("all")
    return notes


def _pareto_png(ctx, study, path: Path, plt) -> None:
    complete = _complete(study)
    if not complete:
        raise ValueError("no complete trial")
    t, b = ctx.target, ctx.target.budgets
    front = pareto_front(complete)
    chosen = choose(ctx, study)
    kind = complete[0].user_attrs.get("latency_kind", "?")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, idx, label, limit in ((axes[0], 1, f"latency p90, ms ({kind}, {t.name})", b.latency_p90_ms),
                                  (axes[1], 2, f"{t.format} model size, MB", b.model_size_mb)):
        for x in complete:
            ok = _feasible(x)
            ax.scatter(x.values[idx], x.values[0], marker="o" if ok else "x", s=40,
                       color="tab:blue" if ok else "tab:red", zorder=3)
            ax.annotate(str(x.number), (x.values[idx], x.values[0]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        pts = sorted((x.values[idx], x.values[0]) for x in front)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", mfc="none", mec="black", ms=11, zorder=4,
                label="Pareto front (3 objectives)")
        if chosen is not None:
            ax.scatter(chosen.values[idx], chosen.values[0], marker="*", s=260, color="gold", edgecolor="black",
                       zorder=5, label=f"chosen: #{chosen.number}")
        ax.axvline(limit, color="grey", ls="--", lw=1, label=f"budget {limit:g}")
        ax.set_xlabel(label)
        ax.set_ylabel(f"selection {ctx.metric}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Student search for {t.name}: blue = within every budget, red x = over one")
    fig.tight_layout()
    _save_fig(fig, path)
    plt.close(fig)
