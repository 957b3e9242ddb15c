"""What an artifact's ``precision`` (``artifact.json``; ``fp32``, ``int8``, ``w4``) means to the modules that read it.

One declarative table instead of ``precision == "int8"`` comparisons spread over the estimate, the report, the
cards and the plots (each such comparison silently treated ``w4`` as fp32). A new precision is one row here.

Bytes per weight are what the latency estimate (``bench/estimate.py``) moves through memory per stored weight:

- Linear weights: ``bits / 8`` plus the scales of a blockwise format (one scale per ``block_size`` weights along the
  input dimension, counted as fp32: ONNX's MatMulNBits and torchao's 8da4w store fp32 scales; TFLite's blockwise
  ones are fp16, so the count is an upper bound there). INT8's per-channel scales (one per output row) are noise.
- Embedding tables: ``artifact.json``'s ``embeddings`` (``fp32`` | ``int8`` per row | ``int4`` per block of 32,
  the quantize stage records it), independent of the Linear precision.

Light: no torch, no numpy (``edgeport --help`` and the report import it).
"""

from __future__ import annotations

from dataclasses import dataclass

SCALE_BYTES = 4  # one fp32 scale per block (see the docstring)
EMBEDDING_BLOCK = 32  # int4 tables: one scale per 32 values (exporters: tflite BLOCKWISE_32, torchao PerGroup(32))


@dataclass(frozen=True)
class Precision:
    name: str
    linear_bits: int  # bits per stored Linear weight
    blockwise: bool  # one scale per ``block_size`` weights (else per channel / tensor: negligible)
    integer_compute: bool  # the matmuls run on integer kernels: the estimate uses the profile's INT8 peak
    quantized: bool  # judged against the model's own quantization noise (validate's budgets)
    label: str  # in prose ("INT8: -0.3 points vs the fp32 artifact")
    tags: tuple[str, ...]  # model-card tags beyond the precision's name
    marker: str  # the accuracy-vs-latency plot's marker


PRECISIONS: dict[str, Precision] = {p.name: p for p in (
    Precision("fp32", 32, False, False, False, "fp32", (), "o"),
    Precision("fp16", 16, False, False, False, "fp16", (), "o"),  # not written by edgeport; a foreign file's sidecar
    Precision("int8", 8, False, True, True, "INT8", ("int8", "quantized"), "s"),
    # w4: 4-bit weights, int8 activations quantized per call (every format's w4 kernel computes in integers)
    Precision("w4", 4, True, True, True, "4-bit weights", ("int4", "4-bit", "quantized"), "^"),
)}
ALIASES = {"float32": "fp32", "float16": "fp16", "bf16": "fp16", "bfloat16": "fp16"}
EMBEDDING_BITS = {"fp32": 32, "int8": 8, "int4": 4}


def get(precision: str | None) -> Precision:
    """The row for ``precision`` (None: fp32). ``int8-*`` names (older sidecars) are int8. Unknown: ValueError."""
    name = (precision or "fp32").lower()
    name = ALIASES.get(name, "int8" if name.startswith("int8") else name)
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    return PRECISIONS[name]


def is_quantized(precision: str | None) -> bool:
    return get(precision).quantized


def from_file_name(name: str) -> str:
    """A precision guessed from a model file's name (a file without ``artifact.json``): ``...-w4...`` or
    ``...int8...``, else fp32."""
    lowered = name.lower()
    return next((p.name for p in PRECISIONS.values() if p.quantized and p.name in lowered), "fp32")


def linear_bytes(precision: str | None, block_size: int | None = None) -> float:
    """Bytes per stored Linear weight, scales included (w4 without a recorded block size: edgeport's default 32)."""
    p = get(precision)
    return p.linear_bits / 8 + (SCALE_BYTES / (block_size or 32) if p.blockwise else 0.0)


def embedding_bytes(embeddings: str | None) -> float:
    """Bytes per stored embedding value (``artifact.json``'s ``embeddings``; None: fp32, what every artifact
    without the field kept)."""
    bits = EMBEDDING_BITS.get(embeddings or "fp32")
    if bits is None:
        raise ValueError(f"unknown embeddings {embeddings!r}; known: {', '.join(EMBEDDING_BITS)}")
    return bits / 8 + (SCALE_BYTES / EMBEDDING_BLOCK if bits == 4 else 0.0)
