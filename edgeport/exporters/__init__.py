"""Exporters: one small registered class per format, one contract ``export(model, sample, out_dir) -> Path``.

Each class also carries its format's defaults as constants (file suffix, opset, whether shapes are dynamic,
the INT8 modes it offers, parity tolerances per precision) and ``quantize(QuantizeRequest) -> Path``.
A new format is one class added to ``EXPORTERS``; stages, validation and tests iterate the registry.
"""

from __future__ import annotations

from ..errors import ConfigError
from .base import PRECISIONS, QuantizeRequest, Tolerance, make_sample, write_sidecar
from .onnx import OnnxExporter
from .tflite import TFLiteExporter, check_builtin_only, non_builtin_ops, tflite_ops
from .torchscript import TorchScriptExporter

EXPORTERS = {e.format: e for e in (TorchScriptExporter(), OnnxExporter(), TFLiteExporter())}


def get_exporter(fmt: str):
    if fmt not in EXPORTERS:
        raise ConfigError([f"export.formats: unknown format {fmt!r}; known: {', '.join(EXPORTERS)}"])
    return EXPORTERS[fmt]


def tolerance(fmt: str, precision: str) -> Tolerance:
    return get_exporter(fmt).tolerances[precision]


__all__ = ["EXPORTERS", "PRECISIONS", "QuantizeRequest", "Tolerance", "check_builtin_only", "get_exporter",
           "make_sample", "non_builtin_ops", "tflite_ops", "tolerance", "write_sidecar"]
