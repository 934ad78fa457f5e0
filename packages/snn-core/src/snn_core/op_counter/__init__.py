"""Operation counters and energy models (port of ``spikingjelly.activation_based.op_counter``).

Counters are fed by a counting context: :class:`DispatchCounterMode` sees every aten op
(whatever Python call produced it, attention matmuls included), :class:`FunctionCounterMode`
every torch function, :class:`ModuleCounterMode` module forward/backward events. Each
counter maps ops to formulas (FLOPs, MACs, ACs, SynOps, memory bytes, neuron-state work)
and records them per module scope. Energy estimators combine counters with per-operation
energies; :func:`estimate_paper_energy` computes the figure SNN papers report.
"""

from snn_core.op_counter import (
    ac,
    analytical_energy,
    base,
    flop,
    mac,
    memory_access,
    neuromc,
    neuromorphic_memory_access,
    neuron_state,
    paper_energy,
    simple_energy,
    spikesim,
    synop,
)
from snn_core.op_counter.ac import ACCounter
from snn_core.op_counter.analytical_energy import (
    LemaireEnergyConfig,
    LemaireEnergyCostConfig,
    LemaireEnergyProfiler,
    LemaireEnergyReport,
    estimate_lemaire_energy,
)
from snn_core.op_counter.base import (
    ActiveModuleTracker,
    BaseCounter,
    DispatchCounterMode,
    EnergyModelInfo,
    FunctionCounterMode,
    ModuleCounter,
    ModuleCounterMode,
    is_binary_tensor,
)
from snn_core.op_counter.flop import FlopCounter
from snn_core.op_counter.mac import MACCounter
from snn_core.op_counter.memory_access import MemoryAccessCounter
from snn_core.op_counter.neuromc import (
    MemoryHierarchyConfig,
    MemoryInstanceSpec,
    NeuroMCEnergyProfiler,
    NeuroMCRuntimeEnergyReport,
    estimate_neuromc_runtime_energy,
)
from snn_core.op_counter.neuromorphic_memory_access import NeuromorphicMemoryAccessCounter
from snn_core.op_counter.neuron_state import NeuronStateCounter
from snn_core.op_counter.paper_energy import (
    PaperEnergyCounter,
    PaperEnergyReport,
    PaperLayerEnergy,
    estimate_paper_energy,
)
from snn_core.op_counter.simple_energy import (
    SimpleEnergyConfig,
    SimpleEnergyCostConfig,
    SimpleEnergyProfiler,
    SimpleEnergyReport,
    estimate_simple_energy,
)
from snn_core.op_counter.spikesim import (
    SpikeSimCounter,
    SpikeSimEnergyConfig,
    SpikeSimEnergyProfiler,
    SpikeSimEnergyReport,
    estimate_spikesim_energy,
)
from snn_core.op_counter.synop import SynOpCounter

__all__ = [
    "ACCounter",
    "ActiveModuleTracker",
    "BaseCounter",
    "DispatchCounterMode",
    "EnergyModelInfo",
    "FlopCounter",
    "FunctionCounterMode",
    "LemaireEnergyConfig",
    "LemaireEnergyCostConfig",
    "LemaireEnergyProfiler",
    "LemaireEnergyReport",
    "MACCounter",
    "MemoryAccessCounter",
    "MemoryHierarchyConfig",
    "MemoryInstanceSpec",
    "ModuleCounter",
    "ModuleCounterMode",
    "NeuroMCEnergyProfiler",
    "NeuroMCRuntimeEnergyReport",
    "NeuromorphicMemoryAccessCounter",
    "NeuronStateCounter",
    "PaperEnergyCounter",
    "PaperEnergyReport",
    "PaperLayerEnergy",
    "SimpleEnergyConfig",
    "SimpleEnergyCostConfig",
    "SimpleEnergyProfiler",
    "SimpleEnergyReport",
    "SpikeSimCounter",
    "SpikeSimEnergyConfig",
    "SpikeSimEnergyProfiler",
    "SpikeSimEnergyReport",
    "SynOpCounter",
    "estimate_lemaire_energy",
    "estimate_neuromc_runtime_energy",
    "estimate_paper_energy",
    "estimate_simple_energy",
    "estimate_spikesim_energy",
    "is_binary_tensor",
    "ac",
    "analytical_energy",
    "base",
    "flop",
    "mac",
    "memory_access",
    "neuromc",
    "neuromorphic_memory_access",
    "neuron_state",
    "paper_energy",
    "simple_energy",
    "spikesim",
    "synop",
]
