"""Dropout with one mask per simulation; DropConnect in training and inference."""

from __future__ import annotations

import math

import pytest
import snn_layers as L
import torch
from snn_core import functional
from snn_neurons import LIFNode
from torch import nn

T, N = 5, 4


# ---------------------------------------------------------------- Dropout
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_dropout_mask_is_constant_over_time_and_redrawn_after_reset(step_mode):
    torch.manual_seed(0)
    p = 0.3
    m = L.Dropout(p, step_mode=step_mode)
    x = torch.ones(T, N, 50)
    y = torch.stack([m(x[t]) for t in range(T)]) if step_mode == "s" else m(x)
    for t in range(1, T):
        assert torch.equal(y[t], y[0])
    values = y[0].unique()
    torch.testing.assert_close(values, torch.tensor([0.0, 1 / (1 - p)]))
    assert abs((y[0] == 0).float().mean().item() - p) < 0.08
    first = y[0].clone()
    m.reset()
    y2 = m(x[0]) if step_mode == "s" else m(x)[0]
    assert not torch.equal(y2, first)


def test_dropout_multi_step_equals_single_step_loop_values_and_gradients():
    x = torch.randn(T, N, 3, 4)
    a, b = L.Dropout(0.5), L.Dropout(0.5, step_mode="m")
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(7)
    ya = torch.stack([a(xa[t]) for t in range(T)])
    torch.manual_seed(7)
    yb = b(xb)
    torch.testing.assert_close(ya, yb)
    ya.sum().backward()
    yb.sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad)
    # the gradient is the mask at every step
    torch.testing.assert_close(xb.grad, b.mask.expand(T, *b.mask.shape))


def test_dropout_is_identity_in_eval_and_for_p_zero():
    x = torch.randn(T, N, 3)
    m = L.Dropout(0.5, step_mode="m").eval()
    assert m(x) is x and m.mask is None
    assert torch.equal(L.Dropout(0.0)(x[0]), x[0])


def test_dropout2d_drops_whole_channels_for_all_steps():
    torch.manual_seed(1)
    m = L.Dropout2d(0.5, step_mode="m")
    assert L.Dropout2d().p == 0.2
    x = torch.ones(T, N, 6, 3, 3)
    y = m(x)
    assert m.mask.shape == (N, 6, 1, 1)
    per_channel = y.amax(dim=(-1, -2))
    assert torch.equal(y, per_channel[..., None, None].expand_as(y))  # channel all 0 or all 2
    assert set(per_channel.unique().tolist()) == {0.0, 2.0}
    assert all(torch.equal(y[t], y[0]) for t in range(T))
    m.reset()
    assert not torch.equal(m(x)[0], y[0])


def test_dropout_bad_inputs():
    for bad in (1.0, -0.1, "0.5", True):
        with pytest.raises(ValueError, match=r"p \(the drop probability\)"):
            L.Dropout(bad)
    m = L.Dropout(0.5)
    m(torch.ones(N, 3))
    with pytest.raises(ValueError, match="reset"):
        m(torch.ones(N + 1, 3))
    with pytest.raises(ValueError, match=r"\[N, C, \*spatial\]"):
        L.Dropout2d(0.5)(torch.ones(N, 3))


# ---------------------------------------------------------------- DropConnectLinear
def test_dropconnect_training_drops_connections_per_sample():
    torch.manual_seed(0)
    p = 0.4
    m = L.DropConnectLinear(30, 20, p=p, activation=None).double()
    x = torch.randn(N, 30, dtype=torch.float64)
    y = m(x)
    mw, mb = m.mask_w, m.mask_b
    assert mw.shape == (N, 20, 30) and mb.shape == (N, 20) and mw.dtype == torch.bool
    assert abs((~mw).float().mean().item() - p) < 0.05
    assert not torch.equal(mw[0], mw[1])  # each sample its own mask
    ref = torch.stack(
        [(m.weight * mw[n]) @ x[n] + m.bias * mb[n] for n in range(N)]
    )  # no 1/(1-p) rescaling, as in the paper's training rule
    torch.testing.assert_close(y, ref)
    torch.testing.assert_close(m.dropped_w, m.weight * mw)


def test_dropconnect_weight_gradient_and_token_inputs():
    torch.manual_seed(1)
    m = L.DropConnectLinear(6, 3, p=0.5, activation=None).double()
    x = torch.randn(N, 5, 6, dtype=torch.float64)  # [N, *, in_features]
    y = m(x)
    assert y.shape == (N, 5, 3)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    mw, mb = m.mask_w.double(), m.mask_b.double()
    # dL/dW = sum_n M_n * (g_n^T x_n);  dL/db = sum_n m_n * sum_tokens g_n
    ref_w = sum(mw[n] * (g[n].T @ x[n]) for n in range(N))
    torch.testing.assert_close(m.weight.grad, ref_w)
    torch.testing.assert_close(m.bias.grad, (mb * g.sum(1)).sum(0))


def test_dropconnect_invariant_masks_until_reset():
    torch.manual_seed(2)
    x = torch.randn(N, 8)
    m = L.DropConnectLinear(8, 8, invariant=True)
    m(x)
    first = m.mask_w.clone()
    m(x)
    assert torch.equal(m.mask_w, first)
    functional.detach_net(m)  # keeps the masks, and the weight keeps its gradient
    m(x).sum().backward()
    assert m.weight.grad.abs().sum() > 0
    m.reset()
    assert m.mask_w is None and m.dropped_w is None
    m(x)
    assert not torch.equal(m.mask_w, first)
    m2 = L.DropConnectLinear(8, 8, invariant=False)
    m2(x)
    again = m2.mask_w.clone()
    m2(x)
    assert not torch.equal(m2.mask_w, again)
    with pytest.raises(ValueError, match="batch size"):
        m(torch.randn(N + 1, 8))


def test_dropconnect_inference_is_gaussian_sampling_of_the_moment_matched_sum():
    torch.manual_seed(3)
    p, S = 0.3, 64
    m = L.DropConnectLinear(5, 4, p=p, samples_num=S).double().eval()
    x = torch.randn(N, 5, dtype=torch.float64)
    torch.manual_seed(11)
    y = m(x)
    torch.manual_seed(11)
    noise = torch.randn(S, N, 4, dtype=torch.float64)
    W, b = m.weight.detach(), m.bias.detach()
    mean = (1 - p) * (x @ W.T + b)
    var = p * (1 - p) * (x.square() @ W.square().T + b.square())
    ref = torch.relu(mean + noise * var.sqrt()).mean(0)
    torch.testing.assert_close(y, ref)


def test_dropconnect_inference_converges_to_the_expected_activation():
    torch.manual_seed(4)
    p, S = 0.5, 40000
    m = L.DropConnectLinear(3, 2, p=p, samples_num=S).double().eval()
    x = torch.randn(2, 3, dtype=torch.float64)
    y = m(x)
    W, b = m.weight.detach(), m.bias.detach()
    mu = (1 - p) * (x @ W.T + b)
    sigma = (p * (1 - p) * (x.square() @ W.square().T + b.square())).sqrt()
    # E[relu(Z)], Z ~ N(mu, sigma^2) = mu Phi(mu/sigma) + sigma phi(mu/sigma)
    z = mu / sigma
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    pdf = torch.exp(-0.5 * z.square()) / math.sqrt(2 * math.pi)
    expected = mu * cdf + sigma * pdf
    assert (y - expected).abs().max() < 5 * sigma.max() / math.sqrt(S)


def test_dropconnect_reset_resets_a_stateful_activation_and_step_modes():
    lif = LIFNode()
    m = L.DropConnectLinear(4, 3, activation=lif, state_mode="m")
    assert m.step_mode == "m"
    assert L.DropConnectLinear(4, 3, step_mode="m").step_mode == "m"
    assert isinstance(L.DropConnectLinear(4, 3).activation, nn.ReLU)
    assert L.DropConnectLinear(4, 3).activation is not L.DropConnectLinear(4, 3).activation
    y = m(torch.rand(T, N, 4) * 5)
    assert y.shape == (T, N, 3) and isinstance(lif.v, torch.Tensor)
    m.reset()
    assert lif.v == 0.0 and m.mask_w is None


def test_dropconnect_bad_inputs():
    with pytest.raises(ValueError, match="in_features=4"):
        L.DropConnectLinear(4, 3)(torch.randn(N, 5))
    with pytest.raises(ValueError, match="p"):
        L.DropConnectLinear(4, 3, p=1.0)
    with pytest.raises(ValueError, match="samples_num"):
        L.DropConnectLinear(4, 3, samples_num=0)
    with pytest.raises(ValueError, match="step_mode"):
        L.DropConnectLinear(4, 3, state_mode="x")
