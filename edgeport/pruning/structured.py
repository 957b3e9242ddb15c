"""Physical structured pruning of a BERT-like classifier: attention heads and FFN neurons are cut out of the matrices.

Removing head ``h`` of a layer drops rows ``h*d:(h+1)*d`` of every per-head projection (query/key/value, and
DeBERTa's relative-position projections when it has them) and the same columns of the attention output
projection; removing FFN neuron ``j`` drops row ``j`` of the FFN input projection and column ``j`` of its output
projection. The function computed by the remaining units is unchanged, so a pruned model equals the original with
those units' outputs forced to zero. Where each architecture keeps these matrices, and which bookkeeping fields its
attention module reads, is ``edgeport.models.arch``'s table.

Uniformity: a Hugging Face config has one head count and one FFN width for every layer, so every layer keeps the
same number of heads and the same FFN width (the *which* may differ per layer).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from ..models import arch
from ..models.arch import encoder_layers, ffn_width, head_dim, heads_per_layer

KEPT_HEADS = "edgeport_kept_heads"  # config.json key: per layer, the heads that remain (original numbering)

__all__ = ["KEPT_HEADS", "encoder_layers", "ffn_width", "head_dim", "heads_per_layer", "heads_to_keep",
           "neurons_to_keep", "prune_ffn", "prune_heads", "top_k_per_layer"]


def heads_to_keep(n_heads: int, fraction: float) -> int:
    """How many heads each layer keeps when ``fraction`` of them go (rounded down: at least one always stays)."""
    if not 0 <= fraction < 1:
        raise ConfigError([f"prune.heads_fraction must be in [0, 1), got {fraction}"])
    return max(1, n_heads - math.floor(fraction * n_heads + 1e-9))


def neurons_to_keep(width: int, fraction: float) -> int:
    if not 0 <= fraction < 1:
        raise ConfigError([f"prune.ffn_fraction must be in [0, 1), got {fraction}"])
    return max(1, width - math.floor(fraction * width + 1e-9))


def top_k_per_layer(scores: torch.Tensor, keep: int) -> list[list[int]]:
    """Indices of the ``keep`` highest scores in each row, in ascending index order (stable layout)."""
    return [sorted(row.topk(keep).indices.tolist()) for row in scores]


def _sliced_linear(linear: nn.Linear, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None) -> nn.Linear:
    weight = linear.weight.detach()
    bias = None if linear.bias is None else linear.bias.detach()
    if rows is not None:
        weight = weight[rows]
        bias = None if bias is None else bias[rows]
    if cols is not None:
        weight = weight[:, cols]
    new = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                    device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        new.weight.copy_(weight)
        if bias is not None:
            new.bias.copy_(bias)
    new.train(linear.training)
    return new


def head_index(heads: list[int], d: int) -> torch.Tensor:
    """Rows (or columns) of the heads ``heads``, ``d`` dims each."""
    return torch.cat([torch.arange(h * d, (h + 1) * d) for h in heads])


@torch.no_grad()
def prune_heads(model, keep: list[list[int]]) -> None:
    """Keep only the heads ``keep[layer]`` (same count in every layer); shrinks the matrices in place."""
    layers, a = encoder_layers(model), arch.arch_for(model)
    counts = {len(k) for k in keep}
    if len(keep) != len(layers) or len(counts) != 1 or 0 in counts:
        raise ValueError(f"keep must list the same non-zero number of heads for each of the {len(layers)} layers")
    d = head_dim(model)
    for layer, heads in zip(layers, keep):
        idx = head_index(heads, d)
        for path in arch.head_row_paths(model, layer):
            arch.set_(layer, path, _sliced_linear(arch.get(layer, path), rows=idx))
        arch.set_(layer, a.attn_out, _sliced_linear(arch.get(layer, a.attn_out), cols=idx))
        arch.set_head_count(model, layer, len(heads))
    # The config keeps the original head count (BERT derives head_size from it); which heads remain, in original
    # numbering, is recorded so that saving can re-pad them (see saving.py). Pruning twice composes.
    before = getattr(model.config, KEPT_HEADS, None)
    setattr(model.config, KEPT_HEADS, keep if before is None else [[b[i] for i in k] for b, k in zip(before, keep)])


@torch.no_grad()
def prune_ffn(model, keep: list[list[int]]) -> None:
    """Keep only the FFN neurons ``keep[layer]`` (same width in every layer); shrinks the matrices in place."""
    layers, a = encoder_layers(model), arch.arch_for(model)
    widths = {len(k) for k in keep}
    if len(keep) != len(layers) or len(widths) != 1 or 0 in widths:
        raise ValueError(f"keep must list the same non-zero number of neurons for each of the {len(layers)} layers")
    for layer, neurons in zip(layers, keep):
        idx = torch.tensor(neurons, dtype=torch.long)
        arch.set_(layer, a.ffn_in, _sliced_linear(arch.get(layer, a.ffn_in), rows=idx))
        arch.set_(layer, a.ffn_out, _sliced_linear(arch.get(layer, a.ffn_out), cols=idx))
    setattr(model.config, a.ffn_key, widths.pop())
