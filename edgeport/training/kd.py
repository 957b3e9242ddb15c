"""Knowledge-distillation losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
            alpha: float, temperature: float) -> torch.Tensor:
    """alpha * CE(labels) + (1 - alpha) * T^2 * KL(teacher_T || student_T)  (Hinton et al., 2015).

    The T^2 factor keeps the soft-target gradients on the same scale as the hard-label ones when T changes.
    """
    ce = F.cross_entropy(student_logits, labels)
    t = temperature
    kl = F.kl_div(F.log_softmax(student_logits / t, dim=-1), F.log_softmax(teacher_logits / t, dim=-1),
                  reduction="batchmean", log_target=True)
    return alpha * ce + (1.0 - alpha) * t * t * kl


def hidden_mse(student_hidden, teacher_hidden, layer_map: list[int], projection=None) -> torch.Tensor:
    """Mean squared error between student layer i and teacher layer ``layer_map[i]`` (outputs after each layer)."""
    losses = []
    for i, t_idx in enumerate(layer_map):
        s = student_hidden[i + 1]  # index 0 is the embedding output
        if projection is not None:
            s = projection(s)
        losses.append(F.mse_loss(s, teacher_hidden[t_idx + 1]))
    return torch.stack(losses).mean()
