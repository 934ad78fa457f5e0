"""A simple energy model: compute from MAC/AC counts, memory from neuromorphic traffic.

``E = E_MAC · MACs + E_AC · ACs + E_mem · (weight + bias + neuron-state bytes)``, with 45 nm
per-operation energies from Horowitz (ISSCC 2014): fp32 ``E_MAC = 4.6 pJ`` (3.7 pJ multiply
+ 0.9 pJ add), ``E_AC = 0.9 pJ``; fp16 1.5 / 0.4 pJ; int8 0.23 / 0.03 pJ; and
``E_mem = 24.96 pJ/byte``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from snn_core.op_counter.ac import ACCounter
from snn_core.op_counter.base import (
    DispatchCounterMode,
    EnergyModelInfo,
    ModuleCounterMode,
    call_model,
)
from snn_core.op_counter.mac import MACCounter
from snn_core.op_counter.neuromorphic_memory_access import NeuromorphicMemoryAccessCounter
from snn_core.op_counter.synop import SynOpCounter

__all__ = [
    "SimpleEnergyCostConfig",
    "SimpleEnergyConfig",
    "SimpleEnergyProfiler",
    "SimpleEnergyReport",
    "estimate_simple_energy",
]

_SIMPLE_MODEL_INFO = EnergyModelInfo(
    model_id="simple_horowitz_step_composite_v1",
    fidelity="spikingjelly-defined",
    source_urls=(
        "https://doi.org/10.1109/ISSCC.2014.6757323",
        "https://openreview.net/pdf?id=SzwU2XrXIS",
    ),
    technology_nm=45,
    precision="configurable comparison regime; runtime bytes use observed dtype",
    scope="runtime MAC/AC plus SpikingJelly logical parameter and neuron-state traffic",
)


@dataclass
class SimpleEnergyCostConfig:
    """Per-operation energies in pJ (defaults: 45 nm fp32, Horowitz 2014)."""

    e_mac_pj: float = 4.6
    e_ac_pj: float = 0.9
    e_memory_pj_per_byte: float = 24.96

    def __post_init__(self) -> None:
        for name in ("e_mac_pj", "e_ac_pj", "e_memory_pj_per_byte"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and nonnegative, got {value!r}.")

    @classmethod
    def fp32(cls) -> SimpleEnergyCostConfig:
        """45 nm fp32: MAC 4.6 pJ, AC 0.9 pJ."""
        return cls(e_mac_pj=4.6, e_ac_pj=0.9, e_memory_pj_per_byte=24.96)

    @classmethod
    def fp16(cls) -> SimpleEnergyCostConfig:
        """45 nm fp16: MAC 1.5 pJ (1.1 multiply + 0.4 add), AC 0.4 pJ."""
        return cls(e_mac_pj=1.5, e_ac_pj=0.4, e_memory_pj_per_byte=24.96)

    @classmethod
    def int8(cls) -> SimpleEnergyCostConfig:
        """45 nm int8: MAC 0.23 pJ (0.2 multiply + 0.03 add), AC 0.03 pJ."""
        return cls(e_mac_pj=0.23, e_ac_pj=0.03, e_memory_pj_per_byte=24.96)


@dataclass
class SimpleEnergyConfig:
    """Options of :class:`SimpleEnergyProfiler`.

    Args:
        strict: raise when no supported operator was seen (instead of a warning).
        cost_config: per-operation energies.
        extra_ignore_modules: module types inside which nothing is counted.
    """

    strict: bool = False
    cost_config: SimpleEnergyCostConfig = field(default_factory=SimpleEnergyCostConfig)
    extra_ignore_modules: list[type[nn.Module]] | None = None


@dataclass
class SimpleEnergyReport:
    """Result of :class:`SimpleEnergyProfiler`: energies in pJ, raw counts, warnings."""

    energy_total_pj: float
    energy_compute_pj: float
    energy_mac_pj: float
    energy_ac_pj: float
    energy_memory_pj: float
    breakdown_pj: dict[str, float]
    counts: dict[str, int]
    warnings: list[str]
    model_info: EnergyModelInfo
    config: SimpleEnergyConfig


class SimpleEnergyProfiler:
    """Context that counts MACs, ACs, SynOps (dispatch level) and neuromorphic memory
    traffic (module hooks) of the forward passes run inside it. Call :meth:`bind_model`
    before entering.

    Args:
        config: options; a deep copy is kept.
    """

    def __init__(self, *, config: SimpleEnergyConfig | None = None) -> None:
        if config is not None and not isinstance(config, SimpleEnergyConfig):
            raise TypeError(
                f"config must be a SimpleEnergyConfig or None, got {type(config).__name__}"
            )
        self.config = copy.deepcopy(config or SimpleEnergyConfig())
        ignored = list(self.config.extra_ignore_modules or [])
        self.mac_counter = MACCounter(extra_ignore_modules=ignored)
        self.ac_counter = ACCounter(extra_ignore_modules=ignored)
        self.synop_counter = SynOpCounter(extra_ignore_modules=ignored)
        self.memory_counter = NeuromorphicMemoryAccessCounter(extra_ignore_modules=ignored)
        self._dispatch_mode = DispatchCounterMode(
            [self.mac_counter, self.ac_counter, self.synop_counter]
        )
        self._module_mode: ModuleCounterMode | None = None

    def bind_model(self, model: nn.Module) -> None:
        """Hook ``model``'s modules for the memory counter."""
        if self._module_mode is not None and self._module_mode._active:
            raise RuntimeError("SimpleEnergyProfiler.bind_model() cannot run while profiling.")
        self._module_mode = ModuleCounterMode([self.memory_counter], model=model)

    def __enter__(self) -> SimpleEnergyProfiler:
        if self._module_mode is None:
            raise RuntimeError("SimpleEnergyProfiler.bind_model() must be called before entering.")
        for counter in (self.mac_counter, self.ac_counter, self.synop_counter, self.memory_counter):
            counter.reset()
        self._module_mode.__enter__()
        try:
            self._dispatch_mode.__enter__()
        except BaseException:
            self._module_mode.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self._dispatch_mode.__exit__(exc_type, exc, tb)
        finally:
            assert self._module_mode is not None
            self._module_mode.__exit__(exc_type, exc, tb)

    def get_report(self) -> SimpleEnergyReport:
        """Energies and counts of everything run inside the context."""
        mac, ac, synop = (
            c.get_total() for c in (self.mac_counter, self.ac_counter, self.synop_counter)
        )
        memory_scopes = self.memory_counter.get_counts()
        memory = memory_scopes.get("Global", {})
        weight = memory.get("weight_read_bytes", 0)
        bias = memory.get("bias_read_bytes", 0)
        state_read = memory.get("neuron_state_read_bytes", 0)
        state_write = memory.get("neuron_state_write_bytes", 0)
        cost = self.config.cost_config
        warnings_list: list[str] = []
        matched = set()
        for counter in (self.mac_counter, self.ac_counter, self.synop_counter):
            matched |= set(counter.get_counts().get("Global", {}))
        if not matched and not memory_scopes:
            message = (
                "SimpleEnergyProfiler did not match any supported operators. "
                "The model may not contain supported operators for this estimator."
            )
            if self.config.strict:
                raise RuntimeError(message)
            warnings_list.append(message)
        e_mac = mac * cost.e_mac_pj
        e_ac = ac * cost.e_ac_pj
        e_param = (weight + bias) * cost.e_memory_pj_per_byte
        e_state = (state_read + state_write) * cost.e_memory_pj_per_byte
        return SimpleEnergyReport(
            energy_total_pj=e_mac + e_ac + e_param + e_state,
            energy_compute_pj=e_mac + e_ac,
            energy_mac_pj=e_mac,
            energy_ac_pj=e_ac,
            energy_memory_pj=e_param + e_state,
            breakdown_pj={
                "mac_pj": e_mac,
                "ac_pj": e_ac,
                "parameter_memory_pj": e_param,
                "neuron_state_memory_pj": e_state,
                "memory_pj": e_param + e_state,
            },
            counts={
                "mac": mac,
                "ac": ac,
                "synop": synop,
                "weight_read_bytes": weight,
                "bias_read_bytes": bias,
                "neuron_state_read_bytes": state_read,
                "neuron_state_write_bytes": state_write,
                "memory_access_bytes": weight + bias + state_read + state_write,
            },
            warnings=warnings_list,
            model_info=_SIMPLE_MODEL_INFO,
            config=copy.deepcopy(self.config),
        )

    def get_total(self) -> float:
        """Total energy in pJ."""
        return self.get_report().energy_total_pj

    def get_counts(self) -> dict[str, int]:
        """Raw counts of the report."""
        return self.get_report().counts


def estimate_simple_energy(
    model: nn.Module, inputs: Any, *, config: SimpleEnergyConfig | None = None
) -> SimpleEnergyReport:
    """Run ``model(inputs)`` once under ``torch.no_grad`` and :class:`SimpleEnergyProfiler`;
    a tuple or list of ``inputs`` is passed as positional arguments, a dict as keywords."""
    profiler = SimpleEnergyProfiler(config=config)
    profiler.bind_model(model)
    with profiler, torch.no_grad():
        call_model(model, inputs)
    return profiler.get_report()
