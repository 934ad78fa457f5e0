"""functional_forward of the research neurons: pure, and the same as the stateful forward."""

import pytest
import torch
from snn_core import surrogate
from snn_neurons import (
    ActivationAwareIFNode,
    ComplementaryLIFNode,
    HalfThresholdIFNode,
    ILIFNode,
    RAFNode,
    STBIFNode,
    TernaryIFNode,
    TernaryLIFNode,
    fused,
)


@pytest.fixture(autouse=True)
def _eager_fused_path(monkeypatch):
    # the fused path runs its traced steps eagerly (compiling them is tested elsewhere)
    monkeypatch.setattr(fused.settings, "compile", False)


NEURONS = {
    "TernaryIFNode": lambda: TernaryIFNode(v_reset=None),
    "TernaryLIFNode": lambda: TernaryLIFNode(tau=3.0, v_reset=0.1),
    "ILIFNode": lambda: ILIFNode(tau=1.5, v_threshold=0.6),
    "HalfThresholdIFNode": lambda: HalfThresholdIFNode(v_threshold=0.8),
    "RAFNode": lambda: RAFNode(b=-0.2, omega=1.2, v_threshold=0.3),
    "ComplementaryLIFNode": lambda: ComplementaryLIFNode(surrogate_function=surrogate.Sigmoid()),
    "ActivationAwareIFNode": lambda: ActivationAwareIFNode(
        v_threshold=torch.tensor([0.5, 0.9, 1.3]), v_offset=0.1, channel_dim=-1
    ),
    "STBIFNode": lambda: STBIFNode(0.2, level=8, sym=True),
}


@pytest.mark.parametrize("step_mode", ["s", "m"])
@pytest.mark.parametrize("name", sorted(NEURONS))
def test_functional_forward_is_pure_and_equals_forward(name, step_mode):
    torch.manual_seed(0)
    node = NEURONS[name]()
    node.step_mode = step_mode
    x = 1.5 * torch.randn(4, 2, 3) if step_mode == "m" else 1.5 * torch.randn(2, 3)
    node(x)  # a non-trivial state
    before = tuple(node._memories.values())
    snapshot = [s.clone() if isinstance(s, torch.Tensor) else s for s in before]
    outputs, states = node.functional_forward((x,), before)
    for kept, value, copy in zip(node._memories.values(), before, snapshot, strict=True):
        assert kept is value
        if isinstance(copy, torch.Tensor):
            torch.testing.assert_close(value, copy)
    out = node(x)
    torch.testing.assert_close(out, outputs[0])
    assert len(states) == len(node._memories)
    for actual, expected in zip(node._memories.values(), states, strict=True):
        torch.testing.assert_close(actual, expected)


@pytest.mark.parametrize("name", ["TernaryLIFNode", "ILIFNode", "RAFNode", "ComplementaryLIFNode"])
def test_functional_forward_gradients_equal_forward_gradients(name):
    torch.manual_seed(1)
    x = (1.5 * torch.randn(5, 2, 3)).requires_grad_()
    a, b = NEURONS[name](), NEURONS[name]()
    a.step_mode = b.step_mode = "m"
    (out,), states = a.functional_forward((x,), tuple(a._memories.values()))
    g_f = torch.autograd.grad(out.sum() + states[0].sum(), x)[0]
    out_b = b(x)
    g_b = torch.autograd.grad(out_b.sum() + b.v.sum(), x)[0]
    torch.testing.assert_close(g_f, g_b)
    assert g_f.abs().sum() > 0
