"""Reports from a run's manifest: ``report.md``, ``report.json``, PNG plots, budget gates, baseline comparison.

``build_report(run_dir, out)`` (report.md, report.json, report.html, plots) is shared by the report stage and ``edgeport report RUN_DIR``; it never loads a
model or measures anything: everything comes from ``manifest.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .collect import collect
from .gates import budget_gates, compare, comparison_markdown, failed, failure_messages, write_step_summary
from .render import markdown

__all__ = ["build_report", "compare", "comparison_markdown", "failed", "failure_messages", "load_report_json",
           "write_step_summary"]


def build_report(run_dir: Path, out: Path, *, budget_gate: str = "any", plots: bool = True,
                 accept_inconclusive: bool = False) -> dict:
    """``accept_inconclusive``: "what to ship" may pick an artifact whose validate verdict is INCONCLUSIVE."""
    report = collect(Path(run_dir))  # first: a wrong RUN_DIR must fail before anything is created in it
    report["accept_inconclusive"] = accept_inconclusive
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report["budget_gate"] = budget_gate
    report["gates"], budget_failures = budget_gates(report, budget_gate)
    report["gate_failures"] = report["validate_gate_failures"] + budget_failures
    report["plots"] = _plots(report, out) if plots else []
    if report.get("explain"):  # links from report.md to the explain stage's page and plot
        report["explain"]["links"] = {Path(f).name: os.path.relpath(Path(run_dir) / f, out)
                                      for f in report["explain"].get("files") or []}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "report.md").write_text(markdown(report))
    from .html import write_html  # markdown-it-py: the same content, self-contained (images as data URIs)

    write_html(out, report)
    return report


def _plots(report: dict, out: Path) -> list[str]:
    from ..errors import EdgeportError
    from ..targets import get_target
    from . import plots

    latency_budgets, size_budgets = {}, {}
    recorded = report.get("profiles") or {}
    for name in {r["target"] for r in report["latency"]} | set(report.get("targets") or []):
        if name in recorded:  # as the bench stage judged with it
            budgets = recorded[name]["budgets"]
            latency_budgets[name], size_budgets[name] = budgets["latency_p90_ms"], budgets["model_size_mb"]
            continue
        try:  # a run from before the bench stage recorded its profiles
            t = get_target(name)
        except EdgeportError:
            continue
        latency_budgets[name], size_budgets[name] = t.budgets.latency_p90_ms, t.budgets.model_size_mb
    made = [plots.accuracy_vs_latency(report, out, latency_budgets), plots.size_per_artifact(report, out, size_budgets)]
    return [p.name for p in made if p is not None]


def load_report_json(path: Path) -> dict:
    from ..errors import EdgeportError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdgeportError(f"baseline {path} not found; pass the report.json of an earlier run")
    except json.JSONDecodeError as exc:
        raise EdgeportError(f"baseline {path} is not JSON ({exc}); pass a report.json written by edgeport report")
    if not isinstance(data, dict) or "artifacts" not in data:
        raise EdgeportError(f"baseline {path} is not an edgeport report.json (no 'artifacts')")
    return data
