"""Attributions of several models on a sample of rows, compared with the teacher's: what the explain stage runs.

The first subject is the reference (the teacher, a torch model). On every row:

- every subject is explained by word ablation through its runner (``ablation``): the teacher by the same
  black-box method as the artifacts, so teacher and artifacts are compared by one method;
- torch subjects (teacher, student, pruned student) are also explained by Integrated Gradients;
- the class explained is the **teacher's** predicted class for every subject, so a subject that flips the row is
  still asked why it scores the teacher's answer, and scores stay comparable in sign.

Per subject and method: Spearman and top-k overlap against the teacher (same method), their mean/std over the
rows, label agreement with the teacher, and the rows whose label agrees but whose reasons diverge most
(lowest ablation Spearman): the ones a reviewer should read. For the teacher itself, IG vs ablation says how far
the two methods agree on one model (the scale against which the other numbers read).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..timing import Stopwatch
from .agreement import compare, summarize, top_k
from .attribution import ablation, integrated_gradients


@dataclass
class Loaded:
    runner: Callable  # the runner contract: (input_ids, attention_mask, token_type_ids) -> logits
    tokenizer: object
    max_len: int
    model: object | None = None  # a torch classifier: Integrated Gradients too


@dataclass
class Subject:
    name: str
    format: str  # "torch" or the artifact's format
    precision: str
    load: Callable[[], Loaded]


def run_study(subjects: list[Subject], texts: list[str], pairs: list[str] | None, labels: list[int],
              indices: list[int], label_names: list[str], *, top_k_words: int = 3, ig_steps: int = 32,
              ig: bool = True, divergent: int = 5, echo=print) -> dict:
    """Explain ``indices`` rows with every subject; the first subject is the reference."""
    ref_name = subjects[0].name
    rows = [{"index": i, "text": texts[i], "pair": pairs[i] if pairs else None, "label": _name(labels[i], label_names),
             "models": {}, "compare": {}} for i in indices]
    attrs: dict[str, list[dict]] = {}
    targets: list[int | None] = [None] * len(rows)
    timings = {}
    for subject in subjects:
        loaded = subject.load()
        per_row, t_abl, t_ig = [], Stopwatch(), Stopwatch()
        do_ig = ig and loaded.model is not None
        echo(f"  {subject.name}: ablation{' + integrated gradients' if do_ig else ''} on {len(rows)} rows ...")
        for r, row in enumerate(rows):
            with t_abl:
                a = ablation(loaded.runner, loaded.tokenizer, row["text"], row["pair"], target=targets[r],
                             max_len=loaded.max_len)
            if subject.name == ref_name:
                targets[r] = a.target
                row["words"], row["target"] = a.words, _name(a.target, label_names)
                if row["pair"] is not None:
                    row["parts"] = a.word_part
            entry = {"ablation": a}
            if do_ig:
                with t_ig:
                    entry["ig"] = integrated_gradients(loaded.model, loaded.tokenizer, row["text"], row["pair"],
                                                       target=targets[r], steps=ig_steps, max_len=loaded.max_len)
            per_row.append(entry)
            row["models"][subject.name] = _row_json(entry, label_names)
        attrs[subject.name] = per_row
        timings[subject.name] = {"ablation_seconds": round(t_abl.seconds, 2)} | (
            {"ig_seconds": round(t_ig.seconds, 2)} if do_ig else {})
        del loaded
    agreement, per_model_divergent = [], {}
    ref = attrs[ref_name]
    if ig and all("ig" in e for e in ref):
        cmp = [compare(e["ig"], e["ablation"], top_k_words) for e in ref]
        agreement.append(_table_row(subjects[0], "ig vs ablation (same model)", [True] * len(ref), cmp, None,
                                    [e["ig"] for e in ref]))
    for subject in subjects[1:]:
        mine = attrs[subject.name]
        agrees = [m["ablation"].predicted == t["ablation"].predicted for m, t in zip(mine, ref)]
        abl = [compare(t["ablation"], m["ablation"], top_k_words) for m, t in zip(mine, ref)]
        igc = ([compare(t["ig"], m["ig"], top_k_words) for m, t in zip(mine, ref)]
               if all("ig" in m and "ig" in t for m, t in zip(mine, ref)) else None)
        for row, a, c in zip(rows, abl, igc or [None] * len(rows)):
            row["compare"][subject.name] = {"ablation": _clean(a)} | ({"ig": _clean(c)} if c else {})
        agreement.append(_table_row(subject, "ablation", agrees, abl, igc,
                                    [m["ig"] for m in mine] if igc else None))
        per_model_divergent[subject.name] = _divergent(rows, subject.name, agrees, abl, ref, mine, label_names,
                                                       top_k_words, divergent)
    overall = sorted((d for ds in per_model_divergent.values() for d in ds), key=lambda d: d["spearman"])
    seen, most = set(), []
    for d in overall:  # one entry per row: its most divergent model
        if d["row"] not in seen:
            seen.add(d["row"])
            most.append(d)
    return {"reference": ref_name, "rows": rows, "agreement": agreement, "divergent": most[:divergent],
            "divergent_per_model": per_model_divergent, "timings": timings, "top_k": top_k_words,
            "ig_steps": ig_steps if ig else None, "models": [
                {"name": s.name, "format": s.format, "precision": s.precision} for s in subjects]}


def _name(label: int, names: list[str]) -> str:
    return names[label] if 0 <= label < len(names) else str(label)


def _clean(value):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _sig(x) -> float:
    return float(f"{float(x):.5g}")  # 5 significant digits: a tiny model's scores are 1e-5, not 0


def _row_json(entry: dict, label_names: list[str]) -> dict:
    a = entry["ablation"]
    out = {"label": _name(a.predicted, label_names), "probs": [round(float(p), 4) for p in a.probs],
           "score": round(a.score, 4), "covered": [bool(c) for c in a.covered],
           "ablation": [_sig(s) for s in a.word_scores]}
    if "ig" in entry:
        g = entry["ig"]
        out |= {"ig": [_sig(s) for s in g.word_scores], "ig_delta": _sig(g.delta),
                "ig_relative_delta": _sig(g.relative_delta), "ig_baseline_score": round(g.baseline_score, 4)}
    return out


def _table_row(subject: Subject, method: str, agrees: list[bool], abl: list[dict], igc: list[dict] | None,
               igs: list | None) -> dict:
    sp = summarize([c["spearman"] for c in abl])
    row = {"model": subject.name, "format": subject.format, "precision": subject.precision, "method": method,
           "rows": len(abl), "label_agreement": round(float(np.mean(agrees)), 4) if agrees else None,
           "spearman_mean": _r(sp["mean"]), "spearman_std": _r(sp["std"]), "spearman_median": _r(sp["median"]),
           "spearman_rows": sp["n"], "spearman_undefined": sp["undefined"],
           "top_k_mean": _r(summarize([c["top_k"] for c in abl])["mean"])}
    if igc:
        ig_sp = summarize([c["spearman"] for c in igc])
        row |= {"ig_spearman_mean": _r(ig_sp["mean"]), "ig_spearman_std": _r(ig_sp["std"]),
                "ig_top_k_mean": _r(summarize([c["top_k"] for c in igc])["mean"])}
    if igs:
        rel = np.array([g.relative_delta for g in igs])
        row |= {"ig_relative_delta_median": _r(float(np.median(rel))), "ig_relative_delta_max": _r(float(rel.max())),
                "ig_rows_delta_over_5pct": int((rel > 0.05).sum())}
    return row


def _r(x):
    return None if x is None else round(float(x), 4)


def _top_words(a, k: int) -> list[str]:
    """The k words with the largest |score|, each prefixed with its direction (+ towards the class, − away)."""
    scores = np.where(a.covered, a.word_scores, 0.0)
    return [("+" if scores[i] > 0 else "−" if scores[i] < 0 else "±") + a.words[i] for i in top_k(scores, k)]


def _divergent(rows, name, agrees, abl, ref, mine, label_names, k, n) -> list[dict]:
    picked = sorted((r for r in range(len(rows)) if agrees[r] and not math.isnan(abl[r]["spearman"])),
                    key=lambda r: abl[r]["spearman"])[:n]
    out = []
    for r in picked:
        t, m = ref[r]["ablation"], mine[r]["ablation"]
        out.append({"row": rows[r]["index"], "text": rows[r]["text"], "pair": rows[r]["pair"],
                    "gold": rows[r]["label"], "teacher_label": _name(t.predicted, label_names), "model": name,
                    "model_label": _name(m.predicted, label_names), "spearman": round(abl[r]["spearman"], 4),
                    "top_k": _clean(abl[r]["top_k"]),
                    "teacher_top": _top_words(t, k), "model_top": _top_words(m, k)})
    return out
