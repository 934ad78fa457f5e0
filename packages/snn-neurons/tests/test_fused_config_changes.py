"""Changing a neuron's hyper-parameters (or its surrogate's) after it has run takes effect
on the next call of the fused path, eagerly and inside a compiled graph, although the
path caches its plans and the neuron's configuration key.

Reference: a fresh neuron with the new configuration, run as the single-step loop.
"""

from __future__ import annotations

import pytest
import torch
from core_neuron_refs import eager_steps_fresh_dynamo
from snn_core import surrogate
from snn_neurons import LIFNode


@pytest.fixture(autouse=True)
def _eager_steps():
    with eager_steps_fresh_dynamo():
        yield


def _x() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.randn(4, 3, 5, generator=g, dtype=torch.float64) * 2.0


def _reference(**config) -> tuple[torch.Tensor, torch.Tensor]:
    node = LIFNode(step_mode="s", **config).double()
    x = _x().requires_grad_()
    out = torch.stack([node(x[t]) for t in range(x.shape[0])])
    out.sum().backward()
    return out.detach(), x.grad


def _run(fn, node) -> tuple[torch.Tensor, torch.Tensor]:
    node.reset()
    x = _x().requires_grad_()
    out = fn(x)
    out.sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_new_hyper_parameters_take_effect(compiled):
    node = LIFNode(step_mode="m", surrogate_function=surrogate.Sigmoid(alpha=4.0)).double()
    fn = torch.compile(node, backend="aot_eager") if compiled else node
    steps = [
        {},
        {"tau": 3.0},
        {"tau": 3.0, "v_threshold": 0.5},
        {"tau": 3.0, "v_threshold": 0.5, "alpha": 1.5},
    ]
    for config in steps:
        alpha = config.pop("alpha", 4.0)
        for name, value in config.items():
            setattr(node, name, value)
        node.surrogate_function.alpha = alpha
        got = _run(fn, node)
        ref = _reference(surrogate_function=surrogate.Sigmoid(alpha=alpha), **config)
        assert torch.equal(got[0], ref[0]), config
        torch.testing.assert_close(got[1], ref[1])


def test_a_new_surrogate_object_takes_effect():
    node = LIFNode(step_mode="m").double()
    _run(node, node)
    node.surrogate_function = surrogate.ATan(alpha=3.0)
    got = _run(node, node)
    ref = _reference(surrogate_function=surrogate.ATan(alpha=3.0))
    assert torch.equal(got[0], ref[0])
    torch.testing.assert_close(got[1], ref[1])
