"""The whole config: ``run`` and one section per stage, with the checks that span sections."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from .artifacts import BenchConfig, ExportConfig, QuantizeConfig, ReportConfig, ValidateConfig
from .base import Section
from .data import DataConfig
from .explain import ExplainConfig
from .models import DistillConfig, PretrainConfig, PruneConfig, TeacherConfig
from .tune import TuneConfig


class RunConfig(Section):
    name: str | None = Field(None, description="run directory name under runs_dir; defaults to the config file's stem")
    runs_dir: str = "runs"
    seed: int = 42
    threads: int | None = Field(None, ge=1, description="torch intra-op threads; default: all cores")

    @model_validator(mode="after")
    def _plain_name(self):
        # The name is one directory under runs_dir: a path in it would write (and lock) somewhere else.
        if self.name is not None and (not self.name.strip() or self.name in (".", "..") or "/" in self.name
                                      or "\\" in self.name):
            raise ValueError(f"run.name {self.name!r} must be a plain directory name (no '/', not '.' or '..'); "
                             f"set run.runs_dir to choose where runs go")
        return self


class PipelineConfig(Section):
    run: RunConfig = RunConfig()
    data: DataConfig = DataConfig()
    pretrain: PretrainConfig = PretrainConfig()
    teacher: TeacherConfig = TeacherConfig()
    distill: DistillConfig = DistillConfig()
    prune: PruneConfig = PruneConfig()
    quantize: QuantizeConfig = QuantizeConfig()
    export: ExportConfig = ExportConfig()
    validate: ValidateConfig = ValidateConfig()
    bench: BenchConfig = BenchConfig()
    explain: ExplainConfig = ExplainConfig()
    report: ReportConfig = ReportConfig()
    tune: TuneConfig = TuneConfig()

    @model_validator(mode="after")
    def _cross_field(self):
        problems = []
        classifier = self.data.task in ("sequence-classification", "token-classification")  # a head to fine-tune
        if classifier and self.teacher.model.startswith("builtin:") and self.teacher.finetune == "never":
            problems.append("teacher.finetune=never: the built-in teachers have no classification head; "
                            "use 'auto' or 'always', or point teacher.model at a fine-tuned classifier")
        if self.pretrain.enabled and self.teacher.finetune == "never":
            problems.append("pretrain.enabled gives the teacher stage a pre-trained encoder without a "
                            "classification head, so teacher.finetune cannot be 'never'; use 'auto' or 'always'")
        if self.data.text_pair_column and self.data.text_pair_column == self.data.text_column:
            problems.append("data.text_pair_column must differ from data.text_column")
        if self.data.label_column in (self.data.text_column, self.data.text_pair_column):
            problems.append("data.label_column must differ from the text columns")
        from ..targets import all_targets  # lazy: profiles are files, read only when a config is checked

        known = all_targets()
        problems += [f"bench.targets: unknown target '{t}'; known targets: {', '.join(known)}"
                     for t in self.bench.targets if t not in known]
        if self.quantize.enabled and not self.export.enabled:
            problems.append("quantize.enabled needs export.enabled: INT8 artifacts are made from the exported fp32 files")
        problems += _quantize_problems(self)
        problems += _explain_problems(self)
        problems += _unlabelled_problems(self)
        problems += _task_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def section(self, name: str) -> dict[str, Any]:
        return getattr(self, name).model_dump(mode="json")

    def export_seq_len(self) -> int:
        """Tokens the artifacts are exported for (TFLite's static length; the longest input the app feeds)."""
        return self.export.seq_len or self.data.max_seq_len


def _quantize_problems(cfg: PipelineConfig) -> list[str]:
    q, problems = cfg.quantize, []
    limit = cfg.validate.int8_max_accuracy_drop
    if q.fallback.enabled and q.fallback.max_accuracy_drop > limit:
        problems.append(f"quantize.fallback.max_accuracy_drop {q.fallback.max_accuracy_drop} exceeds "
                        f"validate.int8_max_accuracy_drop {limit}: the fallback would stop at artifacts the "
                        f"validate gate rejects; set it <= {limit}")
    if q.fallback.enabled and cfg.export.formats == ["tflite"]:
        problems.append("quantize.fallback supports torchscript and onnx artifacts (ai-edge-quantizer has no "
                        "per-layer exclusion wired in yet); add one of them to export.formats or disable it")
    return problems


def _task_problems(cfg: PipelineConfig) -> list[str]:
    """What the task's registry entry marks as not supported (``tasks.TaskSpec.unsupported``), if the config asks
    for it."""
    from ..tasks import config_problems

    values = {"pretrain.enabled": cfg.pretrain.enabled, "prune.enabled": cfg.prune.enabled,
              "quantize.qat.enabled": cfg.quantize.enabled and cfg.quantize.qat.enabled,
              "quantize.fallback.enabled": cfg.quantize.enabled and cfg.quantize.fallback.enabled,
              "explain.enabled": cfg.explain.enabled, "distill.extra_texts": cfg.distill.extra_texts,
              "distill.augment.mode": cfg.distill.enabled and cfg.distill.augment.mode == "on",
              "distill.student.model": cfg.distill.student.model, "data.texts": cfg.data.texts,
              "teacher.finetune": cfg.teacher.finetune == "always",
              "distill.student.hidden_size": cfg.distill.enabled and cfg.distill.student.hidden_size,
              "distill.hidden_loss_weight": cfg.distill.enabled and cfg.distill.hidden_loss_weight > 0,
              "data.hub_id": cfg.data.hub_id, "validate.arm_parity": cfg.validate.arm_parity == "on",
              # whole stages, for a task whose later stages are not built (question-answering)
              "distill.enabled": cfg.distill.enabled, "export.enabled": cfg.export.enabled,
              "quantize.enabled": cfg.quantize.enabled, "report.enabled": cfg.report.enabled,
              "validate.enabled": cfg.export.enabled and cfg.validate.enabled,  # they run only after export
              "bench.enabled": cfg.export.enabled and cfg.bench.enabled and bool(cfg.bench.targets)}
    # a format's quantize mode other than dynamic, where the stage makes INT8 of that format (question-answering)
    values |= {f"quantize.{fmt}": getattr(cfg.quantize, fmt) != "dynamic"
               for fmt in cfg.export.formats if cfg.export.enabled and cfg.quantize.enabled}
    return config_problems(cfg.data.task, values, None)


def _unlabelled_problems(cfg: PipelineConfig) -> list[str]:
    """data.texts (no labels, parity only) takes a model as it is: nothing may train, choose or calibrate on rows."""
    if cfg.data.texts is None:
        return []
    why = "data.texts has no labels (parity only)"
    problems = [f"{key}: {why}; {fix}" for key, on, fix in (
        ("teacher.finetune", cfg.teacher.finetune != "never", "set teacher.finetune: never (the model is taken "
                                                              "as it is)"),
        ("pretrain.enabled", cfg.pretrain.enabled, "set it to false"),
        ("distill.enabled", cfg.distill.enabled, "set it to false"),
        ("prune.enabled", cfg.prune.enabled, "set it to false (pruning scores and recovery need training rows)"),
        ("quantize.qat.enabled", cfg.quantize.qat.enabled, "set it to false"),
        ("quantize.fallback.enabled", cfg.quantize.fallback.enabled, "set it to false (it judges on labelled "
                                                                     "selection rows)"),
        ("explain.enabled", cfg.explain.enabled, "set it to false")) if on]
    return problems  # calibrated INT8 modes: the quantize stage's preflight (it knows which modes read rows)


def _explain_problems(cfg: PipelineConfig) -> list[str]:
    if not cfg.explain.enabled or cfg.explain.models is None:
        return []
    from ..exporters.base import precision_of  # here: the config package loads before the exporters

    known = {"teacher": True, "distill": cfg.distill.enabled, "prune": cfg.prune.enabled}
    for f in ("torchscript", "onnx", "tflite", "executorch"):
        made = cfg.export.enabled and f in cfg.export.formats
        # the quantize stage's artifact: -int8, or -w4 for a w4 mode
        known |= {f"{f}-fp32": made, f"{f}-{precision_of(getattr(cfg.quantize, f))}": made and cfg.quantize.enabled}
    problems = []
    for name in cfg.explain.models:
        if name not in known:
            problems.append(f"explain.models: unknown model '{name}'; use teacher, distill, prune or an artifact name "
                            f"FORMAT-PRECISION (e.g. onnx-int8)")
        elif not known[name]:
            problems.append(f"explain.models: '{name}' is not made by this config (its stage or export format is off)")
    return problems
