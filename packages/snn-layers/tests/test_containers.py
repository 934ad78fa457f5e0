"""Containers, including the reference documentation's worked examples."""

from __future__ import annotations

import pytest
import snn_layers as L
import torch
from snn_core import functional
from snn_neurons import IFNode, LIFNode
from torch import nn

T, N = 4, 3


def _lif_reference(x_seq: torch.Tensor, tau: float = 2.0) -> torch.Tensor:
    """Hand-written LIF (decay_input, hard reset to 0, threshold 1, spike at h >= 1)."""
    v = torch.zeros_like(x_seq[0])
    out = []
    for x in x_seq:
        h = v + (x - v) / tau
        s = (h >= 1.0).to(x.dtype)
        v = h * (1 - s)
        out.append(s)
    return torch.stack(out)


def test_multi_step_container_loops_children_over_time():
    torch.manual_seed(0)
    lin = nn.Linear(5, 4)
    net = L.MultiStepContainer(lin, LIFNode())
    x = torch.randn(T, N, 5) * 3
    y = net(x)
    ref = _lif_reference(torch.stack([lin(x[t]) for t in range(T)]))
    torch.testing.assert_close(y, ref)
    assert net.step_mode == "m" and y.shape == (T, N, 4)


def test_seq_to_ann_container_folds_time_into_batch():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)
    net = L.SeqToANNContainer(conv, bn)
    x = torch.randn(T, N, 2, 5, 5)
    y = net(x)
    ref = bn(conv(x.reshape(T * N, 2, 5, 5))).reshape(T, N, 3, 3, 3)
    torch.testing.assert_close(y, ref)
    # batch norm statistics cover all T*N samples
    torch.testing.assert_close(y.mean(dim=(0, 1, 3, 4)), torch.zeros(3), atol=1e-6, rtol=0)


def test_t_last_containers_take_time_last_data():
    torch.manual_seed(0)
    conv = nn.Conv1d(2, 3, 3)
    x4 = torch.randn(N, 2, 6, T)  # [N, C, L, T]
    y = L.TLastSeqToANNContainer(conv, nn.Flatten())(x4)
    ref = torch.stack([conv(x4[..., t]).flatten(1) for t in range(T)], dim=-1)
    torch.testing.assert_close(y, ref)
    assert y.shape == (N, 3 * 4, T)

    x = torch.rand(N, 7, T) * 1.5  # [N, C, T]
    out = L.TLastMultiStepContainer(IFNode())(x)
    v, spikes = torch.zeros(N, 7), []
    for t in range(T):  # IF neuron by hand: v += x, spike at v >= 1, hard reset to 0
        v = v + x[..., t]
        s = (v >= 1).float()
        v = v * (1 - s)
        spikes.append(s)
    torch.testing.assert_close(out, torch.stack(spikes, dim=-1))


@pytest.mark.parametrize("stateful", [True, False])
def test_step_mode_container_in_both_modes(stateful):
    torch.manual_seed(0)
    mods = [nn.Linear(5, 4), LIFNode()] if stateful else [nn.Linear(5, 4), nn.ReLU()]
    net = L.StepModeContainer(stateful, *mods)
    x = torch.randn(T, N, 5) * 3
    y_s = torch.stack([net(x[t]) for t in range(T)])
    functional.reset_net(net)
    net.step_mode = "m"
    y_m = net(x)
    torch.testing.assert_close(y_m, y_s)
    assert ("stateful=" + str(stateful)) in repr(net)


def test_set_step_mode_keeps_container_children_single_step():
    inner = LIFNode()
    net = nn.Sequential(L.StepModeContainer(True, nn.Linear(3, 3), inner), L.Linear(3, 2))
    functional.set_step_mode(net, "m")
    assert net[0].step_mode == "m" and net[1].step_mode == "m"
    assert inner.step_mode == "s"
    assert net(torch.randn(T, N, 3)).shape == (T, N, 2)


def test_containers_refuse_multi_step_children():
    with pytest.raises(ValueError, match=r"single-step mode.*step_mode='m'"):
        L.MultiStepContainer(nn.Linear(3, 3), LIFNode(step_mode="m"))
    with pytest.raises(ValueError, match=r"0 \(Conv2d, step_mode='m'\)"):
        L.SeqToANNContainer(L.Conv2d(1, 1, 1, step_mode="m"))
    with pytest.raises(ValueError, match="single-step"):
        L.ElementWiseRecurrentContainer(LIFNode(step_mode="m"), lambda a, b: a + b)
    with pytest.raises(ValueError, match="single-step"):
        L.LinearRecurrentContainer(nn.Sequential(LIFNode(step_mode="m")), 2, 2)
    with pytest.raises(TypeError, match="stateful must be a bool"):
        L.StepModeContainer(nn.Linear(2, 2))


def test_multi_step_containers_refuse_single_step_input():
    with pytest.raises(ValueError, match=r"\[T, N, \*\]"):
        L.SeqToANNContainer(nn.ReLU())(torch.randn(5))
    with pytest.raises(ValueError, match="step_mode"):
        functional.set_step_mode(L.MultiStepContainer(nn.ReLU()), "s")


# ---------------------------------------------------------------- recurrent containers
def test_element_wise_recurrent_container_reference_example():
    """The reference docs' example: IF neuron (soft reset), f = x + y, x[0] = 1.5.

    By hand: t=0: v = 1.5 -> spike, v = 0.5. Each later step gets x[t] + y[t-1] = 0 + 1,
    so v = 1.5 again -> spike. Output: a spike at every step.
    """
    net = L.ElementWiseRecurrentContainer(
        IFNode(v_reset=None), element_wise_function=lambda x, y: x + y
    )
    x = torch.zeros([8])
    x[0] = 1.5
    out = torch.stack([net(x[t]) for t in range(8)])
    torch.testing.assert_close(out, torch.ones(8))
    # without the recurrence the same neuron fires at t=0 only
    lone = IFNode(v_reset=None)
    assert [lone(x[t]).item() for t in range(3)] == [1.0, 0.0, 0.0]
    functional.reset_net(net)
    assert net.y is None and net.sub_module.v == 0.0


def test_element_wise_recurrent_container_general_function_and_multi_step():
    torch.manual_seed(0)
    f = lambda y, x: x - 0.5 * y  # noqa: E731  (asymmetric: argument order matters)
    x = torch.rand(T, N, 4) * 2
    net = L.ElementWiseRecurrentContainer(LIFNode(), f, step_mode="m")
    y = net(x)
    # reference: y[t] = LIF(x[t] - 0.5 y[t-1])
    lif, y_prev, ref = LIFNode(), torch.zeros(N, 4), []
    for t in range(T):
        y_prev = lif(x[t] - 0.5 * y_prev)
        ref.append(y_prev)
    torch.testing.assert_close(y, torch.stack(ref))


def test_linear_recurrent_container_reference_example():
    """The reference docs' example (in_features=4, out_features=2, T=8, N=2) against a
    hand-written recurrence with the same weights."""
    torch.manual_seed(0)
    in_features, out_features, T8, N2 = 4, 2, 8, 2
    net = L.LinearRecurrentContainer(
        nn.Sequential(nn.Linear(in_features, out_features), LIFNode()), in_features, out_features
    )
    assert net.rc.weight.shape == (in_features, in_features + out_features)
    x = torch.rand([T8, N2, in_features]) * 4
    out = torch.stack([net(x[t]) for t in range(T8)])
    W, b = net.rc.weight.detach(), net.rc.bias.detach()
    lin = net.sub_module[0]
    y, v, ref = torch.zeros(N2, out_features), torch.zeros(N2, out_features), []
    for t in range(T8):
        i = x[t] @ W[:, :in_features].T + y @ W[:, in_features:].T + b
        h = v + (lin(i).detach() - v) / 2.0
        y = (h >= 1).float()
        v = h * (1 - y)
        ref.append(y)
    torch.testing.assert_close(out.detach(), torch.stack(ref))
    assert out.shape == (T8, N2, out_features)
    functional.reset_net(net)
    assert net.y is None


def test_linear_recurrent_container_tokens_and_gradient():
    torch.manual_seed(1)
    net = L.LinearRecurrentContainer(nn.Tanh(), 3, 3, bias=False, step_mode="m").double()
    x = torch.randn(T, N, 5, 3, dtype=torch.float64, requires_grad=True)
    y = net(x)
    assert y.shape == (T, N, 5, 3)
    W = net.rc.weight
    # float64 autograd of the hand-written recurrence
    x2 = x.detach().clone().requires_grad_()
    y_prev, ref = torch.zeros(N, 5, 3, dtype=torch.float64), []
    for t in range(T):
        y_prev = torch.tanh(torch.cat((x2[t], y_prev), -1) @ W.T)
        ref.append(y_prev)
    ref = torch.stack(ref)
    torch.testing.assert_close(y, ref)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)


def test_recurrent_containers_bad_inputs():
    net = L.LinearRecurrentContainer(nn.Linear(4, 2), 4, 2)
    with pytest.raises(ValueError, match=r"in_features=4"):
        net(torch.randn(N, 3))
    with pytest.raises(ValueError, match="out_features=2"):
        L.LinearRecurrentContainer(nn.Linear(4, 3), 4, 2)(torch.randn(N, 4))
    net(torch.randn(N, 4))
    with pytest.raises(ValueError, match="reset"):
        net(torch.randn(N + 1, 4))
    ew = L.ElementWiseRecurrentContainer(nn.Linear(4, 2), lambda y, x: x + y)
    with pytest.raises(ValueError, match="input's shape"):
        ew(torch.randn(N, 4))
    with pytest.raises(TypeError, match="callable"):
        L.ElementWiseRecurrentContainer(nn.ReLU(), 3)
