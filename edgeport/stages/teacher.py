"""Teacher stage: load the teacher and fine-tune a classification head (or take an existing classifier as is)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ModelError
from ..models import resolve_model_dir
from ..models.loading import check_teacher
from ..pipeline import dist
from ..pipeline import fingerprint as fp

if TYPE_CHECKING:
    from ..config import DataSpec, TeacherConfig
    from ..training.loop import TrainEnv


@dataclass(frozen=True)
class TeacherSettings:
    teacher: TeacherConfig
    data: DataSpec
    train_rows: int | None  # data.train_limit: fine-tune on the first N shuffled training rows (None: all)
    seed: int
    env: TrainEnv
    teacher_weights: fp.ModelSource
    libs: fp.Libraries


class TeacherStage:
    name = "teacher"
    uses_data = True
    distributed = True
    gate_stops_run = True  # a model no better than the majority class stops the run here
    key_metric = "eval_accuracy"

    def enabled(self, cfg) -> bool:
        return True

    def inputs(self, cfg) -> dict[str, str]:
        # with pretrain on, the teacher fine-tunes the pre-trained encoder (a masked-LM dir: a fresh classifier head)
        return {"pretrain": "pretrain"} if cfg.pretrain.enabled else {}

    def configure(self, cfg) -> TeacherSettings:
        from ..training.loop import train_env  # torch: only when planning a run

        return TeacherSettings(teacher=cfg.teacher, data=cfg.data.spec(), train_rows=cfg.data.train_limit,
                               seed=cfg.run.seed, env=train_env(cfg.teacher.train, cfg.run.threads),
                               teacher_weights=fp.ModelSource(cfg.teacher.model),
                               libs=fp.libraries("model", "training"))

    def preflight(self, cfg: TeacherSettings) -> None:
        spec = resolve_model_dir(cfg.teacher.model)
        check_teacher(spec, cfg.teacher.allow_pickle, cfg.data.max_seq_len)
        task_check = PREFLIGHTS.get(cfg.data.task)
        if task_check is not None:
            task_check(spec, cfg)
        if cfg.data.metric == "f1" and cfg.data.label_names is None:
            # binary F1 needs two classes; with label names inferred from the data, only the data can tell
            from ..data import load_task
            from ..stats import check_metric

            task = load_task(cfg.data, seed=cfg.seed)
            check_metric("f1", task.num_labels, task.label_names)

    def run(self, ctx) -> dict:
        return RECIPES[ctx.cfg.data.task](ctx)

    @staticmethod
    def _classifier(ctx) -> dict:
        # torch and the training recipes load here, not at import: `edgeport run --dry-run` imports every stage.
        from ..models import load_classifier, load_tokenizer, save_model
        from ..models.loading import has_classifier_head
        from ..data import encode
        from ..stats import metric_value
        from ..training import recipe

        cfg, task = ctx.cfg, ctx.task()
        metric = cfg.data.metric
        spec = ctx.inputs["pretrain"] if "pretrain" in ctx.inputs else resolve_model_dir(cfg.teacher.model)
        tokenizer = load_tokenizer(spec)
        ready = has_classifier_head(spec, task.label_names)
        if cfg.teacher.finetune == "never" and not ready:
            raise ModelError(f"teacher.finetune is 'never' but {cfg.teacher.model} has no classification head for "
                             f"the labels {task.label_names}; set teacher.finetune: auto")
        finetune = cfg.teacher.finetune == "always" or not ready
        model = load_classifier(spec, label_names=task.label_names, allow_pickle=cfg.teacher.allow_pickle,
                                dropout=cfg.teacher.dropout)
        metrics = {"model": cfg.teacher.model, "finetuned": finetune, "pretrained": "pretrain" in ctx.inputs,
                   "params": sum(p.numel() for p in model.parameters()),
                   "layers": model.config.num_hidden_layers, "hidden_size": model.config.hidden_size}
        if not task.labelled:  # data.texts (finetune never, checked at config load): no label to measure it on
            metrics |= {"labelled": False, "eval_split": task.eval.name, "eval_rows": len(task.eval)}
            if dist.is_main():
                save_model(model, tokenizer, ctx.out)
            return metrics
        collate = recipe.collate_for(tokenizer)
        train = task.train.head(cfg.train_rows)
        select_rows = encode(task.select, tokenizer, cfg.data.max_seq_len)
        if finetune:
            rows = encode(train, tokenizer, cfg.data.max_seq_len)
            result = recipe.finetune(model, rows, select_rows, cfg.teacher.train, collate, cfg.seed, "teacher",
                                     metric=metric)
            metrics |= {"train_rows": len(rows)} | result.metrics()
            select_preds = result.select_predictions
        else:
            select_preds = recipe.predictions(model, select_rows, collate)
            metrics["select_accuracy"] = metric_value("accuracy", task.select.labels, select_preds, task.num_labels)
            metrics["select_metric"] = metric
            if metric != "accuracy":
                metrics[f"select_{metric}"] = metric_value(metric, task.select.labels, select_preds, task.num_labels)
        metrics |= recipe.split_metrics(task, model, tokenizer, collate, cfg.data.max_seq_len, metric)
        evidence = recipe.useful_test(task.select.labels, train.labels, task.label_names, metric=metric,
                                      select_accuracy=metrics["select_accuracy"], select_preds=select_preds,
                                      seed=cfg.seed)
        failure = recipe.useless_message("teacher", evidence, task.label_names, trained=finetune)
        metrics["useful_gate"] = evidence
        metrics["gate_failures"] = [failure] if failure and cfg.teacher.train.useful_gate else []
        if dist.is_main():
            save_model(model, tokenizer, ctx.out)
        return metrics


# The teacher's recipe per task (``edgeport.tasks``): a classifier is fine-tuned (or taken with its head), an
# embedding model is taken as it ships and measured, a token classifier is fine-tuned on its tags, a question-answering
# model on its answer spans. Each imports its recipe when it runs: `import edgeport.stages` loads no ML library.
def _embedding(ctx) -> dict:
    from ..tasks import embedding

    return embedding.teacher(ctx)


def _tokens(ctx) -> dict:
    from ..tasks import tokens

    return tokens.teacher(ctx)


def _qa(ctx) -> dict:
    from ..tasks import qa

    return qa.teacher(ctx)


RECIPES = {"sequence-classification": TeacherStage._classifier, "sentence-embedding": _embedding,
           "token-classification": _tokens, "question-answering": _qa}


def _tokens_preflight(spec, cfg: TeacherSettings) -> None:
    from ..tasks import tokens

    tokens.check_tokenizer(spec, cfg.data, cfg.seed)


def _qa_preflight(spec, cfg: TeacherSettings) -> None:
    from ..tasks import qa

    qa.check_tokenizer(spec)


# What a task checks of the teacher before anything runs, beyond what every task checks: a token classifier's
# tokenizer must encode a sentence's text as it encodes its words, a question-answering model's must be a fast one
# (answers are read through its character offsets). A tokenizer that cannot is refused here, not at the teacher
# stage after the data and model are loaded.
PREFLIGHTS = {"token-classification": _tokens_preflight, "question-answering": _qa_preflight}
