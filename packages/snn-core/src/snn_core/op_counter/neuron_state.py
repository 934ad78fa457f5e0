"""Neuron-state counting: the arithmetic and memory traffic on membrane potentials (and
other registered states) of spiking neurons, observed at the aten level.

Inside a spiking neuron (see :mod:`snn_core.op_counter._neuron`), an op is *state-related*
if one of its tensor inputs is a registered state of an active neuron or a tensor derived
from one (states produced by earlier state-writing ops are followed by weak reference).
Each state-related op is classified by kind (add/sub, mul/div, comparison, non-linearity,
select, copy) and counted in elements; its state reads and writes are counted in bytes.
When a non-state operand is sparse (a spike tensor, or at least ``zero_ratio_threshold``
zeros), the access is gated by it: only ``nnz`` of the largest sparse operand is read and
written, and the writes count as spike-triggered (reset) rather than time-step dense ops.
"""

from __future__ import annotations

import warnings
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import resolve_name

from snn_core.op_counter import _ops
from snn_core.op_counter._neuron import SpikingNeuron
from snn_core.op_counter._sparse_memory import (
    active_element_count,
    dense_bytes,
    is_sparse_access_tensor,
)
from snn_core.op_counter.base import BaseCounter, _collect_tensors

__all__ = ["NeuronStateCounter"]

aten = torch.ops.aten

_IGNORED_OP_PREFIXES = (
    "aten.detach", "aten.view", "aten.alias", "aten._unsafe_view", "aten.as_strided",
    "aten.expand", "aten.slice", "aten.select.int", "aten.select_copy", "aten.unsqueeze",
    "aten.squeeze", "aten.transpose", "aten.permute", "aten.lift_fresh",
)  # fmt: skip
_ADD = set(_ops.ADD_OPS)
_MUL = set(_ops.MUL_DIV_OPS)
_COMPARE = set(_ops.COMPARE_OPS)
_NONLINEAR = set(
    _ops._overloads(
        "sigmoid.default", "sigmoid_.default", "rsqrt.default", "sqrt.default", "sqrt_.default",
        "exp.default", "exp_.default", "tanh.default", "tanh_.default",
    )
)  # fmt: skip
_INPLACE_NONLINEAR = set(
    _ops._overloads("sigmoid_.default", "sqrt_.default", "exp_.default", "tanh_.default")
)
_SELECT = set(_ops._overloads("where.self", "where.ScalarOther", "where.ScalarSelf"))
_COPY = {aten.clone.default, aten.copy_.default, aten._to_copy.default}
_MATERIALIZE = {aten.full_like.default, aten.zeros_like.default}
# Fused neuron kernels registered as custom ops: namespace -> argument positions of states.
_REGISTERED_NEURON_STATES = {
    "sj_if": (1,), "sj_lif": (1,), "sj_plif": (1,), "sj_qif": (1,), "sj_eif": (1,),
    "sj_izhikevich": (1, 2), "sj_ilif": (1,), "sj_activation_aware_if": (1,), "sj_stbif": (1, 2),
}  # fmt: skip
_METRICS = (
    "state_reads", "state_writes", "state_adds", "state_muls", "state_comps",
    "state_nonlinear_ops", "state_reset_ops", "state_select_ops", "spike_triggered_ops",
    "timestep_dense_ops",
)  # fmt: skip


def _storage_key(x: torch.Tensor) -> tuple[Any, ...]:
    """Identity of the memory behind ``x`` (views of one state share it)."""
    pointer: Any = id(x)
    if not x.is_meta:
        try:
            pointer = x.untyped_storage().data_ptr()
        except (RuntimeError, AttributeError):
            pointer = id(x)
    return x.device.type, x.device.index, x.dtype, pointer


def _numel_tree(tree: Any) -> int:
    return sum(int(x.numel()) for x in _collect_tensors(tree))


def _bytes_tree(tree: Any) -> int:
    return sum(dense_bytes(x) for x in _collect_tensors(tree))


class NeuronStateCounter(BaseCounter):
    """Counts operations on, and bytes of, spiking-neuron states (see the module doc).

    :meth:`get_metric_counts` gives per scope the metrics ``state_reads``/``state_writes``
    (bytes), ``state_adds``, ``state_muls``, ``state_comps``, ``state_nonlinear_ops``,
    ``state_select_ops``, ``state_reset_ops``, ``spike_triggered_ops`` and
    ``timestep_dense_ops`` (elements); :meth:`get_projection_counts` the hardware-facing
    projection ``read_potential``, ``write_potential``, ``state_mac_like``,
    ``state_acc_like`` and ``potential_buffer_bytes`` (the largest state buffer).

    Args:
        strict: raise instead of warning on a neuron the counter cannot follow.
        extra_state_rules: ``{neuron_type: rule(module, func, args, kwargs, out,
            state_keys) -> dict | None}``; a dict of metrics overrides the generic analysis.
        zero_ratio_threshold: fraction of zeros from which an operand gates state access.
        enable_sparse_memory_estimation: whether sparse operands gate state access at all.
    """

    def __init__(
        self,
        *,
        strict: bool = False,
        extra_state_rules: dict[type[nn.Module], Callable] | None = None,
        zero_ratio_threshold: float = 0.5,
        enable_sparse_memory_estimation: bool = True,
    ) -> None:
        super().__init__()
        self.strict = strict
        self.zero_ratio_threshold = zero_ratio_threshold
        self.enable_sparse_memory_estimation = enable_sparse_memory_estimation
        rules = extra_state_rules or {}
        for module_type, rule in rules.items():
            if not callable(rule):
                raise TypeError(
                    f"extra_state_rules values must be callable, got {type(rule).__name__} "
                    f"for {getattr(module_type, '__name__', module_type)}."
                )
        self.extra_state_rules = dict(rules)
        self.metric_records: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.projection_records: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.warnings: list[str] = []
        self._warned_modules: set[int] = set()
        self._pending_metrics: dict[str, int] | None = None
        self._pending_projection: dict[str, int] | None = None
        self._functional_state_refs: list[weakref.ReferenceType[torch.Tensor]] = []

    def has_rule(self, func: Any) -> bool:
        return True

    def _warn_or_raise(self, module: nn.Module, message: str) -> None:
        if self.strict:
            raise ValueError(message)
        if id(module) in self._warned_modules:
            return
        self._warned_modules.add(id(module))
        self.warnings.append(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)

    def _nothing(self) -> int:
        self._pending_metrics = None
        self._pending_projection = None
        return 0

    def _state_keys(self, neurons: list[nn.Module], func: Any, out: Any) -> set[tuple[Any, ...]]:
        keys = {
            _storage_key(v) for m in neurons for v in m._memories.values() if torch.is_tensor(v)
        }
        live = [(ref, ref()) for ref in self._functional_state_refs]
        self._functional_state_refs = [ref for ref, tensor in live if tensor is not None]
        keys.update(_storage_key(tensor) for _, tensor in live if tensor is not None)
        if not keys and func in _MATERIALIZE:
            # A functional neuron creates its state with full_like/zeros_like: follow it.
            created = _collect_tensors(out)[0]
            self._functional_state_refs.append(weakref.ref(created))
            keys.add(_storage_key(created))
        return keys

    def count(
        self,
        func: Any,
        args: tuple,
        kwargs: dict,
        out: Any,
        active_modules: set[nn.Module] | None = None,
        parent_names: set[str] | None = None,
    ) -> int:
        neurons = [m for m in (active_modules or ()) if isinstance(m, SpikingNeuron)]
        if not neurons:
            return self._nothing()
        op_name = resolve_name(func) or str(func)
        positions = _REGISTERED_NEURON_STATES.get(op_name.split(".", 1)[0])
        if (
            positions is not None
            and op_name.endswith(".forward.default")
            and args[0].device.type == "cuda"
        ):
            steps = int(args[0].shape[0])
            state_bytes = sum(dense_bytes(args[i]) for i in positions)
            metrics = dict.fromkeys(_METRICS, 0)
            metrics.update(state_reads=state_bytes * steps, state_writes=state_bytes * steps)
            metrics["neuron_logical_steps"] = int(args[0].numel())
            return self._store_breakdown(metrics, state_buffer_bytes=state_bytes)
        keys = self._state_keys(neurons, func, out)
        if not keys:
            return self._nothing()
        for module in neurons:
            rule = self.extra_state_rules.get(type(module))
            if rule is not None:
                breakdown = rule(module, func, args, kwargs, out, keys)
                if breakdown is not None:
                    return self._store_breakdown(breakdown)
        if op_name.startswith(_IGNORED_OP_PREFIXES):
            return self._nothing()
        return self._count_generic(func, args, kwargs, out, keys)

    def _count_generic(self, func: Any, args: tuple, kwargs: dict, out: Any, keys: set) -> int:
        inputs = _collect_tensors((args, kwargs))
        copy_into_state = (
            func is aten.copy_.default
            and len(args) > 0
            and torch.is_tensor(args[0])
            and _storage_key(args[0]) in keys
        )
        if copy_into_state:
            sources = [x for x in _collect_tensors((args[1:], kwargs)) if _storage_key(x) in keys]
            targets = [args[0]]
        else:
            sources = [x for x in inputs if _storage_key(x) in keys]
            targets = []
        related = sources + targets
        if not related:
            return self._nothing()
        outputs = targets if copy_into_state else _collect_tensors(out)
        out_numel = _numel_tree(out)
        drivers = []
        if self.enable_sparse_memory_estimation:
            drivers = [
                x
                for x in inputs
                if _storage_key(x) not in keys
                and is_sparse_access_tensor(x, zero_ratio_threshold=self.zero_ratio_threshold)
            ]
        gated = bool(drivers)
        active = max((active_element_count(x) for x in drivers), default=0)
        buffer_bytes = max(dense_bytes(x) for x in related)
        if copy_into_state:
            reads = sum(dense_bytes(x) for x in sources)
            out_bytes = sum(dense_bytes(x) for x in targets)
        elif gated:
            reads = sum(min(active, int(x.numel())) * int(x.element_size()) for x in sources)
            out_bytes = sum(min(active, int(x.numel())) * int(x.element_size()) for x in outputs)
        else:
            reads = sum(dense_bytes(x) for x in sources)
            out_bytes = _bytes_tree(out)
        metrics = dict.fromkeys(_METRICS, 0)
        metrics["state_reads"] = reads
        writes = False
        if func in _ADD:
            metrics["state_adds"] += out_numel
            writes = True
        elif func in _MUL:
            metrics["state_muls"] += out_numel
            writes = True
        elif func in _COMPARE:
            metrics["state_comps"] += out_numel
        elif func in _NONLINEAR:
            metrics["state_nonlinear_ops"] += out_numel
            writes = func in _INPLACE_NONLINEAR
        elif func in _SELECT:
            metrics["state_select_ops"] += out_numel
            writes = True
        elif func in _COPY:
            writes = True
        if writes and outputs:
            metrics["state_writes"] += out_bytes
            self._functional_state_refs.extend(weakref.ref(t) for t in outputs)
            if gated:
                metrics["state_reset_ops"] += out_numel
                metrics["spike_triggered_ops"] += out_numel
            else:
                metrics["timestep_dense_ops"] += out_numel
        if not any(metrics.values()):
            return self._nothing()
        return self._store_breakdown(metrics, state_buffer_bytes=buffer_bytes)

    def _store_breakdown(self, metrics: dict[str, int], *, state_buffer_bytes: int = 0) -> int:
        acc_like = sum(
            metrics.get(k, 0)
            for k in ("state_adds", "state_comps", "state_nonlinear_ops", "state_select_ops")
        )
        self._pending_metrics = metrics
        self._pending_projection = {
            "read_potential": metrics.get("state_reads", 0),
            "write_potential": metrics.get("state_writes", 0),
            "state_mac_like": metrics.get("state_muls", 0),
            "potential_buffer_bytes": state_buffer_bytes,
            "state_acc_like": acc_like,
        }
        return sum(metrics.values())

    def record(self, scope: str, func: Any, value: int) -> None:
        super().record(scope, func, value)
        for key, item in (self._pending_metrics or {}).items():
            self.metric_records[scope][key] += int(item)
        projection = (
            self.projection_records[scope] if self._pending_projection is not None else None
        )
        for key, item in (self._pending_projection or {}).items():
            if key == "potential_buffer_bytes":
                projection[key] = max(projection[key], int(item))
            else:
                projection[key] += int(item)

    def finalize_record(self) -> None:
        self._pending_metrics = None
        self._pending_projection = None

    def get_metric_counts(self) -> dict[str, dict[str, int]]:
        """Per-scope metric breakdown (see the class doc)."""
        return {scope: dict(items) for scope, items in self.metric_records.items()}

    def get_projection_counts(self) -> dict[str, dict[str, int]]:
        """Per-scope hardware projection (see the class doc)."""
        return {scope: dict(items) for scope, items in self.projection_records.items()}

    def get_extra_counts(self) -> dict[str, dict[str, int]]:
        """Alias of :meth:`get_projection_counts`."""
        return self.get_projection_counts()

    def reset(self) -> None:
        super().reset()
        self.metric_records = defaultdict(lambda: defaultdict(int))
        self.projection_records = defaultdict(lambda: defaultdict(int))
        self.warnings = []
        self._warned_modules = set()
        self._pending_metrics = None
        self._pending_projection = None
        self._functional_state_refs = []
