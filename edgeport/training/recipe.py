"""The training recipes every stage calls: fine-tune, measure, and the gate against useless models (distillation
and the cached teacher logits: ``training.distillation``). Stages are load -> recipe -> save; none sets up
training by hand.

Three kinds of rows (``edgeport.data.Task``): a stage trains on its first N *training* rows, every choice
(checkpoint, early stop) is judged on the *selection* rows, and the *evaluation* split is only measured, once per
model, by ``measure``. Devices: ``fit`` trains wherever Accelerate puts it and returns the model on the CPU;
prediction runs on the model's device with the batches moved to it.
"""

from __future__ import annotations

from collections import Counter

import torch
import torch.nn.functional as F

from ..data import encode
from ..errors import ModelError
from ..stats import binomial_tail, check_metric, metric_title, metric_value, paired_metric_test
from .loop import FitResult, fit, make_collate, model_inputs, predict_logits
from .loop import resolve_precision  # noqa: F401 - stages resolve precision through the recipe

USEFUL_P = 0.05  # a model must beat the majority-class rate with one-sided binomial p below this


def collate_for(tokenizer):
    """Dynamic-padding collate with the tokenizer's own pad id (RoBERTa's is 1, BERT's 0: never a literal)."""
    if tokenizer.pad_token_id is None:
        raise ModelError(f"the tokenizer ({type(tokenizer).__name__}) has no pad token; set one (e.g. "
                         f"tokenizer.pad_token = tokenizer.eos_token) and save it with the model")
    return make_collate(tokenizer.pad_token_id)


# ------------------------------------------------------------------------------------------ training


def finetune(model, train_rows, select_rows, tcfg, collate, seed: int, desc: str = "teacher", *,
             metric: str = "accuracy") -> FitResult:
    """Cross-entropy fine-tuning; the checkpoint kept is the best on the selection rows by ``metric``
    (``data.metric``)."""

    def loss_fn(m, batch):
        return F.cross_entropy(m(**model_inputs(batch)).logits, batch["labels"])

    return fit(model, train_rows, select_rows, tcfg, loss_fn, collate, seed, desc, metric=metric)


# ------------------------------------------------------------------------------------------ measuring


def predictions(model, rows: list[dict], collate) -> list[int]:
    """The model's predicted label for each of ``rows``, in order (fp32, a measurement)."""
    if not rows:
        return []
    return predict_logits(model, rows, collate, desc="measure").argmax(-1).tolist()


def accuracy(model, rows: list[dict], collate) -> float:
    """Share of ``rows`` the model labels correctly (a measurement: nothing is chosen on it)."""
    if not rows:
        return float("nan")
    logits = predict_logits(model, rows, collate, desc="measure")
    labels = torch.tensor([r["labels"] for r in rows])
    return round(float((logits.argmax(-1) == labels).float().mean()), 6)


def measure(model, rows: list[dict], collate, metric: str = "accuracy", num_labels: int | None = None) -> dict:
    """``{"accuracy": ..., metric: ...}`` of the model on ``rows`` (one forward pass; nothing is chosen on it)."""
    if not rows:
        return {"accuracy": float("nan"), metric: float("nan")}
    preds, labels = predictions(model, rows, collate), [r["labels"] for r in rows]
    k = num_labels or int(model.config.num_labels)
    return {"accuracy": metric_value("accuracy", labels, preds, k), metric: metric_value(metric, labels, preds, k)}


def split_metrics(task, model, tokenizer, collate, max_len: int, metric: str = "accuracy") -> dict:
    """The evaluation split measured once for the chosen model, and what each split is (names and sizes; how the
    selection split was grouped, ``selection_grouping``: the resolved data.selection_grouping and why).

    ``eval_accuracy`` always; with another ``data.metric`` also ``eval_<metric>`` and the selection split's
    constant-baseline value of that metric (``select_baseline_<metric>``: what the useless-model gate beats)."""
    check_metric(metric, task.num_labels, task.label_names)
    eval_rows = encode(task.eval, tokenizer, max_len)
    scores = measure(model, eval_rows, collate, metric, task.num_labels)
    out = {"eval_accuracy": scores["accuracy"], "eval_split": task.eval.name, "eval_rows": len(eval_rows),
           "select_rows": len(task.select), "select_majority_rate": majority_rate(task.select.labels, task.train.labels),
           "selection_grouping": task.grouping_note, "metric": metric}
    if metric == "f1":
        out["positive_label"] = task.label_names[1]
    if metric != "accuracy":
        base = baseline_class(metric, task.train.labels)
        out |= {f"eval_{metric}": scores[metric],
                f"select_baseline_{metric}": metric_value(metric, task.select.labels, [base] * len(task.select),
                                                          task.num_labels)}
    return out


def baseline_class(metric: str, train_labels: list[int]) -> int:
    """The constant answer a useful model must beat: the training rows' majority class, except for ``f1``, where
    it is the positive class (index 1): always answering it has the best F1 a constant can have, 2p / (1 + p) for
    a positive share p (always answering the other class has F1 0). Every constant has MCC 0."""
    if metric == "f1":
        return 1
    return Counter(train_labels).most_common(1)[0][0]


def useful_test(select_labels: list[int], train_labels: list[int], label_names: list[str], *,
                metric: str = "accuracy", select_accuracy: float | None = None,
                select_preds: list[int] | None = None, seed: int = 0) -> dict:
    """Is the chosen model better than a constant answer on the selection rows, on ``metric``?

    accuracy: the training majority class's rate on the selection rows, one-sided exact binomial test of the
    number of correct rows (``select_accuracy`` is enough). F1, macro-F1, MCC: the constant ``baseline_class``
    scored on the same rows, one-sided paired bootstrap of metric(model) - metric(constant) over the selection
    rows (``edgeport.stats.paired_metric_test``, ``RESAMPLES`` resamples seeded with ``seed``; p = (1 + #{resampled
    difference <= 0}) / (resamples + 1); needs ``select_preds``). The bootstrap, not the randomisation test
    validate uses, because the other side is a constant (see ``paired_metric_test``). Passes when the model's value
    is higher and p < ``USEFUL_P``."""
    k = len(label_names)
    base = baseline_class(metric, train_labels)
    n = len(select_labels)
    if metric == "accuracy":
        if select_accuracy is None:
            select_accuracy = metric_value("accuracy", select_labels, select_preds, k)
        rate = sum(1 for y in select_labels if y == base) / n
        p = binomial_tail(round(select_accuracy * n), n, rate)
        return {"metric": metric, "value": select_accuracy, "baseline": label_names[base],
                "baseline_value": round(rate, 6), "n": n, "p": p, "test": "one-sided exact binomial",
                "passed": select_accuracy > rate and p < USEFUL_P}
    check_metric(metric, k, label_names)
    if select_preds is None or len(select_preds) != n:
        raise ValueError(f"the useless-model gate on {metric} needs the model's {n} selection-row predictions")
    t = paired_metric_test(metric, select_labels, select_preds, [base] * n, k, seed=seed)
    return {"metric": metric, "value": t["ref_value"], "baseline": label_names[base], "baseline_value": t["value"],
            "n": n, "p": t["p_worse_bootstrap"], "diff_ci95": t["ci95"],
            "test": f"one-sided paired bootstrap ({t['resamples']} resamples)",
            "passed": t["diff"] > 0 and t["p_worse_bootstrap"] < USEFUL_P}


def useless_model_failure(what: str, select_accuracy: float | None, select_labels: list[int],
                          train_labels: list[int], label_names: list[str], *, metric: str = "accuracy",
                          select_preds: list[int] | None = None, seed: int = 0) -> str | None:
    """A gate message when the model is no better than always giving one answer (``useful_test``), judged on the
    selection split, else None."""
    return useless_message(what, useful_test(select_labels, train_labels, label_names, metric=metric,
                                             select_accuracy=select_accuracy, select_preds=select_preds, seed=seed),
                           label_names)


def useless_message(what: str, evidence: dict, label_names: list[str], trained: bool = True) -> str | None:
    """The gate message for ``useful_test``'s evidence (None when it passed): what was compared, the test, and
    what to change (``trained``: False for a model taken as it is, which no training setting changes)."""
    t, metric = evidence, evidence["metric"]
    if t["passed"]:
        return None
    fix = (f"the model learned nothing useful: train longer ({what}.train.epochs or train.min_steps), try another "
           f"learning rate ({what}.train.lr, e.g. 2e-5 to 1e-4), or add rows" if trained else
           f"the model was taken as it is (it has a classification head for these labels, so it was not "
           f"fine-tuned here) and does not solve this task: check that it was fine-tuned for it and that the data's "
           f"labels are its classes {label_names} in output order (config.json id2label)")
    if metric == "accuracy":
        return (f"{what}: selection-split accuracy {t['value']:.2%} is no better than always answering "
                f"'{t['baseline']}' ({t['baseline_value']:.2%}) on {t['n']} selection rows (one-sided binomial "
                f"p={t['p']:.2g}, needs < {USEFUL_P}); {fix}")
    title = metric_title(metric, label_names)
    return (f"{what}: selection-split {title} {t['value']:.4f} is no better than always answering "
            f"'{t['baseline']}' ({title} {t['baseline_value']:.4f}) on {t['n']} selection rows (data.metric "
            f"{metric}; {t['test']} p={t['p']:.2g}, needs < {USEFUL_P}); {fix}")


def majority_rate(select_labels: list[int], train_labels: list[int]) -> float:
    majority, _ = Counter(train_labels).most_common(1)[0]
    return round(sum(1 for y in select_labels if y == majority) / max(len(select_labels), 1), 6)
