"""The surrogates' definitions can be traced (torch.fx) and compiled (torch.compile).

The kernel generator traces ``primitive`` and ``derivative`` with ``torch.fx`` and maps each
node to a Triton / CUDA expression, so the traced graphs may only hold plain elementwise ops.
"""

from __future__ import annotations

import operator

import pytest
import torch
from snn_core.surrogate import SURROGATES, Sigmoid
from torch import fx

_ELEMENTWISE = {
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.neg,
    operator.pow,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    torch.abs,
    torch.sign,
    torch.clamp,
    torch.where,
    torch.full_like,
    torch.exp,
    torch.log,
    torch.sigmoid,
    torch.atan,
    torch.erf,
    torch.sin,
    torch.cos,
}


def _trace(fn) -> fx.GraphModule:
    return fx.symbolic_trace(lambda x: fn(x))


@pytest.mark.parametrize("part", ["primitive", "derivative"])
@pytest.mark.parametrize("name", list(SURROGATES))
def test_definitions_trace_to_plain_elementwise_ops(name: str, part: str) -> None:
    surrogate = SURROGATES[name]()
    gm = _trace(getattr(surrogate, part))
    ops = {node.target for node in gm.graph.nodes if node.op not in ("placeholder", "output")}
    kinds = {node.op for node in gm.graph.nodes}
    assert kinds <= {"placeholder", "output", "call_function"}, kinds
    assert ops <= _ELEMENTWISE, ops - _ELEMENTWISE
    x = torch.linspace(0.0, 1.0, 21) if name == "PoissonPass" else torch.linspace(-4, 4, 33)
    x = x.to(torch.float64)
    torch.testing.assert_close(gm(x), getattr(surrogate, part)(x), rtol=0, atol=0)


def test_spike_function_under_torch_compile() -> None:
    surrogate = Sigmoid(alpha=3.0)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (surrogate(x) * torch.arange(x.numel(), dtype=x.dtype)).sum()

    x = torch.linspace(-2.0, 2.0, 9)
    leaf = x.clone().requires_grad_(True)
    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)
    compiled(leaf).backward()
    ref = x.clone().requires_grad_(True)
    loss(ref).backward()
    torch.testing.assert_close(leaf.grad, ref.grad)
    torch.testing.assert_close(leaf.grad, torch.arange(9.0) * surrogate.derivative(x))
