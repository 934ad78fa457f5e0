"""Signed ternary IF / LIF neurons (TernaryIFNode, TernaryLIFNode)."""

import pytest
import torch
from snn_core import functional, surrogate
from snn_neurons import BackendUnavailableError, TernaryIFNode, TernaryLIFNode

ALPHA = 4.0


def _st(x):
    """Heaviside forward, d/dx sigmoid(ALPHA x) backward (independent of snn_core.surrogate)."""
    g = torch.sigmoid(ALPHA * x)
    return (x >= 0).to(x.dtype) + g - g.detach()


def _reference(x_seq, tau, decay_input, v_th, v_reset, detach_reset):
    """Float64 loop of the ternary equations (tau=None: IF)."""
    v = torch.full_like(x_seq[0], 0.0 if v_reset is None else v_reset)
    rest = 0.0 if v_reset is None else v_reset
    spikes = []
    for x in x_seq:
        if tau is None:
            h = v + x
        elif decay_input:
            h = v + (x - (v - rest)) / tau
        else:
            h = v - (v - rest) / tau + x
        p, n = _st(h - v_th), _st(-h - v_th)
        s = p - n
        event = s if v_reset is None else p + n
        event = event.detach() if detach_reset else event
        v = h - v_th * event if v_reset is None else (1 - event) * h + event * v_reset
        spikes.append(s)
    return torch.stack(spikes), v


def test_ternary_if_hard_reset_hand_computed():
    node = TernaryIFNode(step_mode="m")
    x = torch.tensor([0.6, 0.6, -1.5, -0.6, 0.2, 1.0, -1.0]).unsqueeze(1)
    out = node(x)
    # H: 0.6, 1.2 (fire, V=0), -1.5 (fire -1, V=0), -0.6, -0.4, 0.6, -0.4
    assert out.flatten().tolist() == [0, 1, -1, 0, 0, 0, 0]
    torch.testing.assert_close(node.v, torch.tensor([-0.4]))
    node.reset()
    # both thresholds are inclusive
    assert TernaryIFNode()(torch.tensor([1.0, -1.0, 0.999])).tolist() == [1.0, -1.0, 0.0]


def test_ternary_if_soft_reset_hand_computed():
    node = TernaryIFNode(v_reset=None, step_mode="m")
    out = node(torch.tensor([[0.6], [0.6], [-1.5], [-0.6]]))
    # H: 0.6; 1.2 -> +1, V=0.2; -1.3 -> -1, V=-0.3; -0.9 -> 0
    assert out.flatten().tolist() == [0, 1, -1, 0]
    torch.testing.assert_close(node.v, torch.tensor([-0.9]))


def test_ternary_lif_is_guo_aaai2024_forward():
    # tau=4/3, decay_input=False, v_reset=0: H[t] = 0.25 V[t-1] + X[t]
    node = TernaryLIFNode(tau=4.0 / 3.0, decay_input=False, v_reset=0.0, step_mode="m")
    out = node(torch.tensor([[0.8], [0.8], [-1.2], [-0.9]]))
    # H: 0.8; 0.2 + 0.8 = 1.0 -> +1, V=0; -1.2 -> -1, V=0; -0.9
    assert out.flatten().tolist() == [0, 1, -1, 0]
    torch.testing.assert_close(node.v, torch.tensor([-0.9]))


def test_ternary_lif_decay_input_leaks_toward_v_reset():
    node = TernaryLIFNode(tau=2.0, decay_input=True, v_reset=0.2)
    node(torch.tensor([0.6]))  # H = 0.2 + (0.6 - 0) / 2 = 0.5
    torch.testing.assert_close(node.v, torch.tensor([0.5]))
    node(torch.tensor([0.0]))  # H = 0.5 + (0 - 0.3) / 2 = 0.35
    torch.testing.assert_close(node.v, torch.tensor([0.35]))


CASES = {
    "if-hard": (None, True, 1.0, 0.0, False),
    "if-soft-detach": (None, True, 0.7, None, True),
    "lif-hard": (2.5, True, 1.0, 0.3, False),
    "lif-soft": (4.0 / 3.0, False, 0.8, None, False),
    "lif-hard-detach": (3.0, False, 1.0, -0.2, True),
}


def _make(tau, decay_input, v_th, v_reset, detach_reset, step_mode):
    sg = surrogate.Sigmoid(alpha=ALPHA)
    if tau is None:
        return TernaryIFNode(v_th, v_reset, sg, detach_reset, step_mode=step_mode)
    return TernaryLIFNode(tau, decay_input, v_th, v_reset, sg, detach_reset, step_mode)


@pytest.mark.parametrize("case", sorted(CASES))
def test_ternary_matches_float64_autograd_reference(case):
    tau, decay_input, v_th, v_reset, detach_reset = CASES[case]
    torch.manual_seed(0)
    x = (2.5 * torch.randn(7, 3, 4, dtype=torch.float64)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    node = _make(tau, decay_input, v_th, v_reset, detach_reset, "m").double()
    out = node(x)
    ref, v_ref = _reference(x_ref, tau, decay_input, v_th, v_reset, detach_reset)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(node.v, v_ref)
    w = torch.randn_like(out)
    ((out * w).sum() + node.v.sum()).backward()
    ((ref * w).sum() + v_ref.sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    assert set(out.unique().tolist()) <= {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ternary_multi_step_equals_single_step_loop(case):
    torch.manual_seed(1)
    x = (2 * torch.randn(6, 2, 5)).requires_grad_()
    single = _make(*CASES[case], "s")
    multi = _make(*CASES[case], "m")
    multi.store_v_seq = True
    out_s = torch.stack([single(x[t]) for t in range(6)])
    out_m = multi(x)
    torch.testing.assert_close(out_m, out_s)
    torch.testing.assert_close(multi.v, single.v)
    torch.testing.assert_close(multi.v_seq[-1], single.v)
    g_s = torch.autograd.grad(out_s.sum() + single.v.sum(), x)[0]
    g_m = torch.autograd.grad(out_m.sum() + multi.v.sum(), x)[0]
    torch.testing.assert_close(g_m, g_s)


def test_ternary_functional_steps_equal_modules():
    torch.manual_seed(2)
    x = (2 * torch.randn(2, 3)).requires_grad_()
    v0 = torch.randn(2, 3)
    sg = surrogate.Sigmoid(alpha=ALPHA)
    for node, step in (
        (
            TernaryIFNode(0.8, None, sg, True),
            lambda x, v: functional.ternary_if_step(x, v, 0.8, None, sg, True),
        ),
        (
            TernaryLIFNode(2.0, False, 0.8, 0.1, sg),
            lambda x, v: functional.ternary_lif_step(x, v, 2.0, False, 0.8, 0.1, sg),
        ),
    ):
        node.v = v0.clone()
        out = node(x)
        s, v = step(x, v0.clone())
        torch.testing.assert_close(out, s)
        torch.testing.assert_close(node.v, v)
        g_node = torch.autograd.grad(out.sum() + node.v.sum(), x)[0]
        g_step = torch.autograd.grad(s.sum() + v.sum(), x)[0]
        torch.testing.assert_close(g_node, g_step)


def test_ternary_neuronal_api_agrees_with_forward():
    sg = surrogate.Sigmoid(alpha=ALPHA)
    x = torch.tensor([1.3, -1.4, 0.2])
    a, b = TernaryLIFNode(2.0, False, 1.0, 0.1, sg), TernaryLIFNode(2.0, False, 1.0, 0.1, sg)
    out = a(x)
    b.init_memory_like("v", x)
    b.neuronal_charge(x)
    spike = b.neuronal_fire()
    b.neuronal_reset(spike)
    torch.testing.assert_close(spike, out)
    torch.testing.assert_close(b.v, a.v)


def test_ternary_reset_restores_v_reset_and_clears_v_seq():
    node = TernaryIFNode(v_reset=0.25, step_mode="m", store_v_seq=True)
    node(torch.rand(3, 2))
    node.reset()
    assert node.v == 0.25 and node.v_seq is None


def test_ternary_rejects_bad_arguments():
    with pytest.raises(ValueError, match="v_reset must lie strictly between"):
        TernaryIFNode(v_threshold=1.0, v_reset=1.0)
    with pytest.raises(ValueError, match="v_threshold"):
        TernaryIFNode(v_threshold=0.0)
    with pytest.raises(TypeError, match="v_threshold"):
        TernaryLIFNode(v_threshold="1")
    with pytest.raises(ValueError, match="tau"):
        TernaryLIFNode(tau=1.0)
    with pytest.raises(TypeError, match="decay_input"):
        TernaryLIFNode(decay_input=1)
    node = TernaryIFNode(step_mode="m")
    assert node.supported_backends == ("torch",)
    node.backend = "triton"
    with pytest.raises(BackendUnavailableError, match="backend='torch'"):
        node(torch.rand(2, 3))
