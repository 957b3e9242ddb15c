"""Distill stage: a shallower (optionally narrower) student trained on the teacher's soft labels."""

from __future__ import annotations

import hashlib
import json

from ..errors import ConfigError
from ..pipeline import dist


def _check_hidden_loss(dcfg, student_width: int, teacher_width: int) -> None:
    """Hidden-state MSE compares layer outputs directly, so it needs a student as wide as the teacher."""
    if dcfg.hidden_loss_weight > 0 and student_width != teacher_width:
        raise ConfigError([f"distill.hidden_loss_weight > 0 needs a student as wide as the teacher ({teacher_width}); "
                           "unset distill.student.hidden_size or set the weight to 0"])


class DistillStage:
    name = "distill"
    sections = ("data", "distill")
    uses_data = True
    distributed = True
    key_metric = "eval_accuracy"

    def enabled(self, cfg) -> bool:
        return cfg.distill.enabled

    def inputs(self, cfg) -> dict[str, str]:
        return {"teacher": "teacher"}

    def preflight(self, cfg) -> None:
        """A student that cannot be built from this teacher fails before the teacher is trained."""
        from pathlib import Path

        from ..models import resolve_model_dir
        from ..models.loading import read_model_config
        from ..models.student import student_config

        spec = resolve_model_dir(cfg.teacher.model)
        if not isinstance(spec, Path):
            return  # a hub teacher: checked when distill starts
        teacher = read_model_config(spec)
        student, _ = student_config(teacher, cfg.distill.student)
        _check_hidden_loss(cfg.distill, student.hidden_size, teacher.hidden_size)

    def run(self, ctx) -> dict:
        # torch and the training loop load here, not at import: `edgeport run --dry-run` imports every stage.
        from ..data import encode
        from ..models import build_student, load_classifier, load_tokenizer, save_model
        from ..training import fit
        from ..training.loop import make_collate

        cfg, task, dcfg = ctx.cfg, ctx.task(), ctx.cfg.distill
        teacher_dir = ctx.inputs["teacher"]
        tokenizer = load_tokenizer(teacher_dir)
        teacher = load_classifier(teacher_dir).eval()
        student = build_student(teacher, dcfg.student)
        _check_hidden_loss(dcfg, student.config.hidden_size, teacher.config.hidden_size)  # hub teachers: first check
        collate = make_collate(tokenizer.pad_token_id or 0)
        train = task.train.head(dcfg.train_limit or cfg.data.train_limit)
        rows = encode(train, tokenizer, cfg.data.max_seq_len)
        eval_rows = encode(task.eval, tokenizer, cfg.data.max_seq_len)
        if dcfg.hidden_loss_weight == 0:
            _attach_teacher_logits(ctx, teacher, rows, collate)
        loss_fn = self._loss(teacher, dcfg)
        result = fit(student, rows, eval_rows, dcfg.train, loss_fn, collate, cfg.run.seed, "distill")
        metrics = self._metrics(ctx, student, teacher, eval_rows, collate, result, len(rows))
        if dist.is_main():
            save_model(student, tokenizer, ctx.out)
        return metrics

    @staticmethod
    def _loss(teacher, dcfg):
        import torch

        from ..training import kd_loss
        from ..training.kd import hidden_mse
        from ..training.loop import model_inputs

        layer_map = dcfg.student.layers

        def loss_fn(model, batch):
            inputs = model_inputs(batch)
            if dcfg.hidden_loss_weight == 0:
                logits = model(**inputs).logits
                return kd_loss(logits, batch["teacher_logits"], batch["labels"], dcfg.alpha, dcfg.temperature)
            out = model(**inputs, output_hidden_states=True)
            with torch.no_grad():
                t_out = teacher.to(out.logits.device)(**inputs, output_hidden_states=True)
            loss = kd_loss(out.logits, t_out.logits, batch["labels"], dcfg.alpha, dcfg.temperature)
            return loss + dcfg.hidden_loss_weight * hidden_mse(out.hidden_states, t_out.hidden_states, layer_map)

        return loss_fn

    @staticmethod
    def _metrics(ctx, student, teacher, eval_rows, collate, result, n_rows) -> dict:
        from ..training import predict_logits

        t_logits = predict_logits(teacher, eval_rows, collate, desc="teacher eval")
        s_logits = predict_logits(student, eval_rows, collate, desc="student eval")
        agreement = (t_logits.argmax(-1) == s_logits.argmax(-1)).float().mean().item()
        return {
            "eval_accuracy": result.best_accuracy,
            "teacher_eval_accuracy": ctx.input_metrics("teacher").get("eval_accuracy"),
            "teacher_agreement": round(agreement, 6),
            "params": sum(p.numel() for p in student.parameters()),
            "layers": student.config.num_hidden_layers, "hidden_size": student.config.hidden_size,
            "train_rows": n_rows, "steps": result.steps, "best_step": result.best_step,
            "train_seconds": result.seconds, "stopped_early": result.stopped_early, "history": result.history,
        }


def _attach_teacher_logits(ctx, teacher, rows: list[dict], collate) -> None:
    """Teacher logits are computed once per (teacher weights, rows) and cached across re-runs of distill."""
    from safetensors.torch import save_file

    from ..training import predict_logits

    # The data fingerprint covers the files' bytes: edited rows must not reuse logits cached for the old ones.
    key = hashlib.sha256(json.dumps([ctx.manifest.outputs_digest("teacher"), ctx.task().fingerprint,
                                     len(rows), ctx.cfg.run.seed], sort_keys=True).encode()).hexdigest()[:20]
    path = ctx.cache_dir / f"teacher-logits-{key}.safetensors"
    if dist.is_main() and _cached_logits(path, len(rows)) is None:
        logits = predict_logits(teacher, rows, collate, desc="teacher logits")
        tmp = path.with_suffix(".tmp")
        save_file({"logits": logits.contiguous()}, str(tmp))
        tmp.replace(path)
    dist.barrier()
    logits = _cached_logits(path, len(rows))
    for row, values in zip(rows, logits.tolist()):
        row["teacher_logits"] = values


def _cached_logits(path, n_rows: int):
    """The cached logits, or None when missing, truncated or not for these rows: then they are recomputed."""
    import torch
    from safetensors.torch import load_file

    try:
        logits = load_file(str(path))["logits"]
    except Exception:  # noqa: BLE001 - any unreadable cache file is rebuilt, never trusted
        return None
    return logits if logits.ndim == 2 and logits.shape[0] == n_rows and torch.isfinite(logits).all() else None
