"""Izhikevich / adaptive neurons and the nonlinear (QIF, EIF) integrate-and-fire neurons."""

import math

import pytest
import torch
from snn_neurons import AdaptBaseNode, EIFNode, IzhikevichNode, QIFNode


def _izhikevich_reference(x, steps, tau=2.0, v_c=0.8, a0=1.0, v_rest=-0.1, b=0.0, tau_w=2.0):
    """The paper's update in plain Python floats (v_reset = 0, v_th = 1, a = 0)."""
    v, w, spikes = 0.0, 0.0, []
    for t in range(steps):
        h = v + (x + a0 * (v - v_rest) * (v - v_c) - w) / tau
        w = w + (0.0 - w) / tau_w
        fired = h >= 1.0
        v = 0.0 if fired else h
        w = w + b * fired
        if fired:
            spikes.append(t)
    return spikes


def _spike_times(node, x, steps):
    out = node(torch.full((steps, 1), x, dtype=torch.float64))
    return torch.nonzero(out[:, 0]).flatten().tolist()


def test_izhikevich_regular_spiking_adapts_then_settles():
    steps = 300
    node = IzhikevichNode(b=0.05, tau_w=30.0, step_mode="m")
    times = _spike_times(node, 0.5, steps)
    assert times == _izhikevich_reference(0.5, steps, b=0.05, tau_w=30.0)
    isi = [q - p for p, q in zip(times, times[1:])]
    # spike-frequency adaptation: intervals lengthen, then the rhythm is regular
    assert isi[0] < isi[-1]
    assert all(a <= b for a, b in zip(isi, isi[1:]))
    assert len(set(isi[-8:])) == 1


def test_izhikevich_without_jump_fires_at_a_constant_rate():
    times = _spike_times(IzhikevichNode(b=0.0, step_mode="m"), 0.5, 120)
    isi = {q - p for p, q in zip(times, times[1:])}
    assert len(isi) == 1 and len(times) > 5


def test_adaptation_current_follows_the_equations():
    node = IzhikevichNode(a=0.3, b=0.2, tau_w=4.0, v_rest=-0.1).double()
    x = torch.tensor([0.9, 0.1, 1.4], dtype=torch.float64)
    v, w = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for _ in range(6):
        s_node = node(x)
        h = v + (x + (v + 0.1) * (v - 0.8) - w) / 2.0
        w = w + (0.3 * (h + 0.1) - w) / 4.0
        s = (h >= 1.0).double()
        v = h * (1 - s)
        w = w + 0.2 * s
        torch.testing.assert_close(s_node, s)
        torch.testing.assert_close(node.v, v)
        torch.testing.assert_close(node.w, w)


def test_adapt_base_node_subtracts_w_from_the_input_of_any_charge():
    class AdaptiveIF(AdaptBaseNode):
        def charge(self, x, v):
            return v + x

    node = AdaptiveIF(w_rest=0.25, v_threshold=10.0)
    node(torch.ones(2))
    torch.testing.assert_close(node.v, torch.full((2,), 0.75))
    node.reset()
    assert node.w == 0.25


def test_izhikevich_gradients_reach_input_through_w_path():
    node = IzhikevichNode(a=0.5, b=0.1, step_mode="m")
    x = torch.rand(6, 3, 4, requires_grad=True)
    node(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_qif_rheobase_separates_resting_from_firing():
    # rheobase a0 (v_c - v_rest)^2 / 4 = 0.16 with the defaults
    node = QIFNode(step_mode="m")
    x = torch.tensor([0.15, 0.17]).expand(300, 2).contiguous()
    out = node(x)
    assert out[:, 0].sum() == 0 and out[:, 1].sum() > 0
    node.reset()
    out = node(torch.full((300, 1), 0.15))
    assert out.sum() == 0
    # settles at the stable root of X + a0 V (V - 0.8) = 0: V = 0.3
    torch.testing.assert_close(node.v, torch.tensor([0.3]), atol=1e-4, rtol=0)


def test_qif_unstable_fixed_point_is_the_threshold():
    # with X = 0.15 the unstable root is V = 0.5: above it the potential runs away
    node = QIFNode(step_mode="m").double()
    node.v = torch.tensor([0.49, 0.51], dtype=torch.float64)
    out = node(torch.full((200, 2), 0.15, dtype=torch.float64))
    assert out[:, 0].sum() == 0 and out[:, 1].sum() > 0


def test_eif_rheobase_is_theta_minus_rest_minus_delta():
    node = EIFNode(delta_T=0.1, theta_rh=0.8, step_mode="m")  # rheobase 0.7
    x = torch.tensor([0.65, 0.75]).expand(300, 2).contiguous()
    out = node(x)
    assert out[:, 0].sum() == 0 and out[:, 1].sum() > 0


def test_eif_charge_matches_the_equation():
    node = EIFNode(tau=3.0, delta_T=0.5, theta_rh=0.6, v_rest=0.1, v_threshold=5.0)
    node(torch.tensor([0.2]))  # from v = v_reset = -0.1
    v0 = -0.1
    expected = v0 + (0.2 - (v0 - 0.1) + 0.5 * math.exp((v0 - 0.6) / 0.5)) / 3.0
    assert node.v.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(tau=1.0), "tau"),
        (dict(a0=0.0), "a0"),
        (dict(v_reset=2.0), "v_threshold must be > v_reset"),
        (dict(v_rest=-0.5), "v_rest must be >= v_reset"),
    ],
)
def test_qif_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QIFNode(**kwargs)


def test_eif_rejects_non_positive_delta_t():
    with pytest.raises(ValueError, match="delta_T"):
        EIFNode(delta_T=0.0)


def test_izhikevich_rejects_a_second_backend():
    node = IzhikevichNode(step_mode="m", backend="cupy")
    assert node.supported_backends == ("torch",)
    with pytest.raises(RuntimeError, match="backend='cupy'"):
        node(torch.rand(2, 3))
