"""Gates over a collected report: target budgets (report stage) and regressions against a baseline (CI).

Budgets: a target's budgets apply to the artifacts in its preferred format (those meant for that device).
``any``: the target passes when at least one of them meets every budget (the one you would ship);
``all``: every one of them must. Each check names the kind of evidence it used (device / host / estimate).

Baseline: figures are matched by key (figure, artifact, target, evidence kind, input), so an estimate is never
compared with a measurement, and each is judged by the rule of its kind (``FIGURE_RULES``):

* ``estimate``, ``size``, ``parity`` (agreement, max/mean |dlogit| vs fp32): deterministic, so **exact**: any
  worsening beyond float round-off fails (``ROUND_OFF``; none for sizes), whatever ``max_regression`` says;
* ``timing`` (host/device latency): noisy, so relative **headroom**, ``max_regression``;
* ``accuracy``: in **points**, ``max_accuracy_drop`` (``report.max_accuracy_drop`` in the pipeline,
  ``--max-accuracy-drop`` on the CLI), or relative by ``max_regression`` when no point limit is given.

A figure the baseline has and this run lacks is ``MISSING`` and fails like a regression: an artifact, target or
kind that silently disappeared is not a pass. A figure this run has and the baseline lacks (an older report,
written before that kind was compared) is ``new``: shown, never failed, never a crash.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
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


@dataclass(frozen=True)
class Rule:
    """How one kind of figure is judged against the baseline (``FIGURE_RULES``)."""

    judged: str  # "exact": any worsening beyond round-off; "headroom": relative, max_regression; "points": accuracy
    rel_eps: float = 0.0  # "exact" only: the round-off allowed, relative to the larger of the two values
    what: str = ""  # for the report's legend


# Round-off of the exact kinds. Parity figures are float32 computations (logits, |dlogit|, their mean over the eval
# rows); a mean over ~1000 float32 values may differ by ~log2(n) * 2^-24 ~ 6e-7 relative when a library sums in
# another order, so 1e-6 is round-off and anything above is a change of the computation. Estimates are float64
# rounded to 4 significant digits (a real change moves them by >= 1e-4 relative); 1e-6 only absorbs a
# float64 tie at a rounding boundary. Sizes are integer bytes: no epsilon at all.
ROUND_OFF = 1e-6
FIGURE_RULES: dict[str, Rule] = {
    "estimate": Rule("exact", ROUND_OFF, "latency estimated from counted work and the profile: deterministic"),
    "size": Rule("exact", 0.0, "artifact file size in bytes: deterministic"),
    "parity": Rule("exact", ROUND_OFF, "agreement and max/mean |dlogit| vs the fp32 reference: deterministic for "
                                       "the same seed, data, host CPU and thread count"),
    "timing": Rule("headroom", 0.0, "host/device wall-clock latency: noisy on shared machines"),
    "accuracy": Rule("points", 0.0, "artifact accuracy on the eval split"),
}
# Figures of each artifact row (report/collect.py ``artifact_rows``): (field, kind, which way is better).
ARTIFACT_FIGURES = (("accuracy", "accuracy", "higher"), ("size_bytes", "size", "lower"),
                    ("agreement", "parity", "higher"), ("max_abs_diff", "parity", "lower"),
                    ("mean_abs_diff", "parity", "lower"))
LATENCY_FIGURE_KIND = {"estimate": "estimate", "host": "timing", "device": "timing"}  # by evidence kind


@dataclass(frozen=True)
class Figure:
    kind: str  # a FIGURE_RULES key
    value: float
    better: str  # "higher" | "lower"


@dataclass(frozen=True)
class Comparison:
    """One figure of this run against the baseline. ``status``: ok, improved, new (not in the baseline: nothing to
    compare), REGRESSED (worse beyond the rule's limit), MISSING (in the baseline, gone from this run)."""

    figure: str
    kind: str
    baseline: float | None
    current: float | None
    change_pct: float | None
    status: str

    def to_dict(self) -> dict:
        return asdict(self)


def figures(report: dict) -> dict[str, Figure]:
    """figure key -> Figure. Keys of accuracy and latency keep their old spelling, so older baselines compare."""
    out: dict[str, Figure] = {}
    for art in report.get("artifacts", []):
        for field_, kind, better in ARTIFACT_FIGURES:
            if art.get(field_) is not None:
                out[f"{field_} {art['name']}"] = Figure(kind, float(art[field_]), better)
    for row in report.get("latency", []):
        # an unknown evidence kind is judged as a measurement (headroom), never exactly
        kind = LATENCY_FIGURE_KIND.get(row.get("kind"), "timing")
        tag = row.get("kind", "?") + (", workload" if row.get("input") == "workload" else "")
        for fig in LATENCY_FIGURES:
            if row.get(fig) is not None:
                out[f"{fig} {row['artifact']} @ {row['target']} [{tag}]"] = Figure(kind, float(row[fig]), "lower")
    return out


def compare(current: dict, baseline: dict, max_regression: float,
            max_accuracy_drop: float | None = None) -> list[Comparison]:
    """Every figure of either report, judged by its kind's rule (``FIGURE_RULES``)."""
    cur, base = figures(current), figures(baseline)
    rows = []
    for key in sorted(set(cur) & set(base)):
        new, old = cur[key], base[key]
        change = (new.value - old.value) / old.value if old.value else 0.0
        worse = _worsening(old.value, new.value, new.better)
        if _regressed(new.kind, old.value, new.value, worse, max_regression, max_accuracy_drop):
            status = "REGRESSED"
        else:
            status = "improved" if -worse > _round_off(new.kind, old.value, new.value) else "ok"
        rows.append(Comparison(key, new.kind, old.value, new.value, 100 * change, status))
    rows += [Comparison(k, base[k].kind, base[k].value, None, None, "MISSING") for k in sorted(set(base) - set(cur))]
    rows += [Comparison(k, cur[k].kind, None, cur[k].value, None, "new") for k in sorted(set(cur) - set(base))]
    return rows


def _worsening(old: float, new: float, better: str) -> float:
    """How much worse the figure got, in its own units (negative: better)."""
    return new - old if better == "lower" else old - new


def _regressed(kind: str, old: float, new: float, worse: float, max_regression: float,
               max_accuracy_drop: float | None) -> bool:
    rule = FIGURE_RULES[kind]
    if rule.judged == "exact":
        return worse > _round_off(kind, old, new)
    if rule.judged == "points" and max_accuracy_drop is not None:
        return _points(worse, old, new) > max_accuracy_drop
    return worse > max_regression * abs(old)  # headroom (and accuracy with no point limit): relative


def _round_off(kind: str, old: float, new: float) -> float:
    """The change below which two values of ``kind`` are the same figure (0 for measured kinds and sizes)."""
    return FIGURE_RULES[kind].rel_eps * max(abs(old), abs(new))


def _points(drop: float, old: float, new: float) -> float:
    """An accuracy drop in points: fractions (<= 1) are scaled by 100, percentages are points already."""
    return drop * (100 if max(old, new) <= 1 else 1)


FAILING = ("REGRESSED", "MISSING")


def failed(rows: list[Comparison]) -> list[Comparison]:
    """The comparison rows that fail the gate: regressed beyond their rule, or gone from this run."""
    return [r for r in rows if r.status in FAILING]


def _limit(kind: str, max_regression: float, max_accuracy_drop: float | None) -> str:
    rule = FIGURE_RULES[kind]
    if rule.judged == "exact":
        return f"exact: {kind} is deterministic" + (f", round-off {rule.rel_eps:g}" if rule.rel_eps else "")
    if rule.judged == "points" and max_accuracy_drop is not None:
        return f"limit {max_accuracy_drop:g} points"
    return f"limit {100 * max_regression:g}%"


def failure_messages(rows: list[Comparison], baseline: str, max_regression: float,
                     max_accuracy_drop: float | None = None) -> list[str]:
    out = []
    for r in failed(rows):
        if r.status == "MISSING":
            out.append(f"regression vs {baseline}: {r.figure} ({_fmt(r.baseline)} in the baseline) is missing "
                       f"from this run")
            continue
        if FIGURE_RULES[r.kind].judged == "points" and max_accuracy_drop is not None:
            moved = f"-{_points(_worsening(r.baseline, r.current, 'higher'), r.baseline, r.current):.2f} points"
        else:
            moved = f"{r.change_pct:+.4g}%"
        out.append(f"regression vs {baseline}: {r.figure} {_fmt(r.baseline)} -> {_fmt(r.current)} "
                   f"({moved}, {_limit(r.kind, max_regression, max_accuracy_drop)})")
    return out


def _fmt(value: float | None) -> str:
    """Whole numbers (bytes) in full; others to 7 significant digits, enough to show a change beyond round-off."""
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.7g}"


def comparison_markdown(rows: list[Comparison], max_regression: float, max_accuracy_drop: float | None = None) -> str:
    compared = [r for r in rows if r.status != "new"]
    new = [r for r in rows if r.status == "new"]
    n_bad = sum(r.status == "REGRESSED" for r in rows)
    n_missing = sum(r.status == "MISSING" for r in rows)
    head = (f"### edgeport regression gate: {'FAILED' if n_bad or n_missing else 'passed'} "
            f"({n_bad} of {len(compared)} figures regressed"
            + (f"; {n_missing} missing from this run" if n_missing else "") + ")\n\n")
    rules = "".join(f"- {kind}: {_limit(kind, max_regression, max_accuracy_drop)} ({rule.what})\n"
                    for kind, rule in FIGURE_RULES.items())
    moved = [r for r in compared if r.status != "ok"]
    shown = moved or compared
    lines = ["| figure | kind | baseline | current | change | status |", "|---|---|---|---|---|---|"]
    for r in sorted(shown, key=lambda r: (r.status not in FAILING, -abs(r.change_pct or 0))):
        change = "-" if r.change_pct is None else f"{r.change_pct:+.4g}%"
        lines.append(f"| {r.figure} | {r.kind} | {_fmt(r.baseline)} | {_fmt(r.current)} | {change} | {r.status} |")
    tail = ""
    if new:
        kinds = sorted({r.kind for r in new})
        tail = (f"\n{len(new)} figure(s) of this run are not in the baseline (kinds: {', '.join(kinds)}): "
                f"nothing to compare them with yet.\n")
    unchanged = len(compared) - len(moved) if moved else 0
    note = f"\n{unchanged} other figure(s) unchanged.\n" if unchanged else ""
    return head + "Rules:\n" + rules + "\n" + "\n".join(lines) + "\n" + note + tail


def write_step_summary(markdown: str) -> Path | None:
    """GitHub Actions shows $GITHUB_STEP_SUMMARY on the run page; append, as other steps may have written."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as f:
        f.write(markdown + "\n")
    return Path(target)
