import math

import torch

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


def test_kd_loss_alpha_one_is_cross_entropy():
    s, t = torch.randn(5, 2), torch.randn(5, 2)
    y = torch.randint(0, 2, (5,))
    assert math.isclose(kd_loss(s, t, y, 1.0, 4.0).item(),
                        torch.nn.functional.cross_entropy(s, y).item(), rel_tol=1e-6)


def test_kd_gradient_flows_to_student_only():
    s = torch.randn(4, 2, requires_grad=True)
    t = torch.randn(4, 2, requires_grad=True)
    kd_loss(s, t.detach(), torch.zeros(4, dtype=torch.long), 0.5, 2.0).backward()
    assert s.grad is not None and t.grad is None


def test_hidden_mse_maps_layers():
    teacher = [torch.full((1, 2, 4), float(i)) for i in range(7)]  # emb + 6 layers
    student = [torch.zeros(1, 2, 4), teacher[1].clone(), teacher[3].clone(), teacher[5].clone()]
    assert hidden_mse(student, teacher, [0, 2, 4]).item() == 0.0
    assert hidden_mse(student, teacher, [1, 2, 4]).item() > 0.0
