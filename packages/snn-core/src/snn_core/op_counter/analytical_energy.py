"""The analytical energy model of Lemaire et al. (ICONIP 2022, arXiv:2210.13107).

Runtime forward inference of ``Linear``/``Conv`` layers followed by IF/LIF neurons, 45 nm,
32-bit integer operations and 32-bit SRAM words:

- operations: ``E_ops = E_add · ACs + (E_mul + E_add) · MACs``; a spike input costs per
  active input ``fan-out`` accumulations (a conv: ``C_out/g · prod(ceil(k/s))``), a real
  input dense MACs; biases one add per output; IF neurons one add per spike, LIF also a
  multiply per element (leak);
- addressing: ``E_add`` per accumulate-address and ``E_mul + E_add`` per MAC-address;
- memory: every access of ``b`` bytes to a buffer of capacity ``C`` bytes costs
  ``b · e(C)``, ``e`` piecewise linear in ``C`` through ``(0, 0)``, ``(8 KiB, 10/4)``,
  ``(32 KiB, 20/4)``, ``(1 MiB, 100/4)`` pJ/byte (capped at 1 MiB): input/output, parameter
  and membrane-potential buffers, spikes queued in a FIFO of
  ``snn_fifo_capacity_elements`` words.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from math import ceil, isfinite, prod
from numbers import Real
from typing import Any

import torch
import torch.nn as nn

from snn_core.op_counter._neuron import IFNeuron, LIFNeuron, SpikingNeuron
from snn_core.op_counter.ac import _Uncounted
from snn_core.op_counter.base import (
    EnergyModelInfo,
    ModuleCounter,
    ModuleCounterMode,
    call_model,
    is_binary_tensor,
)

__all__ = [
    "LemaireEnergyConfig",
    "LemaireEnergyCostConfig",
    "LemaireEnergyProfiler",
    "LemaireEnergyReport",
    "estimate_lemaire_energy",
]

_WORD_BYTES = 4
_LEMAIRE_MODEL_INFO = EnergyModelInfo(
    model_id="lemaire_2022_runtime_v1",
    fidelity="paper",
    source_urls=(
        "https://arxiv.org/abs/2210.13107",
        "https://doi.org/10.1007/978-3-031-30105-6_48",
    ),
    technology_nm=45,
    precision="32-bit integer operations and 32-bit SRAM accesses",
    scope="runtime Conv/Linear forward inference under the Lemaire analytical model",
)
_SYNAPTIC = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NEURONS = (IFNeuron, LIFNeuron)
_UNSUPPORTED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


@dataclass
class LemaireEnergyCostConfig:
    """Energies: ``e_add_pj`` / ``e_mul_pj`` per 32-bit add / multiply, and the four
    ``(capacity_bytes, pJ_per_byte)`` breakpoints of the SRAM access-cost curve."""

    e_add_pj: float = 0.1
    e_mul_pj: float = 3.1
    memory_breakpoints: tuple[tuple[float, float], ...] = (
        (0.0, 0.0),
        (8.0 * 1024.0, 10.0 / _WORD_BYTES),
        (32.0 * 1024.0, 20.0 / _WORD_BYTES),
        (1024.0 * 1024.0, 100.0 / _WORD_BYTES),
    )

    def __post_init__(self) -> None:
        for name in ("e_add_pj", "e_mul_pj"):
            value = getattr(self, name)
            if not isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and nonnegative, got {value!r}.")
        points = self.memory_breakpoints
        shape_error = f"memory_breakpoints must contain exactly 4 (x, y) pairs, got {points!r}."
        if len(points) != 4:
            raise ValueError(shape_error)
        previous = None
        for point in points:
            if not isinstance(point, tuple) or len(point) != 2:
                raise ValueError(shape_error)
            x, y = point
            if not isinstance(x, Real) or not isinstance(y, Real):
                raise ValueError("memory_breakpoints entries must be numeric (x, y) pairs.")
            if not isfinite(x) or not isfinite(y) or x < 0 or y < 0:
                raise ValueError("memory_breakpoints entries must be finite and nonnegative.")
            if previous is not None and x <= previous:
                raise ValueError("memory_breakpoints x values must be strictly increasing.")
            previous = x

    def memory_cost_pj(self, memory: float) -> float:
        """Energy per byte (pJ) of an access to a buffer of ``memory`` bytes."""
        points = self.memory_breakpoints
        memory = max(points[0][0], min(memory, points[3][0]))
        segment = 0 if memory <= points[1][0] else (1 if memory <= points[2][0] else 2)
        (x0, y0), (x1, y1) = points[segment], points[segment + 1]
        return y0 + (y1 - y0) / (x1 - x0) * (memory - x0)


@dataclass
class LemaireEnergyConfig:
    """Options: ``strict`` raises on unsupported modules (else warns and omits them)."""

    strict: bool = True
    cost_config: LemaireEnergyCostConfig = field(default_factory=LemaireEnergyCostConfig)
    snn_fifo_capacity_elements: int = 1000

    def __post_init__(self) -> None:
        if self.snn_fifo_capacity_elements <= 0:
            raise ValueError(
                "snn_fifo_capacity_elements must be positive, got "
                f"{self.snn_fifo_capacity_elements!r}."
            )


@dataclass
class LemaireEnergyReport:
    """Result of :class:`LemaireEnergyProfiler` (energies in pJ)."""

    total_pj: float
    breakdown_pj: dict[str, float]
    counts: dict[str, int]
    buffer_sizes_bytes: dict[str, int]
    warnings: list[str]
    model_info: EnergyModelInfo
    config: LemaireEnergyConfig


def _first_tensor(inputs: tuple, kwargs: dict) -> torch.Tensor:
    return inputs[0] if inputs else next(v for v in kwargs.values() if torch.is_tensor(v))


def _time_steps(module: nn.Module, x: torch.Tensor) -> int:
    return int(x.shape[0]) if getattr(module, "step_mode", "s") == "m" else 1


class _LemaireCounter(ModuleCounter):
    def __init__(self, *, strict: bool, fifo_capacity_elements: int) -> None:
        super().__init__()
        self.strict = strict
        self.fifo_capacity_elements = fifo_capacity_elements
        self.warnings: list[str] = []
        self._warned_module_types: set[type[nn.Module]] = set()
        self._accesses: list[tuple[str, int, int]] = []
        self._zero_counts()

    def _zero_counts(self) -> None:
        self.paper_ac = self.paper_mac = self.paper_synop = 0
        self.paper_acc_addr = self.paper_mac_addr = 0

    def reset(self) -> None:
        super().reset()
        self.warnings.clear()
        self._warned_module_types.clear()
        self._accesses.clear()
        self._zero_counts()

    def _warn_or_raise_unsupported(self, module: nn.Module) -> None:
        if type(module) in self._warned_module_types:
            return
        self._warned_module_types.add(type(module))
        message = f"Lemaire formulas do not support {type(module).__name__}; its energy is omitted."
        if self.strict:
            raise ValueError(message)
        self.warnings.append(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)

    def _access(self, name: str, nbytes: int, capacity: int) -> None:
        self._accesses.append((name, nbytes, capacity))

    def summarize(
        self, cost: LemaireEnergyCostConfig
    ) -> tuple[dict[str, int], dict[str, int], dict[str, float]]:
        counts = dict.fromkeys(
            (
                "read_in_bytes",
                "write_out_bytes",
                "read_params_bytes",
                "read_potential_bytes",
                "write_potential_bytes",
            ),
            0,
        )
        buffers = dict.fromkeys(
            ("inout_buffer_bytes", "params_buffer_bytes", "potential_buffer_bytes"), 0
        )
        energy = {"inout_pj": 0.0, "params_pj": 0.0, "potential_pj": 0.0}
        for name, nbytes, capacity in self._accesses:
            counts[name] += nbytes
            if name in ("read_in_bytes", "write_out_bytes"):
                buffer, component = "inout_buffer_bytes", "inout_pj"
            elif name == "read_params_bytes":
                buffer, component = "params_buffer_bytes", "params_pj"
            else:
                buffer, component = "potential_buffer_bytes", "potential_pj"
            buffers[buffer] = max(buffers[buffer], capacity)
            energy[component] += nbytes * cost.memory_cost_pj(capacity)
        return counts, buffers, energy

    def bind_model(self, model: nn.Module) -> None:
        has_neurons = any(isinstance(m, SpikingNeuron) for m in model.modules())
        rules: dict[Any, Any] = {
            ("forward", t): self._synaptic_rule(has_neurons) for t in _SYNAPTIC
        }
        rules.update({("forward", t): self._neuron_rule for t in _NEURONS})
        self.rules = rules

    def _synaptic_rule(self, model_has_neurons: bool):
        def rule(module: nn.Module, inputs: tuple, kwargs: dict, out: torch.Tensor) -> int:
            x = _first_tensor(inputs, kwargs)
            w = _WORD_BYTES
            in_bytes, out_bytes = int(x.numel()) * w, int(out.numel()) * w
            params_capacity = sum(int(p.numel()) * w for p in module.parameters(recurse=False))
            with _Uncounted():
                spikes = is_binary_tensor(x)
                active = int(x.count_nonzero().item()) if spikes else 0
            linear = isinstance(module, nn.Linear)
            if linear:
                dense_uses = int(out.numel()) * module.in_features
                synops = fanout = active * module.out_features
            else:
                per_group = module.out_channels // module.groups
                dense_uses = int(out.numel()) * int(prod(module.weight.shape[1:]))
                reach = prod(
                    ceil(k / s) for k, s in zip(module.kernel_size, module.stride, strict=True)
                )
                synops = active * per_group * reach
                fanout = active * per_group * prod(module.kernel_size)
            if spikes:
                self.paper_ac += synops
                self.paper_synop += synops
                self.paper_acc_addr += fanout
                if not linear:
                    self.paper_mac_addr += active * 2
            else:
                self.paper_mac += dense_uses
                self.paper_acc_addr += int(x.numel()) + int(out.numel())
                if not linear:
                    self.paper_acc_addr += module.out_channels * prod(module.kernel_size)
            if module.bias is not None:
                self.paper_ac += int(out.numel())
            if spikes:
                read_in, in_capacity = active * w, self.fifo_capacity_elements * w
            elif linear:
                read_in, in_capacity = in_bytes, in_bytes
            else:
                read_in, in_capacity = dense_uses * w, in_bytes
            bias_bytes = 0 if module.bias is None else int(out.numel()) * w
            self._access("read_in_bytes", read_in, in_capacity)
            self._access(
                "read_params_bytes",
                (fanout if spikes else dense_uses) * w + bias_bytes,
                params_capacity,
            )
            if spikes:
                capacity = out_bytes // max(_time_steps(module, x), 1)
                self._access("read_potential_bytes", fanout * w, capacity)
                self._access("write_potential_bytes", fanout * w, capacity)
            elif not model_has_neurons:
                self._access("write_out_bytes", out_bytes, out_bytes)
            return 0

        return rule

    def _neuron_rule(self, module: nn.Module, inputs: tuple, kwargs: dict, output: Any) -> int:
        out = output[0] if isinstance(output, (tuple, list)) and len(output) > 0 else output
        if not torch.is_tensor(out):
            return 0
        steps = _time_steps(module, _first_tensor(inputs, kwargs))
        capacity = int(out.numel()) // max(steps, 1) * _WORD_BYTES
        self._access("read_potential_bytes", capacity * steps, capacity)
        self._access("write_potential_bytes", capacity * steps, capacity)
        with _Uncounted():
            spikes = int(out.count_nonzero().item())
        self.paper_ac += spikes
        if isinstance(module, LIFNeuron):
            self.paper_mac += int(out.numel())
        self._access(
            "write_out_bytes", spikes * _WORD_BYTES, self.fifo_capacity_elements * _WORD_BYTES
        )
        return 0

    def validate_model(self, model: nn.Module) -> None:
        inside_neurons = {
            child
            for m in model.modules()
            if isinstance(m, SpikingNeuron)
            for child in m.modules()
            if child is not m
        }
        for module in model.modules():
            if module in inside_neurons:
                continue
            if isinstance(module, _UNSUPPORTED):
                self._warn_or_raise_unsupported(module)
            elif isinstance(module, SpikingNeuron):
                if not isinstance(module, _NEURONS):
                    self._warn_or_raise_unsupported(module)
            elif not any(module.children()) and not isinstance(module, _SYNAPTIC):
                self._warn_or_raise_unsupported(module)

    def record(self, scope: str, func: Any, value: int) -> None:
        pass


class LemaireEnergyProfiler:
    """Context estimating the Lemaire et al. energy of the forward passes run inside it
    (module hooks on ``Linear``/``Conv`` layers and IF/LIF neurons). Call
    :meth:`bind_model` first; with ``config.strict`` an unsupported module raises on entry."""

    def __init__(self, *, config: LemaireEnergyConfig | None = None) -> None:
        self.config = copy.deepcopy(config or LemaireEnergyConfig())
        self._warnings: list[str] = []
        self.lemaire_counter = _LemaireCounter(
            strict=self.config.strict, fifo_capacity_elements=self.config.snn_fifo_capacity_elements
        )
        self._module_mode: ModuleCounterMode | None = None

    def bind_model(self, model: nn.Module) -> None:
        """Install the rules for ``model``."""
        if self._module_mode is not None and self._module_mode._active:
            raise RuntimeError("LemaireEnergyProfiler.bind_model() cannot run while profiling.")
        self._warnings.clear()
        self.lemaire_counter.bind_model(model)
        self._module_mode = ModuleCounterMode([self.lemaire_counter], model=model)

    def __enter__(self) -> LemaireEnergyProfiler:
        self.lemaire_counter.reset()
        if self._module_mode is None:
            raise RuntimeError("LemaireEnergyProfiler.bind_model() must be called before entering.")
        self.lemaire_counter.validate_model(self._module_mode.model)
        self._module_mode.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        assert self._module_mode is not None
        return self._module_mode.__exit__(exc_type, exc, tb)

    def get_report(self) -> LemaireEnergyReport:
        """Energies (pJ), counts, buffer sizes and warnings of what ran inside."""
        cost = self.config.cost_config
        c = self.lemaire_counter
        memory_counts, buffers, memory = c.summarize(cost)
        counts = {
            "synop": c.paper_synop, "mac": c.paper_mac, "ac": c.paper_ac, **memory_counts,
            "acc_addr": c.paper_acc_addr, "mac_addr": c.paper_mac_addr,
        }  # fmt: skip
        mac_pj = cost.e_mul_pj + cost.e_add_pj
        ops_pj = counts["ac"] * cost.e_add_pj + counts["mac"] * mac_pj
        addressing_pj = counts["acc_addr"] * cost.e_add_pj + counts["mac_addr"] * mac_pj
        memory_pj = memory["inout_pj"] + memory["params_pj"] + memory["potential_pj"]
        return LemaireEnergyReport(
            total_pj=ops_pj + addressing_pj + memory_pj,
            breakdown_pj={
                "ops_pj": ops_pj,
                "addressing_pj": addressing_pj,
                "memory_pj": memory_pj,
                **memory,
            },
            counts=counts,
            buffer_sizes_bytes=buffers,
            warnings=list(self._warnings) + list(c.warnings),
            model_info=_LEMAIRE_MODEL_INFO,
            config=copy.deepcopy(self.config),
        )


def estimate_lemaire_energy(
    model: nn.Module, inputs: Any, *, config: LemaireEnergyConfig | None = None
) -> LemaireEnergyReport:
    """Run ``model(inputs)`` once under ``torch.no_grad`` and :class:`LemaireEnergyProfiler`."""
    profiler = LemaireEnergyProfiler(config=config)
    profiler.bind_model(model)
    with profiler, torch.no_grad():
        call_model(model, inputs)
    return profiler.get_report()
