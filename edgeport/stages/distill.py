"""Distill stage: a shallower (optionally narrower) student trained on the teacher's soft labels."""

from __future__ import annotations

from ..errors import ConfigError
from ..pipeline import dist
from ..pipeline import fingerprint as fp


def _check_hidden_loss(dcfg, student_width: int, teacher_width: int) -> None:
    """Hidden-state MSE compares layer outputs directly, so it needs a student as wide as the teacher."""
    if dcfg.hidden_loss_weight > 0 and student_width != teacher_width:
        raise ConfigError([f"distill.hidden_loss_weight > 0 needs a student as wide as the teacher ({teacher_width}); "
                           "unset distill.student.hidden_size or set the weight to 0"])


class DistillStage:
    name = "distill"
    uses_data = True
    distributed = True
    gate_stops_run = True  # a model no better than the majority class stops the run here
    key_metric = "eval_accuracy"

    def enabled(self, cfg) -> bool:
        return cfg.distill.enabled

    def inputs(self, cfg) -> dict[str, str]:
        return {"teacher": "teacher"}

    def reads(self, cfg) -> dict[str, object]:
        from ..training.loop import precision_part  # torch: only when planning a run

        return (fp.data() | fp.values("data", max_seq_len=cfg.data.max_seq_len)
                | fp.fields(cfg, "distill", without=("train_limit",))
                | fp.values("distill", train_rows=cfg.distill.train_limit or cfg.data.train_limit)
                | fp.libraries("model", "training") | precision_part(cfg.distill.train))

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
        # torch and the training recipes load here, not at import: `edgeport run --dry-run` imports every stage.
        from ..models import build_student, load_classifier, load_tokenizer, save_model
        from ..data import encode
        from ..training import recipe

        cfg, task, dcfg = ctx.cfg, ctx.task(), ctx.cfg.distill
        teacher_dir = ctx.inputs["teacher"]
        tokenizer = load_tokenizer(teacher_dir)  # the student starts from the teacher's vocabulary
        teacher = load_classifier(teacher_dir).eval()
        student = build_student(teacher, dcfg.student)
        _check_hidden_loss(dcfg, student.config.hidden_size, teacher.config.hidden_size)  # hub teachers: first check
        collate = recipe.collate_for(tokenizer)
        train = task.train.head(dcfg.train_limit or cfg.data.train_limit)
        rows = encode(train, tokenizer, cfg.data.max_seq_len)
        select_rows = encode(task.select, tokenizer, cfg.data.max_seq_len)
        if dcfg.hidden_loss_weight == 0:
            recipe.attach_teacher_logits(rows, teacher, tokenizer, train, cfg.data.max_seq_len, ctx.cache_dir,
                                         ctx.manifest.outputs_digest("teacher"),
                                         recipe.resolve_precision(dcfg.train.precision))
        kd = recipe.KD(dcfg.alpha, dcfg.temperature, dcfg.hidden_loss_weight, tuple(dcfg.student.layers))
        result = recipe.distill(student, rows, select_rows, dcfg.train, kd, collate, cfg.run.seed, teacher=teacher)
        metrics = {"params": sum(p.numel() for p in student.parameters()), "layers": student.config.num_hidden_layers,
                   "hidden_size": student.config.hidden_size, "train_rows": len(rows)} | result.metrics()
        metrics |= recipe.split_metrics(task, student, tokenizer, collate, cfg.data.max_seq_len)
        metrics |= _teacher_comparison(ctx, student, teacher, tokenizer, collate)
        failure = recipe.useless_model_failure("distill", metrics["select_accuracy"], task.select.labels,
                                               train.labels, task.label_names)
        metrics["gate_failures"] = [failure] if failure and dcfg.train.useful_gate else []
        if dist.is_main():
            save_model(student, tokenizer, ctx.out)
        return metrics


def _teacher_comparison(ctx, student, teacher, tokenizer, collate) -> dict:
    """Label agreement with the teacher on the evaluation split (measured, never used to choose)."""
    from ..data import encode
    from ..training import predict_logits

    eval_rows = encode(ctx.task().eval, tokenizer, ctx.cfg.data.max_seq_len)
    t_logits = predict_logits(teacher, eval_rows, collate, desc="teacher eval")
    s_logits = predict_logits(student, eval_rows, collate, desc="student eval")
    agreement = (t_logits.argmax(-1) == s_logits.argmax(-1)).float().mean().item()
    return {"teacher_eval_accuracy": ctx.input_metrics("teacher").get("eval_accuracy"),
            "teacher_select_accuracy": ctx.input_metrics("teacher").get("select_accuracy"),
            "eval_teacher_agreement": round(agreement, 6)}
