"""estimate_paper_energy: the papers' E = E_MAC·FLOPs(real layers) + E_AC·Σ fr·T·FLOPs,
checked against energies computed by hand on tiny networks."""

import pytest
import torch
from snn_core import op_counter as oc
from torch import nn


class Heaviside(nn.Module):
    def forward(self, x):
        return (x >= 1.0).float()


def _two_layer_net():
    net = nn.Sequential(nn.Linear(4, 3, bias=False), Heaviside(), nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(3, 4))
        net[2].weight.fill_(0.5)
    return net


X = torch.tensor([[2.0, 0.5, 1.5, 0.0], [0.2, 3.0, 0.0, 0.0]])  # spikes [[1,0,1],[0,1,0]]: fr = 1/2


def test_two_layer_energy_equals_hand_computation():
    report = oc.estimate_paper_energy(_two_layer_net(), X)
    first, second = report.layers
    # layer 1: real input, 4·3 = 12 MACs per sample; layer 2: spikes, fr = 0.5, 3·2 = 6 FLOPs.
    assert (first.kind, first.flops, first.ops, first.firing_rate) == ("MAC", 12, 12, None)
    assert (second.kind, second.flops, second.firing_rate, second.ops) == ("AC", 6, 0.5, 3)
    assert first.energy_pj == pytest.approx(12 * 4.6)
    assert second.energy_pj == pytest.approx(3 * 0.9)
    assert report.energy_total_mj == pytest.approx((12 * 4.6 + 3 * 0.9) * 1e-9)
    assert report.energy_mac_mj + report.energy_ac_mj == pytest.approx(report.energy_total_mj)
    assert report.batch_size == 2 and report.warnings == []


def test_presets_and_custom_costs():
    fp16 = oc.estimate_paper_energy(_two_layer_net(), X, cost="fp16")
    assert fp16.energy_total_mj == pytest.approx((12 * 1.5 + 3 * 0.4) * 1e-9)
    int8 = oc.estimate_paper_energy(_two_layer_net(), X, cost="int8")
    assert int8.energy_total_mj == pytest.approx((12 * 0.23 + 3 * 0.03) * 1e-9)
    custom = oc.estimate_paper_energy(
        _two_layer_net(), X, cost=oc.SimpleEnergyCostConfig(e_mac_pj=1.0, e_ac_pj=1.0)
    )
    assert custom.energy_total_mj == pytest.approx(15 * 1e-9)
    with pytest.raises(ValueError, match="cost must be a SimpleEnergyCostConfig or one of"):
        oc.estimate_paper_energy(_two_layer_net(), X, cost="fp64")


def test_time_steps_divide_the_flops_column_only():
    # Multi-step layout [T*B, ...]: T = 2 steps of batch 1 flattened.
    report = oc.estimate_paper_energy(_two_layer_net(), X, batch_size=1, time_steps=2)
    first, second = report.layers
    assert first.dense_ops == 24 and first.flops == 12  # T·FLOPs = 24 over the two steps
    assert second.ops == pytest.approx(6)  # fr·T·FLOPs = 0.5·2·6
    with pytest.raises(ValueError, match="time_steps must be a positive int"):
        oc.estimate_paper_energy(_two_layer_net(), X, time_steps=0)


def test_single_step_loop_equals_flattened_multi_step():
    net = _two_layer_net()

    class Loop(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x_seq):
            return torch.stack([self.net(x) for x in x_seq])

    x_seq = torch.stack([X, X.flip(0)])  # [T=2, B=2, 4]
    looped = oc.estimate_paper_energy(Loop(), x_seq, batch_size=2, time_steps=2)
    flat = oc.estimate_paper_energy(net, x_seq.flatten(0, 1), batch_size=2, time_steps=2)
    assert [r.ops for r in looped.layers] == [r.ops for r in flat.layers]
    assert looped.layers[1].calls == 2 and flat.layers[1].calls == 1
    assert looped.energy_total_mj == pytest.approx(flat.energy_total_mj)


def test_non_binary_input_where_a_spike_is_expected_is_a_mac_with_a_warning():
    net = _two_layer_net()
    net[1] = nn.ReLU()
    report = oc.estimate_paper_energy(net, X)
    assert [r.kind for r in report.layers] == ["MAC", "MAC"]
    assert len(report.warnings) == 1
    assert "Sequential.2" in report.warnings[0] and "counted as MAC" in report.warnings[0]


def test_unknown_ops_are_reported_by_name_and_scope():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.linalg.inv(x)

    net = nn.Sequential(nn.Linear(3, 3), Odd())
    report = oc.estimate_paper_energy(net, torch.eye(3).unsqueeze(0) + 1.0)
    assert any("Sequential.1" in w and "linalg_inv" in w for w in report.warnings)


def test_attention_products_are_counted_per_product():
    class SpikeAttention(nn.Module):
        def forward(self, q, k, v):
            return (q @ k.transpose(-2, -1)) * 0.125 @ v

    q = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])  # [1, 2, 2] spikes
    k = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    v = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    report = oc.estimate_paper_energy(SpikeAttention(), (q, k, v))
    qk, av = report.layers
    assert (qk.op, av.op) == ("bmm#0", "bmm#1")
    # Q K^T, both binary: co-active pairs = sum(Q K^T) = 1 + 0 + 2 + 1 = 4 of 8 dense MACs.
    assert (qk.kind, qk.ops, qk.dense_ops, qk.firing_rate) == ("AC", 4, 8, 0.5)
    # A V: A real, V spikes with fr = 1/4: 8 dense MACs -> 2 ACs.
    assert (av.kind, av.ops, av.firing_rate) == ("AC", 2, 0.25)


def test_fused_attention_counts_both_products():
    q = torch.rand(1, 2, 3, 4)
    report = oc.estimate_paper_energy(
        nn.Identity(), q
    )  # no synaptic op at all: nothing to report, no warning
    assert report.layers == [] and report.energy_total_mj == 0

    class Fused(nn.Module):
        def forward(self, x):
            return torch.nn.functional.scaled_dot_product_attention(x, x, x)

    report = oc.estimate_paper_energy(Fused(), q, batch_size=1)
    ops = sorted(r.ops for r in report.layers)
    assert ops == [2 * 3 * 3 * 4, 2 * 3 * 3 * 4]  # Q K^T and A V: B·H·S·S·d each


def test_report_serialises_and_prints():
    report = oc.estimate_paper_energy(_two_layer_net(), X)
    data = report.to_dict()
    assert data["layers"][1]["firing_rate"] == 0.5
    assert '"energy_total_mj"' in report.to_json()
    text = report.table()
    assert "Sequential.2" in text and "mJ per sample" in text


def test_bad_model_is_rejected():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        oc.estimate_paper_energy(lambda x: x, X)


def test_multi_spike_charges_spike_counts_as_accumulations():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2, bias=False)

        def forward(self, s):
            return self.fc(s + s.flip(-1))  # a sum of two spike tensors: counts 0, 1, 2

    s = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])  # sums [[2,0,2],[1,2,1]]: mean 4/3
    strict = oc.estimate_paper_energy(Residual(), s)
    assert strict.layers[0].kind == "MAC" and strict.warnings == []  # first real layer
    counts = oc.estimate_paper_energy(Residual(), s, multi_spike=True)
    layer = counts.layers[0]
    assert layer.kind == "AC" and layer.firing_rate == pytest.approx(8 / 6)
    assert layer.ops == pytest.approx(6 * 8 / 6)  # each unit of count adds to 2 outputs
