"""Network of this package's modules -> NIR graph (:func:`export_to_nir`).

The graph is built from the module tree: ``nn.Sequential`` and the step-mode containers
are chained, the recurrent containers become cycles, a module with its own ``forward`` is
traced with ``torch.fx`` (its submodule calls become nodes, additions become edges that
meet at the next node), every other module must have a NIR node. One run of
``sample_data`` through a copy of the network gives the shape of each node's input (per
sample: without the batch, and without time in multi-step mode).
"""

from __future__ import annotations

import copy
import math
import operator
from collections import defaultdict
from typing import Any

import nir
import numpy as np
import torch
from snn_core import functional as F
from snn_core.base import StepModule
from snn_neurons import (
    CUBALIFNode,
    IFNode,
    LIFNode,
    NonSpikingIFNode,
    NonSpikingLIFNode,
    ParametricLIFNode,
    SimpleIFNode,
    SimpleLIFNode,
)
from torch import fx, nn

from snn_layers import containers, conv, dropout, misc, pooling, wrappers

__all__ = ["export_to_nir"]

_LIF_TYPES = (LIFNode, SimpleLIFNode, ParametricLIFNode)
_IF_TYPES = (IFNode, SimpleIFNode)
_LINEAR_TYPES = (nn.Linear, wrappers.Linear)
_CONV_TYPES = (nn.Conv1d, nn.Conv2d, conv.Conv1d, conv.Conv2d)
_AVGPOOL_TYPES = (nn.AvgPool2d, pooling.AvgPool2d)
_ADAPTIVE_TYPES = (nn.AdaptiveAvgPool2d, pooling.AdaptiveAvgPool2d)
_FLATTEN_TYPES = (nn.Flatten, wrappers.Flatten)
_IDENTITY_TYPES = (nn.Identity, nn.Dropout, dropout.Dropout, dropout.Dropout2d)
_CHAIN_TYPES = (
    nn.Sequential,
    containers.MultiStepContainer,
    containers.SeqToANNContainer,
    containers.StepModeContainer,
    containers.TLastMultiStepContainer,
    containers.TLastSeqToANNContainer,
)
_RECURRENT_TYPES = (containers.ElementWiseRecurrentContainer, containers.LinearRecurrentContainer)
_NEURON_TYPES = (*_LIF_TYPES, *_IF_TYPES, CUBALIFNode, NonSpikingLIFNode, NonSpikingIFNode)
SUPPORTED = (
    "IFNode, LIFNode, ParametricLIFNode, CUBALIFNode, NonSpikingLIFNode, NonSpikingIFNode, "
    "Linear, Conv1d, Conv2d, AvgPool2d, AdaptiveAvgPool2d (output dividing the input), "
    "Flatten, Delay, Identity, Dropout, nn.Sequential, the recurrent containers and "
    "the step-mode containers (torch.nn or snn_layers versions)"
)


def _exact_type(module: nn.Module, types: tuple[type, ...]) -> bool:
    # subclasses (ILIFNode, WSLinear, ...) change the dynamics: only the listed classes map
    return type(module) in types


def _array(value: float, shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, float(value), dtype=np.float64)


def _reset_fields(neuron: nn.Module, shape: tuple[int, ...]) -> tuple[np.ndarray, dict]:
    """``v_reset`` array and metadata; the soft reset is recorded as ``reset='subtract'``."""
    if neuron.v_reset is None:
        return _array(0.0, shape), {"reset": "subtract"}
    return _array(neuron.v_reset, shape), {}


def _neuron_node(m: nn.Module, name: str, shape: tuple[int, ...], dt: float) -> nir.NIRNode:
    if isinstance(m, ParametricLIFNode):
        tau = 1.0 / float(m.w.detach().sigmoid())
    elif isinstance(m, (*_LIF_TYPES, NonSpikingLIFNode)):
        tau = m.tau
    if _exact_type(m, _LIF_TYPES):
        v_reset, meta = _reset_fields(m, shape)
        leak = 0.0 if m.v_reset is None else m.v_reset
        return nir.LIF(
            tau=_array(tau * dt, shape),
            r=_array(1.0 if m.decay_input else tau, shape),
            v_leak=_array(leak, shape),
            v_threshold=_array(m.v_threshold, shape),
            v_reset=v_reset,
            metadata=meta,
        )
    if _exact_type(m, _IF_TYPES):
        v_reset, meta = _reset_fields(m, shape)
        return nir.IF(
            r=_array(1.0 / dt, shape),
            v_threshold=_array(m.v_threshold, shape),
            v_reset=v_reset,
            metadata=meta,
        )
    if _exact_type(m, (CUBALIFNode,)):
        for field in ("c_decay", "v_decay"):
            if getattr(m, field) >= 1.0:
                raise ValueError(
                    f"export_to_nir: {name} (CUBALIFNode) has {field}={getattr(m, field)}, an "
                    f"infinite time constant, which NIR's CubaLIF cannot hold; use a {field} < 1"
                )
        tau_syn, tau_mem = dt / (1.0 - m.c_decay), dt / (1.0 - m.v_decay)
        v_reset, meta = _reset_fields(m, shape)
        return nir.CubaLIF(
            tau_syn=_array(tau_syn, shape),
            tau_mem=_array(tau_mem, shape),
            r=_array(tau_mem / dt, shape),
            v_leak=_array(0.0, shape),
            v_threshold=_array(m.v_threshold, shape),
            v_reset=v_reset,
            w_in=_array(tau_syn / dt, shape),
            metadata=meta,
        )
    if _exact_type(m, (NonSpikingLIFNode, NonSpikingIFNode)):
        if m.decode is not None:
            raise ValueError(
                f"export_to_nir: {name} ({type(m).__name__}) has decode={m.decode!r}, a "
                f"reduction over time that NIR cannot express; export it with decode=None "
                f"and reduce the output sequence yourself"
            )
        if isinstance(m, NonSpikingIFNode):
            return nir.I(r=_array(1.0 / dt, shape))
        return nir.LI(tau=_array(tau * dt, shape), r=_array(1.0, shape), v_leak=_array(0.0, shape))
    raise _unsupported(name, m)


def _unsupported(name: str, m: nn.Module, why: str = "") -> ValueError:
    hint = f" ({why})" if why else ""
    return ValueError(
        f"export_to_nir: module {name or '<root>'} of type {type(m).__module__}."
        f"{type(m).__qualname__} has no NIR equivalent{hint}; supported: {SUPPORTED}"
    )


def _ints(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    return tuple(int(v) for v in value)


def _layer_node(
    m: nn.Module, name: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> nir.NIRNode:
    if _exact_type(m, _LINEAR_TYPES):
        if len(in_shape) != 1:
            raise _unsupported(
                name, m, f"NIR's Linear takes one feature dimension, the input is {in_shape}"
            )
        weight = m.weight.detach().cpu().numpy()
        if m.bias is None:
            return nir.Linear(weight=weight)
        return nir.Affine(weight=weight, bias=m.bias.detach().cpu().numpy())
    if _exact_type(m, _CONV_TYPES):
        if m.groups != 1:
            raise _unsupported(
                name,
                m,
                f"groups={m.groups}: NIR 1.0 derives a convolution's input channels from "
                f"weight.shape[1], so a grouped convolution fails its type check",
            )
        if m.padding_mode != "zeros":
            raise _unsupported(name, m, f"padding_mode={m.padding_mode!r}; NIR pads with zeros")
        weight = m.weight.detach().cpu().numpy()
        bias = (
            np.zeros(weight.shape[0], dtype=weight.dtype)
            if m.bias is None
            else m.bias.detach().cpu().numpy()
        )
        padding = m.padding if isinstance(m.padding, str) else _ints(m.padding, weight.ndim - 2)
        if weight.ndim == 3:
            return nir.Conv1d(
                input_shape=int(in_shape[1]),
                weight=weight,
                stride=int(m.stride[0]),
                padding=padding if isinstance(padding, str) else padding[0],
                dilation=int(m.dilation[0]),
                groups=int(m.groups),
                bias=bias,
            )
        return nir.Conv2d(
            input_shape=tuple(int(s) for s in in_shape[1:]),
            weight=weight,
            stride=_ints(m.stride, 2),
            padding=padding,
            dilation=_ints(m.dilation, 2),
            groups=int(m.groups),
            bias=bias,
        )
    if _exact_type(m, _ADAPTIVE_TYPES):
        (height, width), (out_h, out_w) = in_shape[1:], out_shape[1:]
        if height % out_h or width % out_w:
            raise _unsupported(
                name, m, f"output {(out_h, out_w)} does not divide the input {(height, width)}"
            )
        kernel = np.array([height // out_h, width // out_w])
        node = nir.AvgPool2d(kernel_size=kernel, stride=kernel, padding=np.zeros(2, dtype=int))
        node.input_type = {"input": np.array(in_shape)}
        node.output_type = {"output": np.array(out_shape)}
        return node
    if _exact_type(m, _AVGPOOL_TYPES):
        kernel = _ints(m.kernel_size, 2)
        stride = _ints(m.stride if m.stride is not None else m.kernel_size, 2)
        padding = _ints(m.padding, 2)
        if m.ceil_mode:
            raise _unsupported(name, m, "ceil_mode=True; NIR's pooling rounds down")
        if any(padding) and not m.count_include_pad:
            raise _unsupported(name, m, "count_include_pad=False with padding")
        fields = {
            "kernel_size": np.array(kernel),
            "stride": np.array(stride),
            "padding": np.array(padding),
        }
        if m.divisor_override == 1:
            node = nir.SumPool2d(**fields)
        elif m.divisor_override in (None, kernel[0] * kernel[1]):
            node = nir.AvgPool2d(**fields)
        else:
            raise _unsupported(name, m, f"divisor_override={m.divisor_override}")
        node.input_type = {"input": np.array(in_shape)}
        node.output_type = {"output": np.array(out_shape)}
        return node
    raise _unsupported(name, m)


def _flatten_node(m: nn.Module, name: str, in_shape: tuple[int, ...], lead: int) -> nir.NIRNode:
    """``lead``: the dimensions before one sample in what ``m``'s flatten dims count."""
    ndim = len(in_shape) + lead
    start = m.start_dim % ndim - lead
    end = m.end_dim % ndim - lead
    if start < 0:
        raise _unsupported(name, m, f"start_dim={m.start_dim} flattens the batch dimension")
    return nir.Flatten(
        input_type={"input": np.array(in_shape)},
        start_dim=start,
        end_dim=-1 if end == len(in_shape) - 1 else end,
    )


class _Tracer(fx.Tracer):
    """Every submodule call is a leaf: the exporter looks into submodules itself."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return True


_ADD_FUNCTIONS = (operator.add, torch.add, torch.Tensor.add)


class _Builder:
    def __init__(self, root: nn.Module, records: dict[str, list], net_lead: int, dt: float):
        self.names = {id(m): n for n, m in root.named_modules()}
        self.records = records
        self.calls: dict[str, int] = defaultdict(int)
        self.net_lead = net_lead
        self.dt = dt
        self.nodes: dict[str, nir.NIRNode] = {}
        self.edges: list[tuple[str, str]] = []
        self.in_shapes: dict[str, tuple[int, ...]] = {}
        self.out_shapes: dict[str, tuple[int, ...]] = {}

    def _record(self, m: nn.Module, lead: int) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
        """Name and per-sample input / output shapes of the next call of ``m``."""
        name = self.names[id(m)]
        calls = self.records.get(name, [])
        k = self.calls[name]
        if k >= len(calls):
            raise ValueError(
                f"export_to_nir: module {name or '<root>'} ({type(m).__name__}) is in the "
                f"network's graph but did not run on sample_data; pass a sample that runs "
                f"the whole network"
            )
        self.calls[name] += 1
        x_shape, y_shape = calls[k]
        return name, tuple(x_shape[lead:]), tuple(y_shape[lead:])

    def _add(self, base: str, node: nir.NIRNode, sources: list[str], shapes) -> list[str]:
        key = (base or "net").replace(".", "_")
        unique, i = key, 1
        while unique in self.nodes or unique in ("input", "output"):  # the graph's own
            unique, i = f"{key}_{i}", i + 1
        self.nodes[unique] = node
        self.edges += [(s, unique) for s in sources]
        self.in_shapes[unique], self.out_shapes[unique] = shapes
        return [unique]

    def emit(self, m: nn.Module, sources: list[str], lead: int, inside: bool) -> list[str]:
        """Add ``m``'s nodes fed by ``sources``; return the nodes that carry its output.

        ``lead``: dimensions before one sample in the input of a plain torch module here
        (2 in a multi-step network, 1 in a single-step one or inside a container, whose
        children run on ``[N, *]`` or ``[T*N, *]``); ``inside``: within a container.
        """
        if isinstance(m, _IDENTITY_TYPES):
            return sources
        plain_sequential = isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward
        if plain_sequential or _exact_type(m, _CHAIN_TYPES):
            if not plain_sequential:
                lead, inside = 1, True
            for child in m.children():
                sources = self.emit(child, sources, lead, inside)
            return sources
        if (
            isinstance(m, _NEURON_TYPES)
            or _exact_type(
                m,
                (*_LINEAR_TYPES, *_CONV_TYPES, *_AVGPOOL_TYPES, *_ADAPTIVE_TYPES, *_FLATTEN_TYPES),
            )
            or _exact_type(m, (misc.Delay,))
        ):
            step_module = isinstance(m, StepModule) and not inside
            shape_lead = (2 if m.step_mode == "m" else 1) if step_module else lead
            name, x_shape, y_shape = self._record(m, shape_lead)
            if isinstance(m, _NEURON_TYPES):
                node = _neuron_node(m, name, x_shape, self.dt)
            elif isinstance(m, _FLATTEN_TYPES):
                # snn_layers.Flatten counts the dimensions of one step [N, *]
                node = _flatten_node(m, name, x_shape, 1 if step_module else lead)
            elif isinstance(m, misc.Delay):
                node = nir.Delay(delay=_array(m.delay_steps * self.dt, x_shape))
            else:
                node = _layer_node(m, name, x_shape, y_shape)
            return self._add(name, node, sources, (x_shape, y_shape))
        if _exact_type(m, _RECURRENT_TYPES):
            return self._recurrent(m, sources, lead, inside)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            raise _unsupported(
                self.names[id(m)],
                m,
                "fold it into the convolution before it first: "
                "snn_core.functional.fuse_conv_bn_eval_modules(net.eval())",
            )
        if type(m).forward is nn.Module.forward or not any(True for _ in m.children()):
            raise _unsupported(self.names.get(id(m), "?"), m)
        return self._trace(m, sources, lead, inside)

    def _recurrent(self, m: nn.Module, sources: list[str], lead: int, inside: bool) -> list[str]:
        """A recurrent container as a cycle: ``sub_module``'s output comes back into its
        first nodes one step later (through ``W_y`` for :class:`LinearRecurrentContainer`)."""
        step_module = not inside
        name, x_shape, _ = self._record(
            m, (2 if m.step_mode == "m" else 1) if step_module else lead
        )
        if isinstance(m, containers.ElementWiseRecurrentContainer):
            a, b = torch.rand(2, 7, dtype=torch.float64)
            if not torch.allclose(m.element_wise_function(a, b), a + b):
                raise _unsupported(name, m, "its element_wise_function is not an addition")
        else:
            if len(x_shape) != 1:
                raise _unsupported(name, m, f"the input {x_shape} has more than one dimension")
            weight = m.rc.weight.detach().cpu().numpy()
            w_x, w_y = weight[:, : m.in_features], weight[:, m.in_features :]
            node = (
                nir.Linear(weight=w_x)
                if m.rc.bias is None
                else nir.Affine(weight=w_x, bias=m.rc.bias.detach().cpu().numpy())
            )
            sources = self._add(f"{name}.rc", node, sources, (x_shape, x_shape))
        before = len(self.edges)
        outputs = self.emit(m.sub_module, sources, 1, True)
        entries = [b for a, b in self.edges[before:] if a in sources]
        if isinstance(m, containers.LinearRecurrentContainer):
            y_shape = (m.out_features,)
            back = self._add(f"{name}.rc_rec", nir.Linear(weight=w_y), outputs, (y_shape, x_shape))
        else:
            back = outputs
        self.edges += [(o, e) for o in back for e in entries]
        return outputs

    def _trace(self, m: nn.Module, sources: list[str], lead: int, inside: bool) -> list[str]:
        name = self.names[id(m)]
        try:
            graph = _Tracer().trace(m)
        except Exception as err:  # report whatever fx could not trace
            raise ValueError(
                f"export_to_nir: cannot trace the forward of {name or '<root>'} "
                f"({type(m).__name__}) with torch.fx: {err}"
            ) from err
        values: dict[fx.Node, list[str]] = {}
        placeholders = 0
        result: list[str] = []
        for node in graph.nodes:
            if node.op == "placeholder":
                if placeholders:
                    raise ValueError(
                        f"export_to_nir: {name or '<root>'}.forward takes more than one input; "
                        f"NIR graphs exported here have one input"
                    )
                values[node], placeholders = sources, 1
            elif node.op == "call_module":
                sub = m.get_submodule(node.target)
                values[node] = self.emit(sub, self._arg(node, values, name), lead, inside)
            elif (node.op == "call_function" and node.target in _ADD_FUNCTIONS) or (
                node.op == "call_method" and node.target == "add"
            ):
                if node.kwargs or not all(isinstance(a, fx.Node) for a in node.args):
                    raise ValueError(
                        f"export_to_nir: {name or '<root>'}.forward adds a constant or scales "
                        f"a sum ({node.format_node()}); NIR edges only sum node outputs"
                    )
                values[node] = [s for a in node.args for s in values[a]]
            elif node.op == "output":
                result = self._arg(node, values, name)
            else:
                target = getattr(node.target, "__name__", node.target)
                raise ValueError(
                    f"export_to_nir: {name or '<root>'}.forward calls {node.op} {target!r}, "
                    f"which has no NIR node; only submodule calls and additions of their "
                    f"outputs are exported (write e.g. flattening as an snn_layers.Flatten)"
                )
        return result

    @staticmethod
    def _arg(node: fx.Node, values: dict, name: str) -> list[str]:
        args = [a for a in node.args if isinstance(a, fx.Node)]
        if len(args) != 1 or len(node.args) != 1 or node.kwargs:
            raise ValueError(
                f"export_to_nir: in {name or '<root>'}.forward, {node.format_node()} does not "
                f"take exactly one tensor; NIR nodes have one input"
            )
        return values[args[0]]


def _multi_step(module: nn.Module) -> bool:
    """Whether the network runs on ``[T, N, *]``: one of its step-mode modules (outside
    containers, which run their children one step at a time) is in multi-step mode."""
    kept: set[int] = set()
    for m in module.modules():
        if getattr(m, "keeps_submodule_step_mode", False) is True:
            kept |= {id(s) for s in m.modules() if s is not m}
    return any(
        isinstance(m, StepModule) and id(m) not in kept and m.step_mode == "m"
        for m in module.modules()
    )


def _non_leaf_tensors(value: Any, found: dict[int, torch.Tensor]) -> None:
    if isinstance(value, torch.Tensor):
        if not value.is_leaf:
            found[id(value)] = value.detach()
    elif isinstance(value, dict):
        for v in value.values():
            _non_leaf_tensors(v, found)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _non_leaf_tensors(v, found)


def _copy(module: nn.Module) -> nn.Module:
    """A deep copy; state tensors still attached to an autograd graph are copied detached
    (``deepcopy`` refuses them)."""
    memo: dict[int, Any] = {}
    for m in module.modules():
        _non_leaf_tensors(vars(m), memo)
    return copy.deepcopy(module, memo)


def _record_shapes(module: nn.Module, sample_data: torch.Tensor) -> dict[str, list]:
    probe = _copy(module)
    records: dict[str, list] = defaultdict(list)
    handles = []
    for name, m in probe.named_modules():

        def hook(_m, args, out, name=name):
            if args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor):
                records[name].append((tuple(args[0].shape), tuple(out.shape)))

        handles.append(m.register_forward_hook(hook))
    F.reset_net(probe)
    probe.eval()
    try:
        with torch.no_grad():
            probe(sample_data)
    finally:
        for h in handles:
            h.remove()
    return records


def export_to_nir(module: nn.Module, sample_data: torch.Tensor, dt: float = 1.0) -> nir.NIRGraph:
    """Write a network of this package's layers and neurons as a NIR graph.

    Time constants become ``tau = tau_steps * dt`` and the Euler step of length ``dt`` of
    each node's ODE is exactly the module's update (see the NIR page of the docs for the
    table). A neuron with ``v_reset=None`` (subtractive reset) is written with
    ``v_reset = 0`` and ``metadata={'reset': 'subtract'}``, which :func:`import_from_nir`
    reads back.

    Args:
        module: the network (its state is not touched; a copy runs ``sample_data``).
        sample_data: one input batch, ``[N, *]`` (single-step network) or ``[T, N, *]``
            (multi-step); only its shapes are used.
        dt: the time step in the graph's time unit (e.g. ``1e-4`` to exchange graphs with
            snnTorch, which assumes ``dt = 1e-4``).

    Returns:
        The graph; save it with ``nir.write(path, graph)``.

    Raises:
        ValueError: a module that has no NIR equivalent (named in the message), or ``dt``
            not a positive number.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(sample_data, torch.Tensor):
        raise TypeError(f"sample_data must be a torch.Tensor, got {type(sample_data).__name__}")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (0 < dt < math.inf):
        raise ValueError(f"dt must be a positive finite number, got {dt!r}")
    multi = _multi_step(module)
    records = _record_shapes(module, sample_data)
    builder = _Builder(module, records, 2 if multi else 1, float(dt))
    outputs = builder.emit(module, ["input"], builder.net_lead, False)
    nodes, edges = builder.nodes, builder.edges
    first = [b for a, b in edges if a == "input"]
    in_shape = (
        builder.in_shapes[first[0]] if first else tuple(sample_data.shape[builder.net_lead :])
    )
    out_shape = builder.out_shapes[outputs[0]] if outputs[0] != "input" else in_shape
    graph_nodes = {"input": nir.Input(input_type=np.array(in_shape)), **nodes}
    graph_nodes["output"] = nir.Output(output_type=np.array(out_shape))
    edges = edges + [(s, "output") for s in outputs]
    meta = {"source": "snn-layers", "step_mode": "m" if multi else "s", "dt": float(dt)}
    return nir.NIRGraph(nodes=graph_nodes, edges=edges, metadata=meta)
