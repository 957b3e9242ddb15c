"""Knowledge-distillation losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
            alpha: float, temperature: float) -> torch.Tensor:
    """alpha * CE(labels) + (1 - alpha) * T^2 * KL(teacher_T || student_T)  (Hinton et al., 2015).

    The T^2 factor keeps the soft-target gradients on the same scale as the hard-label ones when T changes.
    The teacher's logits are targets: they are detached here, so no gradient ever reaches the teacher, whatever
    the caller passes (an attached teacher output would otherwise train the teacher towards the student).

    Unlabelled rows (label -100: ``distill.extra_texts``, texts only the teacher labels) have no CE term: their
    loss is the KD term alone at full weight, T^2 * KL_i, and alpha splits only the rows that have a label
    (alpha * CE_i + (1 - alpha) * T^2 * KL_i); the batch loss is the mean over rows. With every row labelled this
    is exactly the formula above (that path is kept as it was).
    """
    t = temperature
    unlabelled = labels == -100
    if bool(unlabelled.any()):
        kl_rows = F.kl_div(F.log_softmax(student_logits / t, dim=-1),
                           F.log_softmax(teacher_logits.detach() / t, dim=-1), reduction="none",
                           log_target=True).sum(-1)
        ce_rows = F.cross_entropy(student_logits, labels, ignore_index=-100, reduction="none")
        rows = torch.where(unlabelled, t * t * kl_rows, alpha * ce_rows + (1.0 - alpha) * t * t * kl_rows)
        return rows.mean()
    ce = F.cross_entropy(student_logits, labels)
    kl = F.kl_div(F.log_softmax(student_logits / t, dim=-1), F.log_softmax(teacher_logits.detach() / t, dim=-1),
                  reduction="batchmean", log_target=True)
    return alpha * ce + (1.0 - alpha) * t * t * kl


def hidden_mse(student_hidden, teacher_hidden, layer_map: list[int], projection=None, mask=None) -> torch.Tensor:
    """Mean squared error between student layer i and teacher layer ``layer_map[i]`` (outputs after each layer).

    ``mask`` ([batch, seq], 1 = real token) restricts the mean to real tokens: the hidden states at padding
    positions are computed but never read (no key attends to them, the classifier reads [CLS]), so matching them
    only spends capacity, and averaging over them weights each sentence by how much padding its batch has.
    Without a mask every position counts.
    """
    losses = []
    for i, t_idx in enumerate(layer_map):
        s = student_hidden[i + 1]  # index 0 is the embedding output
        if projection is not None:
            s = projection(s)
        t = teacher_hidden[t_idx + 1]
        if mask is None:
            losses.append(F.mse_loss(s, t))
            continue
        m = mask.to(s.dtype).unsqueeze(-1)  # [batch, seq, 1]
        squared = (s - t).pow(2) * m
        losses.append(squared.sum() / (m.sum() * s.shape[-1]).clamp_min(1.0))
    return torch.stack(losses).mean()
