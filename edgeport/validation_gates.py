"""Validate's gates: the one implementation. Each gate is decided once, here, into a typed ``verdict.Gate``.

Every artifact is judged on ``Evidence``: its logits and the fp32 torch reference's on the same eval rows, both
computed the way the artifact runs on a phone (batch 1, the row's true length or its TFLite bucket; see
``validation``), the labels, the teacher's logits for the end-to-end gate, the resolved logit tolerance and the
TFLite op list. ``RULES`` is the registry: one small entry per gate (its name, when it applies, how it decides);
``judge`` runs the ones that apply. Messages are written from the numbers a gate decided on, never read back.

The rules, by the kind of evidence:

* **fp32 parity** (``fp32_parity``) is deterministic: an fp32 artifact computes the same function as the torch
  model, so any flipped label fails, except a row whose reference logits are tied within the format's fp32
  tolerance (top-2 margin <= 2 x ``max_abs``: each logit may move by ``max_abs``); those are counted and named.
* **Logit tolerances** (``max_abs_diff``, ``mean_abs_diff``) are deterministic too: pass or fail. An INT8 limit is
  the (format, mode) noise budget's factor (``exporters.base.INT8_NOISE``, measured) times this model's own 8-bit
  noise on the same rows (torch's dynamic INT8 of the reference; ``validation.References.noise``).
* **Label gates on a sample** (INT8 ``agreement_vs_fp32`` and ``drop_vs_fp32``, every artifact's
  ``drop_vs_teacher``) are three-state: ``pass`` when the point estimate meets the limit; ``fail`` when it misses
  it and the one-sided exact test on the eval rows gives p < ``validate.significance`` (McNemar for drops,
  binomial for agreement; with ``data.metric`` F1/MCC the paired randomisation test); else ``inconclusive``: the
  rows cannot tell a miss from noise. An inconclusive artifact is not shipped unless the user accepts it.
* **Builtin ops** (TFLite): any Flex/custom op fails (stock LiteRT on a phone cannot run it).
* **Answer spans** (question-answering, ``Evidence.spans``: ``validation_qa``): a question's answer is the best span
  over its windows. fp32: the same span as the torch model on every question (``span_parity``, except questions
  whose best two spans score within 4 x the fp32 tolerance); INT8: span agreement against the floor, counting only
  changes outside the 8-bit shift of the question's margin (``span_agreement``, three-state as label agreement); SQuAD F1
  drops against fp32 (INT8) and the teacher (every artifact) over paired questions (``stats.mean_drop``,
  three-state); the tolerances over every window's start and end logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .tasks.vectors import cosine
from .verdict import Gate, State


@dataclass(frozen=True)
class Evidence:
    """What one artifact's gates decide on (``logits``/``reference``/``teacher``: ``[rows, labels]`` on the same
    eval rows)."""

    name: str
    fmt: str
    precision: str
    logits: np.ndarray
    reference: np.ndarray
    labels: np.ndarray | None  # None: unlabelled texts (data.texts): parity gates only, no drop gate
    tolerance: dict  # validation.resolved_tolerance: max_abs, mean_abs (+ INT8: how they were derived)
    teacher: np.ndarray | None = None
    non_builtin_ops: tuple[str, ...] | None = None  # TFLite only; None: not a TFLite file
    metric: str = "accuracy"  # data.metric: what the drop gates judge
    label_names: tuple[str, ...] = ()
    seed: int = 0  # the randomisation test's draws (data.metric other than accuracy)
    noise_rows: np.ndarray | None = None  # INT8: per row, the model's own 8-bit noise (validation.References)
    output: str = "logits"  # the task's output (tasks.TaskSpec.output): "logits" or "embedding" (unit vectors)
    scores: np.ndarray | None = None  # embedding: the pairs' gold scores (rows [0, n) and [n, 2n) are the pairs)
    yardstick_cosine: float | None = None  # embedding INT8: min cosine of torch's dynamic INT8 to the reference
    # token-classification (tasks.tokens.TokenEvidence): logits/reference are every eval token's outputs, one row
    # per token; the label gates read each word's first sub-token (its WordRows), the drops whole entities
    words: object | None = None
    unit: str = "eval rows"  # what a row of logits is, in the messages ("eval words" for a token task's label gates)
    # question-answering (validation_qa.SpanEvidence): the answers of the artifact, the reference and the teacher to
    # the same questions; logits/reference are every window's start and end logits, concatenated (tolerances)
    spans: object | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    applies: Callable[[Evidence, object], bool]
    decide: Callable[[Evidence, object], Gate]


def judge(ev: Evidence, vcfg) -> tuple[Gate, ...]:
    """Every gate that applies to this artifact, decided (``vcfg``: the validate config section)."""
    return tuple(rule.decide(ev, vcfg) for rule in RULES if rule.applies(ev, vcfg))


def lines(artifact: str, gates, state: State) -> list[str]:
    """'NAME: message' for the gates in ``state`` (inconclusive ones say so): the stage's failures and notes."""
    prefix = "inconclusive: " if state is State.INCONCLUSIVE else ""
    return [f"{artifact}: {prefix}{g.message}" for g in gates if g.state is state]


def evidence_rule(misses: bool, p: float, significance: float) -> State:
    """A sampled gate: pass when the point estimate meets the limit, fail when it misses and p < significance."""
    if not misses:
        return State.PASS
    return State.FAIL if p < significance else State.INCONCLUSIVE


# ------------------------------------------------------------------------------------------------ fp32 parity


def margins(logits: np.ndarray) -> np.ndarray:
    """Per row, the top logit minus the runner-up (0 for a tie)."""
    top2 = np.sort(np.asarray(logits, dtype=np.float64), axis=-1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def fp32_parity(ev: Evidence, vcfg) -> Gate:
    flipped = np.flatnonzero(ev.logits.argmax(-1) != ev.reference.argmax(-1))
    tie = 2 * float(ev.tolerance["max_abs"])
    tied_mask = margins(ev.reference)[flipped] <= tie
    tied, untied = flipped[tied_mask].tolist(), flipped[~tied_mask].tolist()
    n = len(ev.reference)
    text = (f"label parity with the fp32 torch model: {len(untied)} of {n} {ev.unit} flipped vs limit 0 "
            f"(fp32 is deterministic: any flip fails")
    text += (f"; {len(tied)} more flipped on reference logits tied within {tie:.3g} (2 x the fp32 tolerance), "
             f"not counted)" if tied else ")")
    return Gate("fp32_parity", State.FAIL if untied else State.PASS, value=len(untied), limit=0, message=text,
                evidence={"n": n, "flips": len(flipped), "tied_flips": len(tied), "tie_margin": tie,
                          "flipped_rows": untied[:50], "tied_rows": tied[:50]})


# ------------------------------------------------------------------------------------------------ label gates


def _bits(ev: Evidence) -> str:
    """"8-bit" / "4-bit": the quantisation noise this artifact's gates are counted in (``validation.yardstick_key``)."""
    from .precision import get

    return f"{get(ev.precision).linear_bits}-bit"


def int8_agreement(ev: Evidence, vcfg) -> Gate:
    """Label agreement, counting the flips 8-bit noise cannot explain: a row whose reference margin is within the
    tie band (``int8_band``) may flip under any sound quantization and is reported, not counted."""
    from .stats import agreement_test

    floor = int8_floor(ev, vcfg)
    flipped = ev.logits.argmax(-1) != ev.reference.argmax(-1)
    tied = flipped & (margins(ev.reference) <= int8_band(ev))
    s = agreement_test(~(flipped & ~tied), floor) | {"tied_flips": int(tied.sum()),
                                                     "tied_rows": np.flatnonzero(tied)[:50].tolist()}
    state = evidence_rule(s["agreement"] < floor, s["p_below"], vcfg.significance)
    lo, hi = s["ci95"]
    text = (f"label agreement with the fp32 torch model {s['agreement']:.4f} on {s['n']} {ev.unit} ({s['flips']} "
            f"flipped beyond {_bits(ev)} noise, 95% CI [{lo:.4f}, {hi:.4f}], one-sided binomial p={s['p_below']:.2g} "
            f"against a {1 - floor:.3g} flip rate) vs limit >= {floor}")
    if s["tied_flips"]:
        text += (f"; {s['tied_flips']} more flipped on rows tied at {_bits(ev)} resolution (reference margin within "
                 f"2 x {_band_factor(ev):g} x the row's own {_bits(ev)} noise), not counted")
    return Gate("agreement_vs_fp32", state, value=s["agreement"], limit=floor,
                message=_rule_note(text, state, vcfg), evidence=s)


def _band_factor(ev: Evidence) -> float:
    return float((ev.tolerance.get("budget") or {}).get("tie_factor", 1.0))


def int8_band(ev: Evidence) -> np.ndarray | float:
    """Per row, the reference margin within which a label may flip under sound 8-bit quantization: 2 x the budget's
    ``tie_factor`` x the row's own 8-bit noise (the yardstick's largest |Δlogit| on it: each of the two logits may
    move that far). Without the per-row noise, no row is tied (every flip counts)."""
    if ev.noise_rows is None:
        return 0.0
    return 2 * _band_factor(ev) * np.asarray(ev.noise_rows, dtype=np.float64)


def int8_floor(ev: Evidence, vcfg) -> float:
    """``validate.int8_min_agreement`` when set, else the (format, mode) noise budget's floor."""
    if vcfg.int8_min_agreement is not None:
        return float(vcfg.int8_min_agreement)
    return float(ev.tolerance["min_agreement"])


def drop_vs_fp32(ev: Evidence, vcfg) -> Gate:
    return _drop_gate("drop_vs_fp32", ev, ev.reference, "fp32 torch", vcfg.int8_max_accuracy_drop, vcfg)


def drop_vs_teacher(ev: Evidence, vcfg) -> Gate:
    return _drop_gate("drop_vs_teacher", ev, ev.teacher, "the teacher", vcfg.max_drop_vs_teacher, vcfg)


def _drop_gate(name: str, ev: Evidence, against: np.ndarray, who: str, limit: float, vcfg) -> Gate:
    """The paired drop of the artifact against ``against`` on the same rows, in points of ``data.metric``."""
    from .stats import metric_drop, metric_title, paired_drop

    labels, pred = np.asarray(ev.labels), ev.logits.argmax(-1)
    acc = paired_drop(against.argmax(-1) == labels, pred == labels)
    if ev.metric == "accuracy":
        s, lo_hi = acc, acc["ci95_points"]
        what = (f"accuracy drop {s['drop_points']:.2f} points vs {who} on {s['n']} eval rows ({s['accuracy'] * 100:.2f}% "
                f"vs {s['ref_accuracy'] * 100:.2f}%, 95% CI [{lo_hi[0]:.2f}, {lo_hi[1]:.2f}], {s['b']} rows lost / "
                f"{s['c']} gained, one-sided McNemar p={s['p_worse']:.2g})")
    else:
        k = len(ev.label_names) or int(ev.logits.shape[-1])
        s = metric_drop(ev.metric, labels, against.argmax(-1), pred, k, seed=ev.seed)
        s |= {"title": metric_title(ev.metric, list(ev.label_names)), "accuracy_evidence": acc}
        lo, hi = s["ci95_points"]
        what = (f"{s['title']} drop {s['drop_points']:.2f} points vs {who} on {s['n']} eval rows ({s['value'] * 100:.2f} "
                f"vs {s['ref_value'] * 100:.2f}; accuracy {s['accuracy'] * 100:.2f}% vs {s['ref_accuracy'] * 100:.2f}%; "
                f"paired bootstrap 95% CI [{lo:.2f}, {hi:.2f}], one-sided randomisation p={s['p_worse']:.2g})")
    return _drop_verdict(name, s, what, limit, vcfg)


def _drop_verdict(name: str, s: dict, what: str, limit: float, vcfg) -> Gate:
    """A sampled drop (``s``: drop_points, p_worse) against its limit, three-state (``evidence_rule``)."""
    state = evidence_rule(s["drop_points"] > limit, s["p_worse"], vcfg.significance)
    return Gate(name, state, value=s["drop_points"], limit=limit,
                message=_rule_note(f"{what} vs limit <= {limit}", state, vcfg), evidence=s)


def _rule_note(text: str, state: State, vcfg) -> str:
    if state is State.INCONCLUSIVE:
        return f"{text}; the point estimate misses the limit but the rows cannot confirm it (fails only when p < " \
               f"{vcfg.significance:g})"
    return text


# ------------------------------------------------------------------------------------------------ embeddings


FP32_MIN_COSINE = 0.9999  # an fp32 artifact computes the same vector up to float noise (measured: >= 0.999999)


def min_cosine_limit(ev: Evidence, vcfg) -> tuple[float, str]:
    """(limit, where it comes from): ``validate.min_cosine`` when set; fp32: ``FP32_MIN_COSINE``; quantized: the
    model's own 8-bit noise scaled like the logit budgets, 1 - max_factor x (1 - the yardstick's min cosine)."""
    if vcfg.min_cosine is not None:
        return float(vcfg.min_cosine), "validate.min_cosine"
    if not _int8(ev, vcfg) or ev.yardstick_cosine is None:
        return FP32_MIN_COSINE, "fp32: float noise only"
    factor = float((ev.tolerance.get("budget") or {}).get("max_factor", 2.0))
    # rounded down, and never above fp32's limit: a model whose yardstick shows no 8-bit noise at all (a cosine
    # of 1 to 7 digits) still leaves a quantized artifact float noise
    limit = min(FP32_MIN_COSINE, math.floor((1 - factor * (1 - ev.yardstick_cosine)) * 1e6) / 1e6)
    return limit, (f"min(0.9999, 1 - {factor:g} x (1 - {ev.yardstick_cosine:.6f})): this model's min cosine under "
                   f"torch dynamic INT8 scaled by the (format, mode) noise budget")


def cosine_vs_fp32(ev: Evidence, vcfg) -> Gate:
    """Every row's vector against the fp32 torch model's: the minimum cosine must reach the limit (deterministic)."""
    cos = cosine(ev.logits, ev.reference)
    limit, source = min_cosine_limit(ev, vcfg)
    worst_row = int(cos.argmin())
    state = State.FAIL if cos.min() < limit else State.PASS
    return Gate("cosine_vs_fp32", state, value=round(float(cos.min()), 6), limit=limit,
                message=f"cosine with the fp32 torch vector: min {cos.min():.6f} (row {worst_row}), mean "
                        f"{cos.mean():.6f} over {len(cos)} sentences vs limit >= {limit:.6f} ({source})",
                evidence={"min": round(float(cos.min()), 6), "mean": round(float(cos.mean()), 6),
                          "worst_row": worst_row, "n": int(len(cos)), "source": source})


def _spearman_gate(name: str, ev: Evidence, against: np.ndarray, who: str, limit: float, vcfg) -> Gate:
    """The paired Spearman drop (points) of the artifact's pair cosines against ``against``'s on the same pairs."""
    from .stats import spearman_drop

    n = len(ev.logits) // 2
    pair = lambda v: cosine(v[:n], v[n:])  # noqa: E731
    s = spearman_drop(ev.scores, pair(against), pair(ev.logits), seed=ev.seed)
    lo, hi = s["ci95_points"]
    what = (f"Spearman drop {s['drop_points']:.2f} points vs {who} on {s['n']} eval pairs ({s['value'] * 100:.2f} "
            f"vs {s['ref_value'] * 100:.2f}, paired bootstrap 95% CI [{lo:.2f}, {hi:.2f}], one-sided permutation "
            f"p={s['p_worse']:.2g})")
    return _drop_verdict(name, s, what, limit, vcfg)


def spearman_vs_fp32(ev: Evidence, vcfg) -> Gate:
    return _spearman_gate("drop_vs_fp32", ev, ev.reference, "fp32 torch", vcfg.int8_max_accuracy_drop, vcfg)


def spearman_vs_teacher(ev: Evidence, vcfg) -> Gate:
    return _spearman_gate("drop_vs_teacher", ev, ev.teacher, "the teacher", vcfg.max_drop_vs_teacher, vcfg)


# ------------------------------------------------------------------------------------------------ token tags


def per_word(ev: Evidence) -> Evidence:
    """A token classifier's evidence as one row per kept word (its first sub-token, where its tag is read): the
    classifier's label gates then judge word labels, with each word's own 8-bit noise as its tie band."""
    from dataclasses import replace

    rows = ev.words.rows
    rows.check(ev.logits)
    pick = lambda a: None if a is None else np.asarray(a)[rows.first]  # noqa: E731
    return replace(ev, logits=pick(ev.logits), reference=pick(ev.reference), labels=rows.gold_ids,
                   noise_rows=pick(ev.noise_rows), teacher=None, words=None,
                   unit="eval words (each read at its first sub-token)")


def _entity_gate(name: str, ev: Evidence, against: list[list[str]], who: str, limit: float, vcfg) -> Gate:
    """The paired drop of strict entity F1 (points) against ``against``'s tags on the same sentences."""
    from .stats import entity_f1_drop
    from .tasks.tokens import entity_counts

    rows = ev.words.rows
    gold = [list(g) for g in rows.gold]
    s = entity_f1_drop(entity_counts(gold, against), entity_counts(gold, rows.tags(ev.logits)), seed=ev.seed)
    lo, hi = s["ci95_points"]
    what = (f"entity F1 drop {s['drop_points']:.2f} points vs {who} on {s['n']} eval sentences "
            f"({s['value'] * 100:.2f} vs {s['ref_value'] * 100:.2f}, strict IOB2; paired bootstrap over sentences "
            f"95% CI [{lo:.2f}, {hi:.2f}], one-sided paired permutation p={s['p_worse']:.2g})")
    return _drop_verdict(name, s, what, limit, vcfg)


def entity_f1_vs_fp32(ev: Evidence, vcfg) -> Gate:
    return _entity_gate("drop_vs_fp32", ev, ev.words.rows.tags(ev.reference), "fp32 torch",
                        vcfg.int8_max_accuracy_drop, vcfg)


def entity_f1_vs_teacher(ev: Evidence, vcfg) -> Gate:
    return _entity_gate("drop_vs_teacher", ev, ev.words.teacher_tags, "the teacher", vcfg.max_drop_vs_teacher, vcfg)


# ------------------------------------------------------------------------------------------------ answer spans


def span_parity(ev: Evidence, vcfg) -> Gate:
    """fp32: the same answer span as the fp32 torch model on every question, except a question whose best two spans'
    scores are within 4 x the fp32 tolerance (a span's score is two logits, each may move ``max_abs``, and the two
    spans' scores may move apart both ways)."""
    s = ev.spans
    band = 4 * float(ev.tolerance["max_abs"])
    changed = s.changed()
    tied = changed & (s.reference.margin <= band)
    untied = np.flatnonzero(changed & ~tied)
    n = len(changed)
    text = (f"answer span parity with the fp32 torch model: {len(untied)} of {n} eval questions answered with another "
            f"span vs limit 0 (fp32 is deterministic: any change fails")
    text += (f"; {int(tied.sum())} more on questions whose best two spans score within {band:.3g} (4 x the fp32 "
             f"tolerance), not counted)" if tied.any() else ")")
    return Gate("fp32_parity", State.FAIL if len(untied) else State.PASS, value=len(untied), limit=0, message=text,
                evidence={"n": n, "changed": int(changed.sum()), "tied_changes": int(tied.sum()), "tie_margin": band,
                          "changed_questions": untied[:50].tolist()})


def span_agreement(ev: Evidence, vcfg) -> Gate:
    """INT8: the share of questions answered with the fp32 torch model's span, counting only the changes 8-bit noise
    cannot explain: a question whose best two spans' margin is within 2 x the budget's ``tie_factor`` x how far this
    model's own 8-bit noise moved that margin (``validation_qa.question_noise``: the yardstick's margin change) may
    change under any sound quantization."""
    from .stats import agreement_test

    s, floor = ev.spans, int8_floor(ev, vcfg)
    changed = s.changed()
    band = 2 * _band_factor(ev) * (s.noise if s.noise is not None else 0.0)
    tied = changed & (s.reference.margin <= band)
    a = agreement_test(~(changed & ~tied), floor) | {"tied_changes": int(tied.sum()),
                                                     "raw_agreement": round(float(1 - changed.mean()), 6)}
    state = evidence_rule(a["agreement"] < floor, a["p_below"], vcfg.significance)
    lo, hi = a["ci95"]
    text = (f"answer span agreement with the fp32 torch model {a['agreement']:.4f} on {a['n']} eval questions "
            f"({a['flips']} changed beyond 8-bit noise, 95% CI [{lo:.4f}, {hi:.4f}], one-sided binomial "
            f"p={a['p_below']:.2g} against a {1 - floor:.3g} change rate) vs limit >= {floor}")
    if a["tied_changes"]:
        text += (f"; {a['tied_changes']} more changed on questions whose best two spans' margin is within 2 x "
                 f"{_band_factor(ev):g} x the margin's own 8-bit shift (torch dynamic INT8), not counted")
    return Gate("agreement_vs_fp32", state, value=a["agreement"], limit=floor,
                message=_rule_note(text, state, vcfg), evidence=a)


def _f1_gate(name: str, ev: Evidence, against, who: str, limit: float, vcfg) -> Gate:
    """The paired drop of SQuAD F1 (points, mean over questions) against ``against``'s answers to the same
    questions."""
    from .stats import mean_drop

    mine = ev.spans.answers
    s = mean_drop(against.f1, mine.f1, metric="squad_f1", seed=ev.seed)
    lo, hi = s["ci95_points"]
    what = (f"SQuAD F1 drop {s['drop_points']:.2f} points vs {who} on {s['n']} eval questions "
            f"({s['value'] * 100:.2f} vs {s['ref_value'] * 100:.2f}; EM {mine.em.mean() * 100:.2f} vs "
            f"{against.em.mean() * 100:.2f}; paired bootstrap 95% CI [{lo:.2f}, {hi:.2f}], one-sided paired "
            f"permutation p={s['p_worse']:.2g})")
    return _drop_verdict(name, s, what, limit, vcfg)


def f1_vs_fp32(ev: Evidence, vcfg) -> Gate:
    return _f1_gate("drop_vs_fp32", ev, ev.spans.reference, "fp32 torch", vcfg.int8_max_accuracy_drop, vcfg)


def f1_vs_teacher(ev: Evidence, vcfg) -> Gate:
    return _f1_gate("drop_vs_teacher", ev, ev.spans.teacher, "the teacher", vcfg.max_drop_vs_teacher, vcfg)


# ------------------------------------------------------------------------------------------------ deterministic


def _tolerance_gate(metric: str):
    def decide(ev: Evidence, vcfg) -> Gate:
        diff = np.abs(ev.logits.astype(np.float64) - ev.reference.astype(np.float64))
        value = float(diff.max() if metric == "max_abs" else diff.mean())
        limit = float(ev.tolerance[metric])
        state = State.FAIL if value > limit else State.PASS
        return Gate(f"{metric}_diff", state, value=value, limit=limit,
                    message=f"{metric.replace('_', ' ')} diff {value:.3g} vs tolerance <= {limit:.3g}"
                            f"{_tolerance_source(ev.tolerance, metric)}",
                    evidence={"source": _tolerance_source(ev.tolerance, metric).strip(" ()")})
    return decide


def _tolerance_source(tol: dict, metric: str) -> str:
    if metric in tol.get("overridden", ()):
        return " (validate.tolerances)"
    if "budget" in tol:
        factor = tol["budget"]["max_factor" if metric == "max_abs" else "mean_factor"]
        noise = tol.get("noise_of", "8-bit noise (torch dynamic INT8 of the reference)")
        return (f" ({factor:g} x {tol['yardstick'][metric]:.3g}, this model's {metric.replace('_', ' ')} {noise}: "
                f"the measured noise budget of {tol['format']} {tol['mode']})")
    return " (the format's fp32 tolerance)"


def builtin_ops(ev: Evidence, vcfg) -> Gate:
    bad = list(ev.non_builtin_ops or ())
    text = (f"non-builtin TFLite ops {bad} vs limit: builtin ops only (stock LiteRT on a phone cannot run them)"
            if bad else "builtin TFLite ops only")
    return Gate("builtin_ops", State.FAIL if bad else State.PASS, value=len(bad), limit=0, message=text,
                evidence={"non_builtin_ops": bad})


def _int8(ev: Evidence, vcfg) -> bool:
    """The quantized artifacts (int8, w4): judged against fp32 and the model's own 8-bit noise."""
    from .exporters.base import quantized

    return quantized(ev.precision)


def _labelled(ev: Evidence) -> bool:
    """A drop is a difference of accuracies: without labels (data.texts) there is none, only parity."""
    return ev.labels is not None


def _logits(ev: Evidence) -> bool:
    """A classifier's logits: one row per input (a token classifier's have one per token: ``_tokens``)."""
    return ev.output == "logits" and ev.words is None


def _tokens(ev: Evidence) -> bool:
    return ev.words is not None


def _vectors(ev: Evidence) -> bool:
    return ev.output == "embedding"


def _spans(ev: Evidence) -> bool:
    return ev.spans is not None


RULES: tuple[Rule, ...] = (
    # classifiers (logits): labels
    Rule("fp32_parity", lambda ev, v: _logits(ev) and ev.precision == "fp32", fp32_parity),
    Rule("agreement_vs_fp32", lambda ev, v: _logits(ev) and _int8(ev, v), int8_agreement),
    Rule("drop_vs_fp32", lambda ev, v: _logits(ev) and _int8(ev, v) and _labelled(ev), drop_vs_fp32),
    Rule("drop_vs_teacher", lambda ev, v: _logits(ev) and _labelled(ev) and ev.teacher is not None
         and v.max_drop_vs_teacher is not None, drop_vs_teacher),
    # sentence embeddings (unit vectors): cosine to the fp32 vector, Spearman of the pairs' cosines
    Rule("cosine_vs_fp32", lambda ev, v: _vectors(ev), cosine_vs_fp32),
    Rule("drop_vs_fp32", lambda ev, v: _vectors(ev) and _int8(ev, v) and ev.scores is not None, spearman_vs_fp32),
    Rule("drop_vs_teacher", lambda ev, v: _vectors(ev) and ev.scores is not None and ev.teacher is not None
         and v.max_drop_vs_teacher is not None, spearman_vs_teacher),
    # token classifiers (a tag per word, on its first sub-token): word labels, strict entity F1
    Rule("fp32_parity", lambda ev, v: _tokens(ev) and ev.precision == "fp32", lambda ev, v: fp32_parity(
        per_word(ev), v)),
    Rule("agreement_vs_fp32", lambda ev, v: _tokens(ev) and _int8(ev, v), lambda ev, v: int8_agreement(
        per_word(ev), v)),
    Rule("drop_vs_fp32", lambda ev, v: _tokens(ev) and _int8(ev, v), entity_f1_vs_fp32),
    Rule("drop_vs_teacher", lambda ev, v: _tokens(ev) and ev.words.teacher_tags is not None
         and v.max_drop_vs_teacher is not None, entity_f1_vs_teacher),
    # question answering (the best span over a question's windows): span parity / agreement, SQuAD F1
    Rule("fp32_parity", lambda ev, v: _spans(ev) and ev.precision == "fp32", span_parity),
    Rule("agreement_vs_fp32", lambda ev, v: _spans(ev) and _int8(ev, v), span_agreement),
    Rule("drop_vs_fp32", lambda ev, v: _spans(ev) and _int8(ev, v), f1_vs_fp32),
    Rule("drop_vs_teacher", lambda ev, v: _spans(ev) and ev.spans.teacher is not None
         and v.max_drop_vs_teacher is not None, f1_vs_teacher),
    # every output: element-wise differences (a token classifier: over every real token), TFLite ops
    Rule("max_abs_diff", lambda ev, v: v.check_tolerances and ev.tolerance.get("max_abs") is not None,
         _tolerance_gate("max_abs")),
    Rule("mean_abs_diff", lambda ev, v: v.check_tolerances and ev.tolerance.get("mean_abs") is not None,
         _tolerance_gate("mean_abs")),
    Rule("builtin_ops", lambda ev, v: ev.non_builtin_ops is not None, builtin_ops),
)
