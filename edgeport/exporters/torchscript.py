"""TorchScript: ``torch.jit.trace`` of the logits-only wrapper; INT8 = torch dynamic quantization of Linear.

Why trace (not script): HF BERT is not scriptable, and tracing records exactly the tensor program we validate.
The one data-dependent branch in transformers' mask helper compares the mask length with the sequence length,
which is equal for every encoder call, so the trace holds for any batch and sequence length (tests check it).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from .base import QuantizeRequest, Tolerance, logits_only, model_inputs, refuse_unsupported


class TorchScriptExporter:
    format = "torchscript"
    suffix = ".pt"
    dynamic_shapes = True
    quantize_modes = ("dynamic", "w4")
    keep_precision = {"dynamic": "fp32"}  # the accuracy-aware fallback keeps a sensitive Linear in float
    auto_embeddings = {"dynamic": "fp32"}
    refused = {("w4", None): "TorchScript runs torch's quantized::linear_dynamic, which is INT8 only (no 4-bit Linear "
                             "kernel in the TorchScript runtime); use w4 with onnx, tflite or executorch, or "
                             "quantize.torchscript: dynamic",
               (None, "int8"): "torchscript INT8 is torch's dynamic quantization of nn.Linear; edgeport keeps its "
                               "embedding tables fp32 (quantized embedding modules are not wired here); use "
                               "quantize.embeddings: auto or fp32, or drop torchscript from export.formats",
               (None, "int4"): "torchscript INT8 is torch's dynamic quantization of nn.Linear; edgeport keeps its "
                               "embedding tables fp32 (quantized embedding modules are not wired here); use "
                               "quantize.embeddings: auto or fp32, or drop torchscript from export.formats"}
    # fp32 replays the same kernels: float noise only. INT8 = that base + the measured noise budget of (torchscript,
    # mode) in quantisation steps (``base.INT8_NOISE``). torch dynamic INT8 quantizes each Linear's input per tensor
    # per call: the loosest of the dynamic modes.
    tolerances = {"fp32": Tolerance(max_abs=1e-4, mean_abs=1e-5), "int8": Tolerance(max_abs=1e-4, mean_abs=1e-5)}

    def export(self, model, sample: dict, out_dir: Path) -> Path:
        refuse_unsupported(model, self.format)
        return _trace_and_save(logits_only(model), sample, model_inputs(model), out_dir / f"model{self.suffix}")

    def quantize(self, req: QuantizeRequest) -> Path:
        import torch

        if req.mode != "dynamic":
            raise ValueError(f"torchscript INT8 supports only 'dynamic', not {req.mode!r}")
        wrapper = logits_only(req.model)
        # keep_fp (the accuracy-aware fallback): quantize every Linear but those, by module name.
        spec = ({n for n, m in wrapper.named_modules() if isinstance(m, torch.nn.Linear)} - set(req.keep_fp)
                if req.keep_fp else {torch.nn.Linear})
        with warnings.catch_warnings():
            # torch.ao's deprecation notices only: quantize_dynamic is still the working CPU INT8 path in torch 2.x
            warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated",
                                    category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor, torch\.quantize_per_channel",
                                    category=UserWarning)
            wrapper = torch.ao.quantization.quantize_dynamic(wrapper, spec, dtype=torch.qint8)
        return _trace_and_save(wrapper, req.sample, model_inputs(req.model), req.out_dir / f"model{self.suffix}")

    def quant_units(self, fp32_path: Path, linear_names: list[str]) -> dict[str, str]:
        """Layer name -> module name inside the traced wrapper (``logits_only`` nests the model as ``inner``)."""
        return {n: f"inner.{n}" for n in linear_names}


def _trace_and_save(wrapper, sample: dict, names: tuple[str, ...], path: Path) -> Path:
    """Traced with ``names`` as positional inputs: the runner feeds the ones artifact.json records, in order."""
    import torch

    args = tuple(sample[n].long() for n in names)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # see the module docstring
        traced = torch.jit.trace(wrapper, args, check_trace=False)
    traced.save(str(path))
    return path
