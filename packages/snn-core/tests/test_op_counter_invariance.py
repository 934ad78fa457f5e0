"""Counting changes nothing: outputs, neuron states and BN statistics are identical with and
without a counting context, under torch.no_grad or with autograd, in both step modes."""

import pytest
import torch
from snn_core import functional
from snn_core import op_counter as oc
from snn_core.base import MemoryModule
from torch import nn


class ToyLIF(MemoryModule):
    """LIF on snn_core only: H = V + (X - V)/2, S = H >= 1, V = H (1 - S)."""

    supported_backends = ("torch",)

    def __init__(self, step_mode="s"):
        super().__init__()
        self.register_memory("v", 0.0)
        self.step_mode = step_mode

    def neuronal_charge(self, x):
        self.v = self.v + (x - self.v) / 2.0

    def single_step_forward(self, x):
        if not torch.is_tensor(self.v):
            self.v = torch.zeros_like(x)
        self.neuronal_charge(x)
        spike = (self.v >= 1.0).to(x.dtype)
        self.v = self.v * (1.0 - spike)
        return spike


class Net(nn.Module):
    def __init__(self, step_mode):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.lif = ToyLIF(step_mode)
        self.fc = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x_seq):
        t, b = x_seq.shape[:2]
        y = self.bn(self.conv(x_seq.flatten(0, 1))).unflatten(0, (t, b))
        if self.lif.step_mode == "m":
            s = self.lif(y)
        else:
            s = torch.stack([self.lif(y_t) for y_t in y])
        return self.fc(s.flatten(2))


def _all_counters():
    return [
        oc.FlopCounter(), oc.MACCounter(), oc.ACCounter(), oc.SynOpCounter(),
        oc.MemoryAccessCounter(),
        oc.NeuronStateCounter(),
    ]  # fmt: skip


@pytest.mark.parametrize("step_mode", ["s", "m"])
@pytest.mark.parametrize("grad", [False, True])
def test_counting_leaves_outputs_and_states_unchanged(step_mode, grad):
    x = torch.rand(3, 2, 2, 6, 6) * 3
    plain, counted = Net(step_mode), Net(step_mode)
    counted.load_state_dict(plain.state_dict())
    with torch.set_grad_enabled(grad):
        expected = plain(x)
        with oc.DispatchCounterMode(_all_counters()):
            got = counted(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch.testing.assert_close(counted.lif.v, plain.lif.v, rtol=0, atol=0)
    torch.testing.assert_close(counted.bn.running_mean, plain.bn.running_mean, rtol=0, atol=0)
    if grad:
        got.sum().backward()
        expected.sum().backward()
        torch.testing.assert_close(counted.conv.weight.grad, plain.conv.weight.grad, rtol=0, atol=0)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_estimators_restore_model_state(step_mode):
    net = Net(step_mode)
    x = torch.rand(3, 2, 2, 6, 6) * 3
    net(x)  # some state to preserve
    v_before = net.lif.v.clone()
    stats_before = net.bn.running_mean.clone()
    report = oc.estimate_paper_energy(net, x, batch_size=2, time_steps=3)
    assert report.energy_total_mj > 0
    torch.testing.assert_close(net.lif.v, v_before, rtol=0, atol=0)
    torch.testing.assert_close(net.bn.running_mean, stats_before, rtol=0, atol=0)
    # and the estimate equals a counted forward from the same state
    functional.reset_net(net)
    first = oc.estimate_paper_energy(net, x, batch_size=2)
    second = oc.estimate_paper_energy(net, x, batch_size=2)
    assert first.energy_total_mj == second.energy_total_mj


def test_counts_are_the_same_in_both_step_modes():
    x = torch.rand(3, 2, 2, 6, 6) * 3
    totals = {}
    for step_mode in ("s", "m"):
        counters = _all_counters()[:5]
        with torch.no_grad(), oc.DispatchCounterMode(counters):
            Net(step_mode)(x)
        totals[step_mode] = [c.get_total() for c in counters]
    # MACs, ACs and SynOps do not depend on how time steps are looped
    assert totals["s"][1:4] == totals["m"][1:4]
