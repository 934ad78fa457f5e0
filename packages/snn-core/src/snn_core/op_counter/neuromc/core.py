"""NeuroMC runtime energy (Nature Communications 2026; reference code commit 712c66f):
forward (FE), backward (BE) and weight-gradient (WE) work of Conv/Linear layers, spiking
somas with surrogate gradients, batch norm and the optimizer step, mapped onto NeuroMC's
cores and memory hierarchy at 32 nm.

Layers are seen through module hooks (``Conv1d/2d``, ``Linear``, ``BatchNorm*``, spiking
neurons); an aten trace adds what the hooks miss (functional products and convolutions).
Energy = MACs · E_MAC(core) + extra primitives (mux/add/mul/comp/sqrt) + the memory traffic
of operands and extra variables (:mod:`~snn_core.op_counter.neuromc.mapping`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn as nn

from snn_core.op_counter._neuron import SpikingNeuron
from snn_core.op_counter.base import EnergyModelInfo, ModuleCounter, ModuleCounterMode, call_model
from snn_core.op_counter.neuromc import _trace
from snn_core.op_counter.neuromc._extra import (
    _EXTRA_OP_COST_PJ,
    _MAC_COST_PJ,
    _extra_counts,
    _extra_memory,
)
from snn_core.op_counter.neuromc._fragments import _FragmentBuilder
from snn_core.op_counter.neuromc._trace import (
    _snapshot_trace_value,
    _TraceEvent,
    _TraceMode,
    _TraceTensor,
)
from snn_core.op_counter.neuromc.config import MemoryHierarchyConfig
from snn_core.op_counter.neuromc.mapping import _Fragment, _map_base_memory

__all__ = [
    "MemoryHierarchyConfig",
    "NeuroMCEnergyProfiler",
    "NeuroMCRuntimeEnergyReport",
    "estimate_neuromc_runtime_energy",
]

_NEUROMC_MODEL_INFO = EnergyModelInfo(
    model_id="neuromc_712c66_runtime_v2",
    fidelity="source-aligned",
    source_urls=(
        "https://www.nature.com/articles/s41467-026-70586-x",
        "https://github.com/dayanhn/NeuroMC/commit/712c66f47cf76ae530a55f8bcad3858bd68788de",
    ),
    technology_nm=32,
    precision="1-bit spikes and 16-bit values under the NeuroMC v1 constants",
    scope=(
        "runtime-mapped NeuroMC FE/BE/WE energy; BN and optimizer use source-derived formulas "
        "without independent external validation"
    ),
)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_SUPPORTED = (nn.Conv1d, nn.Conv2d, nn.Linear, *_BATCH_NORMS, SpikingNeuron)
_DICT_FIELDS = (
    "energy_by_stage",
    "energy_by_op",
    "primitive_counts",
    "memory_bits_by_level",
    "energy_by_core_type",
    "energy_by_process_key",
    "energy_by_memory_level_dir",
    "counts_by_core_type",
    "counts_by_process_key",
)


@dataclass
class NeuroMCRuntimeEnergyReport:
    """Result of :class:`NeuroMCEnergyProfiler`: energies (pJ) in total and by stage, op,
    core type, process and memory level/direction; primitive and memory-bit counts."""

    energy_total_pj: float = 0.0
    energy_compute_pj: float = 0.0
    energy_memory_pj: float = 0.0
    energy_by_stage: dict[str, float] | None = field(default_factory=dict)
    energy_by_op: dict[str, float] | None = field(default_factory=dict)
    primitive_counts: dict[str, Any] | None = field(default_factory=dict)
    memory_bits_by_level: dict[str, Any] | None = field(default_factory=dict)
    warnings: list[str] | None = field(default_factory=list)
    energy_mac_pj: float = 0.0
    energy_base_memory_pj: float = 0.0
    energy_extra_memory_pj: float = 0.0
    energy_extra_compute_pj: float = 0.0
    energy_by_core_type: dict[str, float] | None = field(default_factory=dict)
    energy_by_process_key: dict[str, float] | None = field(default_factory=dict)
    energy_by_memory_level_dir: dict[str, dict[str, float]] | None = field(default_factory=dict)
    counts_by_core_type: dict[str, dict[str, int]] | None = field(default_factory=dict)
    counts_by_process_key: dict[str, dict[str, int]] | None = field(default_factory=dict)
    mapping_summary: list[dict[str, Any]] | None = field(default_factory=list)
    model_info: EnergyModelInfo | None = None
    memory_config: MemoryHierarchyConfig | None = None

    def __post_init__(self) -> None:
        for name in _DICT_FIELDS:
            setattr(self, name, dict(getattr(self, name) or {}))
        self.warnings = list(self.warnings or [])
        self.mapping_summary = list(self.mapping_summary or [])


def _module_overlap_signature(fragment: _Fragment) -> tuple[Any, ...]:
    ld = fragment.loop_dims
    dims = tuple((k, ld[k]) for k in ("C", "K", "OY", "OX", "FY", "FX"))
    return (
        fragment.stage,
        fragment.phase,
        fragment.core_type,
        fragment.process_key,
        (("BT", ld["B"] * ld["T"]), *dims),
        fragment.input_precision_bits,
        fragment.weight_precision_bits,
        fragment.output_precision_bits,
        fragment.input_numel,
        fragment.weight_numel,
        fragment.output_numel,
        fragment.mac_count,
        fragment.conv_type,
        fragment.b_type,
        fragment.t_type,
    )


def _clear_existing_grads(model: nn.Module, optimizer: torch.optim.Optimizer | None) -> None:
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
        return
    for p in model.parameters():
        p.grad = None


class NeuroMCEnergyProfiler(_FragmentBuilder, ModuleCounter):
    """Context estimating NeuroMC energy of what runs inside it. Call :meth:`bind_model`
    (and :meth:`bind_optimizer` for an optimizer stage) first; label work with
    :meth:`stage` (``phase`` in ``{'forward', 'backward', 'optimizer'}``) and leave work
    out with :meth:`suspend`.

    Args:
        memory_config: the memory hierarchy (a copy is kept and validated).
    """

    def __init__(self, *, memory_config: MemoryHierarchyConfig | None = None) -> None:
        super().__init__()
        config = memory_config or MemoryHierarchyConfig()
        self.memory_config = replace(config, memory_instances=dict(config.memory_instances))
        self.memory_config.validate()
        self._stage_stack: list[str] = []
        self._stage_options: dict[str, tuple[str, bool, bool]] = {}
        self._warnings: list[str] = []
        self._trace_mode = _TraceMode(self)
        self._trace_events: list[_TraceEvent] = []
        self._fragments: list[_Fragment] = []
        self._module_inputs: dict[nn.Module, list[Any]] = defaultdict(list)
        self._backward_modules: set[nn.Module] = set()
        self._module_conv_backward_calls = 0
        self._bound_model: nn.Module | None = None
        self._trainable_param_shapes: set[tuple[int, ...]] = set()
        self._active = False
        self._suspended = False
        self._optimizer: torch.optim.Optimizer | None = None
        self._module_mode: ModuleCounterMode | None = None

    # ------------------------------------------------------------------ binding and context
    def bind_model(self, model: nn.Module) -> None:
        """Hook ``model``'s supported modules (``Conv3d`` is rejected)."""
        if self._bound_model is not None:
            if self._bound_model is model:
                return
            raise RuntimeError("NeuroMCEnergyProfiler is already bound to a different model.")
        if any(isinstance(m, nn.Conv3d) for m in model.modules()):
            raise ValueError("NeuroMC runtime does not support nn.Conv3d yet.")
        self._bound_model = model
        self._trainable_param_shapes = {
            tuple(p.shape) for p in model.parameters() if p.requires_grad
        }
        self.rules = {("forward", t): self._count_forward_module for t in _SUPPORTED}
        self.rules.update({("backward", t): self._count_backward_module for t in _SUPPORTED})
        self._module_mode = ModuleCounterMode([self], model=model)

    def bind_optimizer(self, optimizer: torch.optim.Optimizer | None) -> None:
        """The optimizer whose step :meth:`record_optimizer_step` models."""
        self._optimizer = optimizer

    def __enter__(self) -> NeuroMCEnergyProfiler:
        self._stage_stack.clear()
        self._stage_options.clear()
        self._warnings.clear()
        self._trace_events.clear()
        self._fragments.clear()
        self._module_inputs.clear()
        self._backward_modules.clear()
        self._module_conv_backward_calls = 0
        self._trace_mode.op_counts.clear()
        if self._module_mode is None:
            raise RuntimeError("NeuroMCEnergyProfiler.bind_model() must be called before entering.")
        self._module_mode.__enter__()
        try:
            self._trace_mode.__enter__()
        except BaseException:
            self._module_mode.__exit__(None, None, None)
            raise
        self._active = True
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        self._active = False
        try:
            return self._trace_mode.__exit__(exc_type, exc, tb)
        finally:
            assert self._module_mode is not None
            self._module_mode.__exit__(exc_type, exc, tb)
            self._bound_model = None
            self._module_mode = None

    @contextmanager
    def stage(
        self,
        name: str,
        *,
        phase: str = "forward",
        reuse_weights: bool = False,
        batch_norm_backward: bool = True,
    ) -> Iterator[NeuroMCEnergyProfiler]:
        """Label the work inside as stage ``name`` of ``phase``; ``reuse_weights`` keeps
        weights on chip; ``batch_norm_backward=False`` leaves BN backward arithmetic out."""
        if not self._active:
            raise RuntimeError("stage() can only be used inside active profiler context.")
        if self._stage_stack:
            raise RuntimeError("Nested stage() is not supported in NeuroMC v2.")
        if phase not in {"forward", "backward", "optimizer"}:
            raise ValueError(f"Unsupported NeuroMC phase={phase!r}.")
        options = (phase, reuse_weights, batch_norm_backward)
        if self._stage_options.setdefault(name, options) != options:
            raise ValueError(f"NeuroMC stage {name!r} was reused with different options.")
        self._stage_stack.append(name)
        try:
            yield self
        finally:
            self._stage_stack.pop()

    @contextmanager
    def suspend(self) -> Iterator[NeuroMCEnergyProfiler]:
        """Leave the work inside out of the profile."""
        old = self._suspended
        self._suspended = True
        try:
            yield self
        finally:
            self._suspended = old

    # ------------------------------------------------------------------ stage helpers
    def _current_stage(self) -> str:
        return self._stage_stack[-1] if self._stage_stack else "unlabeled"

    def _options(self, stage: str | None) -> tuple[str, bool, bool]:
        return self._stage_options.get(stage or self._current_stage(), ("forward", False, True))

    def _bn_core_type(self, phase: str, is_spike_input: bool) -> str:
        if is_spike_input:
            return "fp_bn" if phase == "forward" else "bp_bn"
        return "ann_bn" if phase == "forward" else "ann_bn_bp"

    def _stage_phase(self, stage: str | None = None) -> str:
        return self._options(stage)[0]

    def _stage_position(self, stage: str | None = None) -> tuple[int, int]:
        return 0, int(self._options(stage)[1])

    def _stage_conv_type(self, stage: str | None = None) -> str:
        return "--" if self._options(stage)[2] else "without_bp_bn"

    def _maybe_record_trace_event(self, op_name: str, args: Any, kwargs: Any, out: Any) -> None:
        if not self._active or self._suspended:
            return
        if self._stage_phase() == "backward" and torch.is_grad_enabled():
            return
        self._trace_events.append(
            _TraceEvent(
                op_name=op_name,
                stage=self._current_stage(),
                phase=self._stage_phase(),
                args=_snapshot_trace_value(args),
                kwargs=_snapshot_trace_value(kwargs),
                out=_snapshot_trace_value(out),
            )
        )

    # ------------------------------------------------------------------ module events
    def _count_forward_module(self, module: nn.Module, args: tuple, kwargs: dict, out: Any) -> int:
        if not self._active or self._suspended:
            return 0
        stage = self._current_stage()
        x = args[0] if args else next(v for v in kwargs.values() if torch.is_tensor(v))
        neuron = isinstance(module, SpikingNeuron)
        if not neuron and torch.is_grad_enabled():
            self._module_inputs[module].append(x)
        if self._stage_phase(stage) == "backward" and torch.is_grad_enabled():
            return 0
        if isinstance(module, _CONVS):
            self._fragments.append(self._make_conv_forward_fragment(stage, module, x, out))
        elif isinstance(module, nn.Linear):
            self._fragments.append(self._make_linear_forward_fragment(stage, module, x, out))
        elif isinstance(module, _BATCH_NORMS):
            self._fragments.append(self._make_bn_forward_fragment(stage, module, x, out))
        elif neuron:
            self._fragments.append(self._make_soma_forward_fragment(stage, module, x, out))
        return 0

    def _count_backward_module(
        self, module: nn.Module, grad_input: tuple, kwargs: dict, grad_output: tuple
    ) -> int:
        if not self._active or self._suspended:
            return 0
        stage = self._current_stage()
        if isinstance(module, SpikingNeuron):
            self._fragments.append(
                self._make_soma_backward_fragment(stage, module, grad_input, grad_output)
            )
            return 0
        self._backward_modules.add(module)
        forward_input = self._module_inputs[module].pop()
        if isinstance(module, _CONVS):
            self._module_conv_backward_calls += 1
            self._fragments.extend(
                self._make_conv_backward_fragments(
                    stage, module, forward_input, grad_input, grad_output
                )
            )
        elif isinstance(module, nn.Linear):
            self._fragments.extend(
                self._make_linear_backward_fragments(
                    stage, module, forward_input, grad_input, grad_output
                )
            )
        elif isinstance(module, _BATCH_NORMS):
            self._fragments.append(
                self._make_bn_backward_fragment(
                    stage, module, forward_input, grad_input, grad_output
                )
            )
        return 0

    def record(self, scope: str, func: Any, value: int) -> None:
        pass

    def _matches_trainable_param_shape(self, out: Any) -> bool:
        if not (torch.is_tensor(out) or isinstance(out, _TraceTensor)):
            return False
        return tuple(out.shape) in self._trainable_param_shapes

    def _gemm_backward_fragment_kind(self, x: Any, y: Any, out: Any) -> str | None:
        x_grad, y_grad = bool(x.requires_grad), bool(y.requires_grad)
        if x_grad and not y_grad:
            return "wg"
        if y_grad and not x_grad:
            return "bp_grad"
        return "wg" if self._matches_trainable_param_shape(out) else None

    def _fallback_fragments_from_trace(self, *, supplemental_only: bool = False) -> list[_Fragment]:
        return _trace.fallback_fragments(self, supplemental_only=supplemental_only)

    def _unsupported_ops(self) -> list[str]:
        return _trace.unsupported_ops(self)

    def _extra_counts(self, fragment: _Fragment) -> dict[str, int]:
        return _extra_counts(fragment)

    def _extra_memory_for_fragment(self, fragment: _Fragment):
        return _extra_memory(fragment, self.memory_config)

    def record_optimizer_step(self, stage: str = "optimizer") -> None:
        """Add the bound optimizer's step (parameters with a gradient) as a stage."""
        self._fragments.extend(self._optimizer_fragments(stage))

    # ------------------------------------------------------------------ report
    def _all_fragments(self) -> list[_Fragment]:
        ambiguous = {type(m).__name__ for m in self._backward_modules if self._module_inputs[m]}
        if ambiguous:
            raise ValueError(
                "NeuroMC runtime cannot match selective backward calls for repeated modules: "
                + ", ".join(sorted(ambiguous))
            )
        fragments = list(self._fragments)
        traced = self._fallback_fragments_from_trace(supplemental_only=bool(fragments))
        if fragments:
            seen = {_module_overlap_signature(f) for f in fragments if f.source == "module"}
            fragments.extend(f for f in traced if _module_overlap_signature(f) not in seen)
        else:
            fragments = traced
        unsupported = self._unsupported_ops()
        if unsupported:
            raise ValueError(
                "NeuroMC runtime does not support these aten ops: " + ", ".join(unsupported[:30])
            )
        if not fragments:
            raise ValueError("No NeuroMC-supported runtime fragments were recognized.")
        return fragments

    def get_report(self) -> NeuroMCRuntimeEnergyReport:
        """Energies and counts of everything profiled (raises ``ValueError`` on aten ops
        NeuroMC does not model, or when nothing was recognised)."""
        fragments = self._all_fragments()

        def nested(kind):
            return defaultdict(lambda: defaultdict(kind))

        by_stage, by_op, by_core, by_process = (defaultdict(float) for _ in range(4))
        by_level_dir, bits_by_level = nested(float), nested(int)
        counts_core, counts_process, prim_stage, prim_op = (
            nested(int),
            nested(int),
            nested(int),
            nested(int),
        )
        summary = []
        e_mac = e_base = e_extra_mem = e_extra_compute = 0.0
        for f in fragments:
            extra = self._extra_counts(f)
            base_bits, base_energy = _map_base_memory(f, self.memory_config)
            extra_bits, extra_energy = self._extra_memory_for_fragment(f)
            mac = f.mac_count * _MAC_COST_PJ.get(f.core_type, 0.0)
            compute = sum(
                extra[k] * _EXTRA_OP_COST_PJ[k] for k in ("mux", "add", "mul", "comp", "sqrt")
            )
            base = sum(sum(d.values()) for d in base_energy.values())
            extra_mem = sum(sum(d.values()) for d in extra_energy.values())
            total = mac + compute + base + extra_mem
            e_mac, e_base, e_extra_mem, e_extra_compute = (
                e_mac + mac,
                e_base + base,
                e_extra_mem + extra_mem,
                e_extra_compute + compute,
            )
            by_stage[f.stage] += total
            by_op[f.op_name] += total
            by_core[f.core_type] += total
            by_process[f.process_key] += total
            for counts, key in ((counts_core, f.core_type), (counts_process, f.process_key)):
                counts[key]["fragments"] += 1
                counts[key]["mac"] += f.mac_count
            for primitive, n in extra.items():
                prim_stage[f.stage][primitive] += n
                prim_op[f.op_name][primitive] += n
                counts_core[f.core_type][primitive] += n
                counts_process[f.process_key][primitive] += n
            for target, source in ((bits_by_level, base_bits), (bits_by_level, extra_bits)):
                for level, directions in source.items():
                    for direction, value in directions.items():
                        target[level][direction] += value
            for source in (base_energy, extra_energy):
                for level, directions in source.items():
                    for direction, value in directions.items():
                        by_level_dir[level][direction] += value
            summary.append(
                {
                    "stage": f.stage,
                    "phase": f.phase,
                    "op_name": f.op_name,
                    "core_type": f.core_type,
                    "process_key": f.process_key,
                    "input_precision_bits": f.input_precision_bits,
                    "weight_precision_bits": f.weight_precision_bits,
                    "output_precision_bits": f.output_precision_bits,
                    "loop_dims": dict(f.loop_dims),
                    "b_type": f.b_type,
                    "t_type": f.t_type,
                    "mac_count": f.mac_count,
                    "source": f.source,
                    "optimizer_has_momentum": f.optimizer_has_momentum,
                    "optimizer_has_weight_decay": f.optimizer_has_weight_decay,
                    "optimizer_has_momentum_buffer": f.optimizer_has_momentum_buffer,
                }
            )
        totals = {
            p: int(sum(c.get(p, 0) for c in prim_stage.values()))
            for p in ("mux", "add", "mul", "comp", "sqrt")
        }
        totals["mac"] = int(sum(f.mac_count for f in fragments))

        def plain(table):
            return {k: dict(v) for k, v in table.items()}

        return NeuroMCRuntimeEnergyReport(
            energy_total_pj=e_mac + e_extra_compute + e_base + e_extra_mem,
            energy_compute_pj=e_mac + e_extra_compute,
            energy_memory_pj=e_base + e_extra_mem,
            energy_by_stage=dict(by_stage),
            energy_by_op=dict(by_op),
            primitive_counts={
                "totals": totals,
                "by_stage": plain(prim_stage),
                "by_op": plain(prim_op),
            },
            memory_bits_by_level={
                "preset_name": self.memory_config.preset_name,
                "totals": {level: int(sum(d.values())) for level, d in bits_by_level.items()},
                "by_level_dir": plain(bits_by_level),
            },
            warnings=list(self._warnings),
            energy_mac_pj=e_mac,
            energy_base_memory_pj=e_base,
            energy_extra_memory_pj=e_extra_mem,
            energy_extra_compute_pj=e_extra_compute,
            energy_by_core_type=dict(by_core),
            energy_by_process_key=dict(by_process),
            energy_by_memory_level_dir=plain(by_level_dir),
            counts_by_core_type=plain(counts_core),
            counts_by_process_key=plain(counts_process),
            mapping_summary=summary,
            model_info=_NEUROMC_MODEL_INFO,
            memory_config=replace(
                self.memory_config, memory_instances=dict(self.memory_config.memory_instances)
            ),
        )

    def get_total(self) -> float:
        """Total energy in pJ."""
        return self.get_report().energy_total_pj

    def get_counts(self) -> dict[str, Any]:
        """Primitive counts, memory bits and counts by core type and process."""
        report = self.get_report()
        return {
            "primitive_counts": report.primitive_counts,
            "memory_bits_by_level": report.memory_bits_by_level,
            "counts_by_core_type": report.counts_by_core_type,
            "counts_by_process_key": report.counts_by_process_key,
        }


def estimate_neuromc_runtime_energy(
    model: nn.Module,
    inputs: Any,
    *,
    target: torch.Tensor | None = None,
    loss_fn: Callable | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    memory_config: MemoryHierarchyConfig | None = None,
) -> NeuroMCRuntimeEnergyReport:
    """NeuroMC energy of a forward pass (stage ``'forward'``) and, with ``loss_fn`` and
    ``target``, of the backward pass (``'backward'``) and the ``optimizer`` step
    (``'optimizer'``, not applied: its arithmetic is modelled and the gradients cleared).
    Existing gradients are cleared first."""
    profiler = NeuroMCEnergyProfiler(memory_config=memory_config)
    profiler.bind_model(model)
    profiler.bind_optimizer(optimizer)
    _clear_existing_grads(model, optimizer)
    with profiler:
        with profiler.stage("forward", phase="forward"):
            output = call_model(model, inputs)
        loss = None
        if loss_fn is not None:
            with profiler.suspend():
                if target is None:
                    raise ValueError("target is required when loss_fn is provided")
                loss = loss_fn(output, target)
        if loss is not None:
            with profiler.stage("backward", phase="backward"):
                loss.backward()
            if optimizer is not None:
                with profiler.stage("optimizer", phase="optimizer"):
                    profiler.record_optimizer_step("optimizer")
                    with profiler.suspend():
                        optimizer.zero_grad(set_to_none=True)
        elif optimizer is not None:
            raise ValueError(
                "NeuroMC runtime optimizer modeling requires loss_fn and target; "
                "optimizer.step() without "
                "backward is unsupported."
            )
    return profiler.get_report()
