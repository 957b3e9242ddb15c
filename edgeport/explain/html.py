"""A self-contained HTML page of attributions: per sentence, one row per model (and method), words shaded.

Red: the word pushes towards the explained class; blue: away from it. Opacity is the word's |score| relative to
the largest |score| of that model on that sentence (each row is scaled on its own: logit scales differ between
models, the ranking is what is compared). Hovering a word shows its score. Every text is HTML-escaped; the page
loads nothing from anywhere (no scripts, no fonts, no images).
"""

from __future__ import annotations

import html
import math

POS, NEG = (214, 39, 40), (31, 119, 180)

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:24px;color:#1a1a1a;
     max-width:1500px;line-height:1.4}
h1{font-size:24px;margin:0 0 8px} h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px;font-weight:600} .muted{color:#666} .small{font-size:13px}
table{border-collapse:collapse} td,th{padding:4px 8px;vertical-align:top;text-align:left}
table.agree td,table.agree th{border:1px solid #ddd;font-size:14px} table.agree td.num{text-align:right}
table.attr{width:100%;margin-bottom:6px} table.attr td,table.attr th{border-bottom:1px solid #eee;font-size:14px}
table.attr th{font-size:12px;color:#666;font-weight:600}
table.attr td.model{width:150px;font-weight:600;white-space:nowrap}
table.attr td.meta{width:150px;white-space:nowrap;font-size:13px} table.attr tr.ig td{background:#fafafa}
table.attr tr.sep td{font-size:12px;color:#666;padding-top:8px;border-bottom:none}
.w{display:inline-block;padding:1px 4px;margin:1px 1px;border-radius:3px;font-size:15px}
.w.out{color:#aaa;text-decoration:line-through} .pairsep{color:#999;margin:0 6px}
.key{display:inline-block;width:46px;height:14px;vertical-align:middle;border-radius:3px;margin:0 4px}
.flag{color:#b00;font-weight:600}
"""


def _esc(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _color(score: float, scale: float) -> str:
    if not scale or not math.isfinite(score) or score == 0:
        return "transparent"
    alpha = min(1.0, abs(score) / scale) * 0.85
    r, g, b = POS if score > 0 else NEG
    return f"rgba({r},{g},{b},{alpha:.3f})"


def shaded_words(words: list[str], scores: list[float], covered: list[bool] | None = None,
                 parts: list[int] | None = None) -> str:
    covered = covered if covered is not None else [True] * len(words)
    scale = max((abs(s) for s, c in zip(scores, covered) if c), default=0.0)
    out, last_part = [], 0
    for i, (w, s) in enumerate(zip(words, scores)):
        if parts and parts[i] != last_part:
            out.append('<span class="pairsep">‖</span>')
            last_part = parts[i]
        if not covered[i]:
            out.append(f'<span class="w out" title="not in the input (truncated)">{_esc(w)}</span>')
            continue
        out.append(f'<span class="w" style="background:{_color(s, scale)}" title="{s:+.4f}">{_esc(w)}</span>')
    return " ".join(out)


def legend() -> str:
    pos, neg = f"rgba({','.join(map(str, POS))},0.85)", f"rgba({','.join(map(str, NEG))},0.85)"
    return (f'<p class="small">Shading: <span class="key" style="background:{pos}"></span> towards the explained '
            f'class, <span class="key" style="background:{neg}"></span> away from it; opacity = |score| / the largest '
            f'|score| of that row (printed under the method: a pale row with a small maximum is a flat one). '
            f'Struck-through words were cut by the model\'s sequence length. Hover a word for its score (change of the '
            f'explained class\'s log-odds).</p>')


def sentence_table(rows: list[dict], words: list[str], parts: list[int] | None = None,
                   note_header: str = "vs teacher") -> str:
    """``rows``: {model, method, label, prob, note, scores, covered}, grouped by method under a caption row."""
    head = f"<tr><th>model</th><th>method</th><th>prediction</th><th>{_esc(note_header)}</th><th>words</th></tr>"
    body, last_method = [], None
    for r in rows:
        if r["method"] != last_method:
            body.append(f'<tr class="sep"><td colspan="5">{_esc(METHOD_NAMES.get(r["method"], r["method"]))}</td></tr>')
        last_method = r["method"]
        cls = ' class="ig"' if r["method"] == "ig" else ""
        prob = f" {r['prob']:.3f}" if r.get("prob") is not None else ""
        covered = r.get("covered") or [True] * len(r["scores"])
        scale = max((abs(s) for s, c in zip(r["scores"], covered) if c), default=0.0)
        # each row is shaded relative to its own largest |score|: say how large that is, so a flat row is seen as flat
        method = f'{_esc(r["method"])}<br><span class="muted small">max |score| {scale:.3g}</span>'
        body.append(f'<tr{cls}><td class="model">{_esc(r["model"])}</td><td class="meta">{method}</td>'
                    f'<td class="meta">{_esc(r["label"])}{prob}</td><td class="meta">{r.get("note") or ""}</td>'
                    f'<td>{shaded_words(words, r["scores"], covered, parts)}</td></tr>')
    return f'<table class="attr">{head}{"".join(body)}</table>'


METHOD_NAMES = {"ablation": "word ablation (black box: every model and artifact)",
                "ig": "Integrated Gradients (torch models, padding baseline)"}


def _fmt(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def agreement_table(agreement: list[dict], top_k: int) -> str:
    head = ("<tr><th>model</th><th>format</th><th>precision</th><th>rows</th><th>label agreement</th>"
            f"<th>ablation ρ mean ± std</th><th>ablation top-{top_k} overlap</th><th>IG ρ mean ± std</th>"
            f"<th>IG top-{top_k} overlap</th><th>IG median |δ|/|Δf|</th></tr>")
    body = []
    for a in agreement:
        name = a["model"] + (f" <span class='muted'>({_esc(a['method'])})</span>" if a["method"] != "ablation" else "")
        sp = f"{_fmt(a['spearman_mean'])} ± {_fmt(a['spearman_std'])}" if a["spearman_mean"] is not None else "–"
        ig = (f"{_fmt(a['ig_spearman_mean'])} ± {_fmt(a['ig_spearman_std'])}"
              if a.get("ig_spearman_mean") is not None else "–")
        la = ("–" if a.get("label_agreement") is None or a["method"] != "ablation"
              else f"{a['label_agreement'] * 100:.1f}%")
        body.append(f"<tr><td>{name}</td><td>{_esc(a['format'])}</td><td>{_esc(a['precision'])}</td>"
                    f"<td class='num'>{a['rows']}</td><td class='num'>{la}</td><td class='num'>{sp}</td>"
                    f"<td class='num'>{_fmt(a['top_k_mean'])}</td><td class='num'>{ig}</td>"
                    f"<td class='num'>{_fmt(a.get('ig_top_k_mean'))}</td>"
                    f"<td class='num'>{_fmt(a.get('ig_relative_delta_median'), 4)}</td></tr>")
    return f'<table class="agree">{head}{"".join(body)}</table>'


def study_sentence(row: dict, models: list[dict], reference: str, heading: str = "") -> str:
    words = row.get("words") or []
    parts = row.get("parts")
    table_rows = []
    for method in ("ablation", "ig"):
        for m in models:
            got = row["models"].get(m["name"])
            if not got or method not in got:
                continue
            cmp = (row.get("compare", {}).get(m["name"]) or {}).get(method) or {}
            note = "" if m["name"] == reference else (
                f"ρ {_fmt(cmp.get('spearman'), 2)}, top-k {_fmt(cmp.get('top_k'), 2)}" if cmp else "")
            if m["name"] != reference and got["label"] != row["models"][reference]["label"]:
                note += ' <span class="flag">label differs</span>'
            prob = max(got["probs"]) if got.get("probs") else None
            table_rows.append({"model": m["name"], "method": method, "label": got["label"], "prob": prob, "note": note,
                               "scores": got[method], "covered": got.get("covered")})
    title = (f"#{row['index']} · gold <b>{_esc(row['label'])}</b> · teacher <b>"
             f"{_esc(row['models'][reference]['label'])}</b> · explaining <b>{_esc(row.get('target'))}</b>")
    table = sentence_table(table_rows, words, parts)
    return f'<section id="row-{row["index"]}"><h3>{heading}{title}</h3>{table}</section>'


def study_page(study: dict, title: str = "edgeport explain") -> str:
    """The explain stage's page: agreement table, the most divergent rows, then every sampled row."""
    ref, models = study["reference"], study["models"]
    by_index = {r["index"]: r for r in study["rows"]}
    steps = f" ({study['ig_steps']} steps, padding baseline)" if study.get("ig_steps") else ""
    intro = (f"<p>{len(study['rows'])} evaluation rows. Every model is explained by <b>word ablation</b> through its "
             f"runtime (each word's tokens replaced by the tokenizer's [PAD]; score = drop of the explained class's "
             f"log-odds), the torch models also by <b>Integrated Gradients</b> on the input embeddings"
             f"{steps}. The class "
             f"explained is the teacher's prediction, for every model. ρ: Spearman rank correlation of the word "
             f"scores with the teacher's (same method); top-k: of the {study['top_k']} words with the largest "
             f"|score| for each model, the share that both pick and that push the same way.</p>")
    divergent = [study_sentence(by_index[d["row"]], models, ref,
                                heading=f"<span class='flag'>{_esc(d['model'])} ρ {d['spearman']:+.2f}</span> · ")
                 for d in study["divergent"] if d["row"] in by_index]
    every = [study_sentence(r, models, ref) for r in study["rows"]]
    return _page(title, [f"<h1>{_esc(title)}</h1>", intro, "<h2>Agreement with the teacher</h2>",
                         agreement_table(study["agreement"], study["top_k"]), legend(),
                         "<h2>Label agrees, reasons diverge most</h2>",
                         "".join(divergent) or "<p>None: no row where a model agrees on the label.</p>",
                         "<h2>Every sampled row</h2>", "".join(every)])


def single_page(source: str, attrs: dict, label_names: list[str], text: str, pair: str | None) -> str:
    """``edgeport explain --html``: one input, one row per method."""
    first = next(iter(attrs.values()))
    parts = first.word_part if pair is not None else None
    rows = []
    for method, a in attrs.items():
        note = f"δ {a.delta:+.4f}" if a.delta is not None else ""
        rows.append({"model": source, "method": method, "label": _label(a.predicted, label_names),
                     "prob": float(a.probs.max()), "note": _esc(note), "scores": list(a.word_scores),
                     "covered": list(a.covered)})
    head = (f"<h1>{_esc(source)}</h1><p>Prediction <b>{_esc(_label(first.predicted, label_names))}</b>; explaining "
            f"<b>{_esc(_label(first.target, label_names))}</b> (log-odds {first.score:+.3f}).</p>")
    return _page(f"edgeport explain: {source}", [head, legend(),
                                                 sentence_table(rows, first.words, parts, "convergence")])


def _label(i: int, names: list[str]) -> str:
    return names[i] if 0 <= i < len(names) else str(i)


def _page(title: str, parts: list[str]) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f'<style>{CSS}</style></head><body>\n' + "\n".join(parts) + "\n</body></html>\n")
