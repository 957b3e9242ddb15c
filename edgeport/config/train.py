"""The ``train`` subsection every training stage has (teacher, distill, prune recovery, QAT, pretrain)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section


class TrainConfig(Section):
    # The training length adapts to the data (training/loop.py planned_epochs): a 3.7k-row task has ~115 steps
    # per epoch, SST-2 2,000, so a length in epochs fixed for one dataset starves or bloats another.
    epochs: float | None = Field(None, gt=0, description="default: enough epochs for min_steps optimizer steps "
                                 "(at least min_epochs, at most max_epochs), so small datasets still train")
    min_steps: int = Field(600, ge=1, description="with epochs unset: train at least this many optimizer steps")
    min_epochs: float = Field(1.0, ge=0, description="with epochs unset: at least this many passes over the "
                              "training rows (0: min_steps alone decides, for short fix-up training)")
    max_epochs: float = Field(10.0, gt=0, description="with epochs unset: never more epochs than this")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="Accelerate mixed precision; auto = bf16 on CUDA with bf16 and on CPUs with a "
                            "bf16 instruction where a one-off probe measured it faster than fp32, else fp32")
    lr: float = Field(5e-5, gt=0, lt=1)
    batch_size: int = Field(32, ge=1)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    max_grad_norm: float | None = Field(1.0, gt=0)
    eval_every: int | None = Field(None, ge=1, description="evaluate on the selection split every N optimizer "
                                   "steps; default: each epoch")
    patience: int | None = Field(None, ge=1, description="stop after N selection evaluations without improvement")
    eval_batch_size: int = Field(64, ge=1)
    useful_gate: bool = Field(True, description="gate: the trained model must beat always answering the majority "
                              "class on the selection split (one-sided binomial test), else the run fails")

    @model_validator(mode="after")
    def _length(self):
        if self.min_epochs > self.max_epochs:
            raise ValueError(f"train.min_epochs {self.min_epochs} exceeds train.max_epochs {self.max_epochs}; "
                             f"lower min_epochs or raise max_epochs")
        return self


class RecoveryTrainConfig(TrainConfig):
    """prune.train: recovery repairs a trained student after heads and neurons go, so its length is a number of
    steps, not passes: its rows are distill's (their teacher logits are cached), and one pass over the default's
    32,000 SST-2 rows would be 1,000 steps. 450 steps is the length SST-2's recipe used (0.3 epoch of 48,000); a
    3.7k-row task now gets 450 steps (~4 epochs) instead of 0.3 epoch (28 steps). A class, not an instance
    default, so that a partial ``prune.train`` section in YAML keeps these defaults."""
    lr: float = Field(5e-5, gt=0, lt=1)
    min_steps: int = Field(450, ge=1, description="with epochs unset: recovery optimizer steps (at least)")
    min_epochs: float = Field(0.0, ge=0, description="with epochs unset: at least this many passes over the rows")


class QatTrainConfig(TrainConfig):
    """quantize.qat.train: a short fine-tune under fake quantization on quantize.qat.train_limit rows (2,000 by
    default: one pass is 63 steps at batch 32, what QAT always ran on SST-2). min_steps 60 keeps that length for
    any task with ~2,000 rows or more and gives a 400-row task 60 steps instead of 13. fp32 is pinned: fake
    quantization simulates INT8 rounding of fp32 values; under bf16 autocast it would simulate something no INT8
    path computes."""
    lr: float = Field(2e-5, gt=0, lt=1)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field("fp32", description="fp32: see the class docstring")
    min_steps: int = Field(60, ge=1, description="with epochs unset: train at least this many optimizer steps")
