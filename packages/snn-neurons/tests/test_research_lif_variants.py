"""GLIF, KLIF, CUBA-LIF and LIAF neurons."""

import pytest
import torch
from snn_core import surrogate
from snn_neurons import CUBALIFNode, GatedLIFNode, KLIFNode, LIAFNode, LIFNode

# ---------------------------------------------------------------- GLIF


def _set_gates(node, alpha, beta, gamma):
    with torch.no_grad():
        node.alpha.fill_(alpha)
        node.beta.fill_(beta)
        node.gamma.fill_(gamma)


def test_glif_with_exponential_leak_and_hard_reset_gates_is_a_lif():
    # alpha -> 1, beta -> 0, gamma -> 1: U[t] = tau V[t-1] (1 - S[t-1]) + X[t]
    T = 6
    node = GatedLIFNode(T=T, init_tau=0.25, init_v_threshold=0.5).double()
    _set_gates(node, 40.0, -40.0, 40.0)
    x = torch.rand(T, 5, dtype=torch.float64)
    out = node(x)
    v, s, ref = torch.zeros(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64), []
    for t in range(T):
        v = 0.25 * v * (1 - s) + x[t]
        s = (v >= 0.5).double()
        ref.append(s)
    torch.testing.assert_close(out, torch.stack(ref))
    torch.testing.assert_close(node.v, v)


def test_glif_with_linear_leak_conductance_and_soft_reset_gates():
    # alpha -> 0, beta -> 1, gamma -> 0: U[t] = V[t-1] - V_decay + g X[t] - V_sub S[t-1]
    T = 5
    node = GatedLIFNode(
        T=T, init_linear_decay=0.1, init_v_subreset=0.4, init_v_threshold=0.5, init_conduct=0.3
    ).double()
    _set_gates(node, -40.0, 40.0, -40.0)
    x = 2 * torch.rand(T, 7, dtype=torch.float64)
    out = node(x)
    v, s, ref = torch.zeros(7, dtype=torch.float64), torch.zeros(7, dtype=torch.float64), []
    for t in range(T):
        v = v - 0.1 + 0.3 * x[t] - 0.4 * s
        s = (v >= 0.5).double()
        ref.append(s)
    torch.testing.assert_close(out, torch.stack(ref))


def test_glif_gates_and_constants_are_all_learnable():
    node = GatedLIFNode(T=4, inplane=3)
    x = torch.rand(4, 2, 3, 5, requires_grad=True)
    node(x).sum().backward()
    names = ["alpha", "beta", "gamma", "tau", "v_threshold", "linear_decay", "v_subreset"]
    for name in [*names, "conduct"]:
        grad = getattr(node, name).grad
        assert grad is not None and torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name
    assert node.conduct.shape == (4, 3) and node.alpha.shape == (3,)
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_glif_channel_wise_parameters_act_per_channel():
    node = GatedLIFNode(T=3, inplane=2).double()
    _set_gates(node, 40.0, -40.0, 40.0)
    with torch.no_grad():
        node.v_threshold[1] = 10.0  # sigmoid -> 1: channel 1 needs a larger potential
    x = torch.full((3, 1, 2, 4), 0.7, dtype=torch.float64)  # U -> 0.7 / 0.75 < 1
    out = node(x)
    assert out[:, :, 0].sum() > 0 and out[:, :, 1].sum() == 0


def test_glif_checks_T_and_channels():
    with pytest.raises(ValueError, match="T=4"):
        GatedLIFNode(T=4)(torch.rand(3, 2, 5))
    with pytest.raises(ValueError, match="inplane=3"):
        GatedLIFNode(T=2, inplane=3)(torch.rand(2, 2, 4))
    with pytest.raises(ValueError, match="step_mode"):
        GatedLIFNode(T=2, step_mode="s")
    with pytest.raises(ValueError, match="init_tau"):
        GatedLIFNode(T=2, init_tau=2.0)


# ---------------------------------------------------------------- KLIF


@pytest.mark.parametrize("scale_reset", [False, True])
@pytest.mark.parametrize("v_reset", [0.0, None])
def test_klif_scales_rectifies_and_resets(scale_reset, v_reset):
    node = KLIFNode(scale_reset=scale_reset, tau=2.0, v_reset=v_reset).double()
    with torch.no_grad():
        node.k.fill_(1.5)
    x = torch.tensor([1.0, 0.6, -1.0], dtype=torch.float64)
    v = torch.zeros(3, dtype=torch.float64)
    for _ in range(3):
        s_node = node(x)
        f = torch.relu(1.5 * (v + (x - v) / 2.0))
        s = (f >= 1.0).double()
        if v_reset is None:
            v = f - s
        else:
            v = f * (1 - s)
        if scale_reset:
            v = v / 1.5 if v_reset is None else f / 1.5 * (1 - s)
        torch.testing.assert_close(s_node, s)
        torch.testing.assert_close(node.v, v)


def test_klif_k_is_learnable():
    node = KLIFNode(step_mode="m")
    x = torch.rand(5, 4, 3, requires_grad=True)
    node(x).sum().backward()
    assert node.k.grad is not None and torch.isfinite(node.k.grad) and node.k.grad != 0
    assert torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- CUBA-LIF


def test_cuba_current_decays_geometrically_and_the_potential_integrates_it():
    node = CUBALIFNode(c_decay=0.5, v_decay=0.75, v_threshold=100.0, step_mode="m").double()
    x = torch.zeros(8, 1, dtype=torch.float64)
    x[0] = 1.0
    node.store_v_seq = True
    node(x)
    # C[t] = 0.5^t; V[t] = sum_k 0.75^(t-k) 0.5^k
    v_expected = [sum(0.75 ** (n - k) * 0.5**k for k in range(n + 1)) for n in range(8)]
    torch.testing.assert_close(node.c, torch.tensor([0.5**7], dtype=torch.float64))
    torch.testing.assert_close(node.v_seq, torch.tensor(v_expected, dtype=torch.float64)[:, None])


def test_cuba_fires_and_hard_resets_with_rect_surrogate_by_default():
    node = CUBALIFNode()
    assert isinstance(node.surrogate_function, surrogate.Rect)
    s = node(torch.tensor([0.6, 0.2]))
    torch.testing.assert_close(s, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(node.v, torch.tensor([0.0, 0.2]))
    torch.testing.assert_close(node.c, torch.tensor([0.6, 0.2]))
    with pytest.raises(ValueError, match="c_decay"):
        CUBALIFNode(c_decay=1.5)


# ---------------------------------------------------------------- LIAF


def test_liaf_outputs_the_analog_activation_and_keeps_lif_dynamics():
    liaf = LIAFNode(torch.relu, True, tau=2.0, step_mode="m")
    lif = LIFNode(tau=2.0, step_mode="m")
    x = torch.tensor([[1.5, 0.4], [1.5, 0.4], [1.5, 0.4]])
    y = liaf(x)
    # H[0] = X[0] / 2 = (0.75, 0.2): below the threshold 1.0, no spike
    h0 = x[0] / 2
    torch.testing.assert_close(y[0], torch.relu(h0 - 1.0))
    h1 = h0 + (x[1] - h0) / 2  # = 1.125, 0.3
    torch.testing.assert_close(y[1], torch.relu(h1 - 1.0))
    lif(x)
    torch.testing.assert_close(liaf.v, lif.v)


def test_liaf_non_threshold_related_mode_is_act_of_h():
    node = LIAFNode(torch.sigmoid, False)
    x = torch.tensor([0.3, -0.7], requires_grad=True)
    y = node(x)
    torch.testing.assert_close(y, torch.sigmoid(x / 2))
    y.sum().backward()
    torch.testing.assert_close(x.grad, (torch.sigmoid(x / 2) * (1 - torch.sigmoid(x / 2)) / 2))


def test_liaf_rejects_bad_arguments():
    with pytest.raises(TypeError, match="act"):
        LIAFNode(3, True)
    with pytest.raises(ValueError, match="backend"):
        LIAFNode(torch.relu, True, backend="triton")
