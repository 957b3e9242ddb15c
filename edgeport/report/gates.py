"""Gates over a collected report: target budgets (report stage) and regressions against a baseline (CI).

Budgets: a target's budgets apply to the artifacts in its preferred format (those meant for that device).
``any``: the target passes when at least one of them meets every budget (the one you would ship);
``all``: every one of them must. Each check names the kind of evidence it used (device / host / estimate).

Baseline: figures are matched by (figure, artifact, target, kind), so an estimate is never compared with a
measurement. Latency regresses when it grows by more than ``max_regression`` (relative); accuracy when it drops
by more than ``max_accuracy_drop`` points (``report.max_accuracy_drop`` in the pipeline, ``--max-accuracy-drop`` on
the CLI), or by more than ``max_regression`` relative when no point limit is given. A figure the baseline has and
this run lacks is ``MISSING`` and fails like a regression: an artifact, target or kind that silently disappeared
is not a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

LATENCY_FIGURES = ("p50_ms", "p90_ms")


def budget_gates(report: dict, policy: str) -> tuple[list[dict], list[str]]:
    """(gate rows for the report, failure messages for the runner)."""
    from ..errors import EdgeportError
    from ..targets import get_target

    gates, failures = [], []
    by_target: dict[str, list[dict]] = {}
    for c in report["budget_checks"]:
        by_target.setdefault(c["target"], []).append(c)
    recorded = report.get("profiles") or {}
    for name, checks in by_target.items():
        try:  # the profile as the bench stage judged with it; older runs: as found now
            fmt = recorded[name]["format"] if name in recorded else get_target(name).format
        except EdgeportError:
            fmt = None  # profile gone since the run: show its checks, gate nothing
        preferred = [c for c in checks if c.get("format") == fmt]
        for c in checks:
            gates.append({"scope": "budget", "target": name, "artifact": c["artifact"], "metric": c["metric"],
                          "value": c["value"], "limit": c["limit"], "kind": c["kind"], "input": c.get("input"),
                          "ok": c["ok"],
                          "gated": policy != "off" and c in preferred})
        failures += _policy_failures(name, fmt, preferred, policy)
    return gates, failures


def _policy_failures(target: str, fmt: str | None, checks: list[dict], policy: str) -> list[str]:
    if policy == "off" or fmt is None:
        return []
    per_artifact: dict[str, list[dict]] = {}
    for c in checks:
        per_artifact.setdefault(c["artifact"], []).append(c)
    bad = {a: [c for c in cs if not c["ok"]] for a, cs in per_artifact.items()}
    if not per_artifact:
        return [f"{target}: no {fmt} artifact was benchmarked for this target"]
    if policy == "any" and any(not b for b in bad.values()):
        return []
    return [f"{a} on {target}: {c['metric']} = {c['value']} ({c['kind']}{', ' + c['input'] if c.get('input') else ''}) "
            f"exceeds the budget {c['limit']}"
            for a, cs in bad.items() for c in cs]


# ---------------------------------------------------------------------------------------------- baseline


def figures(report: dict) -> dict[str, tuple[float, str]]:
    """figure key -> (value, 'higher' | 'lower' is better)."""
    out: dict[str, tuple[float, str]] = {}
    for art in report.get("artifacts", []):
        if art.get("accuracy") is not None:
            out[f"accuracy {art['name']}"] = (float(art["accuracy"]), "higher")
    for row in report.get("latency", []):
        for fig in LATENCY_FIGURES:
            if row.get(fig) is not None:
                # fixed-length keys keep their old spelling, so a baseline from before the workload compares
                tag = row["kind"] + (", workload" if row.get("input") == "workload" else "")
                out[f"{fig} {row['artifact']} @ {row['target']} [{tag}]"] = (float(row[fig]), "lower")
    return out


def compare(current: dict, baseline: dict, max_regression: float, max_accuracy_drop: float | None = None) -> list[dict]:
    cur, base = figures(current), figures(baseline)
    rows = []
    for key in sorted(set(cur) & set(base)):
        (new, better), (old, _) = cur[key], base[key]
        change = (new - old) / old if old else 0.0
        worse = -change if better == "higher" else change
        if key.startswith("accuracy") and max_accuracy_drop is not None:
            regressed = (old - new) * (100 if max(old, new) <= 1 else 1) > max_accuracy_drop
        else:
            regressed = worse > max_regression
        status = "REGRESSED" if regressed else "improved" if worse < -1e-9 else "ok"
        rows.append({"figure": key, "baseline": old, "current": new, "change_pct": round(100 * change, 2),
                     "status": status})
    for key in sorted(set(base) - set(cur)):
        rows.append({"figure": key, "baseline": base[key][0], "current": None, "change_pct": None, "status": "MISSING"})
    return rows


FAILING = ("REGRESSED", "MISSING")


def failed(rows: list[dict]) -> list[dict]:
    """The comparison rows that fail the gate: regressed beyond the limit, or gone from this run."""
    return [r for r in rows if r["status"] in FAILING]


def failure_messages(rows: list[dict], baseline: str, max_regression: float,
                     max_accuracy_drop: float | None = None) -> list[str]:
    out = []
    for r in failed(rows):
        if r["status"] == "MISSING":
            out.append(f"regression vs {baseline}: {r['figure']} ({r['baseline']:.4g} in the baseline) is missing "
                       f"from this run")
            continue
        if r["figure"].startswith("accuracy") and max_accuracy_drop is not None:
            points = (r["baseline"] - r["current"]) * (100 if max(r["baseline"], r["current"]) <= 1 else 1)
            limit = f"limit {max_accuracy_drop:g} points"
            moved = f"-{points:.2f} points"
        else:
            limit, moved = f"limit {100 * max_regression:g}%", f"{r['change_pct']:+.1f}%"
        out.append(f"regression vs {baseline}: {r['figure']} {r['baseline']:.4g} -> {r['current']:.4g} "
                   f"({moved}, {limit})")
    return out


def comparison_markdown(rows: list[dict], max_regression: float, max_accuracy_drop: float | None = None) -> str:
    moved = [r for r in rows if r["status"] != "ok"] or rows
    n_bad = sum(r["status"] == "REGRESSED" for r in rows)
    n_missing = sum(r["status"] == "MISSING" for r in rows)
    acc = f", accuracy beyond {max_accuracy_drop:g} points" if max_accuracy_drop is not None else ""
    head = (f"### edgeport regression gate: {'FAILED' if n_bad or n_missing else 'passed'} "
            f"({n_bad} of {len(rows)} figures regressed beyond {100 * max_regression:g}%{acc}"
            + (f"; {n_missing} missing from this run" if n_missing else "") + ")\n\n")
    lines = ["| figure | baseline | current | change | status |", "|---|---|---|---|---|"]
    for r in sorted(moved, key=lambda r: (r["status"] not in FAILING, -(abs(r["change_pct"] or 0)))):
        change = "-" if r["change_pct"] is None else f"{r['change_pct']:+.1f}%"
        cur = "-" if r["current"] is None else f"{r['current']:.4g}"
        lines.append(f"| {r['figure']} | {r['baseline']:.4g} | {cur} | {change} | {r['status']} |")
    return head + "\n".join(lines) + "\n"


def write_step_summary(markdown: str) -> Path | None:
    """GitHub Actions shows $GITHUB_STEP_SUMMARY on the run page; append, as other steps may have written."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as f:
        f.write(markdown + "\n")
    return Path(target)
