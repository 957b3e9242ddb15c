"""Physical structured pruning of a BERT classifier: attention heads and FFN neurons are cut out of the matrices.

Removing head ``h`` of a layer drops rows ``h*d:(h+1)*d`` of the query/key/value projections and the same
columns of the attention output projection; removing FFN neuron ``j`` drops row ``j`` of the intermediate dense
layer and column ``j`` of the output dense layer. The function computed by the remaining units is unchanged, so a
pruned model equals the original with those units' outputs forced to zero.

Uniformity: a Hugging Face config has one ``num_attention_heads`` and one ``intermediate_size`` for every layer,
so every layer keeps the same number of heads and the same FFN width (the *which* may differ per layer).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError, ModelError

KEPT_HEADS = "edgeport_kept_heads"  # config.json key: per layer, the heads that remain (original numbering)


def encoder_layers(model) -> list[nn.Module]:
    """The encoder layers of a BERT classifier (``model.bert.encoder.layer``)."""
    base = getattr(model, "bert", None)
    if base is None:
        raise ModelError(f"structured pruning needs a BERT classifier, got {type(model).__name__}")
    return list(base.encoder.layer)


def head_dim(model) -> int:
    return encoder_layers(model)[0].attention.self.attention_head_size


def heads_per_layer(model) -> int:
    """Heads physically present in each layer (fewer than config.num_attention_heads after head pruning)."""
    return encoder_layers(model)[0].attention.self.query.out_features // head_dim(model)


def ffn_width(model) -> int:
    return encoder_layers(model)[0].intermediate.dense.out_features


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


@torch.no_grad()
def prune_heads(model, keep: list[list[int]]) -> None:
    """Keep only the heads ``keep[layer]`` (same count in every layer); shrinks the matrices in place."""
    layers = encoder_layers(model)
    counts = {len(k) for k in keep}
    if len(keep) != len(layers) or len(counts) != 1 or 0 in counts:
        raise ValueError(f"keep must list the same non-zero number of heads for each of the {len(layers)} layers")
    d = head_dim(model)
    for layer, heads in zip(layers, keep):
        attn = layer.attention.self
        idx = torch.cat([torch.arange(h * d, (h + 1) * d) for h in heads])
        attn.query = _sliced_linear(attn.query, rows=idx)
        attn.key = _sliced_linear(attn.key, rows=idx)
        attn.value = _sliced_linear(attn.value, rows=idx)
        layer.attention.output.dense = _sliced_linear(layer.attention.output.dense, cols=idx)
        # BertSelfAttention reshapes with view(..., -1, head_size): only these bookkeeping fields change.
        attn.num_attention_heads = len(heads)
        attn.all_head_size = len(heads) * d
    # config.num_attention_heads keeps the original count (BERT derives head_size from it); which heads remain,
    # in original numbering, is recorded so that saving can re-pad them (see saving.py). Pruning twice composes.
    before = getattr(model.config, KEPT_HEADS, None)
    setattr(model.config, KEPT_HEADS, keep if before is None else [[b[i] for i in k] for b, k in zip(before, keep)])


@torch.no_grad()
def prune_ffn(model, keep: list[list[int]]) -> None:
    """Keep only the FFN neurons ``keep[layer]`` (same width in every layer); shrinks the matrices in place."""
    layers = encoder_layers(model)
    widths = {len(k) for k in keep}
    if len(keep) != len(layers) or len(widths) != 1 or 0 in widths:
        raise ValueError(f"keep must list the same non-zero number of neurons for each of the {len(layers)} layers")
    for layer, neurons in zip(layers, keep):
        idx = torch.tensor(neurons, dtype=torch.long)
        layer.intermediate.dense = _sliced_linear(layer.intermediate.dense, rows=idx)
        layer.output.dense = _sliced_linear(layer.output.dense, cols=idx)
    model.config.intermediate_size = widths.pop()
