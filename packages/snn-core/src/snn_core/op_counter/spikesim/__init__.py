"""SpikeSim (Moitra et al., IEEE TCAD 2023) crossbar energy of Conv2d SNN inference."""

from snn_core.op_counter.spikesim.config import SpikeSimEnergyConfig
from snn_core.op_counter.spikesim.core import (
    SpikeSimEnergyProfiler,
    SpikeSimEnergyReport,
    estimate_spikesim_energy,
)
from snn_core.op_counter.spikesim.counter import SpikeSimCounter

__all__ = [
    "SpikeSimCounter",
    "SpikeSimEnergyConfig",
    "SpikeSimEnergyProfiler",
    "SpikeSimEnergyReport",
    "estimate_spikesim_energy",
]
