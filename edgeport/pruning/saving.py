"""Saving a pruned model so that plain ``transformers`` loads it, and loading it back physically pruned.

The constraint: no BERT-like config in transformers can say "6 heads of 32 dims in a 384-wide model", per
architecture (``edgeport.models.arch`` lists them):
* BERT, RoBERTa, XLM-R, ELECTRA: the self-attention derives the head size as ``hidden_size /
  num_attention_heads`` and honours no ``head_dim``: its attention width is always ``hidden_size``;
* DistilBERT: the same with ``dim / n_heads``;
* DeBERTa-v2/v3: reads ``attention_head_size`` from the config, but its attention output projection is still
  ``hidden x hidden``, so fewer heads cannot be expressed either.
(The models that do honour ``head_dim`` use rotary positions and cannot compute these functions.) FFN width
(``intermediate_size``, DistilBERT's ``hidden_dim``) and vocabulary (``vocab_size``) have no such problem and are
saved physically shrunk.

So a head-pruned model is saved in its architecture's full layout with each removed head re-padded as zero rows
in every per-head projection (query/key/value, DeBERTa's relative-position projections) and zero columns in the
attention output projection (exactly the function of the pruned model: a head with zero value rows outputs
zero), and ``config.json`` records the surviving heads under ``edgeport_kept_heads``. Zero-padding is the one
layout every architecture's plain transformers class loads. Consequences:
* ``AutoModelForSequenceClassification.from_pretrained`` loads it with no custom code and identical logits;
* ``load_pruned`` (and edgeport's exporters through it) slices the zero heads out again, so ONNX/TFLite graphs
  and the torch latency get the physically smaller attention matrices;
* the safetensors file still holds the zero attention rows; the file-size gain of head pruning appears in the
  exported artifacts, not in this directory.
Every layer keeps the same number of heads and the same FFN width (one config value each for all layers).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from ..models import arch
from .structured import KEPT_HEADS, encoder_layers, head_dim, head_index, heads_per_layer, prune_heads


def _padded_linear(linear: nn.Linear, full: int, idx: torch.Tensor, axis: int) -> nn.Linear:
    """``linear`` grown back to ``full`` rows (axis 0) or columns (axis 1), zeros everywhere but ``idx``."""
    shape = list(linear.weight.shape)
    shape[axis] = full
    weight = linear.weight.new_zeros(shape)
    weight.index_copy_(axis, idx, linear.weight.detach())
    new = nn.Linear(shape[1], shape[0], bias=linear.bias is not None)
    with torch.no_grad():
        new.weight.copy_(weight)
        if linear.bias is not None:
            bias = linear.bias.detach() if axis == 1 else linear.bias.new_zeros(full).index_copy_(0, idx, linear.bias.detach())
            new.bias.copy_(bias)
    return new


def full_heads(config) -> int:
    return int(getattr(config, arch.arch_for(config).heads_key))


@torch.no_grad()
def repad_heads(model):
    """A copy of a head-pruned model in its full layout (removed heads as zeros); the model itself is untouched."""
    kept = getattr(model.config, KEPT_HEADS, None)
    full = copy.deepcopy(model)
    n_full = full_heads(model.config)
    if kept is None or heads_per_layer(model) == n_full:
        return full  # not head-pruned, or already in full (zero-padded) layout
    a, d = arch.arch_for(model), head_dim(model)
    width = n_full * d
    for layer, heads in zip(encoder_layers(full), kept):
        idx = head_index(heads, d)
        for path in arch.head_row_paths(full, layer):
            arch.set_(layer, path, _padded_linear(arch.get(layer, path), width, idx, 0))
        arch.set_(layer, a.attn_out, _padded_linear(arch.get(layer, a.attn_out), width, idx, 1))
        arch.set_head_count(full, layer, n_full)
    return full


def save_pruned(model, tokenizer, out: Path) -> None:
    """A Hugging Face directory (config.json, model.safetensors, tokenizer) that plain transformers loads."""
    repad_heads(model).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def reslice(model):
    """Remove the zero-padded heads that ``config.edgeport_kept_heads`` names; a no-op for other models."""
    kept = getattr(model.config, KEPT_HEADS, None)
    # Only a model still in the zero-padded layout is sliced: reslicing twice must be a no-op, because
    # models.load_classifier reslices every model it loads and callers may call reslice again.
    if kept and len(kept[0]) < full_heads(model.config) == heads_per_layer(model):
        delattr(model.config, KEPT_HEADS)  # prune_heads records it again, relative to the full layout
        prune_heads(model, kept)
    return model


def load_pruned(path: Path):
    """Plain ``AutoModelForSequenceClassification`` load, then the recorded heads are sliced out physically."""
    from transformers import AutoModelForSequenceClassification

    return reslice(AutoModelForSequenceClassification.from_pretrained(str(path)).eval())
