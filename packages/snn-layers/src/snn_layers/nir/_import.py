"""NIR graph -> network of this package's modules (:func:`import_from_nir`).

Each node becomes one module. A neuron whose parameters are the same for every neuron and
fit one of this package's neurons exactly becomes that neuron (the rules are in the
``_map_*`` functions and on the NIR page of the docs); any other neuron becomes a module of
:mod:`snn_layers.nir._nodes`, which runs the node's forward-Euler step with per-neuron
parameters. A chain ``input -> a -> b -> ... -> output`` gives an ``nn.Sequential``; any
other graph a module of :mod:`snn_layers.nir._graph` that runs the nodes in topological
order and sums the inputs that meet at a node (with cycles, one step at a time).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from os import PathLike
from typing import Any

import nir
import numpy as np
import torch
from snn_core.base import check_step_mode
from snn_neurons import CUBALIFNode, IFNode, LIFNode, NonSpikingIFNode, NonSpikingLIFNode
from torch import nn

from snn_layers import conv, misc, pooling, wrappers
from snn_layers.nir import _graph, _nodes

__all__ = ["import_from_nir"]

_RTOL = 1e-5  # float32 parameters written by other frameworks are that close to exact


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO" and value.size == 1:
        return _text(value.item())
    return value


def _uniform(value: Any) -> float | None:
    """The common value of an array whose entries are all equal, else ``None``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0 or not np.all(arr == arr.flat[0]):
        return None
    return float(arr.flat[0])


def _close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=_RTOL, abs_tol=1e-12)


def _soft_reset(node: nir.NIRNode) -> bool:
    return _text((node.metadata or {}).get("reset")) == "subtract"


def _weight(value: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value), dtype=torch.get_default_dtype())


def _tuple(value: Any, n: int) -> Any:
    value = _text(value)
    if isinstance(value, str):
        return value
    flat = [int(v) for v in np.ravel(np.asarray(value))]
    return tuple(flat * n) if len(flat) == 1 else tuple(flat)


def _try(build: Callable[[], nn.Module]) -> nn.Module | None:
    try:
        return build()
    except ValueError:  # e.g. v_threshold <= v_reset, which this package's neurons refuse
        return None


# ------------------------------------------------------------------------------- neurons
def _map_lif(node: nir.LIF, dt: float, mode: str) -> nn.Module:
    soft = _soft_reset(node)
    tau, r, leak = (_uniform(getattr(node, k)) for k in ("tau", "r", "v_leak"))
    thr, v_reset = _uniform(node.v_threshold), _uniform(node.v_reset)
    if None not in (tau, r, leak, thr, v_reset) and tau / dt > 1.0:
        steps = tau / dt
        target = 0.0 if soft else v_reset
        decay_input = True if _close(r, 1.0) else (False if _close(r / steps, 1.0) else None)
        if decay_input is not None and math.isclose(leak, target, rel_tol=_RTOL, abs_tol=1e-9):
            ours = _try(
                lambda: LIFNode(
                    tau=steps,
                    decay_input=decay_input,
                    v_threshold=thr,
                    v_reset=None if soft else v_reset,
                    step_mode=mode,
                )
            )
            if ours is not None:
                return ours
    return _nodes.NIRLIF(
        node.tau, node.r, node.v_leak, node.v_threshold, node.v_reset, dt, soft, mode
    )


def _map_if(node: nir.IF, dt: float, mode: str) -> nn.Module:
    soft = _soft_reset(node)
    r, thr, v_reset = (_uniform(getattr(node, k)) for k in ("r", "v_threshold", "v_reset"))
    if None not in (thr, v_reset) and _close(None if r is None else r * dt, 1.0):
        ours = _try(
            lambda: IFNode(v_threshold=thr, v_reset=None if soft else v_reset, step_mode=mode)
        )
        if ours is not None:
            return ours
    return _nodes.NIRIF(node.r, node.v_threshold, node.v_reset, dt, soft, mode)


def _map_cuba_lif(node: nir.CubaLIF, dt: float, mode: str) -> nn.Module:
    soft = _soft_reset(node)
    keys = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")
    tau_syn, tau_mem, r, leak, thr, v_reset, w_in = (_uniform(getattr(node, k)) for k in keys)
    if None not in (tau_syn, tau_mem, r, leak, thr, v_reset, w_in):
        a_syn, a_mem = dt / tau_syn, dt / tau_mem
        if (
            0.0 < a_syn <= 1.0
            and 0.0 < a_mem <= 1.0
            and _close(a_syn * w_in, 1.0)
            and _close(a_mem * r, 1.0)
            and leak == 0.0
        ):
            ours = _try(
                lambda: CUBALIFNode(
                    c_decay=1.0 - a_syn,
                    v_decay=1.0 - a_mem,
                    v_threshold=thr,
                    v_reset=None if soft else v_reset,
                    step_mode=mode,
                )
            )
            if ours is not None:
                return ours
    return _nodes.NIRCubaLIF(
        node.tau_syn,
        node.tau_mem,
        node.r,
        node.v_leak,
        node.v_threshold,
        node.v_reset,
        node.w_in,
        dt,
        soft,
        mode,
    )


def _map_li(node: nir.LI, dt: float, mode: str) -> nn.Module:
    # NonSpikingLIFNode runs in multi-step mode only
    tau, r, leak = (_uniform(getattr(node, k)) for k in ("tau", "r", "v_leak"))
    if mode == "m" and None not in (tau, r) and tau / dt > 1.0 and _close(r, 1.0) and leak == 0:
        return NonSpikingLIFNode(tau=tau / dt)
    return _nodes.NIRLI(node.tau, node.r, node.v_leak, dt, mode)


def _map_integrator(node: nir.I, dt: float, mode: str) -> nn.Module:
    r = _uniform(node.r)
    if mode == "m" and _close(None if r is None else r * dt, 1.0):
        return NonSpikingIFNode()
    return _nodes.NIRIntegrator(node.r, dt, mode)


def _map_cuba_li(node: nir.CubaLI, dt: float, mode: str) -> nn.Module:
    return _nodes.NIRCubaLI(node.tau_syn, node.tau_mem, node.r, node.v_leak, node.w_in, dt, mode)


def _map_delay(node: nir.Delay, dt: float, mode: str) -> nn.Module:
    steps = np.asarray(node.delay, dtype=np.float64) / dt
    whole = np.rint(steps)
    if np.any(whole < 0) or not np.allclose(steps, whole, rtol=_RTOL, atol=1e-6):
        raise ValueError(
            f"import_from_nir: a Delay of {np.unique(node.delay)[:4]} is not a whole "
            f"number of steps of dt={dt}; choose a dt that divides the delays"
        )
    common = _uniform(whole)
    if common is not None:
        return misc.Delay(int(common), step_mode=mode)
    return _nodes.NIRDelay(whole.astype(np.int64), mode)


# ------------------------------------------------------------------------------- layers
def _map_affine(node: nir.NIRNode, dt: float, mode: str) -> nn.Module:
    weight = np.asarray(node.weight)
    if weight.ndim != 2:
        raise ValueError(
            f"import_from_nir: {type(node).__name__} weight of shape {weight.shape}; only "
            f"2-d weights [out, in] are supported"
        )
    bias = isinstance(node, nir.Affine)
    layer = wrappers.Linear(weight.shape[1], weight.shape[0], bias=bias, step_mode=mode)
    with torch.no_grad():
        layer.weight.copy_(_weight(weight))
        if bias:
            layer.bias.copy_(_weight(node.bias))
    return layer


def _map_conv(node: nir.NIRNode, dt: float, mode: str) -> nn.Module:
    weight = np.asarray(node.weight)
    n = weight.ndim - 2
    cls = conv.Conv1d if n == 1 else conv.Conv2d
    layer = cls(
        weight.shape[1] * int(node.groups),
        weight.shape[0],
        kernel_size=tuple(weight.shape[2:]),
        stride=_tuple(node.stride, n),
        padding=_tuple(node.padding, n),
        dilation=_tuple(node.dilation, n),
        groups=int(node.groups),
        bias=True,
        step_mode=mode,
    )
    with torch.no_grad():
        layer.weight.copy_(_weight(weight))
        layer.bias.copy_(_weight(node.bias))
    return layer


def _map_pool(node: nir.NIRNode, dt: float, mode: str) -> nn.Module:
    return pooling.AvgPool2d(
        kernel_size=_tuple(node.kernel_size, 2),
        stride=_tuple(node.stride, 2),
        padding=_tuple(node.padding, 2),
        divisor_override=1 if isinstance(node, nir.SumPool2d) else None,
        step_mode=mode,
    )


def _map_flatten(node: nir.Flatten, dt: float, mode: str) -> nn.Module:
    # NIR counts the dimensions of one sample; snn_layers.Flatten those of one step [N, *]
    start, end = int(node.start_dim), int(node.end_dim)
    return wrappers.Flatten(
        start + 1 if start >= 0 else start, end + 1 if end >= 0 else end, step_mode=mode
    )


_MAPS: dict[type, Callable[[Any, float, str], nn.Module]] = {
    nir.LIF: _map_lif,
    nir.IF: _map_if,
    nir.CubaLIF: _map_cuba_lif,
    nir.LI: _map_li,
    nir.I: _map_integrator,
    nir.CubaLI: _map_cuba_li,
    nir.Delay: _map_delay,
    nir.Affine: _map_affine,
    nir.Linear: _map_affine,
    nir.Conv1d: _map_conv,
    nir.Conv2d: _map_conv,
    nir.AvgPool2d: _map_pool,
    nir.SumPool2d: _map_pool,
    nir.Flatten: _map_flatten,
    nir.Scale: lambda node, dt, mode: _nodes.NIRScale(node.scale),
    nir.Threshold: lambda node, dt, mode: _nodes.NIRThreshold(node.threshold),
}


# ------------------------------------------------------------------------------- graph
def _module_name(name: str, taken: set[str]) -> str:
    base = str(name).replace(".", "_") or "node"
    unique, i = base, 1
    while unique in taken:
        unique, i = f"{base}_{i}", i + 1
    taken.add(unique)
    return unique


def import_from_nir(
    graph: nir.NIRGraph | str | PathLike, dt: float = 1.0, step_mode: str | None = None
) -> nn.Module:
    """Build a network that runs a NIR graph as forward-Euler steps of length ``dt``.

    Every neuron node advances its ODE by one Euler step of ``dt`` per time step, e.g. a
    ``LIF`` ``H = V + (dt/tau) (v_leak - V + r X)``, then fires where ``H >= v_threshold``
    and resets to ``v_reset`` (see the NIR page of the docs for all nodes). A neuron whose
    parameters are uniform and match one of this package's neurons becomes that neuron
    (``LIFNode``, ``IFNode``, ``CUBALIFNode``, ``NonSpikingLIFNode``, ``NonSpikingIFNode``);
    any other neuron a private module with per-neuron tensors.

    Args:
        graph: a ``nir.NIRGraph``, or the path of a file written by ``nir.write``.
        dt: the time step in the graph's time unit (``1e-4`` for graphs of snnTorch).
        step_mode: step mode of the returned network, ``'s'`` (``[N, *]`` per call) or
            ``'m'`` (``[T, N, *]``); ``None`` takes the one recorded by
            :func:`export_to_nir` in the graph's metadata, else ``'s'``.

    Returns:
        An ``nn.Sequential`` for a chain of nodes, else a module that runs the graph (with
        cycles: one step at a time, a cycle's edge carrying the previous step's output).
        Nested subgraphs are inlined.

    Raises:
        ValueError: a node type that has no mapping (named in the message), or ``dt`` not
            a positive number.
    """
    if isinstance(graph, (str, PathLike)):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or a path, got {type(graph).__name__}")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (0 < dt < math.inf):
        raise ValueError(f"dt must be a positive finite number, got {dt!r}")
    if step_mode is None:
        recorded = _text((graph.metadata or {}).get("step_mode"))
        step_mode = recorded if recorded in ("s", "m") else "s"
    check_step_mode(step_mode)
    dt = float(dt)

    nodes, edges = _graph.inline_subgraphs(graph.nodes, graph.edges)
    inputs = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"import_from_nir: the graph needs exactly one Input and one Output node, it has "
            f"inputs {inputs} and outputs {outputs}"
        )
    order, feedback = _graph.order_nodes(nodes, edges, inputs[0])
    # with cycles, the nodes run one step at a time inside NIRRecurrentGraphModule
    node_mode = "s" if feedback else step_mode
    modules: dict[str, nn.Module] = {}
    names = {inputs[0]: ""}
    taken: set[str] = set()
    for key in order:
        node = nodes[key]
        if isinstance(node, (nir.Input, nir.Output)):
            continue
        build = _MAPS.get(type(node))
        if build is None:
            raise ValueError(
                f"import_from_nir: node {key!r} is {type(node).__name__}, which has no "
                f"mapping; supported node types: {', '.join(sorted(t.__name__ for t in _MAPS))}"
            )
        names[key] = _module_name(key, taken)
        modules[names[key]] = build(node, dt, node_mode)

    sources: dict[str, list[str]] = {names[k]: [] for k in names}
    fed_back: dict[str, list[str]] = {names[k]: [] for k in names}
    for a, b in edges:
        if b != outputs[0]:
            (fed_back if (a, b) in feedback else sources)[names[b]].append(names[a])
    starved = [k for k in modules if not sources[k]]
    if starved:
        raise ValueError(
            f"import_from_nir: the nodes {starved} get no input from the graph's Input"
        )
    out_from = [names[a] for a, b in edges if b == outputs[0]]
    if feedback:
        return _graph.NIRRecurrentGraphModule(
            modules,
            {k: sources[k] for k in modules},
            {k: fed_back[k] for k in modules},
            out_from,
            step_mode,
        )
    chain = ["", *modules]
    is_chain = out_from == chain[-1:] and all(
        sources[chain[i + 1]] == [chain[i]] for i in range(len(modules))
    )
    if is_chain:
        return nn.Sequential(OrderedDict(modules))
    return _graph.NIRGraphModule(modules, {k: sources[k] for k in modules}, out_from)
