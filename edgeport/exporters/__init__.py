"""Exporters: one small registered class per format, one contract ``export(model, sample, out_dir) -> Path``.

Each class also carries its format's defaults as constants (file suffix, opset, whether shapes are dynamic,
the INT8 modes it offers, parity tolerances per precision and, for INT8, per mode in quantisation steps
(``qtol``)) and ``quantize(QuantizeRequest) -> Path``.
A new format is one class added to ``EXPORTERS``; stages, validation and tests iterate the registry.
"""

from __future__ import annotations

from ..errors import ConfigError
from .base import PRECISIONS, QTol, QuantizeRequest, Tolerance, make_sample, write_sidecar
from .executorch import ExecuTorchExporter
from .onnx import OnnxExporter
from .tflite import TFLiteExporter, check_builtin_only, non_builtin_ops, tflite_ops
from .torchscript import TorchScriptExporter

EXPORTERS = {e.format: e for e in (TorchScriptExporter(), OnnxExporter(), TFLiteExporter(), ExecuTorchExporter())}


def get_exporter(fmt: str):
    if fmt not in EXPORTERS:
        raise ConfigError([f"export.formats: unknown format {fmt!r}; known: {', '.join(EXPORTERS)}"])
    return EXPORTERS[fmt]


def tolerance(fmt: str, precision: str) -> Tolerance:
    return get_exporter(fmt).tolerances[precision]


def qtol(fmt: str, mode: str | None, qat: bool = False) -> QTol:
    """The INT8 tolerance in quantisation steps for this format and mode (``qat``: made from QAT weights)."""
    table = get_exporter(fmt).qtol
    key = "qat" if qat else mode or "dynamic"
    if key not in table:
        raise ConfigError([f"{fmt} INT8 mode {key!r} has no tolerance; known: {', '.join(table)}"])
    return table[key]


__all__ = ["EXPORTERS", "PRECISIONS", "QTol", "QuantizeRequest", "Tolerance", "check_builtin_only", "get_exporter",
           "make_sample", "non_builtin_ops", "qtol", "tflite_ops", "tolerance", "write_sidecar"]
