"""The 4-bit rounding rule every w4 path shares: symmetric int4 per block of columns, scale max|w| / 7.

It is what the converters compute (ai-edge-quantizer's symmetric blockwise int4: ``bound / qmax`` with qmax 7, codes
clipped to [-8, 7]; torchao's and ONNX Runtime's symmetric int4 round the same way), so the w4 yardstick
(``validation.w4_yardstick``) and 4-bit QAT (``quant.qat``) both round with it. Hand-written: four lines of torch,
where a library quantizer would need its own tensor types in the training graph.
"""

from __future__ import annotations


def int4_blocks(weight, block: int):
    """``weight`` [rows, cols] rounded to symmetric int4 (-8..7, scale max|w| / 7) per block of ``block`` columns."""
    import torch

    rows, cols = weight.shape
    w = weight.reshape(rows, cols // block, block)
    scale = w.abs().amax(-1, keepdim=True).clamp_min(1e-12) / 7
    return (torch.clamp(torch.round(w / scale), -8, 7) * scale).reshape(rows, cols)
