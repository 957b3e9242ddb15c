"""Exporters: one small registered class per format, one contract ``export(model, sample, out_dir) -> Path``.

Each class also carries its format's defaults as constants (file suffix, opset, whether shapes are dynamic,
the INT8 modes it offers, fp32 parity tolerances per precision) and ``quantize(QuantizeRequest) -> Path``. INT8
limits are the measured noise budget per (format, mode) (``base.INT8_NOISE``, ``noise_budget``).
A new format is one class added to ``EXPORTERS``; stages, validation and tests iterate the registry.
"""

from __future__ import annotations

from ..errors import ConfigError
from .base import INT8_NOISE, PRECISIONS, NoiseBudget, QuantizeRequest, Tolerance, make_sample, write_sidecar
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


def noise_budget(fmt: str, mode: str | None, qat: bool = False) -> NoiseBudget:
    """The INT8 noise budget of this format and mode (``qat``: an artifact made from QAT weights)."""
    get_exporter(fmt)
    key = (fmt, "qat" if qat else mode or "dynamic")
    if key not in INT8_NOISE:
        known = ", ".join(m for f, m in INT8_NOISE if f == fmt)
        raise ConfigError([f"{fmt} INT8 mode {key[1]!r} has no noise budget; known: {known}"])
    return INT8_NOISE[key]


__all__ = ["EXPORTERS", "INT8_NOISE", "PRECISIONS", "NoiseBudget", "QuantizeRequest", "Tolerance", "check_builtin_only",
           "get_exporter", "make_sample", "noise_budget", "non_builtin_ops", "tflite_ops", "tolerance", "write_sidecar"]
