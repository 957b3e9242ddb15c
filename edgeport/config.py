"""Typed pipeline config: one YAML file, one section per stage, validated all at once.

Every problem (unknown key, wrong type, impossible value, conflicting options) is collected into a single
``ConfigError`` naming the key as the user wrote it (``distill.train.lr``) and what to change.
"""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError

SHIPPED_DIR = Path(__file__).parent / "configs"

# The stage is called "validate"; as a field name it shadows pydantic's deprecated BaseModel.validate, harmlessly.
warnings.filterwarnings("ignore", message='Field name "validate"', category=UserWarning)


class Section(BaseModel):
    # extra="forbid" turns a typo into an error instead of a silently ignored key.
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class DataSpec(Section):
    """The data a stage loads: where it is and which rows and labels it holds. ``data.train_limit`` is not here:
    each stage resolves its own number of training rows (``train_rows`` in its settings), so a stage cannot read
    a limit its fingerprint does not cover."""

    local: str | None = Field("sst2", description="local dataset dir, absolute or under $EDGEPORT_DATA_DIR")
    hub_id: str | None = Field(None, description="Hugging Face datasets id, used when no local copy is found")
    hub_config: str | None = None
    train_split: str = "train"
    eval_split: str = "validation"
    text_column: str = "sentence"
    text_pair_column: str | None = None
    label_column: str = "label"
    label_names: list[str] | None = None
    metric: Literal["accuracy", "f1", "macro_f1", "mcc"] = Field(
        "accuracy", description="the task metric every choice is made on (checkpoint, early stop, the useless-model "
                                "gate) and validate's drop gates judge: accuracy; f1 = binary F1 of the positive "
                                "class, the SECOND label name (two classes only); macro_f1 = mean F1 over classes; "
                                "mcc = Matthews correlation. Accuracy is always reported beside it")
    max_seq_len: int = Field(128, ge=8, le=4096)
    eval_limit: int | None = Field(None, ge=1)
    # The selection split: every checkpoint choice, early stop, QAT choice and INT8 fallback is judged here, never
    # on the evaluation split, which is only measured (one row of SST-2's 872 is 0.11 points: choosing on it would
    # inflate every number reported on it).
    selection_fraction: float = Field(0.05, gt=0, lt=0.5, description="share of the training split held out as "
                                      "the selection split (seeded, stratified by label)")
    selection_min_rows: int = Field(200, ge=1, description="... at least this many rows (at most a fifth of train)")
    selection_max_rows: int = Field(2000, ge=1, description="... at most this many rows")
    selection_split: str | None = Field(None, description="use this split file (e.g. 'dev' -> dev.tsv) as the "
                                        "selection split instead of carving one from train; training rows with "
                                        "the same text are dropped so the two stay disjoint")
    selection_grouping: Literal["rows", "phrases"] = Field(
        "rows", description="rows: any training row may be held out. phrases: for treebank-style data whose "
                            "training split also holds the phrases of each sentence (GLUE SST-2): hold out only "
                            "whole texts (those inside no other training text) and drop every training row that "
                            "is a word span of a held-out text, so no selection sentence is seen in pieces")

    @model_validator(mode="after")
    def _source(self):
        if self.selection_min_rows > self.selection_max_rows:
            raise ValueError("data.selection_min_rows must be <= data.selection_max_rows")
        if self.selection_split is not None and self.selection_split in (self.train_split, self.eval_split):
            raise ValueError(f"data.selection_split '{self.selection_split}' must differ from the train and eval "
                             f"splits: model choices judged on the reported split inflate its numbers")
        if self.selection_grouping == "phrases" and self.text_pair_column is not None:
            raise ValueError("data.selection_grouping 'phrases' is for single-text tasks (phrases of a sentence); "
                             "with data.text_pair_column set use 'rows'")
        if not self.local and not self.hub_id:
            raise ValueError("set data.local (a local dataset dir) or data.hub_id (a Hugging Face dataset id)")
        if self.label_names is not None and len(self.label_names) < 2:
            raise ValueError("data.label_names needs at least two classes")
        if self.label_names is not None and len(set(self.label_names)) != len(self.label_names):
            raise ValueError("data.label_names has duplicates")
        if self.metric == "f1" and self.label_names is not None and len(self.label_names) != 2:
            raise ValueError(f"data.metric f1 is the binary F1 of the positive class (the second label name), but "
                             f"data.label_names has {len(self.label_names)} classes; use macro_f1 (the mean of every "
                             f"class's F1) or mcc")
        return self


class DataConfig(DataSpec):
    train_limit: int | None = Field(None, ge=1, description="teacher fine-tuning uses the first N training rows (after a seeded shuffle)")

    def spec(self) -> DataSpec:
        return DataSpec.model_validate(self.model_dump(exclude={"train_limit"}))


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
        "auto", description="Accelerate mixed precision; auto = bf16 where the hardware runs it natively "
                            "(CUDA with bf16; CPUs with AVX-512 BF16 or AMX), else fp32")
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


class PretrainConfig(Section):
    """Continued masked-language-model pre-training of the teacher's encoder (the pretrain stage, before teacher)."""

    enabled: bool = Field(False, description="continue MLM pre-training of teacher.model on in-domain text before "
                          "the teacher stage fine-tunes it (a model without an MLM head gets a fresh one, tied to "
                          "its input embeddings)")
    corpus: str | None = Field(None, description="unlabelled text: a file or directory, one document per line, or "
                               ".jsonl with a 'text' field")
    use_task_text: bool = Field(True, description="also pre-train on the task's training texts (labels ignored)")
    task_rows: int | None = Field(None, ge=1, description="with use_task_text: the first N shuffled training rows "
                                  "(default: all of them)")
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="share of tokens (words, with whole_word_mask) "
                                   "chosen for prediction; of those 80% become the mask token, 10% random, 10% kept")
    whole_word_mask: bool = Field(False, description="choose whole words (the tokenizer's word_ids), never pieces")
    sop: bool = Field(False, description="add ALBERT's sentence-order prediction on consecutive segments (needs "
                      "multi-sentence documents or a sentence-pair task)")
    sop_weight: float = Field(1.0, ge=0, description="weight of the SOP loss beside the MLM loss")
    max_seq_len: int | None = Field(None, ge=8, le=4096, description="tokens per example; default: data.max_seq_len")
    held_out_fraction: float = Field(0.05, gt=0, lt=0.5, description="share of the documents held out to choose "
                                     "the checkpoint and measure masked-token accuracy and perplexity")
    held_out_max_rows: int = Field(2000, ge=10, description="... at most this many documents (at least 10, at most "
                                   "a fifth)")
    train: TrainConfig = TrainConfig(lr=5e-5, eval_every=250)

    @model_validator(mode="after")
    def _text(self):
        if self.enabled and not self.use_task_text and not self.corpus:
            raise ValueError("pretrain needs text: set pretrain.corpus or pretrain.use_task_text: true")
        if self.corpus is not None and not self.corpus.strip():
            raise ValueError("pretrain.corpus is empty; name a file or directory, or leave it unset")
        return self


class TeacherConfig(Section):
    model: str = Field("builtin:minilm-l6", description="builtin:NAME, a local HF directory, or a hub id")
    finetune: Literal["auto", "always", "never"] = "auto"
    dropout: float | None = Field(None, ge=0, lt=1, description="override hidden/attention dropout")
    allow_pickle: bool = Field(False, description="allow loading pickle checkpoints (pytorch_model.bin): only for files you trust")
    train: TrainConfig = TrainConfig(lr=1e-4)


class StudentConfig(Section):
    model: str | None = Field(None, description="a student of its own instead of one built from the teacher's "
                              "layers: a local Hugging Face directory (safetensors + its own tokenizer, which may "
                              "differ from the teacher's: logit KD needs only the same texts) or a hub id")
    layers: list[int] = Field(default_factory=lambda: [0, 2, 4], description="teacher layers that initialise the "
                              "student; with student.model: which of that model's own layers to keep (default: all)")
    hidden_size: int | None = Field(None, ge=8, description="narrower student (random init) when set")
    intermediate_size: int | None = Field(None, ge=8)
    num_attention_heads: int | None = Field(None, ge=1)

    def own_layers(self) -> list[int] | None:
        """With ``model``: the layers of that model to keep, None = all of them (``layers`` left unset)."""
        return list(self.layers) if "layers" in self.model_fields_set else None

    @model_validator(mode="after")
    def _layers(self):
        if self.model is not None and not self.model.strip():
            raise ValueError("student.model is empty; name a Hugging Face directory or hub id, or leave it unset")
        if self.model is not None:
            widths = [k for k in ("hidden_size", "intermediate_size", "num_attention_heads") if getattr(self, k)]
            if widths:
                raise ValueError(f"student.{widths[0]} shapes a student built from the teacher; with student.model "
                                 f"the student has its own shape: unset {', '.join('student.' + w for w in widths)}")
        if not self.layers:
            raise ValueError("student.layers must name at least one teacher layer")
        if len(set(self.layers)) != len(self.layers) or sorted(self.layers) != self.layers:
            raise ValueError("student.layers must be distinct and increasing, e.g. [0, 2, 4]")
        if self.hidden_size and self.num_attention_heads and self.hidden_size % self.num_attention_heads:
            raise ValueError("student.hidden_size must be divisible by student.num_attention_heads")
        return self


class DistillConfig(Section):
    enabled: bool = True
    student: StudentConfig = StudentConfig()
    alpha: float = Field(0.5, ge=0, le=1, description="weight of the hard-label CE; 1-alpha goes to the KD term")
    temperature: float = Field(2.0, gt=0)
    hidden_loss_weight: float = Field(0.0, ge=0, description="weight of hidden-state MSE on mapped layers")
    train_limit: int | None = Field(None, ge=1, description="distillation rows (first N of the shuffled train split); default: data.train_limit")
    extra_texts: str | None = Field(None, description="unlabelled texts the teacher labels with soft targets; the "
                                    "student learns them with the KD term only (a file or directory, one text per "
                                    "line, or .jsonl with a 'text' field)")
    train: TrainConfig = TrainConfig(lr=1e-4)


class PruneConfig(Section):
    enabled: bool = False
    heads_fraction: float = Field(0.0, ge=0, lt=1, description="share of attention heads removed from EVERY layer "
                                  "(rounded down; at least one head per layer always stays)")
    ffn_fraction: float = Field(0.0, ge=0, lt=1, description="share of FFN neurons removed from every layer")
    score_batches: int = Field(16, ge=1, description="training batches (of train.batch_size rows) that score "
                               "head and neuron importance")
    vocab: bool = Field(False, description="drop vocabulary entries the training data never uses")
    vocab_top_k: int | None = Field(None, ge=1, description="with vocab: also keep the first K entries of vocab.txt")
    recover: bool = Field(True, description="distil from the teacher after heads/neurons are removed")
    alpha: float = Field(0.5, ge=0, le=1, description="recovery: weight of the hard-label CE")
    temperature: float = Field(2.0, gt=0)
    train_limit: int | None = Field(None, ge=1, description="recovery rows; default: distill.train_limit, "
                                    "then data.train_limit (the same rows reuse distill's cached teacher logits)")
    train: RecoveryTrainConfig = RecoveryTrainConfig()
    latency_seconds: float = Field(2.0, ge=0, description="timing per variant for the 1-thread p50 table; 0 skips it")
    latency_seq_len: int = Field(128, ge=8, le=4096)


class FallbackConfig(Section):
    enabled: bool = Field(False, description="when an INT8 artifact loses more than max_accuracy_drop on "
                                             "selection-split rows, keep its most quantization-sensitive Linear layers "
                                             "in float and re-quantize (torchscript, onnx)")
    max_fp_layers: int = Field(4, ge=1, le=1000, description="at most this many layers stay in float")
    rows: int = Field(2000, ge=16, le=100_000, description="selection-split rows (the first N) that judge each "
                                                           "INT8 candidate; also nncf_accuracy's")
    max_accuracy_drop: float = Field(1.0, ge=0, le=100, description="points of data.metric (x100) vs the fp32 "
                                                                    "model on those rows")


class QatConfig(Section):
    enabled: bool = Field(False, description="quantization-aware training: fake-quant INT8 (per-channel weights, "
                                             "per-tensor run-time activations) during a short distillation from "
                                             "the teacher; the INT8 artifacts are made from the QAT weights")
    train_limit: int | None = Field(2000, ge=1, description="training rows (first N of the shuffled split)")
    alpha: float = Field(0.5, ge=0, le=1, description="weight of the hard-label CE; 1-alpha goes to the KD term")
    temperature: float = Field(2.0, gt=0)
    train: QatTrainConfig = QatTrainConfig()


class QuantizeConfig(Section):
    enabled: bool = Field(True, description="write an INT8 artifact beside every fp32 one (needs export.enabled)")
    torchscript: Literal["dynamic"] = Field("dynamic", description="torch dynamic quantization of Linear layers")
    onnx: Literal["dynamic", "static", "static_linear", "nncf", "nncf_accuracy"] = Field(
        "dynamic", description="dynamic: per-channel QInt8 weights, activations quantised at run time; "
                               "static: QDQ of every op calibrated on training rows (wrecks BERT accuracy); "
                               "static_linear: QDQ of the Linear MatMuls only; nncf: NNCF PTQ (transformer "
                               "model type, needs edgeport[nncf]); nncf_accuracy: NNCF accuracy-controlled PTQ "
                               "judged on quantize.fallback.rows selection-split rows")
    tflite: Literal["dynamic", "full_integer"] = Field(
        "dynamic", description="dynamic: dynamic-range INT8 (ai-edge-quantizer); full_integer: INT8 activations "
                               "too, calibrated on training rows (often wrecks BERT accuracy)")
    executorch: Literal["dynamic", "static"] = Field(
        "dynamic", description="PT2E with the XNNPACK quantizer, per-channel INT8 weights; dynamic: activations "
                               "quantised at run time; static: fixed activation ranges calibrated on training rows")
    calibration_rows: int = Field(128, ge=1, le=100_000,
                                  description="training rows used to calibrate the static/full_integer modes")
    fallback: FallbackConfig = FallbackConfig()
    qat: QatConfig = QatConfig()


class ExportConfig(Section):
    enabled: bool = True
    formats: list[Literal["torchscript", "onnx", "tflite", "executorch"]] = Field(
        default_factory=lambda: ["torchscript", "onnx", "tflite", "executorch"],
        description="formats to export, fp32 each")
    seq_len: int | None = Field(None, ge=8, le=4096,
                                description="static TFLite sequence length; default: data.max_seq_len")
    seq_buckets: list[int] | Literal["auto"] | None = Field(
        "auto", description="TFLite length buckets: one signature per bucket in one .tflite file; the runtime runs "
        "the smallest bucket that holds the input (ONNX, TorchScript and ExecuTorch run at the true length). A list "
        "(sorted, unique, each >= 8, none above the export length; the export length, export.seq_len or "
        "data.max_seq_len, is appended when missing), null (one signature at the export length, the old artifact), "
        "or auto: the powers of two bucket_min, 2*bucket_min, ... up to the smallest one that holds bucket_coverage "
        "of the training split's token lengths (the model's tokenizer, truncated at data.max_seq_len), then the "
        "export length, so no row is cut shorter than the export length")
    # 32, not 16: every TFLite signature carries its own INT8 quantization parameters (~0.27 MB for the default
    # student's embedding table) and tensor names; a 16 bucket costs ~3.5% more file and saves ~0.3 ms on the 22%
    # of SST-2 rows that fit it (measured on the default student: 4 buckets +10.8%, 3 buckets within 10%).
    bucket_min: int = Field(32, ge=8, le=4096, description="seq_buckets auto: the smallest bucket (a power of two)")
    bucket_coverage: float = Field(0.99, gt=0, le=1, description="seq_buckets auto: the buckets below the export "
                                   "length stop at the smallest power of two holding this share of training rows")

    @model_validator(mode="after")
    def _formats(self):
        if self.enabled and not self.formats:
            raise ValueError("export.formats is empty; list at least one of torchscript, onnx, tflite, executorch")
        if len(set(self.formats)) != len(self.formats):
            raise ValueError("export.formats has duplicates")
        if self.bucket_min & (self.bucket_min - 1):
            raise ValueError(f"export.bucket_min {self.bucket_min} is not a power of two; use e.g. 16 or 32")
        if isinstance(self.seq_buckets, list):
            b = self.seq_buckets
            if not b:
                raise ValueError("export.seq_buckets is an empty list; list lengths (e.g. [32, 64]), use auto, "
                                 "or null for one signature at the export length")
            if b != sorted(set(b)):
                raise ValueError(f"export.seq_buckets {b} must be sorted and unique; use {sorted(set(b))}")
            if b[0] < 8:
                raise ValueError(f"export.seq_buckets {b}: every bucket must be >= 8 tokens; remove {b[0]}")
            if self.seq_len and b[-1] > self.seq_len:
                raise ValueError(f"export.seq_buckets {b}: {b[-1]} exceeds export.seq_len {self.seq_len}; remove "
                                 f"the buckets above it or raise export.seq_len")
        return self


class ToleranceConfig(Section):
    max_abs: float | None = Field(None, ge=0, description="max |logit - reference logit| over the eval split")
    mean_abs: float | None = Field(None, ge=0, description="mean |logit - reference logit| over the eval split")


class BenchConfig(Section):
    """The bench stage: latency of every artifact on every target, at the fixed export length and on the eval
    split's own inputs (the workload). Host-kind targets are measured here, in each artifact's runtime, with the
    profile's threads; the others are estimated from counted work and the profile's hardware figures."""

    enabled: bool = True
    targets: list[str] = Field(default_factory=lambda: ["host", "android-flagship", "android-lowend", "raspberry-pi-4",
                                                        "x86-laptop"],
                               description="device profiles (targets/*.yaml; `edgeport targets`) to measure/estimate "
                                           "latency for; budgets are judged per profile")
    seq_len: int | None = Field(None, ge=1, description="tokens per timed call of the fixed-length figure (batch 1); "
                                                       "default: the export length (the longest bucket)")
    warmup: int = Field(10, ge=0, description="untimed calls before the fixed-length timing")
    runs: int = Field(50, ge=1, description="fixed length: at least this many timed calls ...")
    min_seconds: float = Field(2.0, ge=0, description="... and at least this long")
    workload: bool = Field(True, description="also time the eval split's own inputs, one row per call at its true "
                                             "length (the smallest bucket for TFLite): mean/p50/p90 over rows")
    workload_rows: int | None = Field(None, ge=1, description="eval rows in the workload (the first N); default all")
    workload_passes: int = Field(3, ge=1, le=20, description="times each row is run; its time is the median")
    memory: bool = Field(True, description="peak memory of each artifact in a fresh process (host targets)")


class ValidateConfig(Section):
    enabled: bool = True
    int8_max_accuracy_drop: float = Field(1.0, ge=0, le=100,
                                          description="gate: INT8 accuracy may be at most this many points below fp32 torch")
    int8_min_agreement: float | None = Field(None, ge=0, le=1, description="gate: INT8 artifacts agree with the fp32 "
                                             "torch model on this share of labels (flips both ways cancel in accuracy, "
                                             "not here); null: the floor of the (format, mode) measured noise budget")
    max_drop_vs_teacher: float | None = Field(2.0, ge=0, le=100, description="end-to-end gate: every artifact's "
                                              "accuracy may be at most this many points below the teacher's on the "
                                              "eval split (null: off)")
    significance: float = Field(0.05, gt=0, le=1, description="a gate whose point estimate misses its limit fails "
                                "only when a one-sided exact test on the eval rows gives p below this (else it is "
                                "reported inconclusive); 1.0 = decide on the point estimate alone")
    check_tolerances: bool = Field(True, description="gate on each (format, precision) logit tolerance too")
    tolerances: dict[str, ToleranceConfig] = Field(
        default_factory=dict, description="override per artifact name, e.g. {onnx-int8: {max_abs: 4.0}}; "
                                          "defaults: fp32 on each exporter class; INT8 the measured noise "
                                          "budget per (format, mode) times the model's own 8-bit noise "
                                          "(exporters.base.INT8_NOISE)")

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data):
        # latency has one home now, the bench stage: point old configs at it instead of "extra inputs not permitted"
        gone = {"batch_size": "validate runs every artifact one row per call (batch 1), as the app does: remove it",
                "fp32_min_agreement": "fp32 parity is deterministic now (any flipped label fails, except rows whose "
                                      "reference logits are tied within the format's fp32 tolerance): remove it"}
        removed = [f"validate.{k}: {why}" for k, why in gone.items() if isinstance(data, dict) and k in data]
        if removed:
            raise ValueError("; ".join(removed))
        moved = [k for k in ("latency", "targets") if isinstance(data, dict) and k in data]
        if moved:
            raise ValueError(f"validate.{' and validate.'.join(moved)} moved to the bench section: write "
                             f"bench.targets, and bench.warmup/runs/min_seconds/seq_len instead of "
                             f"validate.latency.* (threads come from each target profile; bench.enabled: false "
                             f"turns latency off)")
        return data

    @model_validator(mode="after")
    def _names(self):
        bad = [k for k in self.tolerances
               if k.rpartition("-")[0] not in ("torchscript", "onnx", "tflite", "executorch")
               or k.rpartition("-")[2] not in ("fp32", "int8")]
        if bad:
            raise ValueError(f"validate.tolerances: unknown artifact names {bad}; use FORMAT-PRECISION, e.g. onnx-int8")
        return self


class ReportConfig(Section):
    enabled: bool = True
    plots: bool = Field(True, description="write PNG plots (needs matplotlib: pip install 'edgeport[report]')")
    budget_gate: Literal["off", "any", "all"] = Field(
        "any", description="fail the run on target budgets: 'any' = each target needs one artifact in its preferred "
                           "format within every budget; 'all' = every artifact in that format must be; 'off'")
    baseline: str | None = Field(None, description="a previous report.json; the run fails if a figure regressed "
                                                   "(estimates, sizes and parity: any worsening)")
    max_regression: float = Field(0.10, gt=0, lt=10, description="headroom for host/device latency vs the baseline "
                                                                 "(0.10 = 10%); deterministic figures get none")
    max_accuracy_drop: float | None = Field(1.0, ge=0, le=100, description="accuracy vs the baseline is judged in "
                                            "points: at most this many below it (null: by max_regression)")
    accept_inconclusive: bool = Field(False, description="\"what to ship\" may pick an artifact whose validate "
                                      "verdict is INCONCLUSIVE (a limit missed on too little evidence to fail); "
                                      "edgeport run --accept-inconclusive sets it")


class ExplainConfig(Section):
    enabled: bool = Field(False, description="after validate: attributions of the teacher, the student(s) and the "
                          "artifacts on sampled eval rows, compared with the teacher's (needs edgeport[explain])")
    rows: int = Field(200, ge=1, le=100_000, description="evaluation rows explained (a seeded sample; all rows when "
                      "the split is smaller)")
    seed: int | None = Field(None, description="seed of the row sample; default: run.seed")
    top_k: int = Field(3, ge=1, le=100, description="top-k word overlap: the k words with the largest |score| "
                       "(a shared word counts when both push the same way)")
    ig: bool = Field(True, description="Integrated Gradients on the torch models (teacher, student, pruned) besides "
                     "the black-box word ablation every model gets")
    ig_steps: int = Field(32, ge=2, le=1024, description="Integrated Gradients steps (Gauss-Legendre); more steps, "
                          "smaller convergence delta")
    models: list[str] | None = Field(None, description="what to compare with the teacher: model stages (distill, "
                                     "prune) and artifact names (onnx-int8, tflite-fp32, ...); default: the enabled "
                                     "model stages and every INT8 artifact")
    divergent: int = Field(5, ge=0, le=1000, description="rows listed where the label agrees but the reasons diverge "
                           "most (lowest Spearman), overall and per model")

    @model_validator(mode="after")
    def _models(self):
        if self.models is not None and len(set(self.models)) != len(self.models):
            raise ValueError("explain.models has duplicates")
        return self


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
    heads and FFN fractions pruned, vocabulary pruning."""
    min_layers: int = Field(1, ge=1, description="fewest student layers")
    max_layers: int | None = Field(None, ge=1, description="most student layers; default: the teacher's minus one")
    placements: list[Literal["bottom", "stride", "spread"]] = Field(
        default_factory=lambda: ["bottom", "stride", "spread"], description="which teacher layers a depth-d "
        "student copies: bottom = 0..d-1; stride = every (T//d)-th from 0 (d=3 of 6: [0, 2, 4]); spread = evenly "
        "from the first to the last")
    heads_fraction: TuneRange | None = TuneRange(low=0.0, high=0.5, step=0.25)
    ffn_fraction: TuneRange | None = TuneRange(low=0.0, high=0.75, step=0.25)
    vocab: list[bool] = Field(default_factory=lambda: [False, True], description="prune the vocabulary: choices")

    @model_validator(mode="after")
    def _student(self):
        if self.max_layers is not None and self.max_layers < self.min_layers:
            raise ValueError("tune.student.max_layers must be >= min_layers")
        if not self.placements or not self.vocab:
            raise ValueError("tune.student.placements and tune.student.vocab need at least one choice")
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
        if self.teacher.model.startswith("builtin:") and self.teacher.finetune == "never":
            problems.append("teacher.finetune=never: the built-in teachers have no classification head; "
                            "use 'auto' or 'always', or point teacher.model at a fine-tuned classifier")
        if self.pretrain.enabled and self.teacher.finetune == "never":
            problems.append("pretrain.enabled gives the teacher stage a pre-trained encoder without a "
                            "classification head, so teacher.finetune cannot be 'never'; use 'auto' or 'always'")
        if self.data.text_pair_column and self.data.text_pair_column == self.data.text_column:
            problems.append("data.text_pair_column must differ from data.text_column")
        if self.data.label_column in (self.data.text_column, self.data.text_pair_column):
            problems.append("data.label_column must differ from the text columns")
        from .targets import all_targets  # lazy: profiles are files, read only when a config is checked

        known = all_targets()
        problems += [f"bench.targets: unknown target '{t}'; known targets: {', '.join(known)}"
                     for t in self.bench.targets if t not in known]
        if self.quantize.enabled and not self.export.enabled:
            problems.append("quantize.enabled needs export.enabled: INT8 artifacts are made from the exported fp32 files")
        problems += _quantize_problems(self)
        problems += _explain_problems(self)
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


def explain_subjects(cfg: PipelineConfig) -> list[str]:
    """What the explain stage compares with the teacher: ``explain.models``, or the enabled model stages and
    every INT8 artifact."""
    if cfg.explain.models is not None:
        return [m for m in cfg.explain.models if m != "teacher"]
    stages = [s for s in ("distill", "prune") if getattr(cfg, s).enabled]
    arts = [f"{f}-int8" for f in cfg.export.formats] if cfg.export.enabled and cfg.quantize.enabled else []
    return stages + arts


def _explain_problems(cfg: PipelineConfig) -> list[str]:
    if not cfg.explain.enabled or cfg.explain.models is None:
        return []
    known = {"teacher": True, "distill": cfg.distill.enabled, "prune": cfg.prune.enabled}
    for f in ("torchscript", "onnx", "tflite", "executorch"):
        made = cfg.export.enabled and f in cfg.export.formats
        known |= {f"{f}-fp32": made, f"{f}-int8": made and cfg.quantize.enabled}
    problems = []
    for name in cfg.explain.models:
        if name not in known:
            problems.append(f"explain.models: unknown model '{name}'; use teacher, distill, prune or an artifact name "
                            f"FORMAT-PRECISION (e.g. onnx-int8)")
        elif not known[name]:
            problems.append(f"explain.models: '{name}' is not made by this config (its stage or export format is off)")
    return problems


# --------------------------------------------------------------------------------------------- loading


def shipped_configs() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.yaml"))}


def resolve_config_path(name_or_path: str) -> Path:
    """A config is a file path or the name of a shipped config (``edgeport configs`` lists them)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_configs()
    if name_or_path in shipped:
        return shipped[name_or_path]
    hint = difflib.get_close_matches(name_or_path, list(shipped), n=1)
    raise ConfigError(
        [f"no config file '{name_or_path}' and no shipped config of that name"
         + (f" (did you mean '{hint[0]}'?)" if hint else "")
         + f"; shipped configs: {', '.join(shipped)}"],
        source="config",
    )


def load_config(name_or_path: str, overrides: list[str] | None = None) -> PipelineConfig:
    path = resolve_config_path(name_or_path)
    raw = _read_yaml(path)
    problems = _apply_overrides(raw, overrides or [])
    cfg, more = _validate(raw)
    problems += more
    if problems:
        raise ConfigError(problems, source=str(path))
    if cfg.run.name is None:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"name": path.stem})})
    return cfg


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(["the file is not UTF-8 text; save it as UTF-8"], source=str(path))
    except OSError as exc:
        raise ConfigError([f"cannot read the file ({exc.strerror}); check its permissions"], source=str(path))
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"YAML syntax error at {where}{problem}; fix the YAML there"], source=str(path))
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError([f"the top level must be a mapping of sections (run:, data:, ...), got {type(raw).__name__}"],
                          source=str(path))
    return raw


def _apply_overrides(raw: dict, overrides: list[str]) -> list[str]:
    """Apply ``-o a.b.c=value`` overrides in place; the value is parsed as YAML (``3``, ``true``, ``[0, 2]``)."""
    problems = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"override '{item}' must look like section.key=value, e.g. distill.epochs=2")
            continue
        parts = key.strip().split(".")
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                problems.append(f"override '{item}': '{part}' is not a section")
                break
        else:
            try:
                node[parts[-1]] = yaml.safe_load(value)
            except yaml.YAMLError:
                node[parts[-1]] = value
    return problems


def _validate(raw: dict) -> tuple[PipelineConfig | None, list[str]]:
    try:
        return PipelineConfig.model_validate(raw), []
    except ValidationError as exc:
        return None, [_describe(err) for err in exc.errors()]


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        parent, _, leaf = loc.rpartition(".")
        known = _known_keys(parent)
        hint = difflib.get_close_matches(leaf, known, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        where = f"section '{parent}'" if parent else "the top level"
        return f"{loc}: unknown key{suggestion}; {where} accepts: {', '.join(known)}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    shown = "" if kind.startswith("value_error") or isinstance(got, dict) else f" (got {got!r})"
    return f"{loc or 'config'}: {msg}{shown}"


def _known_keys(dotted: str) -> list[str]:
    model: type[BaseModel] = PipelineConfig
    for part in [p for p in dotted.split(".") if p]:
        field = model.model_fields.get(part)
        ann = getattr(field, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields)


def data_root() -> Path | None:
    """Where local dataset copies live (``EDGEPORT_DATA_DIR``); CI points it at ``../shared/data``."""
    value = os.environ.get("EDGEPORT_DATA_DIR")
    return Path(value) if value else None
