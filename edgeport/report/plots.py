"""PNG plots (matplotlib, headless): accuracy vs latency per target with its Pareto front, and size per artifact.

Each latency panel uses one kind of evidence per target (device > host > estimate) and says which in its title,
so a measured point and an estimated point never share an axis.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import require

KIND_ORDER = ("device", "host", "estimate")
FORMAT_COLORS = {"torchscript": "#d62728", "onnx": "#1f77b4", "tflite": "#2ca02c"}


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


def _pct(value: float) -> float:
    return value * 100 if value <= 1 else value


def accuracy_vs_latency(report: dict, out: Path, budgets: dict[str, float]) -> Path | None:
    panels = _panels(report)
    if not panels:
        return None
    plt = _pyplot()
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    fmt_of = {a["name"]: a.get("format") for a in report["artifacts"]}
    for ax, (target, (kind, pts)) in zip(axes.flat, panels.items()):
        lats = [p["p90_ms"] for p in pts]
        for i, p in enumerate(sorted(pts, key=lambda p: (p["p90_ms"], p["artifact"]))):
            ax.scatter(p["p90_ms"], _pct(p["accuracy"]), s=50, color=FORMAT_COLORS.get(fmt_of.get(p["artifact"]), "gray"),
                       marker="o" if "int8" not in p["artifact"] else "s", zorder=3)
            # staggered offsets keep labels of near-identical points readable
            ax.annotate(p["artifact"], (p["p90_ms"], _pct(p["accuracy"])), textcoords="offset points",
                        xytext=(6, 10 - 9 * (i % 4)), fontsize=7)
        front = pareto_front([(p["p90_ms"], _pct(p["accuracy"])) for p in pts])
        ax.step([f[0] for f in front], [f[1] for f in front], where="post", color="black", lw=1, ls="--",
                label="Pareto front", zorder=2)
        budget = budgets.get(target)
        if budget and budget <= 3 * max(lats):
            ax.axvline(budget, color="orange", lw=1.2, label=f"p90 budget {budget:g} ms")
        elif budget:
            ax.plot([], [], " ", label=f"p90 budget {budget:g} ms (off scale)")
        if max(lats) / max(min(lats), 1e-9) > 20:
            ax.set_xscale("log")
        accs = [_pct(p["accuracy"]) for p in pts]
        ax.set_ylim(min(accs) - max(1.0, 0.1 * (max(accs) - min(accs))), max(accs) + max(1.0, 0.1 * (max(accs) - min(accs))))
        ax.set_xlim(0 if ax.get_xscale() == "linear" else None, max(lats + ([budget] if budget and budget <= 3 * max(lats) else [])) * 1.35)
        ax.set_title(f"{target} ({kind})", fontsize=10)
        ax.set_xlabel(f"p90 latency, ms ({kind})")
        ax.set_ylabel("accuracy, %")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Accuracy vs p90 latency per target (batch 1); circles fp32, squares INT8; "
                 "colour = format (red TorchScript, blue ONNX, green TFLite)", fontsize=9)
    fig.tight_layout()
    return _save(fig, plt, out / "accuracy_vs_latency.png")


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
    ax.set_title("Artifact size (colour = format: red TorchScript, blue ONNX, green TFLite)", fontsize=9)
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
