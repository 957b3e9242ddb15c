import math

import torch
import torch.nn.functional as F

from edgeport.training.kd import hidden_mse, kd_loss


def test_kd_loss_matches_formula():
    torch.manual_seed(0)
    s, t = torch.randn(8, 3), torch.randn(8, 3)
    y = torch.randint(0, 3, (8,))
    alpha, T = 0.3, 2.5
    p_t = torch.softmax(t / T, -1)
    kl = (p_t * (p_t.log() - torch.log_softmax(s / T, -1))).sum(-1).mean()
    expected = alpha * torch.nn.functional.cross_entropy(s, y) + (1 - alpha) * T * T * kl
    assert torch.allclose(kd_loss(s, t, y, alpha, T), expected, atol=1e-6)


def test_kd_loss_pure_kd_is_zero_when_student_equals_teacher():
    t = torch.randn(4, 2)
    y = torch.zeros(4, dtype=torch.long)
    assert kd_loss(t.clone(), t, y, alpha=0.0, temperature=3.0).item() < 1e-6


def test_kd_loss_alpha_endpoints_match_torch_losses_computed_independently():
    torch.manual_seed(1)
    s, t = torch.randn(6, 3), torch.randn(6, 3)
    y = torch.randint(0, 3, (6,))
    T = 4.0
    # alpha = 1: hard labels only
    assert math.isclose(kd_loss(s, t, y, 1.0, T).item(), F.cross_entropy(s, y).item(), rel_tol=1e-6)
    # alpha = 0: soft targets only, T^2 * KL(p_teacher || p_student) at temperature T, batch mean
    soft = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean")
    assert math.isclose(kd_loss(s, t, y, 0.0, T).item(), T * T * soft.item(), rel_tol=1e-5)
    # the labels play no part at alpha = 0, the teacher none at alpha = 1
    assert kd_loss(s, t, (y + 1) % 3, 0.0, T).item() == kd_loss(s, t, y, 0.0, T).item()
    assert kd_loss(s, torch.randn(6, 3), y, 1.0, T).item() == kd_loss(s, t, y, 1.0, T).item()


def test_kd_loss_scales_the_soft_term_by_t_squared():
    """Without T^2 the soft term would shrink ~1/T^2 as T grows (Hinton et al.): the factor must be exactly T^2."""
    torch.manual_seed(2)
    s, t = torch.randn(8, 2), torch.randn(8, 2)
    y = torch.zeros(8, dtype=torch.long)
    for T in (1.0, 2.0, 5.0):
        p_t = torch.softmax(t / T, -1)
        kl = (p_t * (p_t.log() - torch.log_softmax(s / T, -1))).sum(-1).mean()
        assert math.isclose(kd_loss(s, t, y, 0.0, T).item(), T * T * kl.item(), rel_tol=1e-5), T


def test_kd_loss_treats_the_teacher_logits_as_constants():
    """The teacher is passed *attached* (requires grad): kd_loss itself must keep the gradient off it."""
    torch.manual_seed(3)
    s = torch.randn(4, 2, requires_grad=True)
    t = torch.randn(4, 2, requires_grad=True)
    loss = kd_loss(s, t, torch.zeros(4, dtype=torch.long), 0.5, 2.0)
    assert loss.grad_fn is not None
    loss.backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None  # no path from the loss to the teacher's logits
    # and a teacher that is a function of trainable weights gets no gradient either
    w = torch.nn.Parameter(torch.randn(2, 2))
    kd_loss(s, t.detach() @ w, torch.zeros(4, dtype=torch.long), 0.0, 2.0).backward()
    assert w.grad is None


def test_hidden_mse_maps_layers():
    teacher = [torch.full((1, 2, 4), float(i)) for i in range(7)]  # emb + 6 layers
    student = [torch.zeros(1, 2, 4), teacher[1].clone(), teacher[3].clone(), teacher[5].clone()]
    assert hidden_mse(student, teacher, [0, 2, 4]).item() == 0.0
    assert hidden_mse(student, teacher, [1, 2, 4]).item() > 0.0


def test_hidden_mse_ignores_padding_positions():
    torch.manual_seed(4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    teacher = [torch.randn(2, 5, 8) for _ in range(3)]
    student = [torch.randn(2, 5, 8) for _ in range(2)]
    loss = hidden_mse(student, teacher, [1], mask=mask)
    # the mean over real tokens only: 8 of the 10 positions
    real = mask.bool()
    expected = ((student[1] - teacher[2])[real] ** 2).mean()
    assert torch.allclose(loss, expected, atol=1e-6)
    # whatever sits at the padded positions, in student or teacher, leaves the loss unchanged
    noisy_s, noisy_t = [h.clone() for h in student], [h.clone() for h in teacher]
    noisy_s[1][0, 3:] = 100.0
    noisy_t[2][0, 3:] = -100.0
    assert torch.allclose(hidden_mse(noisy_s, noisy_t, [1], mask=mask), loss, atol=1e-6)
    # ... while a real position does change it
    noisy_s[1][0, 1] += 1.0
    assert not torch.allclose(hidden_mse(noisy_s, noisy_t, [1], mask=mask), loss, atol=1e-6)
    # an all-ones mask is the plain mean
    ones = torch.ones(2, 5, dtype=torch.long)
    assert torch.allclose(hidden_mse(student, teacher, [1], mask=ones), hidden_mse(student, teacher, [1]), atol=1e-6)
