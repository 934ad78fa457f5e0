"""Resonate-and-fire (RAFNode) and complementary LIF (ComplementaryLIFNode) neurons."""

import math

import pytest
import torch
from snn_core import functional, surrogate
from snn_neurons import BackendUnavailableError, ComplementaryLIFNode, RAFNode


def _sig_st(x, alpha=4.0):
    g = torch.sigmoid(alpha * x)
    return (x >= 0).to(x.dtype) + g - g.detach()


def _rect_st(x, alpha=1.0):
    g = torch.clamp(alpha * x + 0.5, 0.0, 1.0)
    return (x >= 0).to(x.dtype) + g - g.detach()


# ---------------------------------------------------------------- RAF


def test_raf_subthreshold_impulse_response_is_a_damped_rotation():
    # z = u + i v; one impulse x0 at t = 0 gives z[t] = x0 (e^{b dt} e^{i omega dt})^t
    b, omega, dt, x0, T = -0.2, 0.9, 0.5, 1.7, 12
    node = RAFNode(b=b, omega=omega, dt=dt, v_threshold=1e9, step_mode="m").double()
    x = torch.zeros(T, 1, dtype=torch.float64)
    x[0] = x0
    node.store_v_seq = True
    assert node(x).sum() == 0
    t = torch.arange(T, dtype=torch.float64)
    decay = torch.exp(b * dt * t)
    torch.testing.assert_close(node.v_seq[:, 0], x0 * decay * torch.sin(omega * dt * t))
    torch.testing.assert_close(node.u[0], x0 * decay[-1] * math.cos(omega * dt * (T - 1)))


def test_raf_resets_only_v_and_keeps_u():
    node = RAFNode(b=-0.1, omega=math.pi / 2, dt=1.0, v_threshold=0.5, v_reset=0.0)
    node(torch.tensor([1.0]))  # u = 1, v = 0
    spike = node(torch.tensor([0.0]))  # theta = pi/2: u = a cos - 0, v = a * 1 >= 0.5: fire
    a = math.exp(-0.1)
    assert spike.item() == 1.0
    torch.testing.assert_close(node.v, torch.tensor([0.0]))
    torch.testing.assert_close(node.u, torch.tensor([a * math.cos(math.pi / 2)]))


def _raf_reference(x_seq, b, omega, dt, v_th, v_reset, detach_reset):
    a, c, s = math.exp(b * dt), math.cos(omega * dt), math.sin(omega * dt)
    u = torch.zeros_like(x_seq[0])
    v = torch.full_like(x_seq[0], 0.0 if v_reset is None else v_reset)  # v starts at V_reset
    spikes = []
    for x in x_seq:
        u, h = a * (u * c - v * s) + x, a * (u * s + v * c)
        spike = _sig_st(h - v_th)
        r = spike.detach() if detach_reset else spike
        v = h - r * v_th if v_reset is None else r * v_reset + (1 - r) * h
        spikes.append(spike)
    return torch.stack(spikes), u, v


@pytest.mark.parametrize("v_reset,detach_reset", [(0.0, False), (None, True), (-0.2, True)])
def test_raf_matches_float64_autograd_and_single_step_loop(v_reset, detach_reset):
    torch.manual_seed(0)
    x = (1.5 * torch.randn(8, 3, 4, dtype=torch.float64)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    args = dict(b=-0.3, omega=1.3, dt=0.8, v_threshold=0.6, v_reset=v_reset)
    node = RAFNode(
        **args, surrogate_function=surrogate.Sigmoid(4.0), detach_reset=detach_reset, step_mode="m"
    ).double()
    out = node(x)
    ref, u_ref, v_ref = _raf_reference(x_ref, -0.3, 1.3, 0.8, 0.6, v_reset, detach_reset)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(node.u, u_ref)
    torch.testing.assert_close(node.v, v_ref)
    w = torch.randn_like(out)
    ((out * w).sum() + node.v.sum() + node.u.sum()).backward()
    ((ref * w).sum() + v_ref.sum() + u_ref.sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    single = RAFNode(**args, detach_reset=detach_reset).double()
    torch.testing.assert_close(torch.stack([single(xt) for xt in x.detach()]), out.detach())
    torch.testing.assert_close(single.u, node.u.detach())


def test_raf_functional_step_equals_module():
    torch.manual_seed(1)
    x = torch.randn(2, 3, requires_grad=True)
    u0, v0 = torch.randn(2, 3), torch.randn(2, 3)
    node = RAFNode(b=-0.25, omega=0.8, dt=1.0, v_threshold=0.4)
    node.u, node.v = u0.clone(), v0.clone()
    out = node(x)
    s, u, v = functional.raf_step(x, u0, v0, -0.25, 0.8, 1.0, 0.4, 0.0, node.surrogate_function)
    torch.testing.assert_close(out, s)
    torch.testing.assert_close(node.u, u)
    torch.testing.assert_close(node.v, v)
    # the input drives u; the spike and v of this step read it one step later
    assert not out.requires_grad
    out2 = node(torch.zeros(2, 3))
    s2, u2, v2 = functional.raf_step(
        torch.zeros(2, 3), u, v, -0.25, 0.8, 1.0, 0.4, 0.0, node.surrogate_function
    )
    torch.testing.assert_close(out2, s2)
    g_node = torch.autograd.grad(out2.sum() + node.v.sum() + node.u.sum(), x)[0]
    g_step = torch.autograd.grad(s2.sum() + v2.sum() + u2.sum(), x)[0]
    torch.testing.assert_close(g_node, g_step)
    assert g_node.abs().sum() > 0


def test_raf_rejects_bad_arguments():
    with pytest.raises(ValueError, match="b must be < 0"):
        RAFNode(b=0.1)
    with pytest.raises(ValueError, match="omega"):
        RAFNode(omega=0.0)
    with pytest.raises(ValueError, match="dt"):
        RAFNode(dt=-1.0)
    node = RAFNode(step_mode="m")
    assert node.supported_backends == ("torch",)
    node.backend = "cupy"
    with pytest.raises(BackendUnavailableError):
        node(torch.rand(2, 3))


# ---------------------------------------------------------------- CLIF


def test_clif_hand_computed_two_steps():
    node = ComplementaryLIFNode(tau=2.0, v_threshold=1.0)
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    assert node(torch.tensor([1.5])).item() == 1.0
    # H = 1.5, S = 1, M = 0 + 1, V = 1.5 - (1 + sigmoid(1))
    v1 = 1.5 - (1 + sig(1.0))
    torch.testing.assert_close(node.m, torch.tensor([1.0]))
    torch.testing.assert_close(node.v, torch.tensor([v1]))
    assert node(torch.tensor([0.0])).item() == 0.0
    h2 = 0.5 * v1  # no spike: V = H, M = M sigmoid(H / tau)
    torch.testing.assert_close(node.v, torch.tensor([h2]))
    torch.testing.assert_close(node.m, torch.tensor([sig(h2 / 2.0)]))


def _clif_reference(x_seq, tau, v_th):
    v, m = torch.zeros_like(x_seq[0]), torch.zeros_like(x_seq[0])
    spikes, vs, ms = [], [], []
    for x in x_seq:
        h = (1 - 1 / tau) * v + x
        s = _rect_st(h - v_th)
        m = m * torch.sigmoid(h / tau) + s
        v = h - s * (v_th + torch.sigmoid(m))
        spikes.append(s)
        vs.append(v)
        ms.append(m)
    return torch.stack(spikes), torch.stack(vs), torch.stack(ms)


def test_clif_matches_float64_autograd_reference_and_keeps_state_seqs():
    torch.manual_seed(0)
    x = (1.3 * torch.randn(7, 3, 4, dtype=torch.float64)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    node = ComplementaryLIFNode(
        tau=2.5, v_threshold=0.7, step_mode="m", store_state_seqs=True
    ).double()
    out = node(x)
    ref, v_seq, m_seq = _clif_reference(x_ref, 2.5, 0.7)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(node.state_seqs[0], v_seq)
    torch.testing.assert_close(node.state_seqs[1], m_seq)
    w = torch.randn_like(out)
    ((out * w).sum() + node.v.sum() + node.m.sum()).backward()
    ((ref * w).sum() + v_seq[-1].sum() + m_seq[-1].sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    node.reset()
    assert node.state_seqs is None and node.v == 0.0 and node.m == 0.0


def test_clif_multi_step_equals_single_step_loop_and_eval_forward():
    torch.manual_seed(1)
    x = (1.5 * torch.randn(6, 2, 5)).requires_grad_()
    single, multi = ComplementaryLIFNode(), ComplementaryLIFNode(step_mode="m")
    out_s = torch.stack([single(x[t]) for t in range(6)])
    out_m = multi(x)
    torch.testing.assert_close(out_m, out_s)
    torch.testing.assert_close(multi.m, single.m)
    g_s = torch.autograd.grad(out_s.sum() + single.v.sum(), x)[0]
    g_m = torch.autograd.grad(out_m.sum() + multi.v.sum(), x)[0]
    torch.testing.assert_close(g_m, g_s)
    assert multi.state_seqs is None
    evaluated = ComplementaryLIFNode(step_mode="m").eval()
    torch.testing.assert_close(evaluated(x.detach()), out_m.detach())


def test_clif_functional_step_equals_module():
    torch.manual_seed(2)
    x = (2 * torch.randn(2, 3)).requires_grad_()
    v0, m0 = torch.randn(2, 3), torch.rand(2, 3)
    node = ComplementaryLIFNode(tau=3.0, v_threshold=0.8)
    node.v, node.m = v0.clone(), m0.clone()
    out = node(x)
    s, v, m = functional.clif_step(x, v0, m0, 3.0, 0.8, node.surrogate_function)
    for a, b in ((out, s), (node.v, v), (node.m, m)):
        torch.testing.assert_close(a, b)
    g_node = torch.autograd.grad(out.sum() + node.v.sum() + node.m.sum(), x)[0]
    g_step = torch.autograd.grad(s.sum() + v.sum() + m.sum(), x)[0]
    torch.testing.assert_close(g_node, g_step)


def test_clif_rejects_bad_arguments():
    with pytest.raises(ValueError, match="tau"):
        ComplementaryLIFNode(tau=1.0)
    with pytest.raises(TypeError, match="store_state_seqs"):
        ComplementaryLIFNode(store_state_seqs=1)
    assert isinstance(ComplementaryLIFNode().surrogate_function, surrogate.Rect)
