"""ONNX: ``torch.onnx.export`` (the dynamo exporter, onnxscript) with dynamic batch and sequence axes.

Why this converter: it is torch's own, needs nothing beyond ``onnxscript``, and keeps both axes dynamic, so
one file serves every batch size and sequence length. INT8 uses ONNX Runtime's quantizer: dynamic per-channel
QInt8 weights (activations quantised on the fly; the recipe that kept MiniLM's accuracy) or, as an option,
static QDQ calibrated on training rows (fixed activation ranges; known to wreck BERT logits without care,
which validation must catch), and the calibrated recipes in ``onnx_int8.py`` (Linear-only QDQ, NNCF).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import require
from .base import (QuantizeRequest, Rounding, Tolerance, logits_only, model_inputs, model_outputs, note_table_storage,
                   refuse_unsupported)


class OnnxExporter:
    format = "onnx"
    suffix = ".onnx"
    dynamic_shapes = True
    opset = 18
    quantize_modes = ("dynamic", "static", "static_linear", "nncf", "nncf_accuracy", "w4")
    # what the accuracy-aware fallback turns a sensitive node into, per mode (w4: int8 dynamic; else float)
    keep_precision = {"dynamic": "fp32", "static": "fp32", "static_linear": "fp32", "nncf": "fp32",
                      "nncf_accuracy": "fp32", "w4": "int8"}
    auto_embeddings = {"dynamic": "int8", "w4": "int8"}  # measured: benchmarks/four_bit.py
    # ONNX Runtime's symmetric int4 (MatMulNBits, GatherBlockQuantized): scale = the block's largest-magnitude value
    # / -8; int8 tables from quantize_dynamic's Gather: asymmetric uint8, one scale per table (``base.Rounding``)
    rounding = Rounding("extreme", int8_tables="tensor")
    # the calibrated recipes decide the Gather tables themselves (QDQ, NNCF's transformer scope)
    refused = {(m, e): f"onnx {m} quantizes with its own calibrated recipe; quantize.embeddings applies to the "
                       f"dynamic and w4 modes: use auto"
               for m in ("static", "static_linear", "nncf", "nncf_accuracy") for e in ("fp32", "int8", "int4")}
    # fp32: ORT fuses attention/LayerNorm differently from torch, so float error is larger than TorchScript's.
    # INT8 = that base + the measured noise budget of (onnx, mode) in quantisation steps (``base.INT8_NOISE``).
    tolerances = {p: Tolerance(max_abs=1e-3, mean_abs=1e-4) for p in ("fp32", "int8", "w4")}

    def export(self, model, sample: dict, out_dir: Path) -> Path:
        import torch

        refuse_unsupported(model, self.format)
        require("onnxscript", "onnx")
        path = out_dir / f"model{self.suffix}"
        names = model_inputs(model)  # only the inputs the architecture takes (DistilBERT: no token_type_ids)
        args = tuple(sample[n].long() for n in names)
        axes = {n: {0: "batch", 1: "sequence"} for n in names}
        with torch.no_grad():
            # external_data=False: one self-contained file (the default splits weights into model.onnx.data).
            torch.onnx.export(logits_only(model), args, str(path), input_names=list(names),
                              output_names=list(model_outputs(model)), dynamic_shapes=axes, opset_version=self.opset,
                              dynamo=True, external_data=False, verbose=False)
        return path

    def quantize(self, req: QuantizeRequest) -> Path:
        from . import onnx_int8

        out = req.out_dir / f"model{self.suffix}"
        if req.mode not in self.quantize_modes:
            raise ValueError(f"onnx quantize supports {', '.join(self.quantize_modes)}, not {req.mode!r}")
        with tempfile.TemporaryDirectory() as tmp:
            prepped = self.prepare(req.fp32_path, Path(tmp))
            if req.mode in onnx_int8.WEIGHT_MODES:
                onnx_int8.WEIGHT_MODES[req.mode](prepped, out, req.embedding_bits(self), req)
            elif req.mode in ("static", "static_linear"):
                onnx_int8.ort_static(prepped, out, req.calibration, req.mode == "static_linear", req.keep_fp)
            else:
                onnx_int8.nncf_quantize(prepped, out, req.calibration, req.keep_fp,
                                        req.validation if req.mode == "nncf_accuracy" else None, req.max_drop)
        for leftover in out.parent.glob("*.onnx.data"):  # calibration scratch, never part of the artifact
            os.remove(leftover)
        if req.mode in onnx_int8.WEIGHT_MODES:
            note_table_storage(req, req.model)
        return out

    @staticmethod
    def prepare(fp32_path: Path, tmp: Path) -> Path:
        """ONNX Runtime's pre-processing; node names in the result are what ``keep_fp`` refers to."""
        require("onnxruntime.quantization", "onnx")
        from onnxruntime.quantization.shape_inference import quant_pre_process

        prepped = tmp / "prepped.onnx"
        # Symbolic shape inference fails on BERT graphs; ONNX shape inference + optimisation still run.
        quant_pre_process(str(fp32_path), str(prepped), skip_symbolic_shape=True)
        return prepped

    def quant_units(self, fp32_path: Path, linear_names: list[str]) -> dict[str, str]:
        """Layer name -> node name for the Linear layers, in graph order (what the fallback may keep in float).

        The dynamo exporter names weight constants ``val_N``; the Linear MatMul/Gemm nodes appear in the torch
        modules' execution order, so they are labelled with the torch names when the counts match."""
        import onnx

        from .onnx_int8 import linear_nodes

        with tempfile.TemporaryDirectory() as tmp:
            nodes = linear_nodes(onnx.load(str(self.prepare(fp32_path, Path(tmp)))))
        return dict(zip(linear_names, nodes)) if len(nodes) == len(linear_names) else {n: n for n in nodes}
