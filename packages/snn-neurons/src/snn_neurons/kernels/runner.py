"""The ``triton`` and ``cupy`` multi-step backends of :class:`~snn_neurons.BaseNode`.

A neuron's step ``(X[t], V[t-1]) -> (S[t], V[t])`` is its own ``charge``, ``fire`` and
``reset_potential`` (with ``detach_reset``), traced once per configuration (class,
hyper-parameters, surrogate); its one-element parameters and buffers (e.g. PLIF's ``w``)
become kernel arguments, so learning them needs no recompilation. Importing this module
registers both backends with :mod:`snn_neurons.backends`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from snn_neurons import backends as _backends
from snn_neurons.kernels.cache import MemoryCache
from snn_neurons.kernels.compilers import compiler_for
from snn_neurons.kernels.ir import KernelGenerationError, StepGraph
from snn_neurons.kernels.launch import STORAGE_DTYPES, StepProgram
from snn_neurons.kernels.trace import trace_step

__all__ = ["neuron_graph", "neuron_program", "why_not", "run", "run_program", "clear_cache"]

# attributes that do not change the dynamics (private ones are bookkeeping too)
_BOOKKEEPING = frozenset({"training", "store_v_seq", "fused_recompute"})
_SIMPLE = (bool, int, float, str, type(None))
_GRAPHS = MemoryCache(cache_errors=(KernelGenerationError,))
_PROGRAMS = MemoryCache(cache_errors=(KernelGenerationError,))


def clear_cache() -> None:
    """Forget traced neuron steps and their compiled kernels."""
    _GRAPHS.clear()
    _PROGRAMS.clear()


def _is_simple(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_simple(v) for v in value)
    return isinstance(value, _SIMPLE)


def _tensor_names(neuron: Any) -> list[tuple[str, torch.Tensor]]:
    named = list(neuron.named_parameters()) + list(neuron.named_buffers())
    return [(n, t) for n, t in named if not n.startswith("surrogate_function.")]


def _structure_problem(neuron: Any) -> str | None:
    from snn_neurons.base_node import BaseNode

    name = type(neuron).__name__
    if not isinstance(neuron, BaseNode):
        return f"{name} is not a BaseNode"
    extra = sorted(set(dict(neuron.named_memories())) - {"v", "v_seq"})
    if extra:
        return f"{name} keeps state besides v ({extra}); generated kernels carry v only"
    if type(neuron).loop_multi_step is not BaseNode.loop_multi_step:
        return f"{name} overrides loop_multi_step(), so its steps are not charge/fire/reset"
    children = [n for n, _ in neuron.named_children() if n != "surrogate_function"]
    if children:
        return f"{name} has submodules {children}"
    for attr, value in vars(neuron).items():
        if isinstance(value, torch.Tensor):
            return f"{name}.{attr} is a tensor but not a parameter or buffer"
    for pname, t in _tensor_names(neuron):
        if t.numel() != 1:
            return (
                f"{name}.{pname} has shape {tuple(t.shape)}; generated kernels take "
                "one-element parameters only"
            )
    return None


def _config_key(neuron: Any) -> tuple[Any, ...]:
    attrs = sorted(
        (k, v)
        for k, v in vars(neuron).items()
        if k not in _BOOKKEEPING and not k.startswith("_") and _is_simple(v)
    )
    sg = neuron.surrogate_function
    names = tuple(n for n, _ in _tensor_names(neuron))
    return (type(neuron), tuple(attrs), type(sg), sg.cache_key(), names)


def _set_tensor(module: Any, dotted: str, value: torch.Tensor) -> None:
    owner = module
    *path, leaf = dotted.split(".")
    for part in path:
        owner = owner._modules[part]
    store = owner._parameters if leaf in owner._parameters else owner._buffers
    store[leaf] = value


def _neuron_step(neuron: Any) -> tuple[Callable[..., Any], int]:
    """``step(x, v, *params) -> (s, v_new)`` on a private copy of ``neuron``."""
    proto = copy.copy(neuron)
    proto.__dict__["_parameters"] = dict(neuron._parameters)
    proto.__dict__["_buffers"] = dict(neuron._buffers)
    names = [n for n, _ in _tensor_names(neuron)]

    def step(x: torch.Tensor, v: torch.Tensor, *params: torch.Tensor) -> tuple[torch.Tensor, ...]:
        for name, p in zip(names, params):
            _set_tensor(proto, name, p)
        h = proto.charge(x, v)
        s = proto.fire(h)
        v_new = proto.reset_potential(h, s.detach() if proto.detach_reset else s)
        return s, v_new

    return step, len(names)


def neuron_graph(neuron: Any) -> StepGraph:
    """The traced step graph of ``neuron`` (cached per configuration)."""
    problem = _structure_problem(neuron)
    if problem is not None:
        raise KernelGenerationError(problem)

    def build() -> StepGraph:
        step, n_params = _neuron_step(neuron)
        return trace_step(step, 1, 1, n_params, 1)

    return _GRAPHS.get(_config_key(neuron), build)


def neuron_program(backend: str, neuron: Any) -> StepProgram:
    """The kernels of ``neuron`` for ``backend`` (``'triton'`` or ``'cupy'``)."""
    graph = neuron_graph(neuron)
    key = (backend, _config_key(neuron))
    return _PROGRAMS.get(key, lambda: StepProgram(graph, compiler_for(backend)))


def why_not(backend: str, neuron: Any, x_seq: torch.Tensor | None) -> str | None:
    """``None`` if ``backend`` can run ``neuron`` (on ``x_seq``), else why not."""
    reason = compiler_for(backend).why_not(None if x_seq is None else x_seq.device)
    if reason is not None:
        return reason
    if x_seq is not None and x_seq.dtype not in STORAGE_DTYPES:
        return f"generated kernels store {[str(d) for d in STORAGE_DTYPES]}, got {x_seq.dtype}"
    try:
        neuron_graph(neuron)
    except KernelGenerationError as err:
        return str(err)
    return None


def run(
    backend: str, neuron: Any, x_seq: torch.Tensor, v: torch.Tensor, need_v_seq: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """All T steps of ``neuron`` in one generated kernel: ``(spike_seq, v_last, v_seq)``."""
    if x_seq.shape[0] == 0:
        return run_program(None, neuron, x_seq, v, need_v_seq)
    return run_program(neuron_program(backend, neuron), neuron, x_seq, v, need_v_seq)


def run_program(
    prog: StepProgram | None,
    neuron: Any,
    x_seq: torch.Tensor,
    v: torch.Tensor,
    need_v_seq: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Run ``neuron``'s steps with the kernels of ``prog`` (any compiler; tests use this)."""
    T = x_seq.shape[0]
    if T == 0:
        empty = torch.empty_like(x_seq)
        return empty, v, (torch.empty_like(x_seq) if need_v_seq else None)
    if v.shape != x_seq.shape[1:]:
        raise ValueError(
            f"{type(neuron).__name__}: v has shape {tuple(v.shape)} but each step of x_seq has "
            f"shape {tuple(x_seq.shape[1:])}"
        )
    assert prog is not None
    params = [t.reshape(()) for _, t in _tensor_names(neuron)]
    x = x_seq.contiguous().view(T, -1)
    v0 = v.contiguous().view(-1)
    spike, state = prog.run([x], [v0], params, (need_v_seq,))
    spike = spike.view(x_seq.shape)
    if need_v_seq:
        v_seq = state.view(x_seq.shape)
        return spike, v_seq[-1], v_seq
    return spike, state.view(x_seq.shape[1:]), None


def _register() -> None:
    for name in ("triton", "cupy"):
        _backends.register_backend(
            name,
            lambda neuron, x_seq, _n=name: why_not(_n, neuron, x_seq),
            lambda neuron, x_seq, v, need_v_seq, _n=name: run(_n, neuron, x_seq, v, need_v_seq),
        )


_register()
