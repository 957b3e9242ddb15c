"""Artifact validation: every artifact against the fp32 torch model on the task's evaluation split.

Per artifact: accuracy, label agreement and max/mean |Δlogit| against the reference, file size, the TFLite op
list. Gates compare those with the config's limits and the per-(format, precision[, mode])
tolerances; a failed gate is a message ("tflite-int8: accuracy drop 7.34 points vs fp32 torch on 872 eval rows
(...) vs limit <= 1.0"), never an exception, so every result is still written and the runner fails the run at
the end. Label gates are decided on paired evidence (``edgeport.stats``): a missed limit fails only when a
one-sided exact test on the eval rows confirms it, else it is reported inconclusive with its interval.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .runtimes.text import artifact_tokenizer, encode_rows, pad_batch, pad_token_id


def reference_logits(model, tokenizer, split, max_len: int, batch_size: int = 64) -> np.ndarray:
    """Logits of the fp32 torch model (eager, the reference for every artifact)."""
    from .runtimes.eager import EagerRunner

    rows = encode_rows(tokenizer, split.texts, split.pairs, max_len)
    runner = EagerRunner(model)
    return run_sorted(lambda b: runner(**b), rows, batch_size, pad_token_id(tokenizer))


def artifact_length(runner, max_len: int) -> int:
    """Tokens per row this artifact is fed: ``max_len``, or its static length (TFLite) when that is shorter."""
    return min(max_len, runner.seq_len or max_len)


class References:
    """The fp32 torch model's logits on a split, per tokenisation length, each computed once.

    An artifact is compared with the reference *at its own length*: a TFLite model static at 64 tokens sees rows
    truncated to 64, so its reference is the torch model on the same truncated rows, not on rows of
    ``data.max_seq_len`` (that would charge the truncation to the converter)."""

    def __init__(self, model, tokenizer, split, max_len: int, batch_size: int = 64):
        self.model, self.tokenizer, self.split = model, tokenizer, split
        self.max_len, self.batch_size = max_len, batch_size
        self._by_length: dict[int, np.ndarray] = {}

    def __call__(self, length: int | None = None) -> np.ndarray:
        length = min(self.max_len, length or self.max_len)
        if length not in self._by_length:
            self._by_length[length] = reference_logits(self.model, self.tokenizer, self.split, length,
                                                       self.batch_size)
        return self._by_length[length]

    def for_runner(self, runner) -> np.ndarray:
        return self(artifact_length(runner, self.max_len))


def run_sorted(fn, rows: list[dict], batch_size: int, pad_id: int) -> np.ndarray:
    """``fn(padded batch) -> logits`` over rows run shortest-first (little padding), returned in input order."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    chunks = [fn(pad_batch([rows[j] for j in order[i:i + batch_size]], pad_id=pad_id))
              for i in range(0, len(order), batch_size)]
    logits = np.concatenate(chunks)
    out = np.empty_like(logits)
    out[np.asarray(order)] = logits
    return out


def artifact_logits(runner, path: Path, split, max_len: int, batch_size: int) -> np.ndarray:
    """The artifact's logits on the split, tokenised by its own tokenizer at ``artifact_length`` (truncated to
    its static length); compare them with ``References.for_runner(runner)``, the reference at that length."""
    tokenizer = artifact_tokenizer(path)
    rows = encode_rows(tokenizer, split.texts, split.pairs, artifact_length(runner, max_len))
    return run_sorted(lambda b: runner(**b), rows, batch_size if runner.seq_len is None else 16,
                      pad_token_id(tokenizer))


def compare(logits: np.ndarray, reference: np.ndarray, labels) -> dict:
    labels = np.asarray(labels)
    diff = np.abs(logits.astype(np.float64) - reference.astype(np.float64))
    return {"accuracy": round(float((logits.argmax(-1) == labels).mean()), 6),
            "agreement": round(float((logits.argmax(-1) == reference.argmax(-1)).mean()), 6),
            "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean())}


def gate_stats(precision: str, logits: np.ndarray, reference: np.ndarray, labels, vcfg,
               teacher: np.ndarray | None = None) -> dict:
    """The evidence every label gate decides on, paired on the same eval rows, with each gate's limit and verdict.

    ``eval_drop_vs_fp32``: accuracy drop against the fp32 torch reference (gated for INT8);
    ``eval_agreement_vs_fp32``: label agreement with it (gated for both precisions, each with its floor);
    ``eval_drop_vs_teacher``: the end-to-end drop against the teacher (every artifact; when ``teacher`` logits are
    given and ``validate.max_drop_vs_teacher`` is set). Verdicts: ``pass``; ``fail`` when the point estimate misses
    the limit *and* the one-sided exact test gives p < ``validate.significance``; ``inconclusive`` when only the
    point estimate misses it (too few rows to tell a loss from noise).
    """
    from .stats import agreement_test, paired_drop

    labels = np.asarray(labels)
    pred, ref_pred = logits.argmax(-1), reference.argmax(-1)
    correct = pred == labels
    sig = vcfg.significance

    def verdict(exceeds: bool, p: float) -> str:
        return "pass" if not exceeds else "fail" if p < sig else "inconclusive"

    drop = paired_drop(ref_pred == labels, correct)
    drop_limit = vcfg.int8_max_accuracy_drop if precision == "int8" else None
    drop |= {"limit": drop_limit,
             "verdict": verdict(drop["drop_points"] > drop_limit, drop["p_worse"]) if drop_limit is not None
             else "not gated"}
    floor = vcfg.int8_min_agreement if precision == "int8" else vcfg.fp32_min_agreement
    agree = agreement_test(pred == ref_pred, floor)
    agree |= {"limit": floor, "verdict": verdict(agree["agreement"] < floor, agree["p_below"])}
    out = {"eval_rows": len(labels), "eval_drop_vs_fp32": drop, "eval_agreement_vs_fp32": agree}
    if teacher is not None and vcfg.max_drop_vs_teacher is not None:
        e2e = paired_drop(teacher.argmax(-1) == labels, correct)
        e2e |= {"limit": vcfg.max_drop_vs_teacher,
                "verdict": verdict(e2e["drop_points"] > vcfg.max_drop_vs_teacher, e2e["p_worse"])}
        out["eval_drop_vs_teacher"] = e2e
    return out


_DROP_GATES = (("eval_drop_vs_fp32", "fp32 torch"), ("eval_drop_vs_teacher", "the teacher"))


def _drop_text(s: dict, against: str) -> str:
    lo, hi = s["ci95_points"]
    return (f"{s['drop_points']:.2f} points vs {against} on {s['n']} eval rows ({s['accuracy'] * 100:.2f}% vs "
            f"{s['ref_accuracy'] * 100:.2f}%, 95% CI [{lo:.2f}, {hi:.2f}], {s['b']} rows lost / {s['c']} gained, "
            f"one-sided McNemar p={s['p_worse']:.2g})")


def _agreement_text(s: dict) -> str:
    lo, hi = s["ci95"]
    return (f"{s['agreement']:.4f} on {s['n']} eval rows ({s['flips']} flipped, 95% CI [{lo:.4f}, {hi:.4f}], "
            f"one-sided binomial p={s['p_below']:.2g} against a {1 - s['limit']:.3g} flip rate)")


def gate_failures(row: dict, vcfg, tolerance) -> list[str]:
    """Messages for every gate this artifact fails: 'NAME: METRIC VALUE (evidence) vs limit LIMIT'.

    The label gates read the verdicts ``gate_stats`` put in the row; a missed limit that the eval rows cannot
    confirm is not a failure but a note (``gate_notes``)."""
    name = row["name"]
    fails = [f"{name}: {text}" for text in _label_gate_texts(row, "fail", drop_word="accuracy drop")]
    if vcfg.check_tolerances:
        how = ""
        if tolerance.get("qtol"):
            how = (f" (qtol {tolerance['qtol']['max_abs']:g}/{tolerance['qtol']['mean_abs']:g} steps of "
                   f"{tolerance['step']:.3g} = logit range {tolerance['logit_range']:.3g} / 255, "
                   f"{tolerance['mode']} INT8)")
        for metric, limit in (("max_abs_diff", tolerance["max_abs"]), ("mean_abs_diff", tolerance["mean_abs"])):
            if limit is not None and row[metric] > limit:
                set_by = " (validate.tolerances)" if metric[:-5] in tolerance.get("overridden", ()) else how
                fails.append(f"{name}: {metric.replace('_', ' ')} {row[metric]:.3g} vs tolerance <= {limit:.3g}"
                             f"{set_by}")
    if row.get("non_builtin_ops"):
        fails.append(f"{name}: non-builtin TFLite ops {row['non_builtin_ops']} vs limit: builtin ops only "
                     f"(stock LiteRT on a phone cannot run them)")
    return fails


def gate_notes(row: dict, vcfg) -> list[str]:
    """'inconclusive' lines: a label gate whose point estimate misses its limit on too little evidence."""
    return [f"{row['name']}: inconclusive: {text}; fails only when p < {vcfg.significance:g}"
            for text in _label_gate_texts(row, "inconclusive", drop_word="drop")]


def _label_gate_texts(row: dict, verdict: str, drop_word: str) -> list[str]:
    """The agreement and drop gates of ``row`` whose verdict is ``verdict``, each as 'WHAT VALUE (evidence) vs
    limit LIMIT'; shared by the failures and the inconclusive notes so both read alike."""
    texts = []
    agree = row.get("eval_agreement_vs_fp32")
    if agree and agree["verdict"] == verdict:
        texts.append(f"label agreement with the fp32 torch model {_agreement_text(agree)} "
                     f"vs limit >= {agree['limit']}")
    for key, against in _DROP_GATES:
        s = row.get(key)
        if s and s["verdict"] == verdict:
            texts.append(f"{drop_word} {_drop_text(s, against)} vs limit <= {s['limit']}")
    return texts


def resolved_tolerance(fmt: str, precision: str, vcfg, *, logit_range: float | None = None, mode: str | None = None,
                       qat: bool = False) -> dict:
    """The exporter's tolerance for this artifact, with any ``validate.tolerances.<format>-<precision>`` override.

    INT8: the precision's base + the (format, mode) ``qtol`` in quantisation steps of the reference logits, a step
    being ``logit_range / 255`` (``logit_range`` = max - min of the reference logits on the eval split); ``qat``
    artifacts use the format's ``qat`` entry (their weights moved away from the reference's). An override sets the
    absolute limit and wins.
    """
    from .exporters import qtol, tolerance

    base = tolerance(fmt, precision)
    out: dict = {"max_abs": base.max_abs, "mean_abs": base.mean_abs}
    if precision == "int8":
        if logit_range is None:
            raise ValueError("INT8 tolerances scale with the reference logits: pass logit_range (max - min)")
        q, step = qtol(fmt, mode, qat), float(logit_range) / 255
        out = {"max_abs": round(base.max_abs + q.max_abs * step, 6), "mean_abs": round(base.mean_abs + q.mean_abs * step, 6),
               "qtol": {"max_abs": q.max_abs, "mean_abs": q.mean_abs}, "mode": "qat" if qat else mode or "dynamic",
               "logit_range": round(float(logit_range), 6), "step": round(step, 6)}
    override = vcfg.tolerances.get(f"{fmt}-{precision}")
    for key in ("max_abs", "mean_abs"):
        if override is not None and getattr(override, key) is not None:
            out[key] = getattr(override, key)
            out.setdefault("overridden", []).append(key)
    return out


def _ci_cell(s: dict | None) -> str:
    if not s:
        return "-"
    lo, hi = s["ci95_points"]
    mark = {"fail": " **FAIL**", "inconclusive": " (inconclusive)"}.get(s.get("verdict"), "")
    return f"{s['drop_points']:+.2f} [{lo:+.2f}, {hi:+.2f}]{mark}"


def markdown_table(rows: list[dict]) -> str:
    lines = [("| artifact | accuracy % | agreement % | drop vs fp32, pts [95% CI] | drop vs teacher, pts [95% CI] | "
              "max abs Δlogit (tol) | mean abs Δlogit (tol) | size MB | gates |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tol = r.get("tolerance") or {}
        tol_max = f" ({tol['max_abs']:.3g})" if tol.get("max_abs") is not None else ""
        tol_mean = f" ({tol['mean_abs']:.3g})" if tol.get("mean_abs") is not None else ""
        status = "FAIL" if r["gate_failures"] else "inconclusive" if r.get("gate_notes") else "ok"
        lines.append(f"| {r['name']} | {r['accuracy'] * 100:.2f} | {r['agreement'] * 100:.2f} | "
                     f"{_ci_cell(r.get('eval_drop_vs_fp32'))} | {_ci_cell(r.get('eval_drop_vs_teacher'))} | "
                     f"{r['max_abs_diff']:.3g}{tol_max} | {r['mean_abs_diff']:.3g}{tol_mean} | "
                     f"{r['size_bytes'] / 1e6:.2f} | {status} |")
    return "\n".join(lines) + "\n"
