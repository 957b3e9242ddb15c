"""Distill stage: a shallower (optionally narrower) student trained on the teacher's soft labels.

Two kinds of student:

* built from the teacher (default): the teacher's architecture and tokenizer, ``distill.student.layers`` copied
  from the teacher's layers (narrower widths start from random weights);
* a model of its own (``distill.student.model``: a Hugging Face directory or hub id with its own tokenizer, e.g.
  a BERT-vocabulary student of an XLM-R teacher). It trains on its own tokenisation; the teacher's logits are
  computed from the teacher's own tokenisation of the same texts (``distillation.attach_teacher_logits``), which is all
  logit KD needs. Its output directory holds its own tokenizer, so prune, export and validate use it.
  Hidden-state KD compares the two models position by position and so needs the same token ids and width: it is
  refused when the tokenisations differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..pipeline import dist
from ..pipeline import fingerprint as fp

if TYPE_CHECKING:
    from ..config import DataSpec, DistillConfig
    from ..training.loop import TrainEnv


@dataclass(frozen=True)
class DistillSettings:
    distill: DistillConfig
    data: DataSpec
    train_rows: int | None  # distill.train_limit or data.train_limit (None: every training row)
    seed: int
    env: TrainEnv
    teacher_model: str  # teacher.model: preflight checks the student against it before the teacher trains
    student_weights: fp.ModelSource | None = fp.optional_input()  # distill.student.model's files
    student_layers: list[int] | str | None  # with student.model: its own layers kept ("all" when unset)
    extra_texts: object | None = fp.optional_input()  # the unlabelled texts' bytes (corpus.CorpusFiles)
    libs: fp.Libraries


def _check_hidden_loss(dcfg, student_width: int, teacher_width: int) -> None:
    """Hidden-state MSE compares layer outputs directly, so it needs a student as wide as the teacher."""
    if dcfg.hidden_loss_weight > 0 and student_width != teacher_width:
        fix = ("use a student model as wide as the teacher" if dcfg.student.model
               else "unset distill.student.hidden_size")
        raise ConfigError([f"distill.hidden_loss_weight > 0 needs a student as wide as the teacher ({teacher_width}); "
                           f"{fix} or set the weight to 0"])


def _tokenizers_differ_error(detail: str) -> ConfigError:
    return ConfigError([f"distill.hidden_loss_weight > 0 compares the student's and the teacher's hidden states "
                        f"token by token, so both must read the same token ids, but distill.student.model "
                        f"tokenizes differently from the teacher ({detail}); set distill.hidden_loss_weight: 0 "
                        f"(logit KD works across tokenizers) or use a student with the teacher's tokenizer"])


def _check_same_tokenizer(student_tok, teacher_tok) -> None:
    """Preflight: the two tokenizers' vocabularies and special ids must be identical for hidden-state KD."""
    if student_tok.get_vocab() != teacher_tok.get_vocab():
        raise _tokenizers_differ_error(f"vocabularies of {len(student_tok)} and {len(teacher_tok)} entries differ")
    for name in ("cls_token_id", "sep_token_id", "pad_token_id"):
        if getattr(student_tok, name, None) != getattr(teacher_tok, name, None):
            raise _tokenizers_differ_error(f"{name} differs")


def _check_same_ids(student_rows: list[dict], teacher_rows: list[dict]) -> None:
    """Run time: the exact rows the student trains on must be the teacher's token ids too."""
    for i, (s, t) in enumerate(zip(student_rows, teacher_rows)):
        if s["input_ids"] != t["input_ids"]:
            raise _tokenizers_differ_error(f"training row {i} has {len(s['input_ids'])} student ids vs "
                                           f"{len(t['input_ids'])} teacher ids")


def student_layer_map(n_student: int, n_teacher: int) -> tuple[int, ...]:
    """Hidden-state KD for a student of its own (same tokenizer and width): student layer i learns from teacher
    layer round((i + 1) * T / S) - 1, evenly spread and ending on the teacher's last layer."""
    return tuple(max(0, round((i + 1) * n_teacher / n_student) - 1) for i in range(n_student))


def resolve_student_model(spec: str):
    """``distill.student.model`` resolved like ``teacher.model`` (a path, builtin:NAME or a hub id); errors name
    the student's key."""
    from ..errors import ModelError
    from ..models import resolve_model_dir

    try:
        return resolve_model_dir(spec)
    except ModelError as exc:
        raise ModelError(f"distill.student.model: {str(exc).replace('teacher.model', 'distill.student.model')}") from None


def check_student_model(dcfg, max_seq_len: int) -> None:
    """Everything about ``distill.student.model`` that can be checked without loading weights: it exists, holds
    safetensors weights (no pickle option for students), a tokenizer and a supported architecture that takes
    ``data.max_seq_len`` tokens; ``distill.student.layers`` (when set) are within its own layers."""
    from pathlib import Path

    from ..errors import ModelError
    from ..models.loading import check_architecture, check_model_dir, read_model_config

    spec = resolve_student_model(dcfg.student.model)
    if not isinstance(spec, Path):
        return  # a hub id: checked when it is downloaded
    if (spec / "config.json").is_file() and not any(spec.glob("*.safetensors")):
        raise ModelError(f"distill.student.model: {spec} has no safetensors weights (model.safetensors); students "
                         f"load from safetensors only: convert the checkpoint")
    try:
        check_model_dir(spec, allow_pickle=False)
        config = read_model_config(spec)
        check_architecture(config, spec, max_seq_len)
    except ModelError as exc:
        raise ModelError(f"distill.student.model: {str(exc).replace('teacher.model', 'distill.student.model')}") from None
    own = dcfg.student.own_layers()
    n = config.num_hidden_layers
    if own is not None and any(not 0 <= i < n for i in own):
        raise ConfigError([f"distill.student.layers: {[i for i in own if not 0 <= i < n]} out of range; with "
                           f"distill.student.model they pick that model's own layers, 0..{n - 1} (unset: all)"])


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

    def configure(self, cfg) -> DistillSettings:
        from ..corpus import CorpusFiles
        from ..training.loop import train_env  # torch: only when planning a run

        d = cfg.distill
        own = d.student.own_layers() if d.student.model else None
        return DistillSettings(
            distill=d, data=cfg.data.spec(), train_rows=d.train_limit or cfg.data.train_limit, seed=cfg.run.seed,
            env=train_env(d.train, cfg.run.threads), teacher_model=cfg.teacher.model,
            student_weights=fp.ModelSource(d.student.model) if d.student.model else None,
            # unset layers keep all: the field's default value would not tell the two apart
            student_layers=(own if own is not None else "all") if d.student.model else None,
            extra_texts=CorpusFiles(d.extra_texts) if d.extra_texts else None,
            libs=fp.libraries("model", "training"))

    def preflight(self, cfg: DistillSettings) -> None:
        """A student that cannot be built from this teacher (or loaded, for a student model of its own) fails
        before the teacher is trained."""
        from pathlib import Path

        from ..models import load_tokenizer, resolve_model_dir
        from ..models.loading import read_model_config
        from ..models.student import student_config

        dcfg = cfg.distill
        if dcfg.extra_texts:
            from ..corpus import corpus_files

            corpus_files(dcfg.extra_texts)
        spec = resolve_model_dir(cfg.teacher_model)
        if dcfg.student.model:
            check_student_model(dcfg, cfg.data.max_seq_len)
            student_spec = resolve_student_model(dcfg.student.model)
            if dcfg.hidden_loss_weight > 0 and isinstance(spec, Path) and isinstance(student_spec, Path):
                _check_same_tokenizer(load_tokenizer(student_spec), load_tokenizer(spec))
                _check_hidden_loss(dcfg, read_model_config(student_spec).hidden_size,
                                   read_model_config(spec).hidden_size)
            return
        if not isinstance(spec, Path):
            return  # a hub teacher: checked when distill starts
        teacher = read_model_config(spec)
        student, _ = student_config(teacher, dcfg.student)
        _check_hidden_loss(dcfg, student.hidden_size, teacher.hidden_size)

    def run(self, ctx) -> dict:
        return RECIPES[ctx.cfg.data.task](ctx)

    @staticmethod
    def _classifier(ctx) -> dict:
        # torch and the training recipes load here, not at import: `edgeport run --dry-run` imports every stage.
        from ..data import encode
        from ..models import build_student, load_classifier, load_tokenizer, save_model
        from ..training import distillation, recipe

        cfg, task, dcfg = ctx.cfg, ctx.task(), ctx.cfg.distill
        metric, max_len = cfg.data.metric, cfg.data.max_seq_len
        teacher_dir = ctx.inputs["teacher"]
        teacher_tok = load_tokenizer(teacher_dir)
        teacher = load_classifier(teacher_dir).eval()
        train = task.train.head(cfg.train_rows)
        if dcfg.student.model:
            student, tokenizer, info = _own_student(dcfg, task.label_names, max_len)
            layer_map = student_layer_map(student.config.num_hidden_layers, teacher.config.num_hidden_layers)
        else:
            tokenizer = teacher_tok  # the student starts from the teacher's vocabulary
            student = build_student(teacher, dcfg.student)
            info = {"student_model": None, "student_tokenizer": "teacher's"}
            layer_map = tuple(dcfg.student.layers)
        _check_hidden_loss(dcfg, student.config.hidden_size, teacher.config.hidden_size)  # hub models: first check
        collate = recipe.collate_for(tokenizer)
        rows = encode(train, tokenizer, max_len)  # the student's own tokenisation
        select_rows = encode(task.select, tokenizer, max_len)
        _teacher_targets(ctx, rows, train, teacher, teacher_tok)
        extra_rows, extra_info = _extra_rows(ctx, tokenizer, teacher, teacher_tok) if dcfg.extra_texts else ([], {})
        aug_rows, aug_info = _augmented_rows(ctx, train, len(rows) + len(extra_rows), tokenizer, teacher, teacher_tok)
        kd = distillation.KD(dcfg.alpha, dcfg.temperature, dcfg.hidden_loss_weight, layer_map)
        result = distillation.distill(student, rows + extra_rows + aug_rows, select_rows, dcfg.train, kd, collate,
                                      cfg.seed, teacher=teacher, metric=metric)
        metrics = {"params": sum(p.numel() for p in student.parameters()), "layers": student.config.num_hidden_layers,
                   "hidden_size": student.config.hidden_size, "train_rows": len(rows)} | extra_info | aug_info | info
        metrics |= result.metrics()
        metrics |= recipe.split_metrics(task, student, tokenizer, collate, max_len, metric)
        metrics |= _teacher_comparison(ctx, student, tokenizer, collate, teacher, teacher_tok)
        evidence = recipe.useful_test(task.select.labels, train.labels, task.label_names, metric=metric,
                                      select_accuracy=metrics["select_accuracy"],
                                      select_preds=result.select_predictions, seed=cfg.seed)
        failure = recipe.useless_message("distill", evidence, task.label_names)
        metrics["useful_gate"] = evidence
        metrics["gate_failures"] = [failure] if failure and dcfg.train.useful_gate else []
        if dist.is_main():
            save_model(student, tokenizer, ctx.out)
        return metrics


def _teacher_targets(ctx, rows, split, teacher, teacher_tok) -> None:
    """Logit KD: each row gets the teacher's logits on the teacher's own token ids of the same text (cached), so
    it works across tokenizers. Hidden-state KD runs the teacher on the student's ids: with a student model of its
    own, those must be the teacher's ids too."""
    from ..data import encode
    from ..training import distillation, recipe

    dcfg, max_len = ctx.cfg.distill, ctx.cfg.data.max_seq_len
    if dcfg.hidden_loss_weight == 0:
        distillation.attach_teacher_logits(rows, teacher, teacher_tok, split, max_len, ctx.cache_dir,
                                     ctx.manifest.outputs_digest("teacher"),
                                     recipe.resolve_precision(dcfg.train.precision))
    elif dcfg.student.model:
        _check_same_ids(rows, encode(split, teacher_tok, max_len))


def _extra_rows(ctx, tokenizer, teacher, teacher_tok) -> tuple[list[dict], dict]:
    """``distill.extra_texts`` as training rows without a label (-100: the KD term only, ``training.kd``), each
    carrying the teacher's logits on its own tokenisation (cached like the labelled rows'). Texts that are also in
    the evaluation or selection split are dropped (exact text, case and whitespace normalised)."""
    from ..corpus import OverlapFilter, read_corpus
    from ..data import Split, encode

    cfg, task, dcfg = ctx.cfg, ctx.task(), ctx.cfg.distill
    max_len, pair_col = cfg.data.max_seq_len, cfg.data.text_pair_column
    texts, pairs = read_corpus(dcfg.extra_texts, fields=("text", cfg.data.text_column), pair_field=pair_col)
    held = OverlapFilter(task.eval, task.select)
    keep = [i for i, t in enumerate(texts) if not held.holds(t, [pairs[i]] if pairs else [])]
    split = Split("extra_texts", str(dcfg.extra_texts), [texts[i] for i in keep],
                  [pairs[i] for i in keep] if pairs else None, [-100] * len(keep))
    rows = encode(split, tokenizer, max_len)
    _teacher_targets(ctx, rows, split, teacher, teacher_tok)
    return rows, {"unlabelled_rows": len(rows), "unlabelled_dropped_eval_or_selection_text": len(texts) - len(keep)}


def _augmented_rows(ctx, train, filled: int, tokenizer, teacher, teacher_tok) -> tuple[list[dict], dict]:
    """``distill.augment``: word-replaced copies of the training texts (``training.augment``) as rows without a
    label, each carrying the teacher's logits (cached), when the ``filled`` rows (labelled + extra texts) are fewer
    than the distillation steps draw."""
    from ..corpus import OverlapFilter
    from ..data import encode
    from ..training import augment

    cfg, task, dcfg = ctx.cfg, ctx.task(), ctx.cfg.distill
    split, info = augment.copies_for(train, OverlapFilter(task.eval, task.select), filled, dcfg.augment, dcfg.train,
                                     teacher, teacher_tok, cfg.seed)
    if split is None:
        return [], info
    rows = encode(split, tokenizer, cfg.data.max_seq_len)
    _teacher_targets(ctx, rows, split, teacher, teacher_tok)
    return rows, info


def _own_student(dcfg, label_names: list[str], max_len: int):
    """(model, its tokenizer, metrics) for ``distill.student.model``, with the task's labels and, when
    ``distill.student.layers`` is set, only those of its own layers."""
    from ..models import load_classifier, load_tokenizer

    check_student_model(dcfg, max_len)  # a hub id resolves only now
    spec = resolve_student_model(dcfg.student.model)
    tokenizer = load_tokenizer(spec)
    model = load_classifier(spec, label_names=label_names)
    n_own = model.config.num_hidden_layers
    keep = dcfg.student.own_layers()
    if keep is not None:
        keep_layers(model, keep)
    return model, tokenizer, {"student_model": dcfg.student.model, "student_tokenizer": "own",
                              "student_vocab_size": len(tokenizer), "student_layers_kept": keep or list(range(n_own))}


def keep_layers(model, keep: list[int]) -> None:
    """Keep only encoder layers ``keep`` (in order) of a loaded classifier, in place; the architecture adapter says
    where its encoder layers are."""
    import torch

    from ..models import arch

    layers = arch.encoder_layers(model)
    arch.set_(model.base_model, arch.arch_for(model).layers, torch.nn.ModuleList([layers[i] for i in keep]))
    arch.set_(model.config, arch.arch_for(model).layers_key, len(keep))


def _teacher_comparison(ctx, student, tokenizer, collate, teacher, teacher_tok) -> dict:
    """Label agreement with the teacher on the evaluation split (measured, never used to choose); each model reads
    its own tokenisation of the rows."""
    from ..data import encode
    from ..training import predict_logits, recipe

    split, max_len = ctx.task().eval, ctx.cfg.data.max_seq_len
    t_logits = predict_logits(teacher, encode(split, teacher_tok, max_len), recipe.collate_for(teacher_tok),
                              desc="teacher eval")
    s_logits = predict_logits(student, encode(split, tokenizer, max_len), collate, desc="student eval")
    agreement = (t_logits.argmax(-1) == s_logits.argmax(-1)).float().mean().item()
    teacher_m = ctx.input_metrics("teacher")
    out = {"teacher_eval_accuracy": teacher_m.get("eval_accuracy"),
           "teacher_select_accuracy": teacher_m.get("select_accuracy"),
           "eval_teacher_agreement": round(agreement, 6)}
    metric = ctx.cfg.data.metric
    if metric != "accuracy":
        out |= {f"teacher_eval_{metric}": teacher_m.get(f"eval_{metric}"),
                f"teacher_select_{metric}": teacher_m.get(f"select_{metric}")}
    return out


# The student's recipe per task (``edgeport.tasks``): logit (+ hidden-state) KD for a classifier; the teacher's
# unit vectors for an embedding model; per-token KD for a token classifier; per-position KD on start and end for
# question answering. Each imports its recipe when it runs.
def _embedding(ctx) -> dict:
    from ..tasks import embedding_distill

    return embedding_distill.distill(ctx)


def _tokens(ctx) -> dict:
    from ..tasks import tokens_distill

    return tokens_distill.distill(ctx)


def _qa(ctx) -> dict:
    from ..tasks import qa_distill

    return qa_distill.distill(ctx)


RECIPES = {"sequence-classification": DistillStage._classifier, "sentence-embedding": _embedding,
           "token-classification": _tokens, "question-answering": _qa}
