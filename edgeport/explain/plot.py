"""``agreement.png``: per model, how far its attributions agree with the teacher's (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path


def agreement_plot(agreement: list[dict], top_k: int, path: Path) -> Path | None:
    from ..report.plots import _pyplot, _save

    rows = [a for a in agreement if a["method"] == "ablation"]
    if not rows:
        return None
    plt = _pyplot()
    names = [a["model"] for a in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(rows) + 2.6), sharey=True)
    y = list(range(len(rows)))
    h = 0.38
    sp, ax = axes[0], axes[1]
    sp.barh([i - h / 2 for i in y], [a["spearman_mean"] or 0 for a in rows], h,
            xerr=[a["spearman_std"] or 0 for a in rows], color="#1f77b4", capsize=3, label="word ablation")
    ig = [(i, a) for i, a in zip(y, rows) if a.get("ig_spearman_mean") is not None]
    if ig:
        sp.barh([i + h / 2 for i, _ in ig], [a["ig_spearman_mean"] for _, a in ig], h,
                xerr=[a["ig_spearman_std"] or 0 for _, a in ig], color="#ff7f0e", capsize=3,
                label="Integrated Gradients")
    ref = next((a for a in agreement if a["method"] != "ablation"), None)
    if ref and ref.get("spearman_mean") is not None:
        sp.axvline(ref["spearman_mean"], color="gray", ls="--", lw=1,
                   label=f"teacher: IG vs ablation ({ref['spearman_mean']:.2f})")
    sp.set_xlim(-0.2 if min((a["spearman_mean"] or 0) for a in rows) < 0 else 0, 1.05)
    sp.set_xlabel("Spearman ρ of word scores vs the teacher (mean ± std over rows)")
    sp.set_yticks(y, names)
    sp.invert_yaxis()
    sp.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    ax.barh([i - h / 2 for i in y], [a["top_k_mean"] or 0 for a in rows], h, color="#1f77b4", label="word ablation")
    if ig:
        ax.barh([i + h / 2 for i, _ in ig], [a.get("ig_top_k_mean") or 0 for _, a in ig], h, color="#ff7f0e",
                label="Integrated Gradients")
    ax.scatter([a["label_agreement"] or 0 for a in rows], y, marker="D", color="black", zorder=3,
               label="label agreement with the teacher")
    ax.set_xlim(0, 1.05)
    ax.set_xlabel(f"top-{top_k} word overlap with the teacher (mean); label agreement")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    fig.suptitle(f"Do the compressed models decide for the teacher's reasons? ({rows[0]['rows']} eval rows)")
    fig.tight_layout()
    return _save(fig, plt, path)
