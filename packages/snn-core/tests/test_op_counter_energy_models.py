"""Energy models (Simple, Lemaire, SpikeSim) against SpikingJelly 2.0.0's numbers.

Reference literals: SpikingJelly 2.0.0 (/work/venv-ref) ran estimate_simple_energy,
estimate_lemaire_energy and estimate_spikesim_energy on the model and inputs built by
``_plain_model()`` / ``_spikes`` / ``_real`` below (same construction, same values).
"""

import pytest
import torch
from snn_core import op_counter as oc
from torch import nn


def _spikes(*shape, density=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < density).float()


def _real(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * 2 - 1


def _layer(layer, seed=0):
    with torch.no_grad():
        for i, p in enumerate(layer.parameters()):
            p.copy_(_real(*p.shape, seed=seed + i))
    return layer


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = _layer(nn.Conv2d(4, 6, 3, stride=2, padding=1))
        self.conv2 = _layer(nn.Conv2d(6, 5, 3, padding=1), seed=5)
        self.fc = _layer(nn.Linear(5 * 5 * 5, 3), seed=7)

    def forward(self, x):
        return self.fc(self.conv2(self.conv(x)).flatten(1))


def _plain_model():
    return Plain().eval()


def test_simple_energy_matches_reference():
    report = oc.estimate_simple_energy(_plain_model(), _spikes(2, 4, 9, 9, density=0.3))
    assert report.counts == {
        "mac": 14250, "ac": 2689, "synop": 2640, "weight_read_bytes": 67560,
        "bias_read_bytes": 2224,
        "neuron_state_read_bytes": 0, "neuron_state_write_bytes": 0, "memory_access_bytes": 69784,
    }  # fmt: skip
    assert report.energy_total_pj == pytest.approx(1809778.74)
    # E = 4.6 MAC + 0.9 AC + 24.96 pJ/byte
    assert report.energy_total_pj == pytest.approx(14250 * 4.6 + 2689 * 0.9 + 69784 * 24.96)
    fp16 = oc.SimpleEnergyConfig(cost_config=oc.SimpleEnergyCostConfig.fp16())
    assert oc.estimate_simple_energy(
        _plain_model(), _spikes(2, 4, 9, 9, density=0.3), config=fp16
    ).energy_total_pj == (pytest.approx(1764259.24))


def test_simple_energy_cost_config_presets_and_validation():
    assert (
        oc.SimpleEnergyCostConfig.int8().e_mac_pj,
        oc.SimpleEnergyCostConfig.int8().e_ac_pj,
    ) == (0.23, 0.03)
    assert oc.SimpleEnergyCostConfig() == oc.SimpleEnergyCostConfig.fp32()
    with pytest.raises(ValueError, match="e_ac_pj must be finite and nonnegative"):
        oc.SimpleEnergyCostConfig(e_ac_pj=-1.0)
    report = oc.estimate_simple_energy(nn.Identity(), torch.ones(2))
    assert (
        report.energy_total_pj == 0
        and "did not match any supported operators" in report.warnings[0]
    )
    with pytest.raises(RuntimeError, match="did not match"):
        oc.estimate_simple_energy(
            nn.Identity(), torch.ones(2), config=oc.SimpleEnergyConfig(strict=True)
        )


def test_simple_energy_profiler_requires_bind_model():
    with pytest.raises(RuntimeError, match="bind_model"):
        with oc.SimpleEnergyProfiler():
            pass


def test_lemaire_energy_matches_reference():
    report = oc.estimate_lemaire_energy(_plain_model(), _spikes(2, 4, 9, 9, density=0.3))
    assert report.total_pj == pytest.approx(134653.623828125)
    assert report.counts == {
        "synop": 4920, "mac": 14250, "ac": 5476, "read_in_bytes": 55820, "write_out_bytes": 1024,
        "read_params_bytes": 103504, "read_potential_bytes": 44280, "write_potential_bytes": 44280,
        "acc_addr": 11921, "mac_addr": 410,
    }  # fmt: skip
    assert report.buffer_sizes_bytes == {
        "inout_buffer_bytes": 4000, "params_buffer_bytes": 1512, "potential_buffer_bytes": 1200
    }  # fmt: skip
    real = oc.estimate_lemaire_energy(_plain_model(), _real(2, 4, 9, 9))
    assert real.total_pj == pytest.approx(167288.858984375)
    assert (real.counts["mac"], real.counts["ac"], real.counts["acc_addr"]) == (25050, 556, 1853)


def test_lemaire_memory_cost_curve_and_strictness():
    cost = oc.LemaireEnergyCostConfig()
    assert cost.memory_cost_pj(8 * 1024) == pytest.approx(2.5)  # 10 pJ per 4-byte word
    assert cost.memory_cost_pj(20 * 1024) == pytest.approx(2.5 + 2.5 * 12 / 24)
    assert cost.memory_cost_pj(1e9) == pytest.approx(25.0)
    with pytest.raises(ValueError, match="exactly 4"):
        oc.LemaireEnergyCostConfig(memory_breakpoints=((0.0, 0.0),))
    with pytest.raises(ValueError, match="do not support ReLU"):
        oc.estimate_lemaire_energy(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.ones(1, 2))


def test_spikesim_energy_matches_reference():
    x = _spikes(2, 4, 9, 9, density=0.3)
    dense = oc.estimate_spikesim_energy(
        _plain_model(), x, config=oc.SpikeSimEnergyConfig(xbar_size=4), strict=False
    )
    assert dense.energy_total_pj == pytest.approx(171727.894635)
    assert dense.counts == {"dense_pe_cycle_count": 300, "stage_count": 2}
    event_cfg = oc.SpikeSimEnergyConfig(xbar_size=4, activity_mode="event")
    event = oc.estimate_spikesim_energy(_plain_model(), x, config=event_cfg, strict=False)
    assert event.energy_total_pj == pytest.approx(171128.056435)
    assert event.breakdown_pj == pytest.approx(
        {"patch_control_pj": 167817.384135, "xbar_pj": 1781.8723, "neuron_pj": 1528.8}
    )
    stats = event.event_stats_by_stage["Plain.conv"]
    assert (
        stats["active_row_count"],
        stats["dense_row_count"],
        stats["active_patch_tile_count"],
    ) == (440, 1800, 50)


def test_spikesim_config_validation_and_training_mode():
    with pytest.raises(ValueError, match="device must be 'rram' or 'sram'"):
        oc.SpikeSimEnergyConfig(device="flash").validate()
    model = _plain_model().train()
    with pytest.raises(ValueError, match="forward inference"):
        oc.estimate_spikesim_energy(model, _spikes(1, 4, 9, 9))


def test_neuromc_forward_energy_matches_reference():
    spikes = oc.estimate_neuromc_runtime_energy(_plain_model(), _spikes(2, 4, 9, 9, density=0.3))
    assert spikes.energy_total_pj == pytest.approx(102804.39545014895)
    # the first conv sees spikes (1-bit fp_soma core), the rest real values (ann_fe)
    assert spikes.counts_by_core_type["fp_soma"]["mac"] == 10800
    assert spikes.counts_by_core_type["ann_fe"]["mac"] == 14250
    assert spikes.memory_bits_by_level["by_level_dir"] == {
        "reg": {"rh2l": 644480, "rl2h": 400800, "wh2l": 653376, "wl2h": 71072},
        "sram": {"rh2l": 124316, "wl2h": 79968},
    }
    assert spikes.energy_total_pj == pytest.approx(
        spikes.energy_compute_pj + spikes.energy_memory_pj
    )
    real = oc.estimate_neuromc_runtime_energy(_plain_model(), _real(2, 4, 9, 9))
    assert real.energy_total_pj == pytest.approx(125132.02737170953)


def test_neuromc_training_step_matches_reference():
    model = _plain_model().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    report = oc.estimate_neuromc_runtime_energy(
        model,
        _spikes(2, 4, 9, 9, density=0.3),
        target=torch.zeros(2, 3),
        loss_fn=nn.functional.mse_loss,
        optimizer=opt,
    )
    assert report.energy_total_pj == pytest.approx(531650.6280192935)
    assert report.energy_by_stage == pytest.approx(
        {
            "forward": 102804.39545014896,
            "backward": 245388.21206289463,
            "optimizer": 183458.02050624997,
        }
    )
    assert report.primitive_counts["totals"] == {
        "mux": 0, "add": 875, "mul": 875, "comp": 0, "sqrt": 0, "mac": 65850
    }  # fmt: skip
    assert all(p.grad is None for p in model.parameters())  # the modelled step leaves no gradients


def test_neuromc_rejects_unsupported_ops_and_configs():
    class Exp(nn.Module):
        def forward(self, x):
            return nn.functional.linear(x, torch.ones(2, 3)).exp()

    with pytest.raises(ValueError, match="does not support these aten ops: aten.exp"):
        oc.estimate_neuromc_runtime_energy(Exp(), torch.ones(1, 3))
    with pytest.raises(ValueError, match="Missing required NeuroMC memory instances"):
        oc.MemoryHierarchyConfig(memory_instances={}).validate()
    with pytest.raises(ValueError, match="Conv3d"):
        oc.estimate_neuromc_runtime_energy(nn.Conv3d(1, 1, 1), torch.ones(1, 1, 1, 1, 1))
