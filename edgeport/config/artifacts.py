"""The artifact stages' sections: ``quantize`` (fallback, QAT), ``export``, ``validate``, ``bench``, ``report``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from .base import Section, Switch, yaml_switch
from .train import QatTrainConfig


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
    enabled: bool = Field(False, description="quantization-aware training: fake quantization during a short "
                                             "distillation from the teacher, of what the configured modes ship "
                                             "(INT8 per-channel weights; w4: 4-bit weights per quantize.block_size, "
                                             "and int4 tables when quantize.embeddings is int4; per-tensor run-time "
                                             "activations); the quantized artifacts are made from the QAT weights")
    train_limit: int | None = Field(2000, ge=1, description="training rows (first N of the shuffled split)")
    alpha: float = Field(0.5, ge=0, le=1, description="weight of the hard-label CE; 1-alpha goes to the KD term")
    temperature: float = Field(2.0, gt=0)
    train: QatTrainConfig = QatTrainConfig()


class QuantizeConfig(Section):
    enabled: bool = Field(True, description="write an INT8 artifact beside every fp32 one (needs export.enabled)")
    torchscript: Literal["dynamic", "w4"] = Field("dynamic", description="torch dynamic quantization of Linear layers "
                                                "(w4 is refused at preflight: no 4-bit kernel in TorchScript)")
    onnx: Literal["dynamic", "static", "static_linear", "nncf", "nncf_accuracy", "w4"] = Field(
        "dynamic", description="dynamic: per-channel QInt8 weights, activations quantised at run time; "
                               "static: QDQ of every op calibrated on training rows (wrecks BERT accuracy); "
                               "static_linear: QDQ of the Linear MatMuls only; nncf: NNCF PTQ (transformer "
                               "model type, needs edgeport[nncf]); nncf_accuracy: NNCF accuracy-controlled PTQ "
                               "judged on quantize.fallback.rows selection-split rows; w4: MatMulNBits 4-bit weights per "
                               "quantize.block_size, int8 activations at run time (onnx-w4)")
    tflite: Literal["dynamic", "full_integer", "w4"] = Field(
        "dynamic", description="dynamic: dynamic-range INT8 (ai-edge-quantizer); full_integer: INT8 activations "
                               "too, calibrated on training rows (often wrecks BERT accuracy); w4: 4-bit blockwise "
                               "weights, int8 activations at run time (tflite-w4)")
    executorch: Literal["dynamic", "static", "w4"] = Field(
        "dynamic", description="PT2E with the XNNPACK quantizer, per-channel INT8 weights; dynamic: activations "
                               "quantised at run time; static: fixed activation ranges calibrated on training rows; "
                               "w4: torchao 8da4w (4-bit blockwise weights, int8 dynamic activations) on XNNPACK")
    embeddings: Literal["auto", "fp32", "int8", "int4"] = Field(
        "auto", description="the embedding tables, independent of the Linear mode: int8 (per row), int4 (per block "
                            "of quantize.embedding_block_size; a table whose width no block divides stays int8) or "
                            "fp32; auto: each format's measured default (int8 for onnx, tflite and "
                            "executorch, fp32 for torchscript). A pair a format's runtime cannot take is refused "
                            "at preflight with the reason")
    block_size: Literal[32, 64, 128] = Field(32, description="w4: weights per 4-bit quantization scale (along the "
                                                             "input dimension); a layer whose input width it does "
                                                             "not divide gets the largest listed block that does")
    embedding_block_size: Literal[32, 64, 128] = Field(
        32, description="int4 embedding tables: values per quantization scale along the hidden axis (the table "
                        "is most of a pruned student's 4-bit bytes: tflite 64 / 128 save 0.15 / 0.23 MB on the "
                        "default SST-2 student against 32)")
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
    # instructions per inference under qemu-aarch64 (edgeport/bench/emulated.py): off by default, because the
    # emulator runs ~100-130 M guest instructions per CPU-second, so the default student's six runnable files
    # cost minutes per CPU model (ARCHITECTURE.md, "ARM parity", measured)
    emulated: Switch = Field(
        "off", description="count guest instructions per inference (evidence kind `emulated`: instructions, never "
                           "milliseconds, never a latency budget's evidence) of each TFLite/ONNX/ExecuTorch "
                           "artifact on each bench.targets profile's CPU model under a plugin-capable qemu-aarch64 "
                           "(Debian qemu-user) + gcc; auto: when installed (else a note); on: missing is an error")
    emulated_calls: int = Field(3, ge=1, le=20, description="emulated, fixed length: calls after the first; "
                                                            "steady state is their median")
    emulated_rows: int = Field(16, ge=1, description="emulated, workload: rows counted, a sample seeded by "
                                                     "run.seed (each run twice: first pass, steady pass)")


class ValidateConfig(Section):
    enabled: bool = True
    int8_max_accuracy_drop: float = Field(1.0, ge=0, le=100,
                                          description="gate: an INT8 artifact's task metric (data.metric: accuracy, "
                                                      "F1, ..., Spearman) may be at most this many points below fp32 "
                                                      "torch")
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
    min_cosine: float | None = Field(None, ge=-1, le=1, description="sentence-embedding: every artifact's vector "
                                     "has at least this cosine with the fp32 torch vector, on every eval sentence; "
                                     "null: 0.9999 for fp32, and for quantized artifacts 1 - the noise budget's "
                                     "max factor x (1 - this model's min cosine under torch dynamic INT8)")
    tolerances: dict[str, ToleranceConfig] = Field(
        default_factory=dict, description="override per artifact name, e.g. {onnx-int8: {max_abs: 4.0}}; "
                                          "defaults: fp32 on each exporter class; INT8 the measured noise "
                                          "budget per (format, mode) times the model's own 8-bit noise "
                                          "(exporters.base.INT8_NOISE)")
    # ARM parity (edgeport/validation_arm.py): the device's own aarch64 kernels, under qemu-user
    # off by default: even with one guest per CPU model (profiles share it) and the models' guests in parallel, the
    # default run's 872 rows cost 1.4-1.6 CPU-s per row for its fp32 TFLite file under emulation (0.2-0.45 for INT8):
    # 3,886 s of validate's wall time on a shared 2-core machine, on a run of minutes (ARCHITECTURE.md, "ARM parity")
    arm_parity: Switch = Field(
        "off", description="run each artifact in a bench.targets ARM profile's format on the profile's CPU model "
                           "under qemu-aarch64 and gate it against the x86 result and the fp32 model; auto: when "
                           "qemu-aarch64 is installed (else a note says it was not checked); on: a missing "
                           "emulator is an error; off (the default: the emulation's cost)")
    arm_rows: int | None = Field(1000, ge=1, description="eval rows run under emulation: all when the split has at "
                                 "most this many, else a sample of this size seeded by run.seed (null: all rows)")

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
               or k.rpartition("-")[2] not in ("fp32", "int8", "w4")]
        if bad:
            raise ValueError(f"validate.tolerances: unknown artifact names {bad}; use FORMAT-PRECISION, e.g. onnx-int8")
        return self


class ReportConfig(Section):
    enabled: bool = True
    plots: bool = Field(True, description="write PNG plots (needs matplotlib: pip install 'edgeport[report]')")
    budget_gate: Annotated[Literal["off", "any", "all"], BeforeValidator(yaml_switch)] = Field(
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
