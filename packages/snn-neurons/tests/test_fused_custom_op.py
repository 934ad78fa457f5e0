"""Under ``torch.compile`` a neuron's multi-step forward is one opaque operator call
(``snn_neurons::fused_forward``), not T unrolled steps; compiled outputs, states and
gradients equal eager mode's. Backends ``aot_eager`` and a graph-recording one keep this
fast (no C++ compile)."""

from __future__ import annotations

import copy

import pytest
import torch
from core_neuron_refs import eager_steps_fresh_dynamo, fused_settings
from snn_neurons import LIFNode, ParametricLIFNode, fused
from torch import nn


@pytest.fixture(autouse=True)
def _eager_steps():
    with eager_steps_fresh_dynamo():
        yield


def _net(store_v_seq: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 5),
        LIFNode(step_mode="m", tau=3.0, store_v_seq=store_v_seq),
        nn.Linear(5, 4),
        ParametricLIFNode(step_mode="m", v_reset=None),
    ).double()


def _step(net: nn.Module, x: torch.Tensor):
    mods = getattr(net, "_orig_mod", net)  # the plain module behind torch.compile
    for m in net.modules():
        if hasattr(m, "reset"):
            m.reset()
    x = x.clone().requires_grad_()
    out = net(x)
    w = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).view(out.shape)
    ((out * w).sum() + mods[3].v.sum()).backward()
    grads = [x.grad] + [p.grad.clone() for p in net.parameters()]
    net.zero_grad(set_to_none=True)
    return out.detach(), mods[1].v.detach(), mods[3].v.detach(), grads


def _assert_same(a, b) -> None:
    assert torch.equal(a[0], b[0])
    for ta, tb in zip(a[1:3], b[1:3]):
        torch.testing.assert_close(ta, tb)
    for ga, gb in zip(a[3], b[3]):
        torch.testing.assert_close(ga, gb)


def _x(T: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, 3, 6, generator=g, dtype=torch.float64) * 1.5


def test_graph_holds_one_call_per_neuron_whatever_t():
    graphs: list[torch.fx.GraphModule] = []

    def recording(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    counts = []
    for T in (2, 9):
        torch._dynamo.reset()
        graphs.clear()
        net = _net()
        eager = copy.deepcopy(net)
        compiled = torch.compile(net, backend=recording, dynamic=False)
        _assert_same(_step(compiled, _x(T)), _step(eager, _x(T)))
        nodes = [n for gm in graphs for n in gm.graph.nodes if n.op == "call_function"]
        assert len(graphs) == 1  # no graph break
        ops = [n for n in nodes if "fused_forward" in str(n.target)]
        assert len(ops) == 2  # one per neuron layer
        counts.append(len(nodes))
    assert counts[0] == counts[1], "the graph grows with T: the time loop was unrolled"


@pytest.mark.parametrize("recompute", [False, True])
def test_aot_compiled_equals_eager(recompute):
    net = _net(store_v_seq=True)
    eager = copy.deepcopy(net)
    compiled = torch.compile(net, backend="aot_eager")
    with fused_settings(recompute=recompute):
        for seed in (0, 1):
            got, ref = _step(compiled, _x(4, seed)), _step(eager, _x(4, seed))
            _assert_same(got, ref)
    torch.testing.assert_close(net[1].v_seq, eager[1].v_seq)


def test_compiled_inference_equals_eager():
    net = _net().eval()
    eager = copy.deepcopy(net)
    compiled = torch.compile(net, backend="aot_eager")
    with torch.no_grad():
        for m in (*net.modules(), *eager.modules()):
            if hasattr(m, "reset"):
                m.reset()
        assert torch.equal(compiled(_x(3)), eager(_x(3)))


def test_neuron_that_cannot_fuse_is_unrolled_not_an_operator():
    graphs: list[torch.fx.GraphModule] = []

    def recording(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    node = LIFNode(step_mode="m").double()
    with fused_settings(enabled=False):
        out = torch.compile(node, backend=recording)(_x(3))
        node.reset()
        ref = node(_x(3))
    assert torch.equal(out, ref)
    targets = [str(n.target) for gm in graphs for n in gm.graph.nodes]
    assert not any("fused_forward" in t for t in targets)
    assert fused.why_not_fused(node) is None


def test_compiled_backward_keeps_the_input_a_new_gradient_mask_reads():
    """The operator drops its saved input only where earlier plans for the same gradient
    mask save H alone: PLIF's backward reads values once ``w`` needs a gradient."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), ParametricLIFNode(step_mode="m", v_reset=None)).double()
    x = _x(4)
    net[1].w.requires_grad_(False)
    net(x.clone().requires_grad_()).sum().backward()  # eager plans with w frozen
    net[1].w.requires_grad_(True)
    net.zero_grad(set_to_none=True)
    net[1].reset()
    eager = copy.deepcopy(net)
    compiled = torch.compile(net, backend="aot_eager")
    results = []
    for model in (compiled, eager):
        getattr(model, "_orig_mod", model)[1].reset()
        xi = x.clone().requires_grad_()
        model(xi).sum().backward()
        results.append((xi.grad, getattr(model, "_orig_mod", model)[1].w.grad))
    (gx, gw), (gx_ref, gw_ref) = results
    torch.testing.assert_close(gx, gx_ref)
    torch.testing.assert_close(gw, gw_ref)
