"""ONNX: ``torch.onnx.export`` (the dynamo exporter, onnxscript) with dynamic batch and sequence axes.

Why this converter: it is torch's own, needs nothing beyond ``onnxscript``, and keeps both axes dynamic, so
one file serves every batch size and sequence length. INT8 uses ONNX Runtime's quantizer: dynamic per-channel
QInt8 weights (activations quantised on the fly; the recipe that kept MiniLM's accuracy) or, as an option,
static QDQ calibrated on training rows (fixed activation ranges; known to wreck BERT logits without care,
which validation must catch).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import require
from .base import INPUT_NAMES, QuantizeRequest, Tolerance, logits_only


class OnnxExporter:
    format = "onnx"
    suffix = ".onnx"
    dynamic_shapes = True
    opset = 18
    quantize_modes = ("dynamic", "static")
    # fp32: ORT fuses attention/LayerNorm differently from torch, so float error is larger than TorchScript's.
    tolerances = {"fp32": Tolerance(max_abs=1e-3, mean_abs=1e-4), "int8": Tolerance(max_abs=3.0, mean_abs=0.5)}

    def export(self, model, sample: dict, out_dir: Path) -> Path:
        import torch

        require("onnxscript", "onnx")
        path = out_dir / f"model{self.suffix}"
        args = tuple(sample[n].long() for n in INPUT_NAMES)
        axes = {n: {0: "batch", 1: "sequence"} for n in INPUT_NAMES}
        with torch.no_grad():
            # external_data=False: one self-contained file (the default splits weights into model.onnx.data).
            torch.onnx.export(logits_only(model), args, str(path), input_names=list(INPUT_NAMES),
                              output_names=["logits"], dynamic_shapes=axes, opset_version=self.opset,
                              dynamo=True, external_data=False, verbose=False)
        return path

    def quantize(self, req: QuantizeRequest) -> Path:
        q = require("onnxruntime.quantization", "onnx")
        from onnxruntime.quantization.shape_inference import quant_pre_process

        out = req.out_dir / f"model{self.suffix}"
        with tempfile.TemporaryDirectory() as tmp:
            prepped = Path(tmp) / "prepped.onnx"
            # Symbolic shape inference fails on BERT graphs; ONNX shape inference + optimisation still run.
            quant_pre_process(str(req.fp32_path), str(prepped), skip_symbolic_shape=True)
            if req.mode == "dynamic":
                q.quantize_dynamic(str(prepped), str(out), per_channel=True, weight_type=q.QuantType.QInt8)
            elif req.mode == "static":
                q.quantize_static(str(prepped), str(out), _Reader(req.calibration), quant_format=q.QuantFormat.QDQ,
                                  per_channel=True, activation_type=q.QuantType.QInt8,
                                  weight_type=q.QuantType.QInt8)
            else:
                raise ValueError(f"onnx INT8 supports 'dynamic' or 'static', not {req.mode!r}")
        for leftover in out.parent.glob("*.onnx.data"):  # calibration scratch, never part of the artifact
            os.remove(leftover)
        return out


class _Reader:
    """ONNX Runtime's CalibrationDataReader protocol over rows of named int arrays."""

    def __init__(self, rows: list[dict]):
        self._rows = iter([{k: v.astype("int64") for k, v in r.items()} for r in rows])

    def get_next(self):
        return next(self._rows, None)
