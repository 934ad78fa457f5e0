"""TA-SNN temporal-wise and MA-SNN multi-dimensional attention against written-out formulas.

The reference computes each gate with explicit reductions and matrix products of the
layer's weights (float64), following TA-SNN (ICCV 2021) Eq. 4-6 and MA-SNN (TPAMI 2023)
Eq. 8-13; outputs and gradients must agree.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from snn_core import functional
from snn_layers.attention import MultiDimensionalAttention, TemporalWiseAttention
from torch import nn


def _mlp(z: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    """``W2 relu(W1 z)`` on the last dim of ``z``; weights given as matrices."""
    return torch.relu(z @ w1.reshape(w1.shape[0], -1).T) @ w2.reshape(w2.shape[0], -1).T


def ref_twa(x: torch.Tensor, m: TemporalWiseAttention) -> torch.Tensor:
    T, N = x.shape[:2]
    flat = x.reshape(T, N, -1)
    avg = flat.mean(dim=2).T  # [N, T]
    mx = flat.max(dim=2).values.T
    w1, w2 = m.sharedMLP[0].weight, m.sharedMLP[2].weight
    s = torch.sigmoid(_mlp(avg, w1, w2) + _mlp(mx, w1, w2))  # [N, T]
    return x * s.T.reshape(T, N, *([1] * (x.dim() - 2)))


def ref_mda(x: torch.Tensor, m: MultiDimensionalAttention) -> torch.Tensor:
    T, N, C, H, W = x.shape
    u = x
    if m.use_temporal:
        stats = u.permute(1, 0, 2, 3, 4).reshape(N, T, -1)
        w1, w2 = m.ta.sharedMLP[0].weight, m.ta.sharedMLP[2].weight
        ft = torch.sigmoid(
            _mlp(stats.mean(2), w1, w2) + _mlp(stats.max(2).values, w1, w2)
        )  # [N, T]
        u = u * ft.T[:, :, None, None, None]
    stats = u.permute(1, 2, 0, 3, 4).reshape(N, C, -1)
    w1, w2 = m.ca.sharedMLP[0].weight, m.ca.sharedMLP[2].weight
    fc = torch.sigmoid(_mlp(stats.mean(2), w1, w2) + _mlp(stats.max(2).values, w1, w2))
    u = u * fc[None, :, :, None, None]
    stats = u.permute(1, 0, 2, 3, 4).reshape(N, T * C, H, W)
    desc = torch.stack([stats.mean(1), stats.max(1).values], dim=1)
    k = m.sa.conv.weight.shape[-1]
    fs = torch.sigmoid(F.conv2d(desc, m.sa.conv.weight, padding=k // 2))  # [N, 1, H, W]
    u = u * fs[None, :, :, :, :]
    return torch.relu(u)


def _compare(module: nn.Module, ref, x: torch.Tensor) -> None:
    module = module.double()
    x1 = x.double().clone().requires_grad_(True)
    x2 = x.double().clone().requires_grad_(True)
    y, y_ref = module(x1), ref(x2, module)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-10)
    w = torch.randn_like(y)
    params = list(module.parameters())
    g1 = torch.autograd.grad((y * w).sum(), [x1, *params])
    g2 = torch.autograd.grad((y_ref * w).sum(), [x2, *params])
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("dimension,shape", [(4, (6, 2, 3, 4, 5)), (2, (8, 3, 7))])
def test_temporal_wise_attention_matches_formula(dimension, shape):
    torch.manual_seed(0)
    m = TemporalWiseAttention(T=shape[0], reduction=2, dimension=dimension)
    _compare(m, ref_twa, torch.randn(shape))


@pytest.mark.parametrize("use_temporal,kernel_size", [(True, 3), (False, 3), (True, 7)])
def test_multi_dimensional_attention_matches_formula(use_temporal, kernel_size):
    torch.manual_seed(1)
    m = MultiDimensionalAttention(
        T=6, C=8, reduction_t=2, reduction_c=4, kernel_size=kernel_size, use_temporal=use_temporal
    )
    _compare(m, ref_mda, torch.randn(6, 2, 8, 5, 4))


def test_multi_dimensional_attention_output_is_rectified_and_gated():
    torch.manual_seed(2)
    m = MultiDimensionalAttention(T=4, C=4, reduction_t=2, reduction_c=2)
    x = torch.randn(4, 3, 4, 5, 5)
    y = m(x)
    assert (y >= 0).all()
    # every gate is in (0, 1): |y| <= relu(x) elementwise, and y > 0 exactly where x > 0
    assert torch.all(y <= torch.relu(x) + 1e-7)
    assert torch.equal(y > 0, x > 0)


def test_parameter_layout_follows_reference_and_ma_snn_code():
    m = MultiDimensionalAttention(T=8, C=16, reduction_t=4, reduction_c=8)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes == {
        "ta.sharedMLP.0.weight": (2, 8, 1, 1, 1),
        "ta.sharedMLP.2.weight": (8, 2, 1, 1, 1),
        "ca.sharedMLP.0.weight": (2, 16, 1, 1, 1),
        "ca.sharedMLP.2.weight": (16, 2, 1, 1, 1),
        "sa.conv.weight": (1, 2, 3, 3),
    }
    csa = MultiDimensionalAttention(T=1, C=16, reduction_c=8, use_temporal=False)
    assert not any(k.startswith("ta.") for k in csa.state_dict())
    t = TemporalWiseAttention(T=8, reduction=4)
    assert {k: tuple(v.shape) for k, v in t.state_dict().items()} == {
        "sharedMLP.0.weight": (2, 8),
        "sharedMLP.2.weight": (8, 2),
    }


def test_bad_arguments_and_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="reduction_t=16 cannot be greater than T=4"):
        MultiDimensionalAttention(T=4, C=32)
    with pytest.raises(ValueError, match="reduction_c"):
        MultiDimensionalAttention(T=16, C=8)
    with pytest.raises(ValueError, match="kernel_size"):
        MultiDimensionalAttention(T=16, C=16, kernel_size=4)
    with pytest.raises(ValueError, match="dimension"):
        TemporalWiseAttention(T=4, reduction=2, dimension=3)
    with pytest.raises(ValueError, match="reduction"):
        TemporalWiseAttention(T=4, reduction=8)
    m = MultiDimensionalAttention(T=4, C=4, reduction_t=2, reduction_c=2)
    with pytest.raises(ValueError, match="T=3 time steps"):
        m(torch.zeros(3, 1, 4, 2, 2))
    with pytest.raises(ValueError, match="C=5 channels"):
        m(torch.zeros(4, 1, 5, 2, 2))
    with pytest.raises(ValueError, match=r"\[T, N, C, H, W\]"):
        m(torch.zeros(4, 4, 2, 2))
    t = TemporalWiseAttention(T=4, reduction=2, dimension=2)
    with pytest.raises(ValueError, match=r"\[T, N, L\]"):
        t(torch.zeros(4, 1, 2, 2, 2))
    with pytest.raises(ValueError, match="T=5 time steps"):
        t(torch.zeros(5, 1, 3))


def test_multi_step_only():
    net = nn.Sequential(TemporalWiseAttention(T=4, reduction=2))
    with pytest.raises(ValueError, match="step_mode"):
        functional.set_step_mode(net, "s")
