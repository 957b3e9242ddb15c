"""Teacher stage: load the teacher and fine-tune a classification head (or take an existing classifier as is)."""

from __future__ import annotations

from ..errors import ModelError
from ..models import resolve_model_dir
from ..models.loading import check_teacher
from ..pipeline import dist


def ce_loss(model, batch):
    import torch.nn.functional as F

    from ..training.loop import model_inputs

    return F.cross_entropy(model(**model_inputs(batch)).logits, batch["labels"])


class TeacherStage:
    name = "teacher"
    sections = ("data", "teacher")
    uses_data = True
    distributed = True
    key_metric = "eval_accuracy"

    def enabled(self, cfg) -> bool:
        return True

    def inputs(self, cfg) -> dict[str, str]:
        return {}

    def preflight(self, cfg) -> None:
        check_teacher(resolve_model_dir(cfg.teacher.model), cfg.teacher.allow_pickle, cfg.data.max_seq_len)

    def run(self, ctx) -> dict:
        # torch and the training loop load here, not at import: `edgeport run --dry-run` imports every stage.
        from torch.utils.data import DataLoader

        from ..data import encode
        from ..models import load_classifier, load_tokenizer, save_model
        from ..models.loading import has_classifier_head
        from ..training import evaluate, fit
        from ..training.loop import make_collate

        cfg, task = ctx.cfg, ctx.task()
        spec = resolve_model_dir(cfg.teacher.model)
        tokenizer = load_tokenizer(spec)
        ready = has_classifier_head(spec, task.label_names)
        if cfg.teacher.finetune == "never" and not ready:
            raise ModelError(f"teacher.finetune is 'never' but {cfg.teacher.model} has no classification head for "
                             f"the labels {task.label_names}; set teacher.finetune: auto")
        finetune = cfg.teacher.finetune == "always" or not ready
        model = load_classifier(spec, label_names=task.label_names, allow_pickle=cfg.teacher.allow_pickle,
                                dropout=cfg.teacher.dropout)
        collate = make_collate(tokenizer.pad_token_id or 0)
        eval_rows = encode(task.eval, tokenizer, cfg.data.max_seq_len)
        metrics = {"model": cfg.teacher.model, "finetuned": finetune,
                   "params": sum(p.numel() for p in model.parameters()),
                   "layers": model.config.num_hidden_layers, "hidden_size": model.config.hidden_size}
        if finetune:
            train = task.train.head(cfg.data.train_limit)
            rows = encode(train, tokenizer, cfg.data.max_seq_len)
            result = fit(model, rows, eval_rows, cfg.teacher.train, ce_loss, collate, cfg.run.seed, "teacher")
            metrics |= {"eval_accuracy": result.best_accuracy, "train_rows": len(rows), "steps": result.steps,
                        "best_step": result.best_step, "train_seconds": result.seconds,
                        "stopped_early": result.stopped_early, "history": result.history}
        else:
            loader = DataLoader(eval_rows, batch_size=cfg.teacher.train.eval_batch_size, collate_fn=collate)
            metrics["eval_accuracy"] = evaluate(model, loader)
        metrics["eval_rows"] = len(eval_rows)
        if dist.is_main():
            save_model(model, tokenizer, ctx.out)
        return metrics
