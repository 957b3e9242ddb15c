"""What every exporter shares: the logits-only wrapper, the sample inputs, tolerances and the artifact sidecar.

An artifact is a directory: the model file plus ``artifact.json`` (format, precision, label names, input
names, static seq_len if any, the export length, the model's physical tensor shapes) and the tokenizer files, so ``edgeport predict DIR_OR_FILE "text"`` works for
any format without the run that produced it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

from ..models.arch import INPUT_NAMES, inputs_of
from ..precision import PRECISIONS as PRECISION_TABLE

SIDECAR = "artifact.json"
PRECISIONS = ("fp32", "int8", "w4")
# A quantize mode names its artifact's precision: 4-bit weights are not INT8 (``tflite-w4``, not ``tflite-int8``);
# every other mode makes INT8 weights.
MODE_PRECISION = {"w4": "w4"}
# precisions judged against the model's own quantisation noise (validate's budgets): ``edgeport.precision``'s table
QUANTIZED = tuple(name for name, p in PRECISION_TABLE.items() if p.quantized)
# The embedding table's storage, independent of the Linear mode: ``auto`` is each format's measured default.
EMBEDDINGS = ("auto", "fp32", "int8", "int4")
BLOCK_SIZES = (32, 64, 128)  # w4: weights per scale along the input dimension (every runtime takes these)


def w4_block(inputs: int, block_size: int) -> int | None:
    """The 4-bit block a Linear with ``inputs`` input features gets under ``block_size``: that size when it divides
    the width, else the largest smaller one in ``BLOCK_SIZES`` that does (a pruned student's attention output: 9 heads
    x 32 = 288 inputs), else None: the layer stays at int8 per channel (the converters refuse an uneven block)."""
    return next((b for b in sorted(BLOCK_SIZES, reverse=True) if b <= block_size and inputs % b == 0), None)


def int8_tables(model, embedding_block_size: int) -> list[str]:
    """Under ``quantize.embeddings: int4``, the looked-up tables (``models.arch.lookup_tables``, by their names in
    ``model``) that no int4 block divides (``w4_block`` of the table's width, the rule Linear layers follow): every
    exporter stores those at int8 (ELECTRA's factorised tables are ``embedding_size`` wide: 16 in the support matrix's
    tiny model, which no block of 32, 64 or 128 divides; ai-edge-quantizer and torchao refuse an uneven block)."""
    from ..models.arch import lookup_tables

    names = {id(m): name for name, m in model.named_modules()}
    return [names[id(t)] for t in lookup_tables(model) if w4_block(t.weight.shape[1], embedding_block_size) is None]


def note_table_storage(req, model) -> None:
    """Records in the artifact's sidecar (``out_dir/artifact.json``, when there is one) which tables an int4 request
    stored at int8 instead (``int8_tables``): ``tables_int8``, absent when none fell back. The quantize stage keeps
    the key when it adds its own (``_update_sidecar`` merges into what is there); the model card lists them."""
    path = Path(req.out_dir) / SIDECAR
    if not path.is_file():  # a candidate of the fallback's sensitivity sweep: scratch, no sidecar
        return
    meta = json.loads(path.read_text())
    meta.pop("tables_int8", None)
    if req.embeddings == "int4" and (names := int8_tables(model, req.embedding_block_size)):
        meta["tables_int8"] = names
    path.write_text(json.dumps(meta, indent=2) + "\n")


@dataclass(frozen=True)
class Rounding:
    """How a converter rounds a weight onto its symmetric ``b``-bit grid (codes -2^(b-1) .. 2^(b-1) - 1): what the
    w4 yardstick must copy to compute what the artifact computes (``validation.w4_yardstick``). Read from the
    libraries' code and the scales they store, and checked against their own quantizers
    (tests/test_four_bit.py::test_rounding_is_each_converters_own).

    ``scale``: ``"max"``: max|w| / (2^(b-1) - 1) (ai-edge-quantizer: int4 max|w| / 7, int8 / 127);
    ``"half_range"``: max|w| / ((2^b - 1) / 2) (torchao's SYMMETRIC: int4 max|w| / 7.5, int8 / 127.5; codes are
    round(w x (1 / scale)), so a block's extreme lands on ±7 or ±8 by its sign and the float reciprocal);
    ``"extreme"``: the block's largest-magnitude value / -2^(b-1) (ONNX Runtime's symmetric int4, MatMulNBits and
    GatherBlockQuantized alike: that value is code -8 exactly). ``scale_bf16``: blockwise scales are stored with a
    bf16 mantissa (ai-edge-quantizer). ``int8_tables``: an int8 table's storage: ``"row"``, one symmetric scale per
    row by ``scale``; ``"tensor"``, asymmetric uint8 with one scale and zero point for the table (ONNX Runtime's
    quantize_dynamic Gather: it quantizes a table as an activation)."""

    scale: str
    scale_bf16: bool = False
    int8_tables: str = "row"


def round_to_grid(weight, bits: int, block: int | None, rounding: Rounding):
    """``weight`` [rows, cols] as ``rounding``'s converter stores it at ``bits``, dequantized: one scale per block
    of ``block`` columns (None: per row)."""
    import torch

    qmax = 2 ** (bits - 1) - 1
    qmin = -qmax - 1
    rows, cols = weight.shape
    w = weight.reshape(rows, cols // (block or cols), block or cols)
    amax = w.abs().amax(-1, keepdim=True)
    if rounding.scale == "extreme":
        scale = w.gather(-1, w.abs().argmax(-1, keepdim=True)) / qmin
    elif rounding.scale == "half_range":
        scale = amax / ((qmax - qmin) / 2)
    elif rounding.scale == "max":
        scale = amax / qmax
    else:
        raise ValueError(f"unknown scale rule {rounding.scale!r}")
    if rounding.scale_bf16 and block:
        scale = scale.to(torch.bfloat16).to(torch.float16).float()
    scale = torch.where(scale == 0, torch.ones_like(scale), scale)  # an all-zero block stays zero
    codes = w * (1.0 / scale) if rounding.scale == "half_range" else w / scale
    return (torch.clamp(torch.round(codes), qmin, qmax) * scale).reshape(rows, cols)


def round_table_int8(table, rounding: Rounding):
    """An embedding table [rows, width] as ``rounding``'s converter stores it at int8, dequantized."""
    import torch

    if rounding.int8_tables == "row":
        return round_to_grid(table, 8, None, rounding)
    lo, hi = min(float(table.min()), 0.0), max(float(table.max()), 0.0)  # ONNX Runtime: asymmetric uint8, 0 exact
    scale = (hi - lo) / 255 or 1.0
    zero = round(-lo / scale)
    return (torch.clamp(torch.round(table / scale) + zero, 0, 255) - zero) * scale


def precision_of(mode: str) -> str:
    return MODE_PRECISION.get(mode, "int8")


def quantized(precision: str) -> bool:
    return precision in QUANTIZED


def refusal(exporter, mode: str, embeddings: str) -> str | None:
    """Why ``exporter``'s runtime cannot take this (mode, embeddings) pair, or None. ``exporter.refused`` maps
    (mode or None, embeddings or None) -> the reason (None matches anything); a mode the format lacks is refused
    too. Read at the quantize stage's preflight and by the support matrix."""
    for (m, e), why in exporter.refused.items():
        if m in (None, mode) and e in (None, embeddings):
            return why
    if mode not in exporter.quantize_modes:
        return f"{exporter.format} has no quantize mode {mode!r}; known: {', '.join(exporter.quantize_modes)}"
    return None


@dataclass(frozen=True)
class Tolerance:
    """Logit parity limits of one (format, precision) pair against the fp32 torch model, in logit units."""

    max_abs: float
    mean_abs: float


@dataclass(frozen=True)
class NoiseBudget:
    """The INT8 limits of one (format, mode), derived from its measured quantisation noise.

    The yardstick is the model's own 8-bit noise on the judged rows: max and mean |Δlogit| of torch's dynamic INT8
    of the fp32 reference against it (``validation.References.noise``; what TorchScript INT8 computes). The logit
    tolerance is the format's fp32 base + ``max_factor`` x the yardstick's max |Δ| (and ``mean_factor`` x its
    mean |Δ|): the factors are measured per (format, mode) with headroom, so the limit follows the model (a
    2-layer hidden-32 BERT quantizes an order of magnitude more cleanly than a 3-layer MiniLM). ``tie_factor``: a
    row whose reference margin is within 2 x ``tie_factor`` x the yardstick's largest |Δ| on that row is tied at
    8-bit resolution, and its flip is reported, not counted by the agreement gate. ``min_agreement``: the floor of
    that gate (used when ``validate.int8_min_agreement`` is null).
    """

    max_factor: float
    mean_factor: float
    tie_factor: float
    min_agreement: float


# (format, mode) -> budget, measured by benchmarks/int8_noise.py on the quick run's student (SST-2 selection split,
# batch 1; benchmarks/results/int8_noise.{json,md}). Tolerance factors = 2 x the measured noise ratio (artifact /
# yardstick), rounded up to 0.5 and kept within [1.5, 2]: 1.5 leaves room for the ratio's spread across real
# models (<= 0.44 for the sound dynamic modes on the student); it does not cover toy models: on test_family's
# hidden-32 models ORT and TFLite dynamic reach a mean ratio of 1.5-1.7, so validate would fail their correct INT8
# artifacts (that test holds them to the cap instead); 2 caps
# it: no INT8 artifact may be noisier than twice torch's own dynamic INT8 of the same model (the static modes, 3.4-4.9x
# on the student, where they flip 7-17% of the labels, are held to it). torchscript dynamic is the yardstick's own
# computation (ratio 1.00 on any model): 1.25. Tie factor 1 and floor 0.99 everywhere: the sound modes' flips all
# but <= 1 in 344 fall in the tie band, and 2% of 872 rows flipped beyond it fails (p = 0.008). qat: the cap. A QAT
# artifact is judged against the model *before* QAT, so its difference holds what QAT changed besides the rounding:
# 4-bit QAT on the default student measured selection mean ratios of 1.56-1.78 of the w4 yardstick (max 0.73-1.31;
# benchmarks/four_bit.py --qat), inside the cap, which the derivation (2 x ratio) would exceed; INT8 QAT is not
# measured on a real model.
INT8_NOISE: dict[tuple[str, str], NoiseBudget] = {
    ("torchscript", "dynamic"): NoiseBudget(1.25, 1.25, 1.0, 0.99),
    ("torchscript", "qat"): NoiseBudget(2.0, 2.0, 1.0, 0.99),
    ("onnx", "dynamic"): NoiseBudget(1.5, 1.5, 1.0, 0.99),
    ("onnx", "static"): NoiseBudget(2.0, 2.0, 1.0, 0.99),
    ("onnx", "static_linear"): NoiseBudget(2.0, 2.0, 1.0, 0.99),
    ("onnx", "nncf"): NoiseBudget(1.5, 1.5, 1.0, 0.99),
    ("onnx", "nncf_accuracy"): NoiseBudget(1.5, 1.5, 1.0, 0.99),
    ("onnx", "qat"): NoiseBudget(2.0, 2.0, 1.0, 0.99),
    ("tflite", "dynamic"): NoiseBudget(1.5, 1.5, 1.0, 0.99),
    ("tflite", "full_integer"): NoiseBudget(2.0, 2.0, 1.0, 0.99),
    ("tflite", "qat"): NoiseBudget(2.0, 2.0, 1.0, 0.99),
    ("executorch", "dynamic"): NoiseBudget(1.5, 1.5, 1.0, 0.99),
    ("executorch", "static"): NoiseBudget(2.0, 2.0, 1.0, 0.99),
    ("executorch", "qat"): NoiseBudget(2.0, 2.0, 1.0, 0.99),
    # w4 (4-bit blockwise weights): in units of the model's own *4-bit* noise (``validation.w4_yardstick``), the same
    # derivation on the default SST-2 student (selection split, 500 rows, Linear and table blocks 64,
    # benchmarks/four_bit.py -> benchmarks/results/four_bit.{json,md}); each the looser of int8 and int4 tables
    # (max / mean ratio: tflite 0.54-1.08 / 0.54-0.57, onnx 0.43-0.74 / 0.28-0.58, executorch 0.39-0.87 /
    # 0.33-0.71). Counted flips 3-4 of 500.
    ("tflite", "w4"): NoiseBudget(2.0, 1.5, 1.0, 0.99),
    ("onnx", "w4"): NoiseBudget(1.5, 1.5, 1.0, 0.99),
    ("executorch", "w4"): NoiseBudget(2.0, 1.5, 1.0, 0.99),
}


@dataclass(frozen=True)
class QuantizeRequest:
    """Everything a format may need to make its INT8 artifact from the fp32 one."""

    model: object  # the fp32 torch classifier (TorchScript INT8 is made from it, not from the file)
    fp32_path: Path
    sample: dict  # name -> torch int tensor [batch, seq_len] (batch 2 for dynamic-shape formats)
    out_dir: Path
    mode: str  # per-format: dynamic | static | full_integer | static_linear | nncf | nncf_accuracy
    calibration: list[dict]  # name -> numpy int [1, seq_len] rows from the training split
    keep_fp: tuple[str, ...] = ()  # format-specific layer names left in float (the accuracy-aware fallback)
    keep_int8: tuple[str, ...] = ()  # w4: format-specific layer names kept at 8 bits (the fallback, for 4-bit modes)
    validation: dict | None = None  # {"rows": [...], "labels": [...]}: selection-split rows (nncf_accuracy)
    max_drop: float = 0.01  # nncf_accuracy: allowed accuracy drop on ``validation`` (a fraction)
    embeddings: str = "auto"  # the embedding table: auto (the format's default) | fp32 | int8 | int4
    block_size: int = 32  # w4: weights per quantization scale
    embedding_block_size: int = 32  # int4 embedding tables: values per quantization scale along the hidden axis

    def embedding_bits(self, exporter) -> str:
        """``embeddings`` with ``auto`` resolved to the format's default for this mode."""
        return exporter.auto_embeddings.get(self.mode, "auto") if self.embeddings == "auto" else self.embeddings


def model_inputs(model) -> tuple[str, ...]:
    """The inputs this model's artifacts take, from its architecture adapter: BERT/ELECTRA (and DeBERTa with token
    types) all three of ``INPUT_NAMES``; DistilBERT, RoBERTa, XLM-R and DeBERTa-v3 ``input_ids, attention_mask``."""
    return inputs_of(model)


def refuse_unsupported(model, fmt: str) -> None:
    """A format the architecture's adapter declares it cannot take (``Arch.format_limits``, with the measured
    reason) fails before the converter runs. The table is empty today: every format converts every architecture."""
    from ..errors import ModelError
    from ..models.arch import ARCHES, model_type_of

    adapter = ARCHES.get(model_type_of(model))
    reason = adapter.limitation(fmt) if adapter else None
    if reason:
        raise ModelError(f"{fmt} cannot take a '{model.config.model_type}' model: {reason}; "
                         f"remove {fmt} from export.formats")


# The outputs of a model class whose forward gives more than ``logits``, by class-name suffix, in artifact order
# (``tasks.TaskSpec.outputs`` of its task): exporters name the graph's outputs after them, artifact.json records them.
MULTI_OUTPUTS = {"ForQuestionAnswering": ("start_logits", "end_logits")}


def model_outputs(model) -> tuple[str, ...]:
    """The named outputs this model's artifacts give, in order: ``("logits",)`` for every single-output model."""
    name = type(model).__name__
    return next((outs for suffix, outs in MULTI_OUTPUTS.items() if name.endswith(suffix)), ("logits",))


def logits_only(model):
    """A torch module ``(input_ids, attention_mask[, token_type_ids]) -> logits``: exporters trace plain tensors,
    passing exactly ``model_inputs(model)`` positionally (a model that takes no token types gets none). A model of
    several outputs (``model_outputs``: QA's start and end logits) gives them as a tuple in that order.

    Eager attention: SDPA's fused path is what the converters handle worst (litert-torch, the ONNX
    exporter), and eager gives the same numbers.
    """
    import torch

    model = copy.deepcopy(model).eval().float()
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")

    outputs = model_outputs(model)

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            # .long(): TFLite feeds int32 (LiteRT has no int64 embedding lookup worth using); torch wants int64.
            feed = {"input_ids": input_ids.long(), "attention_mask": attention_mask.long()}
            if token_type_ids is not None:  # absent when the architecture takes none (decided at trace time)
                feed["token_type_ids"] = token_type_ids.long()
            result = self.inner(**feed)
            if len(outputs) == 1:
                return result.logits  # every single-output artifact: one tensor, as before
            return tuple(getattr(result, name) for name in outputs)

    return LogitsOnly(model).eval()


def make_sample(seq_len: int, batch: int = 1, vocab: int = 1000, pad_from: int | None = None) -> dict:
    """Deterministic int32 sample inputs (all of ``INPUT_NAMES``: exporters take the ones their model needs);
    padding in the sample so the mask path is traced, not folded away."""
    import torch

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(100, max(vocab, 101), (batch, seq_len), generator=gen, dtype=torch.int32)
    mask = torch.ones(batch, seq_len, dtype=torch.int32)
    mask[:, pad_from if pad_from is not None else max(1, seq_len * 3 // 4):] = 0
    ids[mask == 0] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}


def write_sidecar(out_dir: Path, *, fmt: str, precision: str, model_file: str, label_names: list[str],
                  seq_len: int | None, max_seq_len: int, tokenizer=None, extra: dict | None = None,
                  model=None, export_seq_len: int | None = None) -> None:
    """``artifact.json`` (+ the tokenizer files). With ``model`` (the torch model exactly as exported), ``inputs``
    lists the inputs it was exported with (runners feed only those) and the physical tensor shapes go in under
    ``model_shapes``: kept heads x head_dim, sliced FFN, pruned vocabulary. The latency estimate counts them, so
    the directory alone describes the work its model does. Without ``model``, ``inputs`` is all of them."""
    inputs = model_inputs(model) if model is not None else INPUT_NAMES
    meta = {"format": fmt, "precision": precision, "model_file": model_file, "label_names": list(label_names),
            "inputs": list(inputs), "seq_len": seq_len, "max_seq_len": max_seq_len} | (extra or {})
    if export_seq_len is not None:
        meta["export_seq_len"] = export_seq_len  # the longest input the app feeds (latency length)
    if model is not None and len(model_outputs(model)) > 1:
        meta["outputs"] = list(model_outputs(model))  # runners return these by name; absent: one "logits" output
    if model is not None:
        from ..bench.estimate import model_shapes

        meta["model_shapes"] = model_shapes(model)
    (out_dir / SIDECAR).write_text(json.dumps(meta, indent=2) + "\n")
    if tokenizer is not None:
        tokenizer.save_pretrained(out_dir)


def label_names(model) -> list[str]:
    id2label = model.config.id2label
    return [str(id2label[i]) for i in range(len(id2label))]


def artifact_record(stage: str, stage_out: Path, path: Path, fmt: str, precision: str) -> dict:
    """One ``artifacts`` entry of a stage's metrics; ``path`` is relative to the run dir (where the stage is
    published), so quantize, validate, report and the Android build find it through the manifest."""
    return {"name": f"{fmt}-{precision}", "format": fmt, "precision": precision,
            "path": f"{stage}/{path.relative_to(stage_out).as_posix()}", "size_bytes": path.stat().st_size}
