"""MPBN neurons and DSR neurons."""

import copy

import pytest
import torch
from snn_neurons import DSRIFNode, DSRLIFNode, MPBNLIFNode

# ---------------------------------------------------------------- MPBN


@pytest.mark.parametrize("shape, kw", [((16, 3), "out_features"), ((8, 3, 4, 4), "out_channels")])
def test_mpbn_normalises_the_membrane_potential_per_channel(shape, kw):
    node = MPBNLIFNode(v_threshold=100.0, **{kw: 3})
    x = 3.0 + 2.0 * torch.randn(shape)
    node(x)  # no spike: V = BN(H) with gamma = 1, beta = 0 in training mode
    dims = [d for d in range(len(shape)) if d != 1]
    torch.testing.assert_close(node.v.mean(dims), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(node.v.var(dims, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)


def _trained_mpbn(**kwargs):
    torch.manual_seed(0)
    node = MPBNLIFNode(out_features=4, step_mode="m", **kwargs)
    for _ in range(5):  # accumulate running statistics
        node(1.0 + torch.randn(6, 32, 4))
        node.reset()
    with torch.no_grad():
        node.vbn.weight.copy_(torch.tensor([0.5, 1.0, 1.5, 2.0]))
        node.vbn.bias.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
    return node.eval()


def test_folding_bn_into_the_threshold_reproduces_the_unfolded_neuron():
    node = _trained_mpbn()
    folded = copy.deepcopy(node)
    folded.re_parameterize_v_threshold(normalize_residual=True)
    assert folded.fold_bn and isinstance(folded.vbn, torch.nn.Identity)
    x = 1.0 + torch.randn(7, 20, 4)
    with torch.no_grad():
        out, out_folded = node(x), folded(x)
    assert out.sum() > 0
    torch.testing.assert_close(out_folded, out)
    torch.testing.assert_close(folded.v, node.v, atol=1e-5, rtol=1e-5)


def test_folded_threshold_formula():
    node = _trained_mpbn()
    bn = node.vbn
    node.re_parameterize_v_threshold()
    h = torch.zeros(1, 4)
    expected = (1.0 - bn.bias) * torch.sqrt(bn.running_var + bn.eps) / bn.weight + bn.running_mean
    torch.testing.assert_close(node.threshold(h).flatten(), expected.detach())


def test_test_time_adaptation_re_estimates_statistics_with_decaying_momentum():
    node = _trained_mpbn()
    node.re_parameterize_v_threshold(running_stats=True)
    node.train()
    mu0, var0 = node.mu.clone(), node.sigma2.clone()
    x = torch.randn(1, 50, 4) * 3.0
    node(x)
    h = x[0]  # the LIF charge from V = 0 without input decay: H = X
    torch.testing.assert_close(node.mu, 0.9 * mu0 + 0.1 * h.mean(0))
    torch.testing.assert_close(node.sigma2, 0.9 * var0 + 0.1 * h.var(0, unbiased=True))
    assert node.bn_momentum == pytest.approx(0.1 * 0.94)


def test_learnable_threshold_is_positive_and_gets_gradients():
    node = MPBNLIFNode(out_channels=2, learnable_vth=True, step_mode="m")
    x = torch.randn(3, 4, 2, 3, 3, requires_grad=True)
    node(x).sum().backward()
    assert node.a.grad is not None and node.a.grad.abs().sum() > 0
    assert node.vbn.weight.grad.abs().sum() > 0 and torch.isfinite(x.grad).all()
    node.re_parameterize_v_threshold()
    assert not hasattr(node, "a") and torch.equal(node.v_threshold, torch.ones(2))


def test_mpbn_checks_its_arguments_and_inputs():
    with pytest.raises(ValueError, match="exactly one"):
        MPBNLIFNode()
    with pytest.raises(ValueError, match="exactly one"):
        MPBNLIFNode(out_features=3, out_channels=3)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\] with C=3"):
        MPBNLIFNode(out_channels=3)(torch.rand(2, 3))
    with pytest.raises(ValueError, match=r"\[N, C\] with C=3"):
        MPBNLIFNode(out_features=3)(torch.rand(2, 4))


# ---------------------------------------------------------------- DSR


def test_dsr_if_rate_represents_the_clamped_mean_input():
    T = 40
    node = DSRIFNode(T=T, v_threshold=2.0, alpha=0.5)
    c = torch.tensor([-0.5, 0.0, 0.37, 1.2, 1.99, 3.0])
    rate = node(c.expand(T, 6).contiguous()).mean(0)
    # the residual potential stays in [alpha V_th - V_th, alpha V_th): |rate - r| <= V_th / (2T)
    expected = c.clamp(0.0, 2.0)
    assert (rate - expected).abs().max() <= 2.0 / (2 * T) + 1e-6


def test_dsr_if_spikes_have_the_threshold_as_size():
    node = DSRIFNode(T=3, v_threshold=2.0, alpha=0.5)
    out = node(torch.tensor([[1.0], [0.5], [1.5]]))
    torch.testing.assert_close(out.flatten(), torch.tensor([2.0, 0.0, 2.0]))


def test_dsr_if_gradient_is_that_of_the_clamp_representation():
    T = 4
    node = DSRIFNode(T=T, v_threshold=1.0, v_threshold_grad_scaling=0.5)
    x = torch.tensor([[-1.0, 0.2, 0.9, 2.0]]).repeat(T, 1)
    x = (x + 0.05 * torch.randn(T, 4)).requires_grad_()
    g = torch.randn(T, 4)
    (node(x) * g).sum().backward()
    # y_rep = clamp(mean_t x, 0, V_th) seen by every step: dL/dx[t] = 1[0<r<V_th] sum_t g / T
    r = x.detach().mean(0)
    inside = ((r > 0) & (r < 1.0)).float()
    torch.testing.assert_close(x.grad, (inside * g.sum(0) / T).expand(T, 4))
    # dL/dV_th = sum over saturated elements (r > V_th) of sum_t g, times the scaling
    torch.testing.assert_close(node.v_threshold.grad, 0.5 * (g.sum(0) * (r > 1.0)).sum())


def test_dsr_lif_rate_represents_input_over_tau():
    T, tau, dt = 400, 2.0, 0.05
    node = DSRLIFNode(T=T, v_threshold=1.0, tau=tau, delta_t=dt, alpha=0.3)
    x = torch.tensor([0.0, 4.0, 10.0, 20.0, 100.0])
    rate = node(x.expand(T, 5).contiguous()).mean(0)
    expected = (x / tau).clamp(0.0, 1.0 / dt)
    torch.testing.assert_close(rate, expected, atol=0.6, rtol=0.05)
    assert set(node(x.expand(T, 5).contiguous()).unique().tolist()) <= {0.0, 1.0 / dt}


def test_dsr_lif_gradient_by_hand_for_two_steps():
    tau, dt = 2.0, 0.5
    node = DSRLIFNode(T=2, v_threshold=1.0, tau=tau, delta_t=dt, v_threshold_lower_bound=0.1)
    # weights exp(-(T - t) dt / tau) for t = 1, 2: exp(-0.25), 1 -> normalised
    w1 = torch.exp(torch.tensor(-0.25))
    w = torch.stack([w1, torch.tensor(1.0)]) / (w1 + 1)
    x = torch.tensor([[1.0, 9.0], [2.0, 7.0]], requires_grad=True)  # r = (~1.53, ~7.88)
    g = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    (node(x) * g).sum().backward()
    r = (w[:, None] * x.detach()).sum(0)
    g_rep = (w[:, None] * g).sum(0) * 2
    upper = 1.0 / dt * tau  # 4.0: element 0 inside, element 1 saturated
    assert r[0] < upper < r[1]
    expected_x = torch.stack([g_rep[0] / tau / 2, torch.tensor(0.0)]).expand(2, 2)
    torch.testing.assert_close(x.grad, expected_x)
    torch.testing.assert_close(node.v_threshold.grad, g_rep[1] * dt)


def test_dsr_threshold_is_clamped_and_optionally_fixed():
    node = DSRIFNode(T=2, v_threshold=1.0, v_threshold_lower_bound=0.5)
    with torch.no_grad():
        node.v_threshold.fill_(0.1)
    out = node(torch.tensor([[0.6], [0.0]]))
    torch.testing.assert_close(out.flatten(), torch.tensor([0.5, 0.0]))
    fixed = DSRLIFNode(T=2, v_threshold_training=False)
    assert list(fixed.parameters()) == [] and "v_threshold" not in fixed.state_dict()


def test_dsr_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="T=5"):
        DSRIFNode(T=5)(torch.rand(4, 3))
    with pytest.raises(ValueError, match="alpha"):
        DSRIFNode(alpha=1.5)
    with pytest.raises(ValueError, match="v_threshold_lower_bound"):
        DSRLIFNode(v_threshold=0.05)
    with pytest.raises(ValueError, match="step_mode"):
        DSRLIFNode(step_mode="s")
