"""Calibrated ONNX INT8: ONNX Runtime static QDQ (naive or Linear-only) and NNCF post-training quantization.

Why several static recipes: BERT's additive attention mask (a large negative constant added to the scores) and the
softmax/LayerNorm activations have ranges that one INT8 scale per tensor cannot hold; quantizing every op ("static",
ONNX Runtime's default op set) wrecks the logits. Two ways keep those ops in float:
* ``static_linear``: ONNX Runtime QDQ on the weight-bearing MatMul/Gemm nodes only (the Linear layers, where the
  bytes and the FLOPs are); mask add, softmax, LayerNorm, GELU and the activation x activation attention MatMuls
  stay fp32.
* ``nncf``: NNCF's post-training quantization with ``model_type=TRANSFORMER``, whose ignored patterns keep the
  same ops in float, with SmoothQuant and bias correction; ``nncf_accuracy`` adds NNCF's accuracy-controlled
  search (``quantize_with_accuracy_control``), which reverts the most harmful quantizers to float until the
  accuracy drop on labelled selection-split rows is within ``quantize.fallback.max_accuracy_drop``.
Numbers measured on a trained model are in ARCHITECTURE.md ("Calibrated INT8, QAT and fallback").

``keep_fp`` (node names) holds nodes in float in every mode: the accuracy-aware fallback uses it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import require
from .base import w4_block

WEIGHT_OPS = ("MatMul", "Gemm")


def linear_nodes(model) -> list[str]:
    """Names of the MatMul/Gemm nodes with a constant weight (the Linear layers), in graph order."""
    consts = {i.name for i in model.graph.initializer}
    consts |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in model.graph.node if n.op_type in WEIGHT_OPS and any(i in consts for i in n.input[1:2])]


def graph_inputs(model) -> set[str]:
    """Names of the graph's real inputs (initializers are listed as inputs in older IRs)."""
    consts = {i.name for i in model.graph.initializer}
    return {i.name for i in model.graph.input if i.name not in consts}


def only_inputs(rows: list[dict], names: set[str]) -> list[dict]:
    """Calibration rows carry every tokenizer output; a model without token types has no such input."""
    return [{k: v for k, v in r.items() if k in names} for r in rows]


def ort_static(prepped: Path, out: Path, calibration: list[dict], linear_only: bool, keep_fp=()) -> None:
    import onnx

    q = require("onnxruntime.quantization", "onnx")
    kwargs = {}
    model = onnx.load(str(prepped))
    calibration = only_inputs(calibration, graph_inputs(model))
    if linear_only:
        kwargs = {"op_types_to_quantize": list(WEIGHT_OPS),
                  "nodes_to_quantize": [n for n in linear_nodes(model) if n not in set(keep_fp)]}
    q.quantize_static(str(prepped), str(out), OrtReader(calibration), quant_format=q.QuantFormat.QDQ,
                      per_channel=True, activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8,
                      nodes_to_exclude=list(keep_fp), **kwargs)


def ort_dynamic(prepped: Path, out: Path, keep_fp=()) -> None:
    q = require("onnxruntime.quantization", "onnx")
    q.quantize_dynamic(str(prepped), str(out), per_channel=True, weight_type=q.QuantType.QInt8,
                       nodes_to_exclude=list(keep_fp))


def nncf_quantize(prepped: Path, out: Path, calibration: list[dict], keep_fp=(), validation=None,
                  max_drop: float = 0.01) -> dict:
    """NNCF PTQ (``validation`` None) or its accuracy-controlled variant; returns what NNCF reported."""
    import onnx

    nncf = require("nncf", "nncf")
    model = onnx.load(str(prepped))
    names = graph_inputs(model)
    rows = [{k: v.astype(np.int64) for k, v in r.items()} for r in only_inputs(calibration, names)]
    common = dict(model_type=nncf.ModelType.TRANSFORMER, subset_size=len(rows),
                  ignored_scope=nncf.IgnoredScope(names=list(keep_fp), validate=False) if keep_fp else None)
    dataset = nncf.Dataset(rows)
    info: dict = {}
    if validation is None:
        result = nncf.quantize(model, dataset, **common)
    else:
        result = nncf.quantize_with_accuracy_control(
            model, dataset, nncf.Dataset(_labelled(validation, names)), _validation_fn(validation, info),
            max_drop=max_drop, drop_type=nncf.DropType.ABSOLUTE, **common)
    onnx.save(result, str(out))
    return info


def _labelled(validation: dict, names: set[str]) -> list[tuple[dict, int]]:
    """Validation items as (inputs, label): NNCF also validates on subsets of the items, so each carries its label."""
    return list(zip(only_inputs(validation["rows"], names), validation["labels"]))


def _validation_fn(validation: dict, info: dict):
    """NNCF's contract: (model, items) -> (metric, per-item values). The metric is ``data.metric``; the per-item
    values (hit or miss), which NNCF ranks quantizers by, are exact for accuracy and a proxy for F1/MCC (not sums
    over rows)."""
    from ..stats import metric_value

    metric = validation.get("metric", "accuracy")
    num_labels = validation.get("num_labels") or (max(validation["labels"]) + 1)

    def validate(model, items) -> tuple[float, list[float]]:
        import onnxruntime as ort

        session = model if isinstance(model, ort.InferenceSession) else ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"])
        preds, labels = [], []
        for inputs, label in items:
            preds.append(int(session.run(None, inputs)[0].argmax(-1)[0]))
            labels.append(int(label))
        value = metric_value(metric, labels, preds, num_labels)
        info.setdefault(f"validation_{metric}", []).append(value)
        return value, [float(p == y) for p, y in zip(preds, labels)]

    return validate


class OrtReader:
    """ONNX Runtime's CalibrationDataReader protocol over rows of named int arrays."""

    def __init__(self, rows: list[dict]):
        self._rows = iter([{k: v.astype("int64") for k, v in r.items()} for r in rows])

    def get_next(self):
        return next(self._rows, None)


# --- 4-bit weights and the embedding table (``w4``, ``quantize.embeddings``) ---
# ONNX Runtime's MatMulNBits quantizer: MatMul weights to 4 bits per block of ``block_size`` inputs (symmetric),
# ``accuracy_level`` 4 = int8 activations quantized per call inside the MatMulNBits kernel (ORT's CPU EP), and
# Gather tables (the embeddings) to GatherBlockQuantized, 4 bits per block along the hidden axis. Its Gather path
# is 4-bit only (bits=8 leaves the Gather as it is), so int8 tables come from quantize_dynamic's Gather quantizer.
ACCURACY_LEVEL_INT8 = 4


def nbits(src: Path, dst: Path, op_types: tuple[str, ...], block_size: int, exclude=()) -> None:
    """MatMulNBits / GatherBlockQuantized 4-bit blocks; ``exclude``: node names left as they are (its
    ``nodes_to_exclude``: the fallback's layers kept at 8 bits or in float)."""
    import onnx

    require("onnxruntime.quantization", "onnx")
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True,
                                          accuracy_level=ACCURACY_LEVEL_INT8, op_types_to_quantize=op_types,
                                          quant_axes=(("MatMul", 0), ("Gather", 1)), bits=4)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), algo_config=config, nodes_to_exclude=list(exclude))
    quantizer.process()
    quantizer.model.save_model_to_file(str(dst), use_external_data_format=False)


def block_widths(model, op_type: str) -> dict[str, int]:
    """Node name -> the width its 4-bit blocks run along, for each ``op_type`` node whose weight is an initializer
    (what the MatMulNBits quantizer takes): a MatMul's input width (its weight is [in, out]), a Gather's table width
    (an embedding table is [rows, width])."""
    dims = {i.name: list(i.dims) for i in model.graph.initializer}
    index, axis = {"MatMul": (1, 0), "Gather": (0, 1)}[op_type]
    return {n.name: dims[n.input[index]][axis] for n in model.graph.node
            if n.op_type == op_type and len(n.input) > index and len(dims.get(n.input[index], ())) == 2}


def nbits_blocks(src: Path, dst: Path, op_type: str, block_size: int, exclude=()) -> list[str]:
    """4-bit blocks under the rule every format follows (``base.w4_block``): each ``op_type`` node (but ``exclude``)
    gets ``block_size`` when it divides the node's width, else the largest smaller listed block that does (one
    quantizer pass per block size); returns the nodes no block divides, left as they are for an int8 pass.
    MatMulNBits' own quantizer would pad such a width with zeros to a whole block (a 16-wide row in a block of 32,
    a 288-input layer in blocks of 64 with the last half empty), which no other format does."""
    import onnx

    blocks = {n: w4_block(w, block_size) for n, w in block_widths(onnx.load(str(src)), op_type).items()
              if n not in set(exclude)}
    passes = [lambda a, b, size=size: nbits(a, b, (op_type,), size, exclude=list(exclude) + [
        n for n, s in blocks.items() if s != size]) for size in sorted({s for s in blocks.values() if s})]
    _chain(src, dst, passes)
    return [n for n, s in blocks.items() if s is None]


def dynamic_ops(embeddings: bool) -> list[str]:
    """quantize_dynamic's op types, with or without Gather (the embedding tables)."""
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    return [t for t in IntegerOpsRegistry if embeddings or t != "Gather"]


def ort_dynamic_ops(src: Path, dst: Path, op_types: list[str], keep_fp=(), nodes=None) -> None:
    """quantize_dynamic of ``op_types`` (only the ``nodes`` named, when given), per-channel QInt8 weights."""
    q = require("onnxruntime.quantization", "onnx")
    q.quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=q.QuantType.QInt8,
                       op_types_to_quantize=op_types, nodes_to_exclude=list(keep_fp),
                       nodes_to_quantize=list(nodes) if nodes else None)


def _chain(src: Path, dst: Path, passes: list) -> None:
    """Each pass ``(in, out)`` reads the previous one's file; scratch files are removed. No passes: a copy."""
    import shutil

    if not passes:
        shutil.copyfile(src, dst)
        return
    current = src
    for i, step in enumerate(passes):
        out = dst if i == len(passes) - 1 else dst.with_name(f"pass{i}-{dst.name}")
        step(current, out)
        if current != src:
            current.unlink()
        current = out


def _tables(embeddings: str, req) -> list:
    """The embedding tables' passes: 4-bit blocks (GatherBlockQuantized) where a block divides the table's width
    (``nbits_blocks``), int8 (quantize_dynamic's Gather: asymmetric uint8, one scale per table) for ``int8`` and for
    the int4 tables no block divides (ELECTRA's 16-wide ones), or none. MatMulNBits' Gather path is 4-bit only
    (bits=8 leaves the Gather as it is)."""
    if embeddings == "fp32":
        return []
    if embeddings == "int8":
        return [lambda a, b: ort_dynamic_ops(a, b, ["Gather"])]
    left: list[str] = []  # the int4 pass's tables no block divides, for the int8 pass after it
    return [lambda a, b: left.extend(nbits_blocks(a, b, "Gather", req.embedding_block_size)),
            lambda a, b: ort_dynamic_ops(a, b, ["Gather"], nodes=left) if left else _chain(a, b, [])]


def dynamic_linear(src: Path, dst: Path, embeddings: str, req) -> None:
    """INT8 dynamic Linear layers (but ``keep_fp``), then the tables."""
    _chain(src, dst, [lambda a, b: ort_dynamic_ops(a, b, dynamic_ops(embeddings=False), req.keep_fp)]
           + _tables(embeddings, req))


def w4_linear(src: Path, dst: Path, embeddings: str, req) -> None:
    """MatMulNBits Linear layers in their ``base.w4_block`` blocks; the fallback's ``keep_int8`` ones and those no
    block divides int8 dynamic instead (quantize_dynamic on those nodes only), ``keep_fp`` ones left fp32; then the
    tables."""
    int8 = list(req.keep_int8)
    passes = [lambda a, b: int8.extend(nbits_blocks(a, b, "MatMul", req.block_size,
                                                    exclude=req.keep_int8 + req.keep_fp)),
              lambda a, b: ort_dynamic_ops(a, b, ["MatMul"], nodes=int8) if int8 else _chain(a, b, [])]
    _chain(src, dst, passes + _tables(embeddings, req))


WEIGHT_MODES = {"dynamic": dynamic_linear, "w4": w4_linear}  # modes that take quantize.embeddings
