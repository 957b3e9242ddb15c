"""Importance scores for attention heads and FFN neurons, from gradients on training batches.

Both use the same device: a gate of ones multiplies each unit's output, and the unit's importance is the absolute
gradient of the loss with respect to its gate, summed per batch and accumulated over batches:

* heads (Michel et al., 2019, "Are Sixteen Heads Really Better than One?"): the gate scales the head's context
  vector just before the attention output projection; ``|dL/dg_h| = |sum over tokens of ctx_h . dL/dctx_h|``;
* FFN neurons: the gate scales the neuron's activation (the input of the FFN output projection), so ``|dL/dg_j| = |sum a_j * dL/da_j|``, the
  first-order Taylor estimate of the loss change when the neuron is removed (Molchanov et al., 2017). Unlike
  weight magnitude it sees the data, and it costs the same backward pass as the head scores.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch

from ..models import arch
from .structured import encoder_layers, ffn_width, head_dim, heads_per_layer


def _gate_hooks(model, head_gates: torch.Tensor, ffn_gates: torch.Tensor) -> list:
    """Pre-hooks on each layer's attention output and FFN output projections: both read exactly the per-unit
    values to gate (the concatenated head contexts; the FFN activations), in every architecture."""
    d, a = head_dim(model), arch.arch_for(model)
    handles = []
    for i, layer in enumerate(encoder_layers(model)):
        def head_gate(module, args, i=i):
            ctx = args[0]
            shape = ctx.shape
            gated = ctx.view(*shape[:-1], -1, d) * head_gates[i].view(-1, 1)
            return (gated.view(shape),) + tuple(args[1:])

        def ffn_gate(module, args, i=i):
            return (args[0] * ffn_gates[i],) + tuple(args[1:])

        handles.append(arch.get(layer, a.attn_out).register_forward_pre_hook(head_gate))
        handles.append(arch.get(layer, a.ffn_out).register_forward_pre_hook(ffn_gate))
    return handles


def unit_importance(model, batches: Iterable[dict], loss_fn: Callable, max_batches: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(head scores [layers, heads], FFN scores [layers, width]); higher means more important.

    The model's own parameters get no gradients here (only the gates do), and it runs in eval mode so that
    dropout does not add noise to the ranking.
    """
    n_layers = len(encoder_layers(model))
    device = next(model.parameters()).device
    head_gates = torch.ones(n_layers, heads_per_layer(model), device=device, requires_grad=True)
    ffn_gates = torch.ones(n_layers, ffn_width(model), device=device, requires_grad=True)
    head_scores, ffn_scores = torch.zeros_like(head_gates), torch.zeros_like(ffn_gates)
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    handles = _gate_hooks(model, head_gates, ffn_gates)
    model.eval()
    try:
        for n, batch in enumerate(batches):
            if n >= max_batches:
                break
            loss = loss_fn(model, {k: v.to(device) for k, v in batch.items()})
            h_grad, f_grad = torch.autograd.grad(loss, (head_gates, ffn_gates))
            head_scores += h_grad.abs()
            ffn_scores += f_grad.abs()
    finally:
        for h in handles:
            h.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)
    return head_scores, ffn_scores
