"""Tracing a step into the elementwise graph, and choosing what forward saves for backward.

The traced graph is checked by evaluating it (:func:`snn_neurons.kernels.ir.evaluate`) against
eager torch: forward values and the vector-Jacobian products from ``torch.autograd``.
"""

from __future__ import annotations

import kernel_test_utils  # noqa: F401  (sets TRITON_INTERPRET before triton loads)
import pytest
import torch
from snn_core.surrogate import SURROGATES, Sigmoid
from snn_neurons import IFNode, LIFNode, ParametricLIFNode
from snn_neurons.kernels import KernelGenerationError, trace_step
from snn_neurons.kernels.ir import evaluate
from snn_neurons.kernels.partition import make_plan
from snn_neurons.kernels.runner import neuron_graph

pytestmark = pytest.mark.kernels


def _plif_step(surrogate):
    def step(x, v, w):
        h = v + (x - v) * torch.sigmoid(w)
        s = surrogate(h - 1.0)
        return s, h * (1.0 - s.detach())

    return step


def _eager(step, x, v, w, gs, gv):
    xx, vv, ww = (t.clone().requires_grad_(True) for t in (x, v, w))
    s, vn = step(xx, vv, ww)
    grads = torch.autograd.grad([s, vn], [xx, vv, ww], [gs, gv], allow_unused=True)
    return s, vn, grads


@pytest.mark.parametrize("spiking", [True, False])
@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_traced_graph_equals_eager_forward_and_vjp(name: str, spiking: bool) -> None:
    surrogate = SURROGATES[name](spiking=spiking)
    step = _plif_step(surrogate)
    graph = trace_step(step, 1, 1, 1, 1)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(41, generator=gen) * 2.0
    if name == "PoissonPass":
        x = torch.rand(41, generator=gen)  # h - 1 is a probability only for h in [1, 2]
    v = torch.rand(41, generator=gen) + (1.0 if name == "PoissonPass" else -0.5)
    w = torch.tensor(0.3)
    gs, gv = torch.randn(41, generator=gen), torch.randn(41, generator=gen)
    env = {("seq", 0): x, ("state", 0): v, ("param", 0): w, ("tangent", 0): gs, ("tangent", 1): gv}
    uniforms = [torch.rand(41, generator=gen) for _ in range(graph.num_rand)]
    for k, u in enumerate(uniforms):
        env[("rand", k)] = u
    grads = [graph.grads[s] for s in (("seq", 0), ("state", 0), ("param", 0))]
    s, vn, gx, gvv, gw = evaluate(graph, env, [*graph.outputs, *graph.new_states, *grads])
    if name == "PoissonPass" and spiking:
        # the graph draws uniforms u: spike = (u < p), with a straight-through gradient
        assert graph.num_rand == 1
        u = uniforms[0]

        def step(x, v, w):
            h = v + (x - v) * torch.sigmoid(w)
            p = h - 1.0
            s = p + ((u < p).float() - p).detach()
            return s, h * (1.0 - s.detach())

    rs, rv, (rgx, rgv, rgw) = _eager(step, x, v, w, gs, gv)
    torch.testing.assert_close(s, rs, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(vn, rv, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(gx, rgx, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gvv, rgv, rtol=1e-5, atol=1e-6)
    # a parameter's gradient is kept per element; the kernels sum it over neurons
    torch.testing.assert_close(gw.sum(), rgw, rtol=1e-4, atol=1e-5)


def test_unmappable_op_is_named() -> None:
    def step(x, v):
        h = v + torch.cumsum(x, 0)
        return (h >= 1).float(), h

    with pytest.raises(KernelGenerationError, match="aten.cumsum"):
        trace_step(step, 1, 1, 0, 1)


def test_reduction_in_forward_is_rejected() -> None:
    def step(x, v):
        h = v + x - x.sum()
        return (h >= 1).float(), h

    with pytest.raises(KernelGenerationError, match="elementwise"):
        trace_step(step, 1, 1, 0, 1)


def test_tensor_read_from_closure_is_rejected() -> None:
    scale = torch.nn.Parameter(torch.tensor(0.5))

    def step(x, v):
        h = v + x * scale
        return (h >= 1).float(), h

    with pytest.raises(KernelGenerationError, match="not one of its arguments"):
        trace_step(step, 1, 1, 0, 1)


def test_wrong_result_count_is_reported() -> None:
    with pytest.raises(KernelGenerationError, match="num_outputs \\+ num_states = 1 \\+ 1"):
        trace_step(lambda x, v: (v + x,), 1, 1, 0, 1)


def _saved_ops(neuron, slots):
    graph = neuron_graph(neuron)
    plan = make_plan(graph, slots)
    return [graph.nodes[i] for i in plan.saved]


def test_if_hard_reset_saves_only_h() -> None:
    # backward of IF needs H[t] alone (surrogate'(H - V_th), 1 - S, H - V_reset)
    saved = _saved_ops(IFNode(surrogate_function=Sigmoid()), [("seq", 0), ("state", 0)])
    assert len(saved) == 1
    assert saved[0].op == "add"  # H = V + X


def test_plif_saves_more_only_when_w_needs_a_gradient() -> None:
    node = ParametricLIFNode()
    assert len(_saved_ops(node, [("seq", 0), ("state", 0)])) == 1
    saved = _saved_ops(node, [("seq", 0), ("state", 0), ("param", 0)])
    # dH/dw reads X - V: two per-step values; the input is reused (no extra write)
    assert len(saved) == 2
    assert any(n.op == "input" and n.value == ("seq", 0) for n in saved)


def test_lif_constants_are_baked_per_configuration() -> None:
    a = neuron_graph(LIFNode(tau=2.0))
    b = neuron_graph(LIFNode(tau=4.0))
    consts = lambda g: {n.value for n in g.nodes if n.op == "const"}  # noqa: E731
    assert 0.5 in consts(a) and 0.25 in consts(b)
    assert neuron_graph(LIFNode(tau=2.0)) is a  # cached per configuration
