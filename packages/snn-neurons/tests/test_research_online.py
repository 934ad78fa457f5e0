"""OTTT and SLTT LIF neurons: online semantics, traces, and training with them."""

import pytest
import torch
from snn_core import functional
from snn_neurons import LIFNode, OTTTLIFNode, SLTTLIFNode
from torch import nn


def test_ottt_returns_spike_and_trace_in_training_and_spike_in_eval():
    node = OTTTLIFNode(tau=2.0)
    x = torch.tensor([[1.2, 0.3, 2.5]])
    trace_ref = torch.zeros(1, 3)
    for _ in range(4):
        spike, trace = node(x)
        trace_ref = trace_ref * (1 - 1 / 2.0) + spike
        torch.testing.assert_close(trace, trace_ref)
        assert not trace.requires_grad
    node.eval()
    assert isinstance(node(x), torch.Tensor)
    node.reset()
    assert node.trace is None and node.v == 0.0  # 2.0.0: no trace until a training step


@pytest.mark.parametrize("cls", [OTTTLIFNode, SLTTLIFNode])
def test_online_neurons_in_eval_are_plain_lif(cls):
    online = cls().eval()
    lif = LIFNode(
        tau=online.tau,
        decay_input=online.decay_input,
        v_reset=online.v_reset,
    )
    x = 1.5 * torch.rand(6, 3, 4)
    out = torch.stack([online(x[t]) for t in range(6)])
    torch.testing.assert_close(out, torch.stack([lif(x[t]) for t in range(6)]))
    torch.testing.assert_close(online.v, lif.v)


@pytest.mark.parametrize("cls", [OTTTLIFNode, SLTTLIFNode])
def test_training_gradient_has_no_temporal_path(cls):
    node = cls()
    x0 = torch.full((1, 2), 0.8, requires_grad=True)
    x1 = torch.full((1, 2), 0.8, requires_grad=True)
    node(x0)
    out = node(x1)
    spike = out[0] if isinstance(out, list) else out
    spike.sum().backward()
    assert x0.grad is None and x1.grad.abs().sum() > 0
    # the same inputs through a LIF neuron do carry a gradient back to x0
    lif = LIFNode(tau=node.tau, decay_input=node.decay_input, v_reset=node.v_reset)
    y0 = x0.detach().clone().requires_grad_()
    lif(y0)
    lif(x1.detach()).sum().backward()
    assert y0.grad.abs().sum() > 0


def test_online_neurons_are_single_step_torch_only():
    with pytest.raises(ValueError, match="step_mode"):
        OTTTLIFNode(step_mode="m")
    with pytest.raises(ValueError, match="backend"):
        SLTTLIFNode(backend="triton")
    assert OTTTLIFNode().supported_backends == ("torch",)


class _TraceFn(torch.autograd.Function):
    """OTTT_A's readout: forward ``S W^T + b``; the weight gradient uses the trace ``a``."""

    @staticmethod
    def forward(ctx, spike, trace, weight, bias):
        ctx.save_for_backward(trace, weight)
        return spike @ weight.t() + bias

    @staticmethod
    def backward(ctx, grad):
        trace, weight = ctx.saved_tensors
        return grad @ weight, None, grad.t() @ trace, grad.sum(0)


class _TraceLinear(nn.Linear):
    def forward(self, x):
        if isinstance(x, list):
            return _TraceFn.apply(x[0], x[1], self.weight, self.bias)
        return super().forward(x)


def _data(T=4, B=64, D=6):
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 2, (B,), generator=g)
    centers = torch.randn(2, D, generator=g) * 1.5
    x = centers[y] + 0.7 * torch.randn(B, D, generator=g)
    return x[:, None].expand(B, T, D).contiguous(), y[:, None].expand(B, T).contiguous()


@pytest.mark.parametrize("cls", [OTTTLIFNode, SLTTLIFNode])
def test_online_training_with_the_neuron_lowers_the_loss(cls):
    torch.manual_seed(0)
    readout = _TraceLinear(16, 2) if cls is OTTTLIFNode else nn.Linear(16, 2)
    model = nn.Sequential(nn.Linear(6, 16), cls(), readout)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    x_seq, target = _data()
    losses = []
    for _ in range(25):
        loss, y = functional.ottt_online_training(
            model, optimizer, x_seq, target, nn.functional.cross_entropy, online=False
        )
        functional.reset_net(model)
        losses.append(loss.item())
    assert y.shape == (64, 4, 2)
    assert sum(losses[-3:]) < 0.6 * sum(losses[:3])
    model.eval()
    with torch.no_grad():
        logits = sum(model(x_seq[:, t]) for t in range(4))
    functional.reset_net(model)
    assert (logits.argmax(1) == target[:, 0]).float().mean() > 0.8
