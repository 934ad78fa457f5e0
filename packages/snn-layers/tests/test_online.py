"""Online training through time (OTTT): gradient routing and a real training run."""

from __future__ import annotations

import pytest
import snn_layers as L
import torch
import torch.nn.functional as F
from snn_core import functional
from snn_core.functional.online import ottt_online_training
from snn_neurons import OTTTLIFNode
from torch import nn


def test_replace_for_grad_takes_value_of_second_and_routes_gradient_to_both():
    x = torch.randn(3, 4, requires_grad=True)
    x_r = torch.randn(3, 4, requires_grad=True)
    y = L.ReplaceforGrad.apply(x, x_r)
    assert torch.equal(y, x_r)
    g = torch.randn(3, 4)
    y.backward(g)
    assert torch.equal(x.grad, g) and torch.equal(x_r.grad, g)
    with pytest.raises(ValueError, match="same shape"):
        L.ReplaceforGrad.apply(x, torch.randn(4, 3))


def test_grad_with_trace_uses_spike_for_value_and_trace_for_weight_gradient():
    torch.manual_seed(0)
    lin = nn.Linear(5, 3).double()
    spike = (torch.rand(4, 5) > 0.5).double().requires_grad_()
    trace = torch.rand(4, 5, dtype=torch.float64) * 2
    y = L.GradwithTrace(lin)([spike, trace])
    torch.testing.assert_close(y, spike @ lin.weight.T + lin.bias)
    g = torch.randn(4, 3, dtype=torch.float64)
    y.backward(g)
    torch.testing.assert_close(lin.weight.grad, g.T @ trace)  # OTTT: dW = delta a^T
    torch.testing.assert_close(lin.bias.grad, g.sum(0))
    torch.testing.assert_close(spike.grad, g @ lin.weight.detach())


def test_spike_trace_op_applies_module_to_both():
    pool = nn.AvgPool1d(2)
    spike = torch.rand(2, 3, 4, requires_grad=True)
    trace = torch.rand(2, 3, 4, requires_grad=True)
    out_s, out_t = L.SpikeTraceOp(pool)([spike, trace])
    torch.testing.assert_close(out_s, pool(spike))
    torch.testing.assert_close(out_t, pool(trace))
    assert out_s.requires_grad and not out_t.requires_grad


def test_spike_trace_op_shares_a_dropout_mask_between_spike_and_trace():
    torch.manual_seed(1)
    drop = L.Dropout(0.5)
    out_s, out_t = L.SpikeTraceOp(drop)([torch.ones(4, 10), torch.full((4, 10), 3.0)])
    torch.testing.assert_close(out_t, 3.0 * out_s)


def test_online_modules_refuse_other_inputs():
    with pytest.raises(TypeError, match=r"\[spike, trace\]"):
        L.GradwithTrace(nn.Linear(2, 2))(torch.randn(2, 2))
    with pytest.raises(ValueError, match="same shape"):
        L.SpikeTraceOp(nn.ReLU())([torch.randn(2, 2), torch.randn(2, 3)])
    with pytest.raises(TypeError, match="module must be"):
        L.GradwithTrace(lambda x: x)


def test_ottt_sequential_weight_gradient_is_delta_times_presynaptic_trace():
    """Two steps through Linear -> OTTT LIF -> Linear; the second layer's gradient at step 2
    must be dL/dy[2]^T a[2] with a[2] = (1 - 1/tau) s[1] + s[2], the neuron's trace."""
    torch.manual_seed(2)
    tau = 2.0
    net = L.OTTTSequential(nn.Linear(4, 6), OTTTLIFNode(tau=tau), nn.Linear(6, 3)).double()
    with torch.no_grad():
        net[0].weight.uniform_(-0.5, 1.0)
    x = torch.rand(2, 5, 4, dtype=torch.float64) * 2  # [T, N, in]
    net(x[0])
    s1 = net[1].trace.clone()  # trace after step 1 equals s[1]
    net.zero_grad()
    y2 = net(x[1])
    g = torch.randn_like(y2)
    (y2 * g).sum().backward()
    a2 = net[1].trace
    s2 = a2 - (1 - 1 / tau) * s1
    assert set(s2.unique().tolist()) == {0.0, 1.0} and s1.sum() > 0
    W2, b2 = net[2].weight, net[2].bias
    torch.testing.assert_close(y2, s2 @ W2.detach().T + b2.detach())  # value from the spike
    torch.testing.assert_close(W2.grad, g.T @ a2)  # gradient from the trace
    # evaluation: the neuron emits plain spikes and the container is a Sequential
    net.eval()
    functional.reset_net(net)
    ref = nn.Sequential(*net)
    out = net(x[0])
    functional.reset_net(net)
    torch.testing.assert_close(out, ref(x[0]))


def _toy_problem(gen: torch.Generator, B: int, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of Bernoulli spike trains: class 0 fires on the first half of the inputs,
    class 1 on the second half."""
    labels = torch.randint(0, 2, (B,), generator=gen)
    rates = torch.full((B, 8), 0.1)
    rates[labels == 0, :4] = 0.8
    rates[labels == 1, 4:] = 0.8
    x = (torch.rand((B, T, 8), generator=gen) < rates[:, None]).float()
    return x, labels[:, None].expand(B, T).contiguous()


def test_small_network_trains_with_ottt_online_training():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    T = 4
    net = L.OTTTSequential(nn.Linear(8, 16), OTTTLIFNode(), nn.Linear(16, 2))
    with torch.no_grad():
        net[2].weight.mul_(0.1)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    x_test, y_test = _toy_problem(gen, 64, T)

    def test_loss() -> float:
        net.eval()
        functional.reset_net(net)
        out = torch.stack([net(x_test[:, t]) for t in range(T)], 1)
        functional.reset_net(net)
        net.train()
        return F.cross_entropy(out.mean(1), y_test[:, 0]).item()

    before = test_loss()
    for _ in range(25):
        x, y = _toy_problem(gen, 32, T)
        functional.reset_net(net)
        loss, out = ottt_online_training(net, opt, x, y, F.cross_entropy, online=True)
        assert out.shape == (32, T, 2)
    after = test_loss()
    assert after < 0.5 * before, (before, after)
    net.eval()
    functional.reset_net(net)
    pred = torch.stack([net(x_test[:, t]) for t in range(T)], 1).mean(1).argmax(1)
    assert (pred == y_test[:, 0]).float().mean() > 0.9
