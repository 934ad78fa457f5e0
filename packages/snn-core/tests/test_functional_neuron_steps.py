"""Functional neuron steps of the core neurons, checked against hand-computed cases, closed
forms and float64 numerical gradients (``snn_core.functional``; no neuron module involved)."""

from __future__ import annotations

import math

import pytest
import torch
from snn_core import functional as F
from snn_core.surrogate import Sigmoid

D = torch.float64


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=D)


SG = Sigmoid()  # Heaviside forward: spikes are exactly 0 / 1


# --------------------------------------------------------------------------- reset
def test_voltage_reset_hard_and_soft_by_hand():
    v, s = t(1.5, 0.3), t(1.0, 0.0)
    assert torch.equal(F.voltage_reset(v, s, 1.0, -0.2, False), t(-0.2, 0.3))
    assert torch.equal(F.voltage_reset(v, s, 1.0, None, False), t(0.5, 0.3))


def test_voltage_reset_detach_cuts_only_the_spike_path():
    v = t(1.5).requires_grad_()
    s = t(1.0).requires_grad_()
    F.voltage_reset(v, s, 1.0, None, True).sum().backward()
    assert s.grad is None and v.grad.item() == 1.0
    s2 = t(1.0).requires_grad_()
    F.voltage_reset(t(1.5), s2, 1.0, None, False).sum().backward()
    assert s2.grad.item() == -1.0  # d(V - S V_th)/dS = -V_th


# --------------------------------------------------------------------------- IF
def test_if_step_by_hand():
    x, v = t(0.6, 1.2, 0.1), t(0.5, 0.0, 0.2)
    spike, v_next = F.if_step(x, v, 1.0, 0.0, SG)
    assert torch.equal(spike, t(1.0, 1.0, 0.0))
    torch.testing.assert_close(v_next, t(0.0, 0.0, 0.3))
    spike, v_next = F.if_step(x, v, 1.0, None, SG)
    torch.testing.assert_close(v_next, t(0.1, 0.2, 0.3))
    assert torch.equal(x, t(0.6, 1.2, 0.1)) and torch.equal(v, t(0.5, 0.0, 0.2))  # pure


def test_if_multi_step_below_threshold_is_the_cumulative_sum():
    x_seq = torch.rand(6, 4, dtype=D) * 0.1
    spikes, v_last, v_seq = F.if_multi_step(x_seq, torch.zeros(4, dtype=D), store_v_seq=True)
    assert not spikes.any()
    torch.testing.assert_close(v_seq, x_seq.cumsum(0))
    torch.testing.assert_close(v_last, x_seq.sum(0))
    assert F.if_multi_step(x_seq, torch.zeros(4, dtype=D))[2] is None


def test_if_multi_step_defaults_match_the_reference_signature():
    # v_threshold=1, v_reset=0, Sigmoid: input 0.6 fires on the second step and resets to 0
    spikes, v_last, _ = F.if_multi_step(torch.full((3, 1), 0.6, dtype=D), torch.zeros(1, dtype=D))
    assert spikes.flatten().tolist() == [0.0, 1.0, 0.0]
    torch.testing.assert_close(v_last, t(0.6))


# --------------------------------------------------------------------------- LIF
@pytest.mark.parametrize(
    "decay_input, v_reset, expected",
    [
        (True, 0.0, 0.5 + (1.0 - 0.5) / 2.5),
        (False, 0.0, 0.5 - 0.5 / 2.5 + 1.0),
        (True, None, 0.5 + (1.0 - 0.5) / 2.5),
        (True, -0.5, 0.5 + (1.0 - 1.0) / 2.5),
        (False, -0.5, 0.5 - 1.0 / 2.5 + 1.0),
    ],
)
def test_lif_charge_by_hand(decay_input, v_reset, expected):
    h = F.lif_charge(t(1.0), t(0.5), 2.5, decay_input, v_reset)
    assert h.item() == pytest.approx(expected, abs=1e-15)


def test_lif_charge_is_the_leaky_charge_with_decay_one_over_tau():
    x, v = torch.randn(5, dtype=D), torch.randn(5, dtype=D)
    for decay_input in (True, False):
        a = F.lif_charge(x, v, 4.0, decay_input, 0.3)
        assert torch.equal(a, F.leaky_charge(x, v, 0.25, decay_input, 0.3))


def test_lif_multi_step_without_input_decays_geometrically():
    v0 = t(0.8, -0.4)
    _, v_last, v_seq = F.lif_multi_step(
        torch.zeros(5, 2, dtype=D), v0, tau=4.0, v_reset=None, store_v_seq=True
    )
    expected = torch.stack([v0 * 0.75 ** (k + 1) for k in range(5)])
    torch.testing.assert_close(v_seq, expected)
    torch.testing.assert_close(v_last, expected[-1])


def test_lif_step_is_charge_fire_reset():
    x, v = torch.randn(3, 4, dtype=D), torch.randn(3, 4, dtype=D)
    h = F.lif_charge(x, v, 2.5, False, -0.1)
    s = (h >= 0.8).to(D)
    spike, v_next = F.lif_step(x, v, 2.5, False, 0.8, -0.1, SG)
    assert torch.equal(spike, s)
    torch.testing.assert_close(v_next, torch.where(s.bool(), torch.full_like(h, -0.1), h))


def test_lif_multi_step_gradients_match_float64_finite_differences():
    # the smooth surrogate forward (spiking=False) makes the map differentiable everywhere
    sg = Sigmoid(alpha=2.0, spiking=False)
    x = torch.randn(4, 3, dtype=D, requires_grad=True)
    v = torch.randn(3, dtype=D, requires_grad=True)

    def f(x_, v_):
        s, v_last, _ = F.lif_multi_step(x_, v_, 2.5, True, 0.8, None, sg)
        return s, v_last

    assert torch.autograd.gradcheck(f, (x, v))


def test_liaf_step_outputs_the_activation_of_the_charge():
    x, v = t(1.0, 0.2), t(0.5, 0.0)
    h = F.lif_charge(x, v, 2.0, True, 0.0)  # [0.75, 0.1]
    y, v_next = F.liaf_step(x, v, 2.0, True, 0.5, 0.0, torch.relu, True, SG)
    torch.testing.assert_close(y, torch.relu(h - 0.5))
    torch.testing.assert_close(v_next, t(0.0, 0.1))
    y, _ = F.liaf_step(x, v, 2.0, True, 0.5, 0.0, torch.tanh, False, SG)
    torch.testing.assert_close(y, torch.tanh(h))


# --------------------------------------------------------------------------- PLIF
def test_plif_step_is_lif_with_tau_from_the_logit():
    w = torch.tensor(-math.log(3.0 - 1.0), dtype=D)  # sigmoid(w) = 1/3
    x, v = torch.randn(6, dtype=D), torch.randn(6, dtype=D)
    for decay_input in (True, False):
        s1, v1 = F.plif_step(x, v, w, decay_input, 0.5, None, SG)
        s2, v2 = F.lif_step(x, v, 3.0, decay_input, 0.5, None, SG)
        assert torch.equal(s1, s2)
        torch.testing.assert_close(v1, v2)


def test_plif_weight_gradient_closed_form_below_threshold():
    # far below threshold the surrogate slope underflows to 0, so dV/dw = σ'(w) (X - V)
    w = torch.tensor(0.3, dtype=D, requires_grad=True)
    x, v = t(0.4, -0.2), t(0.1, 0.3)
    _, v_next = F.plif_step(x, v, w, True, 1e3, 0.0, SG)
    v_next.sum().backward()
    sig = torch.sigmoid(torch.tensor(0.3, dtype=D))
    torch.testing.assert_close(w.grad, (sig * (1 - sig) * (x - v)).sum())


def test_plif_multi_step_keeps_the_graph_to_w():
    w = torch.tensor(0.0, requires_grad=True)
    s, v_last, v_seq = F.plif_multi_step(torch.rand(4, 3), torch.zeros(3), w, store_v_seq=True)
    (s.sum() + v_seq.sum()).backward()
    assert w.grad is not None and v_seq.shape == (4, 3)
    torch.testing.assert_close(v_last, v_seq[-1])


# --------------------------------------------------------------------------- KLIF
@pytest.mark.parametrize(
    "scale_reset, v_reset, expected_v",
    [
        (False, 0.0, [0.0, 0.5]),
        (False, None, [0.2, 0.5]),
        (True, 0.0, [0.0, 0.25]),
        (True, None, [0.1, 0.25]),
    ],
)
def test_klif_step_by_hand(scale_reset, v_reset, expected_v):
    k = torch.tensor(2.0, dtype=D)
    # LIF charge (tau=2, decay_input, leak to 0): H = V + (X - V) / 2 = [0.6, 0.25]
    x, v = t(1.0, 0.3), t(0.2, 0.2)
    # F = ReLU(2 H) = [1.2, 0.5]; V_th = 1
    spike, v_next = F.klif_step(x, v, k, 2.0, True, scale_reset, 1.0, v_reset, SG)
    assert spike.tolist() == [1.0, 0.0]
    torch.testing.assert_close(v_next, t(*expected_v))


def test_klif_charge_rectifies():
    f = F.klif_charge(t(-3.0), t(0.0), torch.tensor(1.5, dtype=D), 2.0, True, 0.0)
    assert f.item() == 0.0


# --------------------------------------------------------------------------- QIF / EIF
def test_qif_step_by_hand():
    # H = 0.5 + (0.2 + 1 (0.5 - 0)(0.5 - 0.8)) / 2 = 0.525
    spike, v_next = F.qif_step(t(0.2), t(0.5), 2.0, 1.0, 0.0, 0.8, 1.0, -0.1, SG)
    assert spike.item() == 0.0 and v_next.item() == pytest.approx(0.525)
    spike, v_next = F.qif_step(t(3.0), t(0.5), 2.0, 1.0, 0.0, 0.8, 1.0, -0.1, SG)
    assert spike.item() == 1.0 and v_next.item() == pytest.approx(-0.1)


def test_qif_rest_is_a_fixed_point():
    _, v_last, _ = F.qif_multi_step(torch.zeros(10, 3, dtype=D), torch.zeros(3, dtype=D))
    assert torch.equal(v_last, torch.zeros(3, dtype=D))


def test_eif_step_by_hand():
    # at V = V_rest: H = V_rest + Delta_T exp((V_rest - theta_rh) / Delta_T) / tau
    v_rest, theta, delta, tau = -0.2, 0.4, 0.7, 2.5
    _, v_next = F.eif_step(t(0.0), t(v_rest), tau, delta, theta, v_rest, 0.9, -0.3, SG)
    expected = v_rest + delta * math.exp((v_rest - theta) / delta) / tau
    assert v_next.item() == pytest.approx(expected, abs=1e-15)


def test_eif_multi_step_equals_its_single_steps():
    x_seq, v0 = torch.rand(5, 3, dtype=D), torch.zeros(3, dtype=D)
    spikes, v_last, v_seq = F.eif_multi_step(x_seq, v0, store_v_seq=True)
    v = v0
    for k in range(5):
        s, v = F.eif_step(x_seq[k], v, 2.0, 1.0, 1.0, 0.0, 1.0, 0.0, Sigmoid())
        assert torch.equal(s, spikes[k]) and torch.equal(v, v_seq[k])
    assert torch.equal(v, v_last)


# --------------------------------------------------------------------------- Izhikevich
def test_izhikevich_step_by_hand():
    x, v, w = t(0.5, 3.0), t(0.1, 0.1), t(0.2, 0.2)
    tau, a0, v_rest, v_c, tau_w, a, b = 2.0, 1.0, 0.0, 0.8, 4.0, 0.5, 0.3
    spike, v_next, w_next = F.izhikevich_step(
        x, v, w, tau, a0, v_rest, v_c, tau_w, a, b, 1.0, -0.2, SG
    )
    h = [0.1 + (xi + 0.1 * (0.1 - 0.8) - 0.2) / 2.0 for xi in (0.5, 3.0)]  # [0.115, 1.365]
    assert spike.tolist() == [0.0, 1.0]
    torch.testing.assert_close(v_next, t(h[0], -0.2))
    w_expected = [0.2 + (0.5 * hi - 0.2) / 4.0 + b * si for hi, si in zip(h, (0.0, 1.0))]
    torch.testing.assert_close(w_next, t(*w_expected))


def test_izhikevich_multi_step_returns_both_state_sequences():
    x_seq = torch.rand(4, 3, dtype=D) * 2
    v0, w0 = torch.zeros(3, dtype=D), torch.zeros(3, dtype=D)
    s_seq, v_last, w_last, v_seq, w_seq = F.izhikevich_multi_step(
        x_seq, v0, w0, store_state_seq=True
    )
    v, w = v0, w0
    for k in range(4):
        s, v, w = F.izhikevich_step(x_seq[k], v, w, 2.0, 1.0, 0.0, 0.8, 2.0, 0.1, 0.2, 1.0, 0.0, SG)
        assert torch.equal(s, s_seq[k]) and torch.equal(v, v_seq[k]) and torch.equal(w, w_seq[k])
    assert torch.equal(v_last, v) and torch.equal(w_last, w)
    assert F.izhikevich_multi_step(x_seq, v0, w0)[3:] == (None, None)


# --------------------------------------------------------------------------- CUBA
def test_cuba_lif_step_by_hand():
    # C = 0.5 * 1 + 0.5 = 1; H = 0.75 * 0.2 + 1 = 1.15 >= 0.5: spike, hard reset to 0
    spike, c, v = F.cuba_lif_step(t(0.5), t(1.0), t(0.2), 0.5, 0.75, 0.5, 0.0, SG)
    assert (spike.item(), c.item(), v.item()) == (1.0, 1.0, 0.0)
    _, _, v = F.cuba_lif_step(t(0.5), t(1.0), t(0.2), 0.5, 0.75, 0.5, None, SG)
    assert v.item() == pytest.approx(0.65)


def test_lava_cuba_lif_step_fixed_point_arithmetic_by_hand():
    # s = 64, D = 1024 (d = 0.75): C = (trunc(64 C0) * 3072 >> 12 + trunc(64 X)) / 64
    # C0 = 0.5: 32 * 3072 >> 12 = 24; X = 0.25 -> 16: C = 40 / 64 = 0.625
    # C0 = -0.3: trunc(-19.2) = -19; -19 * 3072 = -58368 -> -14 (toward zero, not -15)
    cur0 = torch.tensor([0.5, -0.3])
    x = torch.tensor([0.25, 0.0])
    decay = torch.tensor(1024.0)
    spike, c, v = F.lava_cuba_lif_step(
        x, cur0, torch.zeros(2), decay, torch.tensor(4096.0), 64, 1.0, 0.01 / 64, 0.0, Sigmoid()
    )
    torch.testing.assert_close(c, torch.tensor([40 / 64, -14 / 64]))
    # voltage decay 4096 (d = 0): V = C
    torch.testing.assert_close(v, c)
    assert not spike.any()


def test_lava_cuba_lif_step_straight_through_gradients():
    cur0 = torch.tensor([0.5, -0.3], requires_grad=True)
    x = torch.tensor([0.25, 0.0], requires_grad=True)
    decay = torch.tensor(1023.6, requires_grad=True)  # rounded to 1024 in the forward
    _, c, _ = F.lava_cuba_lif_step(
        x, cur0, torch.zeros(2), decay, torch.tensor(0.0), 64, 1.0, 0.0, 0.0, Sigmoid()
    )
    c.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones(2))
    torch.testing.assert_close(cur0.grad, torch.full((2,), 0.75))
    torch.testing.assert_close(decay.grad, -(0.5 - 0.3) / 4096 * torch.ones(()))


# --------------------------------------------------------------------------- GLIF
def test_gated_lif_step_reduces_to_lif_with_multiplicative_reset():
    # alpha = 1, beta = 0, gamma = 1: U = tau V + X - tau V S_prev
    one, zero = torch.tensor(1.0, dtype=D), torch.tensor(0.0, dtype=D)
    tau = torch.tensor(0.25, dtype=D)
    x, v, s_prev = t(0.3, 0.3), t(0.8, 0.8), t(0.0, 1.0)
    spike, u = F.gated_lif_step(
        x, v, s_prev, one, zero, one, tau, torch.tensor(0.4, dtype=D), t(0.1), t(0.5), t(0.5), SG
    )
    torch.testing.assert_close(u, t(0.5, 0.3))
    assert spike.tolist() == [1.0, 0.0]


def test_gated_lif_step_linear_decay_and_subtractive_reset():
    # alpha = 0, beta = 1, gamma = 0: U = V - V_decay + X g - V_subreset S_prev
    one, zero = torch.tensor(1.0, dtype=D), torch.tensor(0.0, dtype=D)
    _, u = F.gated_lif_step(
        t(1.0), t(0.5), t(1.0), zero, one, zero, t(0.9), t(2.0), t(0.1), t(0.3), t(0.25), SG
    )
    assert u.item() == pytest.approx(0.5 - 0.1 + 0.25 - 0.3)


# --------------------------------------------------------------------------- PSN
def test_sliding_psn_step_by_hand():
    weight = t(0.25, 0.5, 1.0)
    bias = torch.tensor(-1.0, dtype=D)
    queue: tuple[torch.Tensor, ...] = ()
    hs = []
    for value in (1.0, 2.0, 3.0, 4.0):
        x = torch.full((1, 2), value, dtype=D)
        prev = queue
        spike, queue = F.sliding_psn_step(x, queue, weight, bias, Sigmoid(spiking=False, alpha=1))
        assert len(prev) < 3 or prev is not queue  # the old queue is not modified
        hs.append(torch.logit(spike[0, 0]).item())
        assert spike.shape == x.shape and len(queue) == min(3, len(hs))
    # H + bias: 1 - 1, 0.5 + 2 - 1, 0.25 + 1 + 3 - 1, 0.5 + 1.5 + 4 - 1
    assert hs == pytest.approx([0.0, 1.5, 3.25, 5.0])
    assert [q[0].item() for q in queue] == [2.0, 3.0, 4.0]


def test_masked_psn_step_reads_row_t_of_the_masked_weight():
    masked = torch.tril(torch.ones(3, 3, dtype=D))  # H[t] = sum of all inputs so far (k = 3)
    bias = torch.full((3, 1), -2.5, dtype=D)
    queue: tuple[torch.Tensor, ...] = ()
    step, spikes = 0, []
    for value in (1.0, 1.0, 1.0):
        s, step, queue = F.masked_psn_step(t(value), step, queue, masked, bias, 3, SG)
        spikes.append(s.item())
    assert spikes == [0.0, 0.0, 1.0] and step == 3
    with pytest.raises(ValueError, match="time_step"):
        F.masked_psn_step(t(1.0), 3, queue, masked, bias, 3, SG)


# --------------------------------------------------------------------------- linear
@pytest.mark.parametrize("single", [True, False])
def test_if_linear_is_if_then_projection(single):
    x = torch.rand(3, 4, 5, dtype=D) * 1.5
    v = torch.rand(4, 5, dtype=D)
    weight_t, bias = torch.randn(5, 2, dtype=D), torch.randn(2, dtype=D)
    v_before = v.clone()
    xin = x[0] if single else x
    y, v_last = F.if_linear(xin, v, weight_t, bias, v_reset=None)
    s, v_ref, _ = F.if_multi_step(xin.unsqueeze(0) if single else xin, v, v_reset=None)
    expected = s @ weight_t + bias
    torch.testing.assert_close(y, expected[0] if single else expected)
    torch.testing.assert_close(v_last, v_ref)
    assert torch.equal(v, v_before)


def test_lif_linear_is_lif_then_projection():
    x, v, weight_t = torch.rand(3, 4, 5) * 2, torch.zeros(4, 5), torch.randn(5, 2)
    y, v_last = F.lif_linear(x, v, weight_t, tau=3.0, decay_input=False)
    s, v_ref, _ = F.lif_multi_step(x, v, 3.0, False)
    torch.testing.assert_close(y, s @ weight_t)
    torch.testing.assert_close(v_last, v_ref)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(v=torch.zeros(4, 6)), "v must have shape"),
        (dict(weight_t=torch.zeros(6, 2)), "weight_t"),
        (dict(bias=torch.zeros(3)), "bias"),
        (dict(threads=64), "threads"),
        (dict(surrogate_function=Sigmoid(spiking=False)), "spiking"),
    ],
)
def test_if_linear_rejects_bad_arguments(kwargs, match):
    args = dict(x=torch.zeros(4, 5), v=torch.zeros(4, 5), weight_t=torch.zeros(5, 2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        F.if_linear(**args)


# --------------------------------------------------------------------------- errors, API
def test_steps_reject_a_state_of_another_shape():
    with pytest.raises(ValueError, match="state v has shape"):
        F.lif_step(torch.zeros(2, 3), torch.zeros(3), 2.0, True, 1.0, 0.0, SG)
    with pytest.raises(ValueError, match="state w"):
        F.izhikevich_multi_step(torch.zeros(2, 3), torch.zeros(3), torch.zeros(1))
    with pytest.raises(TypeError, match="v must be a tensor"):
        F.if_multi_step(torch.zeros(2, 3), 0.0)


def test_explicit_neuron_precision_is_refused():
    with pytest.raises(RuntimeError, match="neuron_storage"):
        F.lif_multi_step(torch.zeros(2, 3), torch.zeros(3), neuron_storage=torch.float16)


def test_zero_time_steps_leave_the_state_unchanged():
    v = torch.randn(3)
    spikes, v_last, v_seq = F.if_multi_step(torch.zeros(0, 3), v, store_v_seq=True)
    assert spikes.shape == (0, 3) and v_seq.shape == (0, 3) and v_last is v


def test_functional_neuron_namespace_exports_every_step():
    assert F.neuron.lif_step is F.lif_step
    for name in F.neuron.__all__:
        assert getattr(F, name) is getattr(F.neuron, name), name


def test_neuron_implementation_reports_the_torch_definition():
    cpu = F.neuron_implementation("lif", torch.device("cpu"))
    assert cpu == {"implementation": "torch-reference", "unavailable": {}}
    cuda = F.neuron_implementation("izhikevich", torch.device("cuda"), execution="compile")
    assert cuda["implementation"] == "torch-reference" and set(cuda["unavailable"]) == {
        "triton",
        "cuda",
    }
    with pytest.raises(ValueError, match="neuron_type"):
        F.neuron_implementation("hh", torch.device("cpu"))
    with pytest.raises(ValueError, match="execution"):
        F.neuron_implementation("if", torch.device("cpu"), execution="jit")
    with pytest.raises(ValueError, match="device"):
        F.neuron_implementation("if", torch.device("meta"))
