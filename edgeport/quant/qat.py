"""Quantization-aware training: INT8 fake-quant on every Linear during a short distillation from the teacher.

What is simulated is what the shipped INT8 paths compute: weights per output channel, symmetric INT8 (ONNX
Runtime ``per_channel`` QInt8, ai-edge-quantizer's dynamic recipe); input activations per tensor, asymmetric
8-bit with the range of the current batch (ONNX Runtime ``DynamicQuantizeLinear``, torch dynamic quantization).
Gradients pass straight through the rounding (torch's fake-quant ops implement the straight-through estimator).
Embeddings, LayerNorm, softmax and GELU stay float, as in those paths.

After training the fake-quant wrappers are removed: the model is a plain fp32 classifier whose weights sit where INT8
rounding hurts least, and each format's ordinary INT8 converter makes the artifact from it (the weights it
rounds are the ones QAT trained against). Nothing format-specific is needed, and every INT8 format benefits.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class FakeQuantLinear(nn.Module):
    """``linear`` with INT8 fake quantization of its weight (per row) and its input (per tensor, per batch)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.linear.weight
        w_scale = (w.detach().abs().amax(dim=1) / 127.0).clamp(min=1e-8)
        w_q = torch.fake_quantize_per_channel_affine(w, w_scale.float(), torch.zeros_like(w_scale, dtype=torch.int32),
                                                     0, -127, 127)
        return nn.functional.linear(_fake_quant_activation(x), w_q, self.linear.bias)


def _fake_quant_activation(x: torch.Tensor) -> torch.Tensor:
    """uint8 asymmetric over [min(x, 0), max(x, 0)] of this batch, as ONNX Runtime's DynamicQuantizeLinear does."""
    lo = x.detach().min().clamp(max=0.0)
    hi = x.detach().max().clamp(min=0.0)
    scale = ((hi - lo) / 255.0).clamp(min=1e-8)
    zero = torch.round(-lo / scale).clamp(0, 255).to(torch.int32)
    return torch.fake_quantize_per_tensor_affine(x, scale.float().reshape(1), zero.reshape(1), 0, 255)


def attach(model) -> list[str]:
    """Wrap every ``nn.Linear`` of ``model`` in place; returns the wrapped module names."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    for name in names:
        parent, _, leaf = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, leaf, FakeQuantLinear(getattr(owner, leaf)))
    return names


def detach(model):
    """Undo ``attach``: plain ``nn.Linear`` modules holding the trained weights."""
    for name, module in list(model.named_modules()):
        if isinstance(module, FakeQuantLinear):
            parent, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, leaf, module.linear)
    return model


def qat_finetune(model, rows: list[dict], select_rows: list[dict], qcfg, collate, seed: int,
                 metric: str = "accuracy"):
    """A QAT copy of ``model`` trained on ``rows`` (which carry ``teacher_logits``); the input is untouched.

    The recipe keeps the weights of the best selection-split evaluation, measured with fake quantization on, so
    the model returned is the one that was best *as INT8*.
    """
    from ..training import distillation

    student = copy.deepcopy(model).float().train()
    attach(student)
    kd = distillation.KD(qcfg.alpha, qcfg.temperature)
    result = distillation.distill(student, rows, select_rows, qcfg.train, kd, collate, seed, desc="qat", metric=metric)
    return detach(student).eval(), result
