"""A user's dispatch mode (an operation counter) sees the neuron's single-step definition,
and leaves the fused path working afterwards."""

from __future__ import annotations

import warnings

import pytest
import snn_neurons
import torch
from snn_neurons import fused
from torch.utils._python_dispatch import TorchDispatchMode


class _OpLog(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


def _loop(neuron: snn_neurons.LIFNode, x: torch.Tensor) -> torch.Tensor:
    neuron.reset()
    neuron.step_mode = "s"
    out = torch.stack([neuron(x_t) for x_t in x])
    neuron.step_mode = "m"
    neuron.reset()
    return out


@pytest.fixture
def plan_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The neurons that asked for a fused plan (``fused.plan_for``) during the test."""
    calls: list[object] = []
    real = fused.plan_for

    def spy(neuron, *args, **kwargs):
        calls.append(neuron)
        return real(neuron, *args, **kwargs)

    monkeypatch.setattr(fused, "plan_for", spy)
    return calls


@pytest.mark.parametrize("grad", [False, True])
def test_counted_multi_step_runs_the_steps_without_warning(
    grad: bool, plan_calls: list[object]
) -> None:
    torch.manual_seed(0)
    x = (torch.rand(5, 3, 4) * 2).requires_grad_(grad)
    lif = snn_neurons.LIFNode(step_mode="m")
    want = _loop(lif, x.detach())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _OpLog() as log:
            out = lif(x)
    assert torch.equal(out.detach(), want)
    # five steps of the definition: each step's decay and threshold compare are seen
    assert log.ops.count("aten.ge") + log.ops.count("aten.gt") >= 5
    # the counted call asked for no plan (so none that failed under the mode is kept)
    assert plan_calls == []
    lif.reset()
    assert torch.equal(lif(x).detach(), want)  # and outside it the neuron runs as before
    assert plan_calls == [lif]


class _SynapticOpLog(_OpLog):
    neuron_steps_visible = False  # counts synaptic operations only (the papers' convention)


def test_a_mode_that_counts_no_neuron_steps_keeps_the_fused_path(
    plan_calls: list[object],
) -> None:
    torch.manual_seed(1)
    x = torch.rand(5, 3, 4) * 2
    lif = snn_neurons.LIFNode(step_mode="m")
    want = _loop(lif, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _SynapticOpLog():
            out = lif(x)
    assert torch.equal(out, want)
    assert plan_calls == [lif]  # the fused path was asked for under the mode
