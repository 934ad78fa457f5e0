"""SpikeSim energy profiler: Conv2d inference stages of IF/LIF SNNs on an IMC crossbar."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from snn_core.op_counter._neuron import has_class_named, is_any_neuron
from snn_core.op_counter.base import DispatchCounterMode, EnergyModelInfo, call_model
from snn_core.op_counter.spikesim.config import SpikeSimEnergyConfig
from snn_core.op_counter.spikesim.counter import SpikeSimCounter
from snn_core.op_counter.spikesim.formulas import (
    compute_spikesim_dense_energy_breakdown,
    compute_spikesim_event_energy_breakdown,
)

__all__ = [
    "SpikeSimCounter",
    "SpikeSimEnergyConfig",
    "SpikeSimEnergyProfiler",
    "SpikeSimEnergyReport",
    "estimate_spikesim_energy",
]

_SUPPORTED_NEURONS = ("IFNode", "LIFNode", "SimpleIFNode", "SimpleLIFNode")
_SPIKESIM_SOURCE = (
    "https://doi.org/10.1109/TCAD.2023.3274918",
    "https://github.com/Intelligent-Computing-Lab-Yale/SpikeSim/commit/c2627bc091a47bdcb630ca6207eaf44a00bd1da4",
)


def _unsupported_neuron_modules(model: nn.Module) -> list[tuple[str, str]]:
    return [
        (name or type(m).__name__, type(m).__name__)
        for name, m in model.named_modules()
        if is_any_neuron(m) and not has_class_named(m, _SUPPORTED_NEURONS)
    ]


@dataclass
class SpikeSimEnergyReport:
    """Result of :class:`SpikeSimEnergyProfiler` (energies in pJ, per stage and component)."""

    energy_total_pj: float
    energy_by_stage: dict[str, float]
    energy_by_component: dict[str, Any]
    event_stats_by_stage: dict[str, dict[str, Any]]
    stage_metadata: dict[str, dict[str, Any]]
    warnings: list[str]
    breakdown_pj: dict[str, float]
    counts: dict[str, int]
    model_info: EnergyModelInfo
    config: SpikeSimEnergyConfig


class SpikeSimEnergyProfiler:
    """Context collecting SpikeSim stage statistics of the Conv2d inference run inside it.

    Args:
        config: SpikeSim configuration (validated; a copy is kept).
        strict: raise on out-of-scope convolutions and when no stage was profiled.
    """

    def __init__(self, *, config: SpikeSimEnergyConfig | None = None, strict: bool = True) -> None:
        self.config = (config or SpikeSimEnergyConfig()).copy()
        self.config.validate()
        self.strict = strict
        self._counter = SpikeSimCounter(config=self.config, strict=self.strict)
        self._dispatch_mode = DispatchCounterMode([self._counter], strict=False)
        self._warnings: list[str] = []

    def __enter__(self) -> SpikeSimEnergyProfiler:
        self._counter.reset()
        self._dispatch_mode.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        return self._dispatch_mode.__exit__(exc_type, exc, tb)

    def get_report(self) -> SpikeSimEnergyReport:
        """Energies per stage and component of what ran inside."""
        stats_by_stage = self._counter.get_stage_stats()
        metadata = self._counter.get_stage_metadata()
        formula = (
            compute_spikesim_event_energy_breakdown
            if self.config.activity_mode == "event"
            else compute_spikesim_dense_energy_breakdown
        )
        energy_by_stage: dict[str, float] = {}
        by_stage: dict[str, dict[str, float]] = {}
        totals: dict[str, float] = defaultdict(float)
        for stage, stats in stats_by_stage.items():
            breakdown = formula(stats=stats, metadata=metadata[stage], config=self.config)
            by_stage[stage] = breakdown
            energy_by_stage[stage] = breakdown["total_pj"]
            for key, value in breakdown.items():
                if key != "total_pj":
                    totals[key] += value
        warnings = list(self._warnings) + list(self._counter.warnings)
        if not energy_by_stage:
            message = (
                "No supported Conv2d forward inference stages were profiled by SpikeSim energy."
            )
            if self.strict:
                raise ValueError(message)
            warnings.append(message)
        total = sum(energy_by_stage.values())
        dense = self.config.activity_mode == "dense"
        return SpikeSimEnergyReport(
            energy_total_pj=total,
            energy_by_stage=energy_by_stage,
            energy_by_component={"totals": {**totals, "total_pj": total}, "by_stage": by_stage},
            event_stats_by_stage=stats_by_stage,
            stage_metadata=metadata,
            warnings=warnings,
            breakdown_pj=dict(totals),
            counts={
                "dense_pe_cycle_count": int(self._counter.get_total()),
                "stage_count": len(metadata),
            },
            model_info=EnergyModelInfo(
                model_id="spikesim_c2627bc_dense_v1" if dense else "spikingjelly_spikesim_event_v1",
                fidelity="reference-code" if dense else "spikingjelly-defined",
                source_urls=_SPIKESIM_SOURCE,
                technology_nm=65,
                precision="SpikeSim crossbar and IF/LIF peripheral assumptions",
                scope="runtime Conv2d inference PE-cycle energy",
            ),
            config=self.config.copy(),
        )

    def get_total(self) -> float:
        """Total energy in pJ."""
        return self.get_report().energy_total_pj

    def get_counts(self) -> dict[str, Any]:
        """Stage statistics and metadata."""
        report = self.get_report()
        return {
            "event_stats_by_stage": report.event_stats_by_stage,
            "stage_metadata": report.stage_metadata,
        }


def estimate_spikesim_energy(
    model: nn.Module,
    inputs: Any,
    *,
    config: SpikeSimEnergyConfig | None = None,
    strict: bool = True,
) -> SpikeSimEnergyReport:
    """Run ``model(inputs)`` once (eval mode expected, ``torch.no_grad``) under
    :class:`SpikeSimEnergyProfiler`. With ``strict``, a model in training mode or with
    neurons other than IF/LIF (when ``config.require_if_lif_neurons``) raises ``ValueError``."""
    profiler = SpikeSimEnergyProfiler(config=config, strict=strict)
    training_message = (
        "SpikeSim energy only covers forward inference; call model.eval() before profiling."
    )
    if model.training and strict:
        raise ValueError(training_message)
    neuron_warnings: list[str] = []
    if profiler.config.require_if_lif_neurons:
        unsupported = _unsupported_neuron_modules(model)
        if unsupported:
            details = ", ".join(f"{name} ({cls})" for name, cls in unsupported)
            message = (
                "SpikeSim assumes IF/LIF neuronal modules. "
                f"Unsupported neuron modules found: {details}."
            )
            if strict:
                raise ValueError(message)
            neuron_warnings.append(message)
    profiler._warnings = neuron_warnings
    with profiler, torch.no_grad():
        call_model(model, inputs)
    report = profiler.get_report()
    if model.training:
        report.warnings.insert(0, training_message)
    return report
