"""NeuroMC (Nature Communications 2026) runtime energy of SNN inference and training."""

from snn_core.op_counter.neuromc.config import MemoryHierarchyConfig, MemoryInstanceSpec
from snn_core.op_counter.neuromc.core import (
    NeuroMCEnergyProfiler,
    NeuroMCRuntimeEnergyReport,
    estimate_neuromc_runtime_energy,
)

__all__ = [
    "MemoryInstanceSpec",
    "MemoryHierarchyConfig",
    "NeuroMCEnergyProfiler",
    "NeuroMCRuntimeEnergyReport",
    "estimate_neuromc_runtime_energy",
]
