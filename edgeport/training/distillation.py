"""Distillation recipes: the KD loss wired into ``fit`` and the teacher's logits, computed once and cached.

Kept apart from ``training.recipe`` (fine-tuning, measurement) so the teacher stage's code fingerprint does not
cover the KD loss: editing ``training/kd.py`` re-runs distill, prune recovery and QAT, never the teacher.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import encode
from .kd import hidden_mse, kd_loss
from .loop import FitResult, fit, model_inputs, predict_logits, training_device
from .recipe import collate_for


@dataclass(frozen=True)
class KD:
    """What the student learns from: ``alpha`` x hard-label CE + (1 - alpha) x T^2 x KL on soft labels, plus
    ``hidden_weight`` x hidden-state MSE on ``layer_map`` (student layer i <- teacher layer layer_map[i])."""

    alpha: float
    temperature: float
    hidden_weight: float = 0.0
    layer_map: tuple[int, ...] = ()


def distill(student, train_rows, select_rows, tcfg, kd: KD, collate, seed: int, teacher=None,
            desc: str = "distill", *, metric: str = "accuracy") -> FitResult:
    """Knowledge distillation. Logits only (``kd.hidden_weight == 0``): ``train_rows`` carry ``teacher_logits``
    (``attach_teacher_logits``), computed from the teacher's own tokenisation, so the student may use another
    tokenizer. With hidden-state transfer the teacher runs alongside on the *student's* inputs (same tokenizer
    required, checked by the distill stage), on the student's device. The checkpoint kept is the best on the
    selection rows by ``metric``."""
    return fit(student, train_rows, select_rows, tcfg, kd_loss_fn(kd, teacher), collate, seed, desc, metric=metric)


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
    logits = teacher_logits(teacher, teacher_tokenizer, split, max_len, cache_dir, teacher_id, precision)
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
    versions and the edgeport code that compute them, and the exact token ids."""
    h = hashlib.sha256(f"{teacher_id}:{precision}:{_library_versions()}".encode())
    for row in rows:
        h.update(json.dumps([row["input_ids"], row.get("token_type_ids"), row.get("attention_mask")]).encode())
    return h.hexdigest()[:20]


def _library_versions() -> str:
    """The libraries and the edgeport code (tokenising rows, ``predict_logits``) the logits are computed with."""
    import transformers

    from ..pipeline.code import code_parts

    code = hashlib.sha256(json.dumps(code_parts("edgeport.training.loop") | code_parts("edgeport.data"),
                                     sort_keys=True).encode()).hexdigest()[:16]
    return f"torch={torch.__version__},transformers={transformers.__version__},code={code}"


def _cached_logits(path: Path, n_rows: int):
    """The cached logits, or None when missing, truncated or not for these rows: then they are recomputed."""
    from safetensors.torch import load_file

    try:
        logits = load_file(str(path))["logits"]
    except Exception:  # noqa: BLE001 - any unreadable cache file is rebuilt, never trusted
        return None
    return logits if logits.ndim == 2 and logits.shape[0] == n_rows and torch.isfinite(logits).all() else None
