"""Monitors record inputs, outputs, attributes and gradients of small hand-checkable modules."""

import logging
import shutil

import pytest
import torch
from snn_core import monitor
from torch import nn


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.count = 0

    def forward(self, x):
        self.count += 1
        return 2 * x


def _net():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.5]]))
        net[0].bias.zero_()
        net[2].weight.fill_(1.0)
        net[2].bias.zero_()
    return net


def test_output_and_input_monitors_record_per_module():
    net = _net()
    out_mon = monitor.OutputMonitor(net, nn.Linear)
    in_mon = monitor.InputMonitor(net, nn.Linear, function_on_input=lambda x: x.sum().item())
    x = torch.tensor([[1.0, 2.0]])
    net(x)
    assert out_mon.monitored_layers == ["0", "2"] == in_mon.monitored_layers
    torch.testing.assert_close(out_mon["0"][0], torch.tensor([[-1.0, 3.0]]))
    torch.testing.assert_close(out_mon[1], torch.tensor([[3.0]]))  # relu([-1, 3]) summed
    assert in_mon.records == [3.0, 3.0]


def test_disable_clear_and_remove_hooks():
    net = _net()
    mon = monitor.OutputMonitor(net, nn.ReLU)
    x = torch.ones(1, 2)
    net(x)
    mon.disable()
    net(x)
    assert len(mon.records) == 1 and not mon.is_enable()
    mon.enable()
    net(x)
    assert mon["1"] == [mon[0], mon[1]]
    mon.clear_recorded_data()
    assert mon.records == [] and mon["1"] == []
    mon.remove_hooks()
    net(x)
    assert mon.records == [] and mon.hooks == []


def test_context_manager_closes_but_keeps_records():
    net = _net()
    with monitor.OutputMonitor(net, nn.Linear) as mon:
        net(torch.ones(1, 2))
    net(torch.ones(1, 2))
    assert len(mon.records) == 2 and mon.hooks == [] and not mon.is_enable()
    assert not net[0]._forward_hooks


def test_default_instance_is_the_type_of_net_and_root_is_named_empty():
    net = Counter()
    mon = monitor.OutputMonitor(net)
    net(torch.ones(1))
    assert mon.monitored_layers == [""]
    torch.testing.assert_close(mon[""][0], torch.tensor([2.0]))


def test_attribute_monitor_before_and_after_forward():
    net = nn.Sequential(Counter(), nn.ReLU(), Counter())
    before = monitor.AttributeMonitor("count", True, net, Counter)
    after = monitor.AttributeMonitor("count", False, net, Counter, lambda c: 10 * c)
    net(torch.ones(1))
    net(torch.ones(1))
    assert before.records == [0, 0, 1, 1]
    assert after.records == [10, 10, 20, 20]
    assert before["2"] == [0, 1]


def test_gradient_monitors_record_dl_dx_and_dl_dy():
    lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    gin = monitor.GradInputMonitor(lin)
    gout = monitor.GradOutputMonitor(lin, function_on_grad_output=lambda g: g * 10)
    x = torch.ones(1, 2, requires_grad=True)
    (lin(x) * torch.tensor([[1.0, -1.0]])).sum().backward()
    torch.testing.assert_close(gin[0], torch.tensor([[-2.0, -2.0]]))  # [1, -1] @ W
    torch.testing.assert_close(gout[""][0], torch.tensor([[10.0, -10.0]]))


def test_getitem_and_instance_errors():
    mon = monitor.OutputMonitor(_net(), nn.Linear)
    with pytest.raises(ValueError, match="int"):
        mon[1.5]
    with pytest.raises(KeyError, match="monitored"):
        mon["missing"]
    with pytest.raises(TypeError, match="instance"):
        monitor.OutputMonitor(_net(), "Linear")
    with pytest.raises(TypeError, match="net"):
        monitor.InputMonitor(3)


def test_gpu_monitor_validates_arguments():
    with pytest.raises(ValueError, match="gpu_ids"):
        monitor.GPUMonitor(gpu_ids=(), start_now=False)
    with pytest.raises(ValueError, match="interval"):
        monitor.GPUMonitor(interval=0, start_now=False)


def test_gpu_monitor_stops_with_a_logged_error_without_nvidia_smi(monkeypatch, caplog):
    monkeypatch.setenv("PATH", "/nonexistent")
    if shutil.which("nvidia-smi"):
        pytest.skip("nvidia-smi found")
    mon = monitor.GPUMonitor(interval=0.01, start_now=False)
    assert mon.command[-1] == "0"
    with caplog.at_level(logging.ERROR, logger="snn_core.monitor"):
        mon.start()
        mon.join(timeout=10)
    assert not mon.is_alive()
    assert mon.error is not None and "nvidia-smi" in mon.error
    assert any("GPU monitor stopped" in r.message for r in caplog.records)


def test_gpu_monitor_parses_samples_from_a_fake_nvidia_smi(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '0, 37, 1024'\necho '1, 5, 12'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    mon = monitor.GPUMonitor(gpu_ids=(0, 1), interval=30.0)
    deadline = 100
    while not mon.samples and deadline:
        mon.join(timeout=0.1)
        deadline -= 1
    mon.stop()
    mon.join(timeout=10)
    assert not mon.is_alive() and mon.error is None
    assert mon.samples == [("0", 37, 1024), ("1", 5, 12)]
    assert mon.command[-1] == "0,1"
