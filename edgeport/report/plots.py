"""PNG plots (matplotlib, headless): accuracy vs latency per target with its Pareto front, and size per artifact.

Each latency panel uses one kind of evidence per target (device > host > estimate) and says which in its title,
so a measured point and an estimated point never share an axis.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import require

KIND_ORDER = ("device", "host", "estimate")
FORMAT_COLORS = {"torchscript": "#d62728", "onnx": "#1f77b4", "tflite": "#2ca02c", "executorch": "#9467bd"}


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not dominated by another with lower-or-equal latency and higher-or-equal accuracy."""
    front, best = [], -math.inf
    for lat, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((lat, acc))
            best = acc
    return front


def _panels(report: dict) -> dict[str, tuple[str, list[dict]]]:
    """target -> (kind, rows with accuracy) using the strongest kind that target has."""
    acc = {a["name"]: a.get("accuracy") for a in report["artifacts"]}
    panels = {}
    for target in sorted({r["target"] for r in report["latency"]}):
        rows = [r for r in report["latency"] if r["target"] == target and acc.get(r["artifact"]) is not None]
        for kind in KIND_ORDER:
            chosen = [r | {"accuracy": acc[r["artifact"]]} for r in rows if r["kind"] == kind and r.get("p90_ms")]
            # the workload figure (what budgets judge) where the bench stage measured one, else the fixed one
            real = [r for r in chosen if r.get("input") == "workload"]
            chosen = real or chosen
            if chosen:
                panels[target] = (kind, chosen)
                break
    return panels


def _marker(precision: str | None) -> str:
    """The precision's marker (``edgeport.precision``: fp32 circle, INT8 square, w4 triangle); unknown: circle."""
    from ..precision import PRECISIONS

    return getattr(PRECISIONS.get(precision or "fp32"), "marker", "o")


def _pct(value: float) -> float:
    return value * 100 if value <= 1 else value


def teacher_reference(report: dict) -> dict | None:
    """The fp32 teacher (torch) as the plots' reference: its eval accuracy from the report's model rows, and its
    latency per (target, kind) only where the report holds one (a row for artifact ``teacher``); none is invented."""
    row = next((m for m in report.get("models") or [] if m.get("stage") == "teacher"), None)
    if not row or row.get("eval_accuracy") is None:
        return None
    latency = {(r["target"], r["kind"]): r["p90_ms"] for r in report.get("latency") or []
               if r.get("artifact") == "teacher" and r.get("p90_ms")}
    return {"accuracy": row["eval_accuracy"], "split": row.get("eval_split") or "eval", "latency": latency}


TEACHER_LABEL = "fp32 teacher (torch, eval split)"


def accuracy_vs_latency(report: dict, out: Path, budgets: dict[str, float]) -> Path | None:
    panels = _panels(report)
    if not panels:
        return None
    plt = _pyplot()
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols, 4.4 * rows), squeeze=False)
    fmt_of = {a["name"]: a.get("format") for a in report["artifacts"]}
    prec_of = {a["name"]: a.get("precision") for a in report["artifacts"]}
    teacher = teacher_reference(report)
    labels = []  # (axes, [(artifact, x, y)]) placed once the layout is final
    for ax, (target, (kind, pts)) in zip(axes.flat, panels.items()):
        lats = [p["p90_ms"] for p in pts]
        accs = [_pct(p["accuracy"]) for p in pts]
        pts = sorted(pts, key=lambda p: (p["p90_ms"], p["artifact"]))
        for p in pts:
            ax.scatter(p["p90_ms"], _pct(p["accuracy"]), s=50, color=FORMAT_COLORS.get(fmt_of.get(p["artifact"]), "gray"),
                       marker=_marker(prec_of.get(p["artifact"])), zorder=3)
        labels.append((ax, [(p["artifact"], p["p90_ms"], _pct(p["accuracy"])) for p in pts]))
        front = pareto_front([(p["p90_ms"], _pct(p["accuracy"])) for p in pts])
        ax.step([f[0] for f in front], [f[1] for f in front], where="post", color="black", lw=1, ls="--",
                label="Pareto front", zorder=2)
        if teacher:
            t_acc, t_lat = _pct(teacher["accuracy"]), teacher["latency"].get((target, kind))
            accs.append(t_acc)
            if t_lat:  # measured (or estimated) with the same kind as the panel: a point like the others
                ax.scatter(t_lat, t_acc, s=90, marker="*", color="black", zorder=3,
                           label=f"{TEACHER_LABEL} {t_acc:.2f}%")
                lats.append(t_lat)
            else:  # no latency for it: a reference line at its accuracy, at no latency
                ax.axhline(t_acc, color="dimgray", lw=1, ls=":", zorder=1, label=f"{TEACHER_LABEL} {t_acc:.2f}%")
        budget = budgets.get(target)
        if budget and budget <= 3 * max(lats):
            ax.axvline(budget, color="orange", lw=1.2, label=f"p90 budget {budget:g} ms")
        elif budget:
            ax.plot([], [], " ", label=f"p90 budget {budget:g} ms (off scale)")
        if max(lats) / max(min(lats), 1e-9) > 20:
            ax.set_xscale("log")
        pad = max(1.0, 0.15 * (max(accs) - min(accs)))
        # room below the points for the legend
        ax.set_ylim(min(accs) - 2.2 * pad, max(accs) + pad)
        ax.set_xlim(0 if ax.get_xscale() == "linear" else None, max(lats + ([budget] if budget and budget <= 3 * max(lats) else [])) * 1.45)
        ax.set_title(f"{target} ({kind})", fontsize=10)
        ax.set_xlabel(f"p90 latency, ms ({kind})")
        ax.set_ylabel("accuracy, %")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Accuracy vs p90 latency per target (batch 1); circles fp32, squares INT8; "
                 "colour = format (red TorchScript, blue ONNX, green TFLite, purple ExecuTorch)", fontsize=9)
    fig.tight_layout()
    for ax, items in labels:  # after the layout: label positions are computed in final display coordinates
        place_labels(ax, items)
    return _save(fig, plt, out / "accuracy_vs_latency.png")


# Candidate label offsets (points), tried in order: right, above-right, below-right, left, above, below, then
# further out. The first that overlaps no placed label, marker or the legend and stays inside the axes wins.
_OFFSETS = [(6, -3), (6, 7), (6, -13), (-6, -3), (0, 9), (0, -15), (6, 17), (6, -23), (-6, 9), (-6, -15),
            (14, 27), (14, -33), (-14, 27), (-14, -33)]


def place_labels(ax, items: list[tuple[str, float, float]], fontsize: float = 7) -> list:
    """Label each point (text, x, y) without overlaps: a deterministic greedy search over a fixed list of offsets.

    Deterministic (the same report gives the same picture) and dependency-free, unlike force-directed layouts
    (adjustText); a panel holds a handful of points, so trying each offset in turn is cheap. Where every candidate
    collides, the one with the least overlap is kept and a thin leader line joins label and point."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    obstacles = [_marker_box(ax, x, y) for _, x, y in items]
    legend = ax.get_legend()
    if legend is not None:
        obstacles.append(legend.get_window_extent(renderer))
    placed = []
    for text, x, y in items:
        best, best_cost = None, None
        for dx, dy in _OFFSETS:
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                              ha="left" if dx > 0 else "right" if dx < 0 else "center", va="bottom", zorder=4)
            box = ann.get_window_extent(renderer)
            cost = sum(_overlap(box, o) for o in obstacles) + 1e6 * (not _contains(inside, box))
            if best_cost is None or cost < best_cost:
                if best is not None:
                    best.remove()
                best, best_cost = ann, cost
            else:
                ann.remove()
            if cost == 0:
                break
        if best_cost:  # no free spot: keep the least-bad one, joined to its point by a leader line
            dx, dy = best.xyann
            ha = best.get_horizontalalignment()
            best.remove()
            best = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize, ha=ha,
                               va="bottom", zorder=4, arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "gray"})
        obstacles.append(best.get_window_extent(renderer))
        placed.append(best)
    return placed


def _marker_box(ax, x, y, radius: float = 5.0):
    from matplotlib.transforms import Bbox

    px, py = ax.transData.transform((x, y))
    r = radius * ax.figure.dpi / 72
    return Bbox.from_extents(px - r, py - r, px + r, py + r)


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _contains(outer, inner) -> bool:
    return outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0 and inner.y1 <= outer.y1


def size_per_artifact(report: dict, out: Path, budgets: dict[str, float]) -> Path | None:
    arts = [a for a in report["artifacts"] if a.get("size_bytes")]
    if not arts:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(arts) + 1.8))
    names = [a["name"] for a in arts]
    sizes = [a["size_bytes"] / 1e6 for a in arts]
    ax.barh(names, sizes, color=[FORMAT_COLORS.get(a.get("format"), "gray") for a in arts])
    for y, s in enumerate(sizes):
        ax.text(s, y, f" {s:.1f}", va="center", fontsize=8)
    by_value: dict[float, list[str]] = {}
    for target, mb in budgets.items():
        by_value.setdefault(mb, []).append(target)
    for i, (mb, names_) in enumerate(sorted(by_value.items())):
        label = f"budget {mb:g} MB: {', '.join(sorted(names_))}"
        if mb <= 3 * max(sizes):
            ax.axvline(mb, ls=":", lw=1.2, color=f"C{i + 3}", label=label)
        else:
            ax.plot([], [], " ", label=label + " (off scale)")
    ax.set_xlabel("file size, MB (10^6 bytes)")
    ax.set_title("Artifact size (colour = format: red TorchScript, blue ONNX, green TFLite, purple ExecuTorch)", fontsize=9)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    if budgets:
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _save(fig, plt, out / "size_per_artifact.png")


def _pyplot():
    matplotlib = require("matplotlib", "report")
    matplotlib.use("Agg")  # headless: CI runners and servers have no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, plt, path: Path) -> Path:
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
