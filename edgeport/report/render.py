"""``report.md``: the collected report as Markdown tables. Every latency figure is shown with its kind."""

from __future__ import annotations

KIND_NOTE = {
    "host": "measured on this machine in the artifact's own runtime (batch 1, the profile's seq len and threads); "
            "peak memory is the RSS high-water mark of a fresh process that loads and runs only the artifact",
    "device": "measured on a real device over adb with LiteRT's benchmark_model",
    "estimate": "roofline estimate: max(ops / (peak x efficiency), bytes / (bandwidth x efficiency)) "
                "from the model's counted MACs and bytes and the profile's published figures; not a measurement",
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


def markdown(report: dict) -> str:
    parts = [f"# edgeport report: {report['run']}\n",
             f"edgeport {report['edgeport_version']}, generated {report['generated_at']} from "
             f"`{report['run_dir']}/manifest.json`.\n",
             _stages(report), _models(report), _artifacts(report), _latency(report), _gates(report), _plots(report),
             _explain(report), _kinds()]
    return "\n".join(p for p in parts if p)


def _stages(report: dict) -> str:
    lines = ["## Stages\n", "| stage | status | seconds | metrics |", "|---|---|---|---|"]
    for s in report["stages"]:
        shown = ", ".join(f"{k}={_fmt(v, 4)}" for k, v in list(s["metrics"].items())[:8]) or "-"
        lines.append(f"| {s['stage']} | {s['status']} | {_fmt(s['seconds'], 1)} | {shown} |")
    return "\n".join(lines) + "\n"


def _metric(report: dict) -> dict:
    """The run's task metric (``data.metric``); reports from before it existed are accuracy runs."""
    return report.get("metric") or {"name": "accuracy", "title": "accuracy"}


def _split_note(report: dict) -> str:
    split = report.get("eval_split") or {}
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
    metric = _metric(report)
    name, title = metric["name"], metric["title"]
    extra = name != "accuracy"
    rows = metric.get("select_rows")
    chosen = (f"Task metric (`data.metric: {name}`): **{title}**"
              + (f" (positive class: '{metric['positive_label']}')" if metric.get("positive_label") else "")
              + f". Each model was chosen (checkpoint, early stop) by {title} on the selection split"
              + (f" ({rows} rows)" if rows else "")
              + ", held out from the training rows, and then measured once on the evaluation split.\n")
    head = "| model | params | train rows | "
    unit = "x100" if name == "mcc" else "%"  # MCC is a correlation in [-1, 1], shown x100 like the others
    head += (f"selection {title} {unit} (rows) | eval {title} {unit} | selection accuracy % | eval accuracy % (split, rows) | "
             if extra else "selection accuracy % (rows) | eval accuracy % (split, rows) | ")
    lines = ["## Models\n", chosen, head + "precision |", "|---" * (8 if extra else 6) + "|"]
    for m in report["models"]:
        evaluated = f"{_pct(m['eval_accuracy'])} ({m.get('eval_split') or '-'}, {_fmt(m['eval_rows'])})"
        if extra:
            cells = (f"{_pct(m.get('select_value'))} ({_fmt(m['select_rows'])}) | {_pct(m.get('eval_value'))} | "
                     f"{_pct(m['select_accuracy'])} | {evaluated}")
        else:
            cells = f"{_pct(m['select_accuracy'])} ({_fmt(m['select_rows'])}) | {evaluated}"
        lines.append(f"| {m['stage']} | {_fmt(m['params'])} | {_fmt(m['train_rows'])} | {cells} | "
                     f"{m.get('precision') or '-'} |")
    return "\n".join(lines) + "\n"


def _artifacts(report: dict) -> str:
    if not report["artifacts"]:
        return "## Artifacts\n\nNo artifacts recorded (export/quantize/validate have not run).\n"
    metric = _metric(report)
    extra = metric["name"] != "accuracy"
    lines = ["## Artifacts\n", _split_note(report), "| artifact | format | precision | size MB | "
             + (f"{metric['title']} {'x100' if metric['name'] == 'mcc' else '%'} | " if extra else "") + "accuracy % | agreement % | max abs dlogit "
             "| host p50 ms | host p90 ms |", "|---" * (10 if extra else 9) + "|"]
    for a in report["artifacts"]:
        host = a.get("host_latency") or {}
        value = f"{_pct(a.get('metric_value'))} | " if extra else ""
        lines.append(f"| {a['name']} | {a['format'] or '-'} | {a['precision'] or '-'} | "
                     f"{_fmt(a['size_bytes'], 2, 1e-6)} | {value}{_pct(a['accuracy'])} | {_pct(a['agreement'])} | "
                     f"{_fmt(a['max_abs_diff'], 4)} | {_fmt(host.get('p50_ms'))} | {_fmt(host.get('p90_ms'))} |")
    return "\n".join(lines) + "\n"


def _latency(report: dict) -> str:
    if not report["latency"]:
        return "## Latency per target\n\nNo latency recorded (set `validate.targets`).\n"
    lines = ["## Latency per target\n", "Every figure is labelled with its kind: **host**, **device** or **estimate** "
             "(see the end of this report).\n",
             "| target | artifact | kind | p50 ms | p90 ms | threads | seq len | note |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(report["latency"], key=lambda r: (r["target"] or "", r["artifact"], r["kind"])):
        note = r.get("bound") and f"{r['bound']}-bound, efficiency {r.get('efficiency')}" or \
            (f"p90 from {r['p90_from']}" if r.get("p90_from") else f"{r.get('runs', '-')} runs")
        lines.append(f"| {r['target']} | {r['artifact']} | {r['kind']} | {_fmt(r.get('p50_ms'))} | "
                     f"{_fmt(r.get('p90_ms'))} | {r.get('threads', '-')} | {r.get('seq_len', '-')} | {note} |")
    return "\n".join(lines) + "\n"


def _gates(report: dict) -> str:
    lines = ["## Gates\n"]
    failed = report["gate_failures"]
    lines.append(f"**{'FAIL' if failed else 'PASS'}**: {len(failed)} gate failure(s); budget policy "
                 f"`{report['budget_gate']}`.\n")
    lines += [f"- FAIL: {f}" for f in failed]
    if report["gates"]:
        lines += ["", "| result | target | artifact | metric | value | limit | evidence | gated |", "|---|---|---|---|---|---|---|---|"]
        for g in sorted(report["gates"], key=lambda g: (g["ok"], g["target"], g["artifact"])):
            lines.append(f"| {'pass' if g['ok'] else 'FAIL'} | {g['target']} | {g['artifact']} | {g['metric']} | "
                         f"{_fmt(g['value'])} | {_fmt(g['limit'])} | {g['kind']} | {'yes' if g['gated'] else 'no'} |")
        lines.append("\n`gated`: the budget applies to artifacts in the target's preferred format; the others are shown "
                     "for information.")
    return "\n".join(lines) + "\n"


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
