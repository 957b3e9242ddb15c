"""The ``tune`` section: Optuna studies over training knobs and student shapes (``edgeport tune``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import Section


class TuneRange(Section):
    low: float
    high: float
    log: bool = Field(False, description="sample on a log scale (learning rates)")
    step: float | None = Field(None, gt=0, description="sample on a grid low, low+step, ..., high")

    @model_validator(mode="after")
    def _range(self):
        if self.low > self.high:
            raise ValueError(f"low {self.low} must be <= high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale range needs low > 0")
        if self.log and self.step is not None:
            raise ValueError("set either log or step, not both")
        return self


class TuneSpace(Section):
    """Training hyperparameters searched by ``edgeport tune --stage teacher|distill`` (null: not searched, the
    config's value is kept). Names map to the stage's section: lr -> teacher.train.lr / distill.train.lr."""
    lr: TuneRange | None = TuneRange(low=1e-6, high=3e-4, log=True)
    warmup_ratio: TuneRange | None = TuneRange(low=0.0, high=0.2)
    weight_decay: TuneRange | None = TuneRange(low=0.0, high=0.1)
    batch_size: list[int] | None = Field(default_factory=lambda: [16, 32, 64], description="choices")
    epochs: TuneRange | None = TuneRange(low=1, high=3, step=1)
    min_steps: TuneRange | None = Field(None, description="optimizer steps, an integer range (e.g. low 400, high "
                                        "1000, step 200): sets <stage>.train.min_steps and the stage's training "
                                        "rows to min_steps x batch_size (data.train_limit for the teacher, "
                                        "distill.train_limit for distill), so a large dataset trains one pass of "
                                        "exactly that many steps over fresh rows and a small one at least that "
                                        "many; searched with epochs null (a set epochs would override it)")
    temperature: TuneRange | None = Field(TuneRange(low=1, high=8), description="distill only")
    alpha: TuneRange | None = Field(TuneRange(low=0, high=1), description="distill only")

    @model_validator(mode="after")
    def _choices(self):
        if self.batch_size is not None and (not self.batch_size or min(self.batch_size) < 1):
            raise ValueError("tune.space.batch_size must list positive batch sizes (or be null)")
        for name in ("warmup_ratio", "alpha"):
            r = getattr(self, name)
            if r is not None and (r.low < 0 or r.high > 1):
                raise ValueError(f"tune.space.{name} must lie within [0, 1]")
        if self.min_steps is not None:
            r = self.min_steps
            whole = all(v is None or v == int(v) for v in (r.low, r.high, r.step))
            if r.low < 1 or not whole:
                raise ValueError("tune.space.min_steps is a range of whole steps >= 1 (e.g. low: 400, high: 1000, "
                                 "step: 200)")
            if self.epochs is not None:
                raise ValueError("tune.space.min_steps and tune.space.epochs both set the training length; set "
                                 "tune.space.epochs: null to search min_steps")
        return self


class TuneStudentSpace(Section):
    """The student search (``edgeport tune --stage student --target NAME``): depth and which teacher layers,
    heads and FFN fractions pruned, vocabulary pruning, and optionally the target format's quantize mode."""
    min_layers: int = Field(1, ge=1, description="fewest student layers")
    max_layers: int | None = Field(None, ge=1, description="most student layers; default: the teacher's minus one")
    placements: list[Literal["bottom", "stride", "spread"]] = Field(
        default_factory=lambda: ["bottom", "stride", "spread"], description="which teacher layers a depth-d "
        "student copies: bottom = 0..d-1; stride = every (T//d)-th from 0 (d=3 of 6: [0, 2, 4]); spread = evenly "
        "from the first to the last")
    heads_fraction: TuneRange | None = TuneRange(low=0.0, high=0.5, step=0.25)
    ffn_fraction: TuneRange | None = TuneRange(low=0.0, high=0.75, step=0.25)
    vocab: list[bool] = Field(default_factory=lambda: [False, True], description="prune the vocabulary: choices")
    quantize_modes: list[str] | None = Field(
        None, description="quantize modes the search picks from for the target's format (its quantize.<format> "
        "choices, e.g. [dynamic, w4]), sampled as quantize.mode and written to best_params.yaml as "
        "quantize.<format>; the size budget judges each trial's own artifact (<format>-int8 or <format>-w4). A "
        "mode the format lacks, or one its runtime refuses at the quantize preflight (torchscript w4), is refused "
        "before any trial runs; null: the config's quantize.<format> only")

    @model_validator(mode="after")
    def _student(self):
        if self.max_layers is not None and self.max_layers < self.min_layers:
            raise ValueError("tune.student.max_layers must be >= min_layers")
        if not self.placements or not self.vocab:
            raise ValueError("tune.student.placements and tune.student.vocab need at least one choice")
        if self.quantize_modes is not None and not self.quantize_modes:
            raise ValueError("tune.student.quantize_modes lists no mode; list at least one (e.g. [dynamic, w4]) or "
                             "use null for the config's quantize.<format>")
        for name in ("heads_fraction", "ffn_fraction"):
            r = getattr(self, name)
            if r is not None and (r.low < 0 or r.high >= 1):
                raise ValueError(f"tune.student.{name} must lie within [0, 1)")
        return self


class TuneConfig(Section):
    trials: int = Field(20, ge=1, description="finished trials (complete + pruned) the study runs to; --trials")
    storage: str | None = Field(None, description="Optuna RDB URL (sqlite:///..., postgresql://...); default: "
                                "sqlite:///RUN_DIR/tune/study.db. Several `edgeport tune` on one URL share a study")
    sampler: Literal["tpe", "nsga2", "random"] = Field("tpe", description="tpe (multivariate; handles the student "
                                                       "search's objectives and budget constraints too), nsga2 "
                                                       "(genetic, for long multi-objective searches) or random")
    seed: int | None = Field(None, description="sampler seed, for a repeatable single-worker study (workers on one "
                             "study must not share a seed); default: a fresh one per process")
    pruner: Literal["median", "halving", "none"] = Field(
        "median", description="stop hopeless trials at their selection evaluations: median (below the median of "
                              "earlier trials at the same point) or halving (successive halving)")
    evals: int = Field(8, ge=2, le=1000, description="selection evaluations per trial, evenly spread over its "
                       "training (sets the stage's train.eval_every): the pruner's checkpoints")
    startup_trials: int = Field(3, ge=0, description="finished trials before the median pruner judges any")
    warmup_evals: int = Field(2, ge=0, description="median pruner: never prune before this many evaluations")
    heartbeat_seconds: int = Field(10, ge=1, description="a running trial's heartbeat in the storage")
    grace_seconds: int = Field(40, ge=2, description="a trial whose heartbeat is older (its process died) is "
                               "failed and re-queued with the same parameters")
    overrides: dict[str, Any] = Field(default_factory=dict, description="dotted key -> value applied to every "
                                      "trial, e.g. {distill.train.epochs: 1} (not to the shared teacher)")
    enqueue: list[dict[str, Any]] = Field(default_factory=list, description="trials to run first: parameter -> "
                                          "value, e.g. [{teacher.train.lr: 1.0e-6}]; unnamed ones are sampled")
    keep_trial_models: bool = Field(False, description="keep each trial's model files (else only its manifest and "
                                    "metrics stay)")
    space: TuneSpace = TuneSpace()
    student: TuneStudentSpace = TuneStudentSpace()

    @model_validator(mode="after")
    def _tune(self):
        if self.grace_seconds <= self.heartbeat_seconds:
            raise ValueError("tune.grace_seconds must exceed tune.heartbeat_seconds")
        if self.storage is not None and "://" not in self.storage:
            raise ValueError(f"tune.storage {self.storage!r} is not an RDB URL; e.g. sqlite:///study.db or "
                             f"postgresql://user@host/db")
        return self
