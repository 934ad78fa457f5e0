"""BN variants: tdBN, TEBN, BNTT, NeuNorm, each against its paper's equation."""

from __future__ import annotations

import numpy as np
import pytest
import snn_layers as L
import torch
from snn_core import functional
from torch import nn

T, N, C = 4, 3, 2


def _seq(gen: torch.Generator, *spatial: int) -> torch.Tensor:
    """[T, N, C, *spatial] whose time-steps and channels have different means and scales."""
    x = torch.randn((T, N, C, *spatial), generator=gen, dtype=torch.float64)
    shape_t = (T, 1, 1, *([1] * len(spatial)))
    shape_c = (1, 1, C, *([1] * len(spatial)))
    scale = torch.tensor([3.0, 0.5], dtype=torch.float64).view(shape_c)
    shift = torch.arange(T, dtype=torch.float64).view(shape_t)
    return x * scale + shift


def _normalise(x: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


# ---------------------------------------------------------------- tdBN
@pytest.mark.parametrize(
    "cls,spatial",
    [
        (L.ThresholdDependentBatchNorm1d, ()),
        (L.ThresholdDependentBatchNorm1d, (5,)),
        (L.ThresholdDependentBatchNorm2d, (3, 3)),
        (L.ThresholdDependentBatchNorm3d, (2, 2, 2)),
    ],
)
def test_tdbn_normalises_to_alpha_vth_scale(cls, spatial):
    alpha, v_th = 0.7, 1.5
    m = cls(alpha, v_th, C).double()
    torch.testing.assert_close(m.weight.detach(), torch.full((C,), alpha * v_th).double())
    assert torch.equal(m.bias.detach(), torch.zeros(C, dtype=torch.float64))
    x = _seq(torch.Generator().manual_seed(0), *spatial).requires_grad_()
    y = m(x)
    dims = (0, 1, *range(3, x.dim()))  # statistics over T, N and space
    ref = alpha * v_th * _normalise(x, dims, m.eps)
    torch.testing.assert_close(y, ref)
    # per channel: mean 0 and standard deviation alpha * v_th
    std = y.detach().std(dim=dims, unbiased=False)
    torch.testing.assert_close(
        std, torch.full((C,), alpha * v_th, dtype=torch.float64), atol=1e-4, rtol=0
    )
    g = torch.randn_like(y)
    (grad_ours,) = torch.autograd.grad((y * g).sum(), x)
    (grad_ref,) = torch.autograd.grad((ref * g).sum(), x)
    torch.testing.assert_close(grad_ours, grad_ref)


def test_tdbn_is_multi_step_only_and_loads_torch_state():
    m = L.ThresholdDependentBatchNorm2d(alpha=1.0, v_th=0.5, num_features=3, eps=1e-3)
    assert m.step_mode == "m" and m.eps == 1e-3 and "alpha=1.0, v_th=0.5" in repr(m)
    with pytest.raises(ValueError, match="step_mode"):
        m.step_mode = "s"
    with pytest.raises(ValueError, match="step_mode"):
        functional.set_step_mode(nn.Sequential(m), "s")
    ref = nn.BatchNorm2d(3)
    m.load_state_dict(ref.state_dict(), strict=True)  # same keys as torch's BN


def test_tdbn_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="affine=True"):
        L.ThresholdDependentBatchNorm2d(1.0, 1.0, 3, affine=False)
    with pytest.raises(TypeError, match="alpha must be a number"):
        L.ThresholdDependentBatchNorm2d("1", 1.0, 3)
    with pytest.raises(ValueError, match=r"\[T, N, C=3, H, W\]"):
        L.ThresholdDependentBatchNorm2d(1.0, 1.0, 3)(torch.randn(N, 3, 4, 4))


# ---------------------------------------------------------------- TEBN
def test_tebn_multi_step_is_bn_over_time_and_batch_times_per_step_scale():
    m = L.TemporalEffectiveBatchNorm2d(T, C, step_mode="m").double()
    with torch.no_grad():
        m.scale.copy_(torch.tensor([0.5, 1.0, 2.0, -1.0]))
        m.bn.weight.copy_(torch.tensor([1.5, 0.5]))
        m.bn.bias.copy_(torch.tensor([0.1, -0.2]))
    x = _seq(torch.Generator().manual_seed(1), 3, 3)
    y = m(x)
    bn_out = _normalise(x, (0, 1, 3, 4), m.bn.eps) * m.bn.weight.view(
        1, 1, C, 1, 1
    ) + m.bn.bias.view(1, 1, C, 1, 1)
    ref = m.scale.view(T, 1, 1, 1, 1) * bn_out
    torch.testing.assert_close(y, ref)


def test_tebn_per_step_scale_is_learnable():
    torch.manual_seed(0)
    m = L.TemporalEffectiveBatchNorm1d(T, C, step_mode="m").double()
    assert isinstance(m.scale, nn.Parameter) and m.scale.shape == (T,)
    assert torch.equal(m.scale.detach(), torch.ones(T, dtype=torch.float64))
    x = _seq(torch.Generator().manual_seed(2), 5)
    g = torch.randn(T, N, C, 5, dtype=torch.float64)
    (m(x) * g).sum().backward()
    with torch.no_grad():
        bn_out = m.bn(x.flatten(0, 1)).reshape(x.shape)  # scale 1: output = BN output
    # d/dk[t] sum(g * k[t] * bn[t]) = sum(g[t] * bn[t])
    torch.testing.assert_close(m.scale.grad, (g * bn_out).sum(dim=(1, 2, 3)))
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    opt.step()
    assert not torch.equal(m.scale.detach(), torch.ones(T, dtype=torch.float64))
    assert set(m.state_dict()) == {
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked", "scale",
    }  # fmt: skip


def test_tebn_single_step_uses_the_step_counter():
    m = L.TemporalEffectiveBatchNorm2d(T, C, step_mode="s").double().eval()
    with torch.no_grad():
        m.scale.copy_(torch.tensor([0.5, 1.0, 2.0, 3.0]))
        m.bn.running_mean.copy_(torch.tensor([0.3, -0.1]))
        m.bn.running_var.copy_(torch.tensor([2.0, 0.5]))
    x = _seq(torch.Generator().manual_seed(3), 2, 2)
    y_s = torch.stack([m(x[t]) for t in range(T)])
    with pytest.raises(RuntimeError, match="reset"):
        m(x[0])
    functional.reset_net(m)
    m.step_mode = "m"
    torch.testing.assert_close(m(x), y_s)  # eval: running statistics, so 's' == 'm'


def test_tebn_bad_inputs():
    with pytest.raises(ValueError, match="T=4"):
        L.TemporalEffectiveBatchNorm2d(T, C, step_mode="m")(torch.randn(T + 1, N, C, 2, 2))
    with pytest.raises(ValueError, match="T .*positive int"):
        L.TemporalEffectiveBatchNorm2d(0, C)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        L.TemporalEffectiveBatchNorm2d(T, C, step_mode="s")(torch.randn(N, C))
    with pytest.raises(TypeError, match="base class"):
        L.TemporalEffectiveBatchNormNd(T, C)


# ---------------------------------------------------------------- BNTT
def test_bntt_keeps_per_step_statistics():
    m = L.BatchNormThroughTime2d(T, C, step_mode="m").double()
    with torch.no_grad():
        for t, bn in enumerate(m.bn_list):
            bn.weight.fill_(t + 1.0)
    x = _seq(torch.Generator().manual_seed(4), 3, 3)
    y = m(x)
    # each step normalised with its own batch statistics and scaled by its own gamma_t
    ref = _normalise(x, (1, 3, 4), m.bn_list[0].eps) * torch.arange(1.0, T + 1).view(T, 1, 1, 1, 1)
    torch.testing.assert_close(y, ref.double())
    # each step's running statistics come from that step only
    for t, bn in enumerate(m.bn_list):
        torch.testing.assert_close(bn.running_mean, 0.1 * x[t].mean(dim=(0, 2, 3)))
        unbiased = x[t].transpose(0, 1).reshape(C, -1).var(dim=1)
        torch.testing.assert_close(bn.running_var, 0.9 + 0.1 * unbiased)
    means = torch.stack([bn.running_mean for bn in m.bn_list])
    assert means[:, 1].diff().gt(0.05).all()  # steps have distinct statistics


def test_bntt_has_no_shift_and_multi_step_equals_single_step_in_training():
    torch.manual_seed(0)
    a = L.BatchNormThroughTime1d(T, C).double()
    b = L.BatchNormThroughTime1d(T, C, step_mode="m").double()
    b.load_state_dict(a.state_dict())
    assert all(bn.bias is None for bn in a.bn_list)
    assert not any(k.endswith("bias") for k in a.state_dict())
    x = _seq(torch.Generator().manual_seed(5), 6)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya = torch.stack([a(xa[t]) for t in range(T)])
    yb = b(xb)
    torch.testing.assert_close(ya, yb)
    g = torch.randn_like(ya)
    (ya * g).sum().backward()
    (yb * g).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad)
    for ba, bb in zip(a.bn_list, b.bn_list):
        torch.testing.assert_close(ba.running_var, bb.running_var)


def test_bntt_step_counter_and_errors():
    m = L.BatchNormThroughTime3d(2, C)
    x = torch.randn(N, C, 2, 2, 2)
    m(x), m(x)
    with pytest.raises(RuntimeError, match="T=2"):
        m(x)
    m.reset()
    assert m.t == 0
    m.step_mode = "m"
    with pytest.raises(ValueError, match="T=2"):
        m(torch.randn(3, N, C, 2, 2, 2))


# ---------------------------------------------------------------- NeuNorm
@pytest.mark.parametrize("shared", [False, True])
def test_neunorm_matches_the_paper_recurrence(shared):
    F_, H, W, k = 3, 2, 4, 0.8
    m = L.NeuNorm(F_, H, W, k=k, shared_across_channels=shared).double()
    assert m.w.shape == ((1 if shared else F_), H, W)
    gen = torch.Generator().manual_seed(6)
    s = (torch.rand((T, N, F_, H, W), generator=gen) > 0.5).double()
    y = torch.stack([m(s[t]) for t in range(T)])
    # numpy reference: x[t] = k x[t-1] + (v/F) sum_f s[t, f] with k + vF = 1
    w = m.w.detach().numpy()
    v_over_f = (1 - k) / F_ / F_
    x_aux, ref = np.zeros((N, 1, H, W)), []
    for t in range(T):
        x_aux = k * x_aux + v_over_f * s[t].numpy().sum(axis=1, keepdims=True)
        ref.append(s[t].numpy() - w * x_aux)
    torch.testing.assert_close(y.detach(), torch.from_numpy(np.stack(ref)))
    functional.reset_net(m)
    m.step_mode = "m"
    torch.testing.assert_close(m(s), y)


def test_neunorm_bad_inputs():
    m = L.NeuNorm(3, 2, 2)
    with pytest.raises(ValueError, match=r"\[N, 3, 2, 2\]"):
        m(torch.randn(N, 2, 2, 2))
    m(torch.randn(N, 3, 2, 2))
    with pytest.raises(ValueError, match="reset"):
        m(torch.randn(N + 1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"k must be a number in \[0, 1\)"):
        L.NeuNorm(3, 2, 2, k=1.0)


def test_tebn_state_dict_has_bn_entries_at_top_level_and_loads_both_layouts() -> None:
    torch.manual_seed(0)
    m = L.TemporalEffectiveBatchNorm2d(3, 2, step_mode="m")
    with torch.no_grad():
        m.bn.weight.copy_(torch.tensor([1.5, 0.5]))
        m.bn.running_mean.copy_(torch.tensor([0.3, -0.1]))
        m.scale.copy_(torch.tensor([1.0, 2.0, 3.0]))
    sd = m.state_dict()
    assert set(sd) == {
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
        "scale",
    }
    for layout in (sd, {("bn." + k if k != "scale" else k): v for k, v in sd.items()}):
        other = L.TemporalEffectiveBatchNorm2d(3, 2, step_mode="m")
        other.load_state_dict(layout)
        torch.testing.assert_close(other.bn.weight, m.bn.weight)
        torch.testing.assert_close(other.bn.running_mean, m.bn.running_mean)
        torch.testing.assert_close(other.scale, m.scale)
