"""Few-Spikes neurons: FewSpikeTable, FewSpikeNode, OutlierAwareThresholdNode, HGNode."""

import pytest
import torch
from snn_core import functional, surrogate
from snn_neurons import FewSpikeNode, FewSpikeTable, HGNode, OutlierAwareThresholdNode

K = 4


def _binary(scale=1.0):
    """theta_k = h_k = d_k = scale 2^-k: the FS neuron codes x in [0, scale) in binary."""
    w = [scale * 2.0 ** -(k + 1) for k in range(K)]
    return FewSpikeTable(theta=w, h=w, d=w)


def _truncate(x, scale=1.0):
    """Closed form of the binary table: scale * floor(2^K x / scale) / 2^K, capped."""
    return scale * torch.clamp(torch.floor(x / scale * 2**K), 0, 2**K - 1) / 2**K


def _grid(n=7, lo=0.03, hi=0.97):
    # values away from the binary grid points, where the floor is unambiguous
    return torch.linspace(lo, hi, n, dtype=torch.float64) + 1e-3


def test_table_checks_its_arguments():
    table = FewSpikeTable(theta=[0.5, 0.25], h=[0.5, 0.25], d=[1, 2])
    assert table.K == 2 and table.d.dtype == torch.get_default_dtype()
    with pytest.raises(ValueError, match="non-empty"):
        FewSpikeTable(theta=[], h=[], d=[])
    with pytest.raises(ValueError, match="same length"):
        FewSpikeTable(theta=[1.0, 2.0], h=[1.0], d=[1.0, 2.0])
    with pytest.raises(ValueError, match="1-D"):
        FewSpikeTable(theta=[[1.0]], h=[[1.0]], d=[[1.0]])
    with pytest.raises(ValueError, match="finite"):
        FewSpikeTable(theta=[float("nan")], h=[1.0], d=[1.0])
    with pytest.raises(TypeError, match="real"):
        FewSpikeTable(theta=torch.tensor([1j]), h=[1.0], d=[1.0])


def test_binary_table_codes_the_truncated_binary_expansion():
    node = FewSpikeNode(_binary(), surrogate.DeterministicPass()).double()
    x = _grid()
    torch.testing.assert_close(node(x), _truncate(x))
    assert node(torch.tensor([1.7], dtype=torch.float64)).item() == pytest.approx(15 / 16)


def test_multi_step_sums_the_input_and_returns_the_k_weighted_spikes():
    node = FewSpikeNode(_binary(), surrogate.DeterministicPass(), step_mode="m").double()
    x = _grid(6).reshape(2, 3)
    parts = torch.stack([x * 0.1, x * 0.2, x * 0.3, x * 0.4])  # sums to x
    out = node(parts)
    assert out.shape == (K, 2, 3)
    torch.testing.assert_close(out.sum(0), _truncate(x))
    weights = torch.tensor([2.0 ** -(k + 1) for k in range(K)], dtype=torch.float64)
    spikes = out / weights.view(K, 1, 1)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="K=4"):
        node(torch.rand(3, 2))
    with pytest.raises(TypeError, match="floating-point"):
        node(torch.ones(4, 2, dtype=torch.int64))


def _st_reference(x, theta, h, d):
    """Float64 FS with heaviside forward and sigmoid(4 x)' backward."""
    v, y = x, torch.zeros_like(x)
    for t, hk, dk in zip(theta, h, d):
        g = torch.sigmoid(4.0 * (v - t))
        z = (v - t >= 0).to(x.dtype) + g - g.detach()
        y = y + dk * z
        v = v - hk * z
    return y


def test_few_spike_gradient_matches_float64_autograd_and_is_stateless():
    table = FewSpikeTable(theta=[0.25, 0.5, 0.75], h=[0.2, 0.3, 0.4], d=[1.0, 2.0, 4.0])
    node = FewSpikeNode(table).double()
    assert node.theta.dtype == torch.float64
    torch.manual_seed(0)
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out, ref = node(x), _st_reference(x_ref, node.theta, node.h, node.d)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(node(x), out)  # no state between calls
    (out * x.detach()).sum().backward()
    (ref * x.detach()).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    assert not hasattr(node, "reset")
    functional.set_step_mode(node, "m")
    assert node.step_mode == "m"
    assert node.surrogate_function is not FewSpikeNode(table).surrogate_function


def test_outlier_aware_node_splits_by_magnitude_and_restores_the_sign():
    # normal magnitudes <= 1 use the binary table over [0, 1); outliers the one over [0, 4)
    node = OutlierAwareThresholdNode(
        _binary(),
        _binary(4.0),
        split_threshold=1.0,
        clamp_value=3.0,
        surrogate_function=surrogate.DeterministicPass(),
    ).double()
    x = torch.tensor([-5.0, -2.3, -0.61, 0.0, 0.37, 0.9, 1.3, 2.9], dtype=torch.float64)
    m = x.clamp(-3, 3).abs()
    expected = torch.sign(x) * torch.where(m <= 1.0, _truncate(m), _truncate(m, 4.0))
    torch.testing.assert_close(node(x), expected)
    node.step_mode = "m"
    out = node(torch.stack([x / 4] * 4))
    assert out.shape == (K, 8)
    torch.testing.assert_close(out.sum(0), expected)


def test_outlier_aware_node_checks_arguments_and_aligns_dtypes():
    normal = FewSpikeTable(
        theta=torch.tensor([0.5, 0.25], dtype=torch.float64), h=[0.5, 0.25], d=[1.0, 2.0]
    )
    outlier = FewSpikeTable(theta=[1.0, 0.5], h=[1.0, 0.5], d=[4.0, 8.0])
    node = OutlierAwareThresholdNode(normal, outlier, split_threshold=0.5)
    assert node.outlier_theta.dtype == node.theta.dtype == torch.float64
    with pytest.raises(ValueError, match="K must be 2"):
        OutlierAwareThresholdNode(normal, _binary(), split_threshold=0.5)
    with pytest.raises(TypeError, match="table must be FewSpikeTable"):
        OutlierAwareThresholdNode(torch.ones(2), outlier, split_threshold=0.5)
    with pytest.raises(ValueError, match="finite non-negative"):
        OutlierAwareThresholdNode(normal, outlier, split_threshold=-1.0)
    with pytest.raises(ValueError, match="finite and positive"):
        OutlierAwareThresholdNode(normal, outlier, split_threshold=0.5, clamp_value=float("inf"))
    with pytest.raises(ValueError, match="no smaller than split_threshold"):
        OutlierAwareThresholdNode(normal, outlier, split_threshold=2.0, clamp_value=1.0)


def test_hg_node_routes_each_value_to_its_region_table():
    # regions: x <= -1 -> scale 0.5; -1 < x <= 1 -> scale 2; x > 1 -> scale 8
    node = HGNode(
        [_binary(0.5), _binary(2.0), _binary(8.0)],
        gate_thresholds=[-1.0, 1.0],
        surrogate_function=surrogate.DeterministicPass(),
    ).double()
    x = torch.tensor([-2.0, -1.0, -0.3, 0.45, 1.0, 1.01, 5.3], dtype=torch.float64)
    expected = torch.where(
        x <= -1.0, _truncate(x, 0.5), torch.where(x <= 1.0, _truncate(x, 2.0), _truncate(x, 8.0))
    )
    torch.testing.assert_close(node(x), expected)
    assert node.K == K
    assert set(node.state_dict()) == {"region_theta", "region_h", "region_d", "gate_thresholds"}
    single = HGNode(
        [_binary()], gate_thresholds=[], surrogate_function=surrogate.DeterministicPass()
    )
    torch.testing.assert_close(single(x.float()), _truncate(x).float())


def test_hg_node_checks_its_arguments():
    with pytest.raises(ValueError, match="at least one"):
        HGNode([], gate_thresholds=[])
    with pytest.raises(ValueError, match="len\\(tables\\) - 1"):
        HGNode([_binary(), _binary()], gate_thresholds=[0.0, 1.0])
    with pytest.raises(ValueError, match="K must be 4"):
        HGNode([_binary(), FewSpikeTable([1.0], [1.0], [1.0])], gate_thresholds=[0.0])
    with pytest.raises(ValueError, match="finite"):
        HGNode([_binary(), _binary()], gate_thresholds=[float("nan")])
    with pytest.raises(ValueError, match="strictly increasing"):
        HGNode([_binary()] * 3, gate_thresholds=[1.0, 0.0])
    with pytest.raises(TypeError, match="tables\\[1\\]"):
        HGNode([_binary(), "table"], gate_thresholds=[0.0])


def test_routed_nodes_backpropagate_through_the_selected_table():
    # the routed output and its gradient equal those of the selected plain FS neuron
    low = FewSpikeTable(theta=[0.2, 0.4], h=[0.2, 0.3], d=[1.0, 2.0])
    high = FewSpikeTable(theta=[0.9, 1.5], h=[0.5, 0.7], d=[3.0, 5.0])
    torch.manual_seed(0)
    x = (2 * torch.randn(10, dtype=torch.float64)).requires_grad_()
    hg = HGNode([low, high], gate_thresholds=[0.5]).double()
    plain = [FewSpikeNode(t).double() for t in (low, high)]
    ref = torch.where(x <= 0.5, plain[0](x), plain[1](x))
    out = hg(x)
    torch.testing.assert_close(out, ref)
    w = torch.randn(10, dtype=torch.float64)
    g = torch.autograd.grad((out * w).sum(), x)[0]
    g_ref = torch.autograd.grad((ref * w).sum(), x)[0]
    torch.testing.assert_close(g, g_ref)

    oat = OutlierAwareThresholdNode(low, high, split_threshold=1.0).double()
    m = x.abs()
    ref = torch.sign(x).detach() * torch.where(m <= 1.0, plain[0](m), plain[1](m))
    out = oat(x)
    torch.testing.assert_close(out, ref)
    g = torch.autograd.grad((out * w).sum(), x)[0]
    g_ref = torch.autograd.grad((ref * w).sum(), x)[0]
    torch.testing.assert_close(g, g_ref)
