"""Quantization-aware training: fake-quant on every Linear (and, for int4 tables, the embedding tables) during a
short distillation from the teacher.

What is simulated is what the shipped quantized paths compute (``Scheme``):
* INT8 (every mode but w4): weights per output channel, symmetric INT8 (ONNX Runtime ``per_channel`` QInt8,
  ai-edge-quantizer's dynamic recipe);
* w4: weights symmetric int4 per block of ``quantize.block_size`` inputs, rounded by the w4 format's own converter
  rule (``exporters.base.Rounding``, ``round_to_grid``: the w4 yardstick's too; a layer no block divides stays INT8
  per channel, as ``exporters.base.w4_block`` leaves it);
* both: input activations per tensor, asymmetric 8-bit with the range of the current batch (ONNX Runtime
  ``DynamicQuantizeLinear``, torch dynamic quantization, the w4 paths' int8 activations);
* ``quantize.embeddings: int4``: the looked-up tables rounded to int4 per block of ``quantize.embedding_block_size``
  values. INT8 tables (per row) are not simulated: their noise is a fraction of the Linear layers' (the default
  student's TFLite INT8 with an int8 table agrees with fp32 on 99.5% of SST-2 validation, benchmarks/four_bit.py),
  while an int4 table alone costs ~1 point there.
Gradients pass straight through the rounding (torch's fake-quant ops implement the straight-through estimator;
the 4-bit rounding adds ``(q - w).detach()``). LayerNorm, softmax and GELU stay float, as in those paths.

After training the fake-quant wrappers are removed: the model is a plain fp32 classifier whose weights sit where the
rounding hurts least, and each format's ordinary converter makes the artifact from it (the weights it rounds are
the ones QAT trained against). Nothing format-specific is needed beyond the 4-bit rounding rule.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize


@dataclass(frozen=True)
class Scheme:
    """What QAT rounds: ``block_size`` None = INT8 Linear weights per channel, else 4-bit per block of it (w4);
    ``table_block`` None = float tables, else int4 tables per block of it; ``fmt``: whose converter's 4-bit
    rounding (``exporters.base.Rounding``) the blocks copy."""
    block_size: int | None = None
    table_block: int | None = None
    fmt: str | None = None

    @property
    def name(self) -> str:
        linear = f"w4 (block {self.block_size})" if self.block_size else "int8"
        tables = f" + int4 tables (block {self.table_block})" if self.table_block else ""
        return linear + tables + (f", rounded as {self.fmt}'s converter rounds" if self.fmt else "")

    def round4(self, weight, block: int):
        from ..exporters import get_exporter
        from ..exporters.base import round_to_grid

        return round_to_grid(weight, 4, block, get_exporter(self.fmt).rounding)


def scheme_for(modes: dict[str, str], embeddings: str, block_size: int | None,
               embedding_block_size: int | None) -> Scheme:
    """The coarsest rounding any configured format ships: 4-bit Linears when a format is w4 (an INT8 format made
    from those weights sees a finer grid than the one trained against: its noise only shrinks), int4 tables when
    ``quantize.embeddings`` is int4. The 4-bit grid is the first w4 format's converter's (``export.formats``
    order; another w4 format's rule differs in the scale by at most 8/7, within the noise QAT trains against);
    with INT8 Linears and int4 tables, the first format that quantizes tables (TorchScript does not)."""
    w4 = next((fmt for fmt, mode in modes.items() if mode == "w4"), None)
    tables = embedding_block_size if embeddings == "int4" else None
    fmt = w4 or (next((f for f in modes if f != "torchscript"), None) if tables else None)
    return Scheme(block_size if w4 else None, tables, fmt)


class FakeQuantLinear(nn.Module):
    """``linear`` with fake quantization of its weight (INT8 per row, or int4 per block of ``block``) and its input
    (INT8 per tensor, per batch)."""

    def __init__(self, linear: nn.Linear, block: int | None = None, scheme: Scheme | None = None):
        super().__init__()
        self.linear, self.block, self.scheme = linear, block, scheme

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.linear.weight
        if self.block:
            w_q = w + (self.scheme.round4(w.detach(), self.block) - w).detach()  # straight through the rounding
        else:
            w_scale = (w.detach().abs().amax(dim=1) / 127.0).clamp(min=1e-8)
            w_q = torch.fake_quantize_per_channel_affine(w, w_scale.float(),
                                                         torch.zeros_like(w_scale, dtype=torch.int32), 0, -127, 127)
        return nn.functional.linear(_fake_quant_activation(x), w_q, self.linear.bias)


class FakeInt4Table(nn.Module):
    """A parametrization: the table as int4 per block of ``block`` values along the hidden axis, straight through."""

    def __init__(self, block: int, scheme: Scheme):
        super().__init__()
        self.block, self.scheme = block, scheme

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w + (self.scheme.round4(w.detach(), self.block) - w).detach()


def _fake_quant_activation(x: torch.Tensor) -> torch.Tensor:
    """uint8 asymmetric over [min(x, 0), max(x, 0)] of this batch, as ONNX Runtime's DynamicQuantizeLinear does."""
    lo = x.detach().min().clamp(max=0.0)
    hi = x.detach().max().clamp(min=0.0)
    scale = ((hi - lo) / 255.0).clamp(min=1e-8)
    zero = torch.round(-lo / scale).clamp(0, 255).to(torch.int32)
    return torch.fake_quantize_per_tensor_affine(x, scale.float().reshape(1), zero.reshape(1), 0, 255)


def attach(model, scheme: Scheme = Scheme()) -> list[str]:
    """Wrap every ``nn.Linear`` of ``model`` in place (and parametrize its int4 tables); returns the wrapped
    module names."""
    from ..exporters.base import w4_block
    from ..models.arch import lookup_tables

    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    for name in names:
        parent, _, leaf = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        linear = getattr(owner, leaf)
        block = w4_block(linear.in_features, scheme.block_size) if scheme.block_size else None
        setattr(owner, leaf, FakeQuantLinear(linear, block, scheme))
    if scheme.table_block and any(isinstance(m, nn.Embedding) for m in model.modules()):
        for table in lookup_tables(model):
            block = w4_block(table.weight.shape[1], scheme.table_block)
            if block:  # a table no block divides stays int8 per row in the converters
                parametrize.register_parametrization(table, "weight", FakeInt4Table(block, scheme))
    return names


def detach(model):
    """Undo ``attach``: plain ``nn.Linear`` modules and tables holding the trained (unrounded) weights."""
    for name, module in list(model.named_modules()):
        if isinstance(module, FakeQuantLinear):
            parent, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, leaf, module.linear)
        elif parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
    return model


def qat_finetune(model, rows: list[dict], select_rows: list[dict], qcfg, collate, seed: int,
                 metric: str = "accuracy", scheme: Scheme = Scheme()):
    """A QAT copy of ``model`` trained on ``rows`` (which carry ``teacher_logits``); the input is untouched.

    The recipe keeps the weights of the best selection-split evaluation, measured with fake quantization on, so
    the model returned is the one that was best *as quantized by ``scheme``*.
    """
    from ..training import distillation

    student = copy.deepcopy(model).float().train()
    attach(student, scheme)
    kd = distillation.KD(qcfg.alpha, qcfg.temperature)
    result = distillation.distill(student, rows, select_rows, qcfg.train, kd, collate, seed, desc="qat", metric=metric)
    return detach(student).eval(), result
