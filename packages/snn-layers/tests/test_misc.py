"""SynapseFilter, VotingLayer, Delay, PrintShapeModule."""

from __future__ import annotations

import math

import pytest
import snn_layers as L
import torch
from snn_core import functional

# ---------------------------------------------------------------- Delay


def test_delay_reference_example():
    """The reference docs' example, with the printed input values."""
    delay_layer = L.Delay(delay=1, step_mode="m")
    x = torch.tensor([[0.2510, 0.7246], [0.5303, 0.3160], [0.2531, 0.5961], [0.0, 0.0], [0.0, 0.0]])
    x.requires_grad = True
    y = delay_layer(x)
    expected_y = torch.tensor(
        [[0.0, 0.0], [0.2510, 0.7246], [0.5303, 0.3160], [0.2531, 0.5961], [0.0, 0.0]]
    )
    assert torch.equal(y.detach(), expected_y)
    y.sum().backward()
    assert torch.equal(x.grad, torch.tensor([[1.0, 1.0]] * 4 + [[0.0, 0.0]]))
    assert delay_layer.delay_steps == 1


@pytest.mark.parametrize("d", [0, 1, 3, 7])
def test_delay_single_step_loop_equals_multi_step_and_chunks(d):
    x = torch.randn(6, 2, 3)
    a, b, c = L.Delay(d), L.Delay(d, step_mode="m"), L.Delay(d, step_mode="m")
    y_s = torch.stack([a(x[t]) for t in range(6)])
    y_m = b(x)
    y_c = torch.cat([c(x[:2]), c(x[2:3]), c(x[3:])])  # state carries over between calls
    ref = torch.cat([torch.zeros(min(d, 6), 2, 3), x[: max(6 - d, 0)]])
    for y in (y_s, y_m, y_c):
        torch.testing.assert_close(y, ref)
    functional.reset_net(b)
    torch.testing.assert_close(b(x), ref)


def test_delay_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="delay_steps must be an int >= 0"):
        L.Delay(-1)
    with pytest.raises(TypeError, match="exactly one"):
        L.Delay()
    with pytest.raises(TypeError, match="exactly one"):
        L.Delay(1, delay=2)
    m = L.Delay(2)
    m(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="reset"):
        m(torch.zeros(2, 4))


# ---------------------------------------------------------------- SynapseFilter
def test_synapse_filter_hand_computed():
    """tau = 2, spikes 1 0 0 1 0: I = 1, 0.5, 0.25, 1.25 (no decay at a spike), 0.625."""
    s = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0])
    expected = torch.tensor([1.0, 0.5, 0.25, 1.25, 0.625])
    m = L.SynapseFilter(tau=2.0)
    torch.testing.assert_close(torch.stack([m(s[t]) for t in range(5)]), expected)
    learnable = L.SynapseFilter(tau=2.0, learnable=True, step_mode="m")
    torch.testing.assert_close(learnable(s[:, None]), expected[:, None])
    assert "tau=2.0" in repr(learnable)


def test_synapse_filter_learnable_tau_gradient_closed_form():
    """One spike then k silent steps: I_k = (1 - 1/tau)^k with 1/tau = sigmoid(w), so
    dI_k/dw = -k (1 - 1/tau)^(k-1) sigmoid'(w)."""
    tau, k = 4.0, 5
    m = L.SynapseFilter(tau=tau, learnable=True, step_mode="m").double()
    torch.testing.assert_close(m.w.detach(), torch.tensor(-math.log(tau - 1), dtype=torch.float64))
    s = torch.zeros(k + 1, 1, dtype=torch.float64)
    s[0] = 1
    out = m(s)
    out[-1].sum().backward()
    sig = torch.sigmoid(m.w).item()  # 1 / tau, up to the float32 rounding of w
    assert sig == pytest.approx(1 / tau, rel=1e-6)
    expected = -k * (1 - sig) ** (k - 1) * sig * (1 - sig)
    assert m.w.grad.item() == pytest.approx(expected, rel=1e-12)
    assert out[-1].item() == pytest.approx((1 - sig) ** k, rel=1e-12)


def test_synapse_filter_bad_tau_and_reset():
    with pytest.raises(ValueError, match="tau must be a number > 1"):
        L.SynapseFilter(tau=1.0, learnable=True)
    with pytest.raises(ValueError, match="tau must be a number >= 1"):
        L.SynapseFilter(tau=0.5)
    m = L.SynapseFilter(tau=3.0)
    m(torch.ones(2, 3))
    with pytest.raises(ValueError, match="reset"):
        m(torch.ones(4, 3))
    m.reset()
    assert m.out_i == 0.0


# ---------------------------------------------------------------- VotingLayer
def test_voting_layer_averages_groups_of_voting_size():
    x = torch.arange(2 * 30, dtype=torch.float32).reshape(2, 30)
    y = L.VotingLayer(10)(x)
    ref = torch.stack([x[:, 10 * c : 10 * c + 10].mean(1) for c in range(3)], dim=1)
    torch.testing.assert_close(y, ref)
    ref_pool = torch.nn.functional.avg_pool1d(x.unsqueeze(1), 10, 10).squeeze(1)
    torch.testing.assert_close(y, ref_pool)
    x_seq = torch.randn(4, 2, 12)
    m = L.VotingLayer(4, step_mode="m")
    torch.testing.assert_close(
        m(x_seq), torch.stack([L.VotingLayer(4)(x_seq[t]) for t in range(4)])
    )


def test_voting_layer_refuses_a_size_that_does_not_divide():
    with pytest.raises(ValueError, match="multiple of voting_size=10"):
        L.VotingLayer()(torch.randn(2, 25))
    with pytest.raises(ValueError, match="voting_size must be a positive int"):
        L.VotingLayer(0)


def test_print_shape_module_prints_and_passes_through(capsys):
    x = torch.zeros(2, 3)
    assert L.PrintShapeModule("here")(x) is x
    assert capsys.readouterr().out.strip() == "here torch.Size([2, 3])"
