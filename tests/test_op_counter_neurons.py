"""snn_core.op_counter on snn_neurons neurons and snn_layers layers (cross-package).

Neuron-state literals: SpikingJelly 2.0.0's NeuronStateCounter gave the same arithmetic
counts (adds/comparisons/multiplies/spike-triggered/dense ops) on its IFNode for the same
input; its state *reads* are higher because its torch backend also stacks ``v_seq``,
which ours does not, so reads are checked by hand here instead.
"""

from __future__ import annotations

import pytest
import torch
from snn_core import functional
from snn_core import op_counter as oc
from torch import nn

snn_neurons = pytest.importorskip("snn_neurons")
snn_layers = pytest.importorskip("snn_layers")


def _x():
    g = torch.Generator().manual_seed(0)
    return torch.rand(4, 2, 6, generator=g) * 2.0  # [T=4, N=2, 6]


def _state_metrics(neuron, step_mode):
    counter = oc.NeuronStateCounter()
    x = _x()
    with torch.no_grad(), oc.DispatchCounterMode([counter]):
        if step_mode == "m":
            neuron(x)
        else:
            for x_t in x:
                neuron(x_t)
    return counter.get_metric_counts()["Global"]


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_if_hard_reset_state_counts(step_mode):
    m = _state_metrics(snn_neurons.IFNode(step_mode=step_mode), step_mode)
    # per step and element: H = V + X, H - V_th (2 adds), H >= 0, V = H (1 - S) + V_r S
    # (1 multiply on the state, 1 add): 12 elements x 4 steps.
    assert (m["state_adds"], m["state_comps"], m["state_muls"]) == (144, 48, 48)
    assert (m["spike_triggered_ops"], m["state_reset_ops"], m["timestep_dense_ops"]) == (96, 96, 96)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_if_soft_reset_state_counts(step_mode):
    m = _state_metrics(snn_neurons.IFNode(v_reset=None, step_mode=step_mode), step_mode)
    assert (m["state_adds"], m["state_comps"], m["state_muls"]) == (144, 48, 0)
    assert (m["spike_triggered_ops"], m["timestep_dense_ops"]) == (48, 96)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_neuromorphic_memory_counts_state_bytes_per_step(step_mode):
    net = nn.Sequential(snn_neurons.LIFNode(step_mode=step_mode))
    counter = oc.NeuromorphicMemoryAccessCounter()
    x = _x()
    with torch.no_grad(), oc.ModuleCounterMode([counter], model=net):
        if step_mode == "m":
            net(x)
        else:
            for x_t in x:
                net(x_t)
    counts = counter.get_counts()["Global"]
    # one float32 state (v) of 2x6 read and written once per step, 4 steps
    assert counts["neuron_state_read_bytes"] == counts["neuron_state_write_bytes"] == 4 * 12 * 4


def _snn(step_mode):
    torch.manual_seed(0)
    net = nn.Sequential(
        snn_layers.Conv2d(2, 4, 3, padding=1, bias=False),
        snn_neurons.IFNode(),
        snn_layers.Flatten(),
        snn_layers.Linear(4 * 5 * 5, 3),
        snn_neurons.LIFNode(tau=2.0),
    )
    functional.set_step_mode(net, step_mode)
    return net


def _run(net, x_seq, step_mode):
    if step_mode == "m":
        return net(x_seq)
    return torch.stack([net(x) for x in x_seq])


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_counting_leaves_neuron_outputs_and_states_unchanged(step_mode):
    x_seq = torch.rand(3, 2, 2, 5, 5) * 3
    plain, counted = _snn(step_mode), _snn(step_mode)
    expected = _run(plain, x_seq, step_mode)
    counters = [oc.FlopCounter(), oc.ACCounter(), oc.NeuronStateCounter(), oc.MemoryAccessCounter()]
    with oc.DispatchCounterMode(counters):
        got = _run(counted, x_seq, step_mode)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch.testing.assert_close(counted[1].v, plain[1].v, rtol=0, atol=0)
    torch.testing.assert_close(counted[4].v, plain[4].v, rtol=0, atol=0)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_paper_energy_on_a_spiking_net(step_mode):
    x_seq = torch.rand(3, 2, 2, 5, 5) * 3
    net = _snn(step_mode)
    spikes = {}
    net[1].register_forward_hook(lambda m, i, o: spikes.setdefault("if", []).append(o))
    report = oc.estimate_paper_energy(
        net if step_mode == "m" else _Loop(net), x_seq, batch_size=2, time_steps=3
    )
    conv, fc = report.layers
    s = torch.cat([o.flatten() for o in spikes["if"]])
    assert conv.kind == "MAC" and conv.flops == 2 * 9 * 25 * 4  # per sample and step
    assert conv.energy_pj == pytest.approx(4.6 * 3 * conv.flops)
    assert fc.kind == "AC" and fc.firing_rate == pytest.approx(float(s.mean()))
    assert fc.ops == pytest.approx(fc.firing_rate * 3 * 100 * 3)  # fr · T · FLOPs
    assert report.warnings == []
    # the estimate left the neurons as they were (None before the first forward)
    assert not torch.is_tensor(net[1].v)


class _Loop(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x_seq):
        return torch.stack([self.net(x) for x in x_seq])


def test_lemaire_energy_supports_snn_neurons_if_and_lif():
    net = _snn("m").eval()
    x_seq = (torch.rand(3, 2, 2, 5, 5) > 0.5).float()
    outputs = {}
    net[4].register_forward_hook(lambda m, i, o: outputs.setdefault("lif", o))
    net[1].register_forward_hook(lambda m, i, o: outputs.setdefault("if", o))
    report = oc.estimate_lemaire_energy(net, x_seq, config=oc.LemaireEnergyConfig(strict=False))
    # every neuron output spike is one AC; each LIF element one MAC (leak); Flatten is unsupported.
    assert report.counts["mac"] == outputs["lif"].numel()
    assert any("Flatten" in w for w in report.warnings)
    assert report.total_pj > 0


def _real(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * 2 - 1


def _layer(layer, seed=0):
    with torch.no_grad():
        for i, p in enumerate(layer.parameters()):
            p.copy_(_real(*p.shape, seed=seed + i))
    return layer


class _SNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = _layer(nn.Conv2d(2, 4, 3, padding=1))
        self.bn = nn.BatchNorm2d(4)
        self.lif = snn_neurons.LIFNode(tau=2.0)
        self.fc = _layer(nn.Linear(4 * 5 * 5, 3), seed=3)
        self.if2 = snn_neurons.IFNode()

    def forward(self, x):
        return self.if2(self.fc(self.lif(self.bn(self.conv(x))).flatten(1)))


@pytest.mark.parametrize(
    ("optimizer", "expected_total", "expected_optimizer"),
    [
        # SpikingJelly 2.0.0's estimate_neuromc_runtime_energy on the same model, input and
        # optimizer, with its own LIFNode / IFNode (identical numbers to all digits).
        (None, 68728.33814766693, None),
        ("sgd", 287630.42255265015, 81667.181641),
        ("adam", 443372.39540490333, 237409.154493),
    ],
)
def test_neuromc_energy_of_a_spiking_net_matches_reference(
    optimizer, expected_total, expected_optimizer
):
    model = _SNN().train()
    x = _real(3, 2, 5, 5) * 3
    if optimizer is None:
        report = oc.estimate_neuromc_runtime_energy(model, x)
    else:
        opt = (
            torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
            if optimizer == "sgd"
            else torch.optim.Adam(model.parameters(), lr=0.1)
        )
        report = oc.estimate_neuromc_runtime_energy(
            model, x, target=torch.zeros(3, 3), loss_fn=nn.functional.mse_loss, optimizer=opt
        )
        assert report.energy_by_stage["optimizer"] == pytest.approx(expected_optimizer)
        assert report.energy_by_stage["backward"] == pytest.approx(137234.902764)
    assert report.energy_total_pj == pytest.approx(expected_total)
    assert report.energy_by_stage["forward"] == pytest.approx(68728.338148)
