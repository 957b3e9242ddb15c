"""Markdown tables of the explain results: the explain stage's results.md and the report's section."""

from __future__ import annotations


def _f(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def agreement_markdown(agreement: list[dict], k: int) -> str:
    lines = [f"| model | method | rows | accuracy % | label agreement % | ablation ρ mean ± std | ablation top-{k} | "
             f"IG ρ mean ± std | IG top-{k} | IG median rel. δ |", "|---|---|---|---|---|---|---|---|---|---|"]
    for a in agreement:
        acc = "-" if a.get("accuracy") is None else f"{a['accuracy'] * 100:.2f}"
        la = "-" if a.get("label_agreement") is None or a["method"] != "ablation" else \
            f"{a['label_agreement'] * 100:.1f}"
        ig = "-" if a.get("ig_spearman_mean") is None else f"{a['ig_spearman_mean']:.3f} ± {a['ig_spearman_std']:.3f}"
        lines.append(f"| {a['model']} | {a['method']} | {a['rows']} | {acc} | {la} | {_f(a['spearman_mean'])} ± "
                     f"{_f(a['spearman_std'])} | {_f(a['top_k_mean'])} | {ig} | {_f(a.get('ig_top_k_mean'))} | "
                     f"{_f(a.get('ig_relative_delta_median'), 4)} |")
    return "\n".join(lines)


def _words(words: list[str]) -> str:
    return ", ".join(w.replace("|", "\\|") for w in words)


def divergent_markdown(divergent: list[dict]) -> str:
    if not divergent:
        return "No row where a model agrees with the teacher's label (or too few words to rank)."
    lines = ["Label agrees, reasons diverge most (lowest ablation ρ):\n",
             "| row | text | gold | teacher | model | its label | ρ | teacher's top words | model's top words |",
             "|---|---|---|---|---|---|---|---|---|"]
    for d in divergent:
        text = d["text"] + (f" ‖ {d['pair']}" if d.get("pair") else "")
        text = text.replace("|", "\\|").strip()
        lines.append(f"| {d['row']} | {text} | {d['gold']} | {d['teacher_label']} | {d['model']} | "
                     f"{d['model_label']} | {d['spearman']:+.3f} | {_words(d['teacher_top'])} | "
                     f"{_words(d['model_top'])} |")
    return "\n".join(lines)
