"""``report.md``: the collected report as Markdown tables. Every latency figure is shown with its kind."""

from __future__ import annotations

from ..stats import wilson
from ..verdict import Standing

KIND_NOTE = {
    "host": "measured on this machine in the artifact's own runtime (batch 1, the profile's seq len and threads); "
            "peak memory is the RSS high-water mark of a fresh process that loads and runs only the artifact",
    "device": "measured on a real device over adb with LiteRT's benchmark_model",
    "estimate": "computed, not measured: where the profile has a calibrated factor and the artifact's instructions "
                "were counted on its CPU model, instructions x the factor fitted to published device latencies, "
                "\"X ms ± Y%\" (Y: the fit's leave-one-out error); otherwise the roofline fallback: "
                "max(ops / (peak x efficiency), bytes / (bandwidth x efficiency)) from the model's counted MACs "
                "and bytes and the profile's published figures",
    "emulated": "guest instructions per inference counted under qemu-aarch64 on the profile's CPU model (the "
                "aarch64 kernels its runtime picks there); a count, not a time: no budget reads it",
}


def _fmt(value, digits: int = 2, scale: float = 1.0, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) or scale != 1.0:
        value = value * scale
        # values below 1 (accuracies, sub-ms latencies of tiny models) keep 4 significant digits, not 0.xx
        return f"{value:.{digits}f}{suffix}" if abs(value) >= 1 or value == 0 else f"{value:.4g}{suffix}"
    return f"{value}{suffix}"


def _pct(value) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.2f}" if value <= 1 else f"{value:.2f}"


def _pct_ci(value, rows) -> str:
    """An accuracy with its Wilson 95% interval over the rows it was measured on: ``87.96 [85.6, 90.0]``."""
    if value is None or not rows:
        return _pct(value)
    lo, hi = wilson(round(value * rows), rows)
    return f"{value * 100:.2f} [{lo * 100:.1f}, {hi * 100:.1f}]"


def markdown(report: dict) -> str:
    parts = [f"# edgeport report: {report['run']}\n",
             f"edgeport {report['edgeport_version']}, generated {report['generated_at']} from "
             f"`{report['run_dir']}/manifest.json`.\n",
             _ship(report), _stages(report), _models(report), _artifacts(report), _latency(report),
             emulated_section(report), _gates(report),
             arm_section(report), _plots(report), _explain(report), _kinds()]
    return "\n".join(p for p in parts if p)


SHIP_RULE = ("an artifact whose validate verdict is PASS for the bytes on disk (INCONCLUSIVE too only with "
             "--accept-inconclusive) and that meets every budget of the target (size, p90 latency, peak memory); among "
             "those, the target's preferred format first, then the lowest p90 latency of the strongest evidence the "
             "target has (device > host > estimate; never compared across kinds; the workload figure where measured, "
             "as the budgets use), then the smaller file")
SHIP_RULE_SHORT = ("validate verdict PASS and every budget met; then the target's format, the lowest p90 latency, the "
                   "smallest file; the full rule is in report.md")
LATENCY_KINDS = ("device", "host", "estimate")  # strongest evidence first


def shippable(report: dict, accept_inconclusive: bool | None = None) -> dict[str, Standing]:
    """The artifacts whose validate verdict stands for their bytes and is PASS (or INCONCLUSIVE, accepted).
    ``accept_inconclusive`` None: as the report was built (``--accept-inconclusive``)."""
    accept = report.get("accept_inconclusive", False) if accept_inconclusive is None else accept_inconclusive
    standings = {n: Standing.from_dict(d) for n, d in (report.get("verdicts") or {}).items()}
    return {n: s for n, s in standings.items() if s.shippable(accept)}


def ship_choices(report: dict, accept_inconclusive: bool | None = None) -> dict[str, dict | None]:
    """Per target in ``report["targets"]``, the artifact to ship by ``SHIP_RULE`` (None: no artifact qualifies).

    Each choice: {artifact, path, format, precision, accuracy, size_bytes, p90_ms, kind, preferred_format, state}."""
    arts = {a["name"]: a for a in report.get("artifacts") or []}
    judged = shippable(report, accept_inconclusive)
    choices: dict[str, dict | None] = {}
    for target in report.get("targets") or []:
        checks: dict[str, list[dict]] = {}
        for c in report.get("budget_checks") or []:
            if c.get("target") == target:
                checks.setdefault(c["artifact"], []).append(c)
        passing = [n for n in arts if n in judged and checks.get(n) and all(c["ok"] for c in checks[n])]
        rows = [r for r in report.get("latency") or [] if r.get("target") == target and r.get("p90_ms") is not None]
        kind = next((k for k in LATENCY_KINDS if any(r["kind"] == k and r["artifact"] in passing for r in rows)), None)
        # the workload figure (what the budgets judge) where the bench stage measured one, else the fixed-length one
        p90, inputs = {}, {}
        for r in sorted((r for r in rows if r["kind"] == kind), key=lambda r: r.get("input") == "workload"):
            p90[r["artifact"]], inputs[r["artifact"]] = r["p90_ms"], r.get("input") or "fixed"
        preferred = _preferred_format(report, target)
        ranked = sorted(passing, key=lambda n: (arts[n].get("format") != preferred, p90.get(n, float("inf")),
                                                arts[n].get("size_bytes") or float("inf"), n))
        if not ranked:
            choices[target] = None
            continue
        a = arts[ranked[0]]
        choices[target] = {"artifact": a["name"], "path": a.get("path"), "format": a.get("format"),
                           "precision": a.get("precision"), "accuracy": a.get("accuracy"),
                           "metric_value": a.get("metric_value"), "metric_title": _metric(report)["title"],
                           "size_bytes": a.get("size_bytes"), "p90_ms": p90.get(a["name"]),
                           "kind": kind if a["name"] in p90 else None, "input": inputs.get(a["name"]),
                           "preferred_format": preferred, "state": judged[a["name"]].shown}
    return choices


def _preferred_format(report: dict, target: str) -> str | None:
    """The target profile's format: as the run recorded it, else as the profile says now (None: profile gone)."""
    recorded = (report.get("profiles") or {}).get(target) or {}
    if recorded.get("format"):
        return recorded["format"]
    from ..errors import EdgeportError
    from ..targets import get_target

    try:
        return get_target(target).format
    except EdgeportError:
        return None


def ship_line(choice: dict | None) -> str:
    """One line per target, for report.md and the end-of-run summary."""
    if choice is None:
        return ("none: no artifact has a PASS verdict and meets every budget (or none was benchmarked for this "
                "target)")
    lat = (f"p90 {_fmt(choice['p90_ms'])} ms ({choice['kind']}, {choice.get('input') or 'fixed'})"
           if choice.get("p90_ms") is not None else "no latency")
    state = f"validate {choice.get('state') or '-'}" + (", accepted" if choice.get("state") == "INCONCLUSIVE" else "")
    if choice.get("accuracy") is not None:
        accuracy = f"accuracy {_pct(choice['accuracy'])}%"
    elif choice.get("metric_value") is not None:  # a task without accuracy (entity F1, Spearman): its metric
        accuracy = f"{choice.get('metric_title')} {_pct(choice['metric_value'])}"
    else:
        accuracy = "no accuracy (parity only)"
    return (f"{choice['path'] or choice['artifact']} ({choice['format']} {choice['precision']}, {state}, {accuracy}, "
            f"{lat}, {_fmt(choice['size_bytes'], 2, 1e-6)} MB)")


def _ship(report: dict) -> str:
    if not report.get("targets") or not report.get("artifacts"):
        return ""
    lines = ["## What to ship\n", f"Per target: {SHIP_RULE}.\n", "| target | artifact to ship |", "|---|---|"]
    lines += [f"| {t} | {ship_line(c)} |" for t, c in ship_choices(report).items()]
    held = [n for n, d in (report.get("verdicts") or {}).items()
            if Standing.from_dict(d).shown == "INCONCLUSIVE" and not report.get("accept_inconclusive")]
    if held:
        lines.append(f"\nNot considered, validate INCONCLUSIVE: {', '.join(held)} (`--accept-inconclusive` on "
                     f"`edgeport run` or `edgeport report` considers them; read their gates below first).")
    return "\n".join(lines) + "\n"


def _stages(report: dict) -> str:
    lines = ["## Stages\n", "| stage | status | seconds | metrics |", "|---|---|---|---|"]
    for s in report["stages"]:
        shown = ", ".join(f"{k}={_fmt(v, 4)}" for k, v in list(s["metrics"].items())[:8]) or "-"
        lines.append(f"| {s['stage']} | {s['status']} | {_fmt(s['seconds'], 1)} | {shown} |")
    return "\n".join(lines) + "\n"


def _metric(report: dict) -> dict:
    """The run's task metric (``data.metric``); reports from before it existed are accuracy runs."""
    return report.get("metric") or {"name": "accuracy", "title": "accuracy"}


PARITY_NOTE = ("**Parity only**: the inputs are {rows} unlabelled texts (`{texts}`, `data.texts`), so no accuracy "
               "is measured anywhere; each artifact is judged only by its parity with the fp32 torch model it was made "
               "from (label agreement, logit differences), one text per call as it ships.\n")


def _split_note(report: dict) -> str:
    split = report.get("eval_split") or {}
    if report.get("parity_only"):
        return PARITY_NOTE.format(**report["parity_only"])
    if not split:
        return ""
    metric = _metric(report)
    what = "Accuracy" if metric["name"] == "accuracy" else f"{metric['title']} (the task metric) and accuracy"
    return (f"{what} {'is' if metric['name'] == 'accuracy' else 'are'} on the evaluation split `{split['name']}` "
            f"({split['rows']} rows; one row = {100 / split['rows']:.2f} points of accuracy), measured once per "
            f"model; nothing was chosen on it.\n")


def _models(report: dict) -> str:
    if not report.get("models"):
        return ""
    if report.get("parity_only"):
        return ("## Models\n\nThe model was taken as it is (not trained here) and measured on nothing: the inputs "
                "are unlabelled (parity only).\n")
    metric = _metric(report)
    name, title = metric["name"], metric["title"]
    extra = name != "accuracy"
    rows = metric.get("select_rows")
    how = (f"chosen (checkpoint, early stop) by {title} on the selection split" + (f" ({rows} rows)" if rows else "")
           + ", held out from the training rows, and then measured once on the evaluation split"
           if any(m.get("trained_here", True) for m in report["models"]) else
           "taken as it is (not trained here: teacher.finetune never, or a classification head for these labels "
           "already) and measured on the selection split (which may hold rows it was trained on elsewhere) and once "
           "on the evaluation split; nothing was chosen")
    chosen = (f"Task metric (`data.metric: {name}`): **{title}**"
              + (f" (positive class: '{metric['positive_label']}')" if metric.get("positive_label") else "")
              + f". Each model was {how}.\n")
    head = "| model | params | train rows | "
    unit = "x100" if name == "mcc" else "%"  # MCC is a correlation in [-1, 1], shown x100 like the others
    head += (f"selection {title} {unit} (rows) | eval {title} {unit} | selection accuracy % [95% CI] | eval accuracy % [95% CI] (split, rows) | "
             if extra else "selection accuracy % [95% CI] (rows) | eval accuracy % [95% CI] (split, rows) | ")
    lines = ["## Models\n", chosen, head + "precision |", "|---" * (8 if extra else 6) + "|"]
    for m in report["models"]:
        evaluated = f"{_pct_ci(m['eval_accuracy'], m['eval_rows'])} ({m.get('eval_split') or '-'}, {_fmt(m['eval_rows'])})"
        if extra:
            cells = (f"{_pct(m.get('select_value'))} ({_fmt(m['select_rows'])}) | {_pct(m.get('eval_value'))} | "
                     f"{_pct_ci(m['select_accuracy'], m['select_rows'])} | {evaluated}")
        else:
            cells = f"{_pct_ci(m['select_accuracy'], m['select_rows'])} ({_fmt(m['select_rows'])}) | {evaluated}"
        lines.append(f"| {m['stage']} | {_fmt(m['params'])} | {_fmt(m['train_rows'])} | {cells} | "
                     f"{m.get('precision') or '-'} |")
    return "\n".join(lines) + "\n"


def _artifacts(report: dict) -> str:
    if not report["artifacts"]:
        return "## Artifacts\n\nNo artifacts recorded (export/quantize/validate have not run).\n"
    metric = _metric(report)
    extra = metric["name"] != "accuracy"
    host = {r["artifact"]: r for r in _pivot(report) if r["target"] == "host" and r["kind"] == "host"}
    rows = (report.get("eval_split") or {}).get("rows")
    lines = ["## Artifacts\n", _split_note(report), "| artifact | format | precision | size MB | "
             + (f"{metric['title']} {'x100' if metric['name'] == 'mcc' else '%'} | " if extra else "")
             + "accuracy % [95% CI] | agreement % | max abs dlogit "
             "| validate | host p50 ms, fixed length | host p50 ms, workload |", "|---" * (11 if extra else 10) + "|"]
    for a in report["artifacts"]:
        h = host.get(a["name"]) or {}
        fixed, real = h.get("fixed") or {}, h.get("workload") or {}
        value = f"{_pct(a.get('metric_value'))} | " if extra else ""
        lines.append(f"| {a['name']} | {a['format'] or '-'} | {a['precision'] or '-'} | "
                     f"{_fmt(a['size_bytes'], 2, 1e-6)} | {value}{_pct_ci(a['accuracy'], rows)} | {_pct(a['agreement'])} | "
                     f"{_fmt(a['max_abs_diff'], 4)} | {verdict_state(report, a['name'])} | {_fmt(fixed.get('p50_ms'))} | "
                     f"{_fmt(real.get('p50_ms'))} |")
    return "\n".join(lines) + "\n"


def _pivot(report: dict) -> list[dict]:
    """One entry per (target, artifact, kind) with its ``fixed`` and ``workload`` figures side by side."""
    out: dict[tuple, dict] = {}
    for r in report["latency"]:
        key = (r["target"] or "", r["artifact"], r["kind"])
        out.setdefault(key, {"target": r["target"], "artifact": r["artifact"], "kind": r["kind"]})
        out[key][r.get("input") or "fixed"] = r
    return [out[k] for k in sorted(out)]


def _latency(report: dict) -> str:
    if not report["latency"]:
        return "## Latency per target\n\nNo latency recorded (the bench stage is off: set `bench.targets`).\n"
    split = report.get("workload_split") or "the eval split"
    lines = ["## Latency per target\n", "Every figure is labelled with its kind: **host** (measured here), **device** "
             "or **estimate** (see the end of this report). **Fixed**: one full-length row per call (the worst case, "
             f"seq len below). **Workload**: the rows of {split}, one per call at the length the runtime computes "
             "(true length; the smallest bucket for TFLite), mean/p50/p90 over rows; budgets are judged on it.\n",
             "| target | artifact | kind | fixed p50 ms | fixed p90 ms | seq len | workload mean ms | workload p50 ms | "
             "workload p90 ms | threads | note |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in _pivot(report):
        f, w = e.get("fixed") or {}, e.get("workload") or {}
        any_ = f or w
        note = any_.get("model") == "calibrated" and f"calibrated: ± {any_.get('error_pct')}% (leave-one-out)" or \
            any_.get("bound") and f"roofline (fallback): {any_['bound']}-bound, efficiency {any_.get('efficiency')}" or \
            (f"p90 from {any_['p90_from']}" if any_.get("p90_from") else
             f"{f.get('runs', '-')} runs" + (f"; {w['rows']} rows x {w.get('passes', 1)}" if w.get("rows") else ""))
        pm = (lambda fig: f" ± {fig['error_pct']:g}%" if fig.get("model") == "calibrated" else "")  # noqa: E731
        lines.append(f"| {e['target']} | {e['artifact']} | {e['kind']} | {_fmt(f.get('p50_ms'))}{pm(f)} | "
                     f"{_fmt(f.get('p90_ms'))} | {f.get('seq_len', '-')} | {_fmt(w.get('mean_ms'))} | "
                     f"{_fmt(w.get('p50_ms'))}{pm(w)} | {_fmt(w.get('p90_ms'))} | {any_.get('threads', '-')} | {note} |")
    return "\n".join(lines) + "\n"


def emulated_section(report: dict, artifact: str | None = None) -> str:
    """The bench's instruction counts (kind ``emulated``), apart from the latency table: a count is no time.
    ``artifact``: only its rows (a model card)."""
    rows = [r for r in report.get("emulated") or [] if r.get("emulated")
            and artifact in (None, r.get("artifact_name"))]
    if not rows:
        return ""
    from ..bench.emulated import EmulatedPlan, markdown as emulated_markdown

    meta = report.get("emulated_plan") or {}
    plan = EmulatedPlan(True, meta.get("calls", 0), meta.get("rows", 0), meta.get("sample_seed", 0),
                        meta.get("emulator"), notes=tuple(meta.get("notes") or ()))
    return "## Instructions per inference (emulated)\n" + emulated_markdown(rows, plan)


def verdict_state(report: dict, name: str) -> str:
    """The artifact's validate state as reports show it (``Standing.shown``); '-' when validate never saw it."""
    d = (report.get("verdicts") or {}).get(name)
    return Standing.from_dict(d).shown if d else "-"


def overall_state(report: dict) -> str:
    """FAIL when any gate failed (validate or budget), else INCONCLUSIVE when a verdict is, else PASS."""
    if report["gate_failures"]:
        return "FAIL"
    shown = {Standing.from_dict(d).shown for d in (report.get("verdicts") or {}).values()}
    return "INCONCLUSIVE" if "INCONCLUSIVE" in shown else "PASS"


def _verdicts(report: dict) -> list[str]:
    """Validate's verdict per artifact: its state and every gate that did not pass, or why no verdict stands."""
    rows = []
    for name, d in (report.get("verdicts") or {}).items():
        standing = Standing.from_dict(d)
        gates = [g for g in (standing.verdict.gates if standing.verdict else ()) if g.state.value != "pass"]
        why = "; ".join(f"{g.state.value.upper()} {g.name}: {g.message}" for g in gates)
        rows.append(f"| {name} | {standing.shown} | {standing.problem or why or 'every gate passed'} |")
    if not rows:
        return []
    return ["", "Validate verdicts (the eval split, every artifact one row per call as it ships; "
            "INCONCLUSIVE: a limit missed on too little evidence to fail, not shipped without "
            "`--accept-inconclusive`):", "", "| artifact | validate | gates not passed |", "|---|---|---|", *rows]


def _gates(report: dict) -> str:
    lines = ["## Gates\n"]
    failed = report["gate_failures"]
    lines.append(f"**{overall_state(report)}**: {len(failed)} gate failure(s); budget policy "
                 f"`{report['budget_gate']}`.\n")
    lines += [f"- FAIL: {f}" for f in failed]
    lines += _verdicts(report)
    if report["gates"]:
        lines += ["", "| result | target | artifact | metric | value | limit | evidence | gated |", "|---|---|---|---|---|---|---|---|"]
        for g in sorted(report["gates"], key=lambda g: (g["ok"], g["target"], g["artifact"])):
            lines.append(f"| {'pass' if g['ok'] else 'FAIL'} | {g['target']} | {g['artifact']} | {g['metric']} | "
                         f"{_fmt(g['value'])} | {_fmt(g['limit'])} | {g['kind']}{', ' + g['input'] if g.get('input') else ''} | "
                         f"{'yes' if g['gated'] else 'no'} |")
        lines.append("\n`gated`: the budget applies to artifacts in the target's preferred format; the others are shown "
                     "for information.")
    return "\n".join(lines) + "\n"


def arm_section(report: dict, artifact: str | None = None) -> str:
    """Validate's ARM parity runs (emulated device kernels) and what it did not cover; its gates are in the
    verdicts above. Nothing when validate recorded none (a run from before it, or validate off). ``artifact``: only
    its runs, nothing when it had none (a model card)."""
    arm = report.get("arm_parity")
    if not arm:
        return ""
    from ..validation_arm import markdown as arm_markdown

    if artifact is not None:
        mine = {k: [r for r in arm.get(k) or [] if r.get("artifact") == artifact] for k in ("runs", "not_covered")}
        if not any(mine.values()):
            return ""
        arm = arm | mine | {"notes": []}

    return arm_markdown(arm).lstrip("\n")


def _plots(report: dict) -> str:
    if not report.get("plots"):
        return ""
    return "## Plots\n\n" + "\n\n".join(f"![{p}]({p})" for p in report["plots"]) + "\n"


def _explain(report: dict) -> str:
    """The explain stage's agreement with the teacher (when it ran): the table, the rows to read, the page."""
    ex = report.get("explain")
    if not ex:
        return ""
    from ..explain.tables import agreement_markdown, divergent_markdown

    links = ex.get("links") or {}
    page = f"[explain.html]({links['explain.html']})" if "explain.html" in links else "`explain/explain.html`"
    parts = ["## Attributions: does the student decide for the teacher's reasons?\n",
             f"{ex.get('rows')} rows of `{ex.get('eval_split')}`: every model explained by word ablation through its "
             f"runtime, the torch models also by Integrated Gradients ({ex.get('ig_steps') or '-'} steps); each "
             f"compared with the teacher by the same method (ρ: Spearman of word scores; top-{ex.get('top_k')}: "
             f"share of the words with the largest |score| both pick, same sign; top words: + towards the class, "
             f"− away). Tokens shaded per model, side by side: {page}.\n",
             agreement_markdown(ex.get("agreement") or [], ex.get("top_k") or 3), "",
             divergent_markdown(ex.get("divergent") or [])]
    if "agreement.png" in links:
        parts += ["", f"![agreement with the teacher per model]({links['agreement.png']})"]
    return "\n".join(parts) + "\n"


def _kinds() -> str:
    return "## What the numbers are\n\n" + "\n".join(f"- **{k}**: {v}." for k, v in KIND_NOTE.items()) + "\n"
