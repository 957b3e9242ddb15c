"""The training recipes every stage calls: fine-tune, distil, teacher logits (cached), measure, and the gate
against useless models. Stages are load -> recipe -> save; none sets up training by hand.

Three kinds of rows (``edgeport.data.Task``): a stage trains on its first N *training* rows, every choice
(checkpoint, early stop) is judged on the *selection* rows, and the *evaluation* split is only measured, once per
model, by ``measure``. Devices: ``fit`` trains wherever Accelerate puts it and returns the model on the CPU;
prediction runs on the model's device with the batches moved to it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import encode
from ..errors import ModelError
from ..stats import binomial_tail
from .kd import hidden_mse, kd_loss
from .loop import FitResult, fit, make_collate, model_inputs, predict_logits, training_device
from .loop import resolve_precision  # noqa: F401 - stages resolve precision through the recipe

USEFUL_P = 0.05  # a model must beat the majority-class rate with one-sided binomial p below this


@dataclass(frozen=True)
class KD:
    """What the student learns from: ``alpha`` x hard-label CE + (1 - alpha) x T^2 x KL on soft labels, plus
    ``hidden_weight`` x hidden-state MSE on ``layer_map`` (student layer i <- teacher layer layer_map[i])."""

    alpha: float
    temperature: float
    hidden_weight: float = 0.0
    layer_map: tuple[int, ...] = ()


def collate_for(tokenizer):
    """Dynamic-padding collate with the tokenizer's own pad id (RoBERTa's is 1, BERT's 0: never a literal)."""
    if tokenizer.pad_token_id is None:
        raise ModelError(f"the tokenizer ({type(tokenizer).__name__}) has no pad token; set one (e.g. "
                         f"tokenizer.pad_token = tokenizer.eos_token) and save it with the model")
    return make_collate(tokenizer.pad_token_id)


# ------------------------------------------------------------------------------------------ training


def finetune(model, train_rows, select_rows, tcfg, collate, seed: int, desc: str = "teacher") -> FitResult:
    """Cross-entropy fine-tuning; the checkpoint kept is the best on the selection rows."""

    def loss_fn(m, batch):
        return F.cross_entropy(m(**model_inputs(batch)).logits, batch["labels"])

    return fit(model, train_rows, select_rows, tcfg, loss_fn, collate, seed, desc)


def distill(student, train_rows, select_rows, tcfg, kd: KD, collate, seed: int, teacher=None,
            desc: str = "distill") -> FitResult:
    """Knowledge distillation. Logits only (``kd.hidden_weight == 0``): ``train_rows`` carry ``teacher_logits``
    (``attach_teacher_logits``). With hidden-state transfer the teacher runs alongside, on the student's device."""
    return fit(student, train_rows, select_rows, tcfg, kd_loss_fn(kd, teacher), collate, seed, desc)


def kd_loss_fn(kd: KD, teacher=None):
    def loss_fn(model, batch):
        inputs = model_inputs(batch)
        if kd.hidden_weight == 0:
            logits = model(**inputs).logits
            return kd_loss(logits, batch["teacher_logits"], batch["labels"], kd.alpha, kd.temperature)
        out = model(**inputs, output_hidden_states=True)
        with torch.no_grad():
            t_out = teacher.to(out.logits.device)(**inputs, output_hidden_states=True)
        loss = kd_loss(out.logits, t_out.logits, batch["labels"], kd.alpha, kd.temperature)
        hidden = hidden_mse(out.hidden_states, t_out.hidden_states, list(kd.layer_map),
                            mask=batch.get("attention_mask"))
        return loss + kd.hidden_weight * hidden

    return loss_fn


# ------------------------------------------------------------------------------------------ teacher logits


def attach_teacher_logits(rows: list[dict], teacher, teacher_tokenizer, split, max_len: int, cache_dir: Path,
                          teacher_id: str, precision: str = "fp32") -> None:
    """Put the teacher's logits on each of ``rows`` (the student's encoding of ``split``), in place.

    The teacher reads its *own* tokenisation of the same texts, so a student with another vocabulary (pruned, or
    another tokenizer family) learns from what the teacher really outputs on those texts."""
    logits = teacher_logits(teacher, teacher_tokenizer, split, max_len, cache_dir, teacher_id)
    if len(logits) != len(rows):
        raise ValueError(f"{len(rows)} student rows but {len(logits)} teacher rows: encode the same split")
    for row, values in zip(rows, logits.tolist()):
        row["teacher_logits"] = values


def teacher_logits(teacher, teacher_tokenizer, split, max_len: int, cache_dir: Path, teacher_id: str,
                   precision: str = "fp32") -> torch.Tensor:
    """The teacher's logits on ``split``, computed once and cached under ``cache_dir``.

    The key is what the logits are a function of: the teacher (``teacher_id``, the digest of its published
    files), the exact token ids it reads, the precision and the library versions they are computed with
    (``logits_key``). Edited rows, another limit, tokenisation, precision or torch/transformers get new logits."""
    from accelerate import PartialState
    from safetensors.torch import save_file

    rows = encode(split, teacher_tokenizer, max_len)
    key = logits_key(teacher_id, precision, rows)
    path = Path(cache_dir) / f"teacher-logits-{key}.safetensors"
    state = PartialState()
    if state.is_main_process and _cached_logits(path, len(rows)) is None:
        device = training_device()
        logits = predict_logits(teacher.to(device), rows, collate_for(teacher_tokenizer), desc="teacher logits",
                                precision=precision)
        teacher.to("cpu")
        tmp = path.with_suffix(".tmp")
        save_file({"logits": logits.contiguous()}, str(tmp))
        tmp.replace(path)
    state.wait_for_everyone()
    logits = _cached_logits(path, len(rows))
    if logits is None:
        raise OSError(f"teacher-logit cache {path} could not be read back after writing; check the disk")
    return logits


def logits_key(teacher_id: str, precision: str, rows: list[dict]) -> str:
    """What cached teacher logits are a function of: the teacher's files, the precision, the torch/transformers
    versions that compute them, and the exact token ids."""
    h = hashlib.sha256(f"{teacher_id}:{precision}:{_library_versions()}".encode())
    for row in rows:
        h.update(json.dumps([row["input_ids"], row.get("token_type_ids"), row.get("attention_mask")]).encode())
    return h.hexdigest()[:20]


def _library_versions() -> str:
    import transformers

    return f"torch={torch.__version__},transformers={transformers.__version__}"


def _cached_logits(path: Path, n_rows: int):
    """The cached logits, or None when missing, truncated or not for these rows: then they are recomputed."""
    from safetensors.torch import load_file

    try:
        logits = load_file(str(path))["logits"]
    except Exception:  # noqa: BLE001 - any unreadable cache file is rebuilt, never trusted
        return None
    return logits if logits.ndim == 2 and logits.shape[0] == n_rows and torch.isfinite(logits).all() else None


# ------------------------------------------------------------------------------------------ measuring


def accuracy(model, rows: list[dict], collate) -> float:
    """Share of ``rows`` the model labels correctly (a measurement: nothing is chosen on it)."""
    if not rows:
        return float("nan")
    logits = predict_logits(model, rows, collate, desc="measure")
    labels = torch.tensor([r["labels"] for r in rows])
    return round(float((logits.argmax(-1) == labels).float().mean()), 6)


def split_metrics(task, model, tokenizer, collate, max_len: int) -> dict:
    """The evaluation split measured once for the chosen model, and what each split is (names and sizes)."""
    eval_rows = encode(task.eval, tokenizer, max_len)
    return {"eval_accuracy": accuracy(model, eval_rows, collate), "eval_split": task.eval.name,
            "eval_rows": len(eval_rows), "select_rows": len(task.select),
            "select_majority_rate": majority_rate(task.select.labels, task.train.labels)}


def useless_model_failure(what: str, select_accuracy: float, select_labels: list[int], train_labels: list[int],
                          label_names: list[str]) -> str | None:
    """A gate message when the model is no better than always answering the training split's majority class,
    judged on the selection split (one-sided exact binomial test), else None."""
    majority, _ = Counter(train_labels).most_common(1)[0]
    n = len(select_labels)
    rate = sum(1 for y in select_labels if y == majority) / n
    correct = round(select_accuracy * n)
    p = binomial_tail(correct, n, rate)
    if select_accuracy > rate and p < USEFUL_P:
        return None
    return (f"{what}: selection-split accuracy {select_accuracy:.2%} is no better than always answering "
            f"'{label_names[majority]}' ({rate:.2%}) on {n} selection rows (one-sided binomial p={p:.2g}, needs "
            f"< {USEFUL_P}); the model learned nothing useful: train longer ({what}.train.epochs or "
            f"train.min_steps), try another learning rate ({what}.train.lr, e.g. 2e-5 to 1e-4), or add rows")


def majority_rate(select_labels: list[int], train_labels: list[int]) -> float:
    majority, _ = Counter(train_labels).most_common(1)[0]
    return round(sum(1 for y in select_labels if y == majority) / max(len(select_labels), 1), 6)
