"""snn-neurons: spiking neurons with torch, triton and cupy multi-step backends."""

from snn_neurons import backends
from snn_neurons.backends import BackendUnavailableError
from snn_neurons.base_node import BaseNode, NonSpikingBaseNode, SimpleBaseNode
from snn_neurons.integrate_and_fire import IFNode, NonSpikingIFNode, SimpleIFNode
from snn_neurons.lif import LIFNode, NonSpikingLIFNode, SimpleLIFNode
from snn_neurons.plif import ParametricLIFNode
from snn_neurons.psn import PSN, MaskedPSN, SlidingPSN

__version__ = "0.1.0"

__all__ = [
    "backends",
    "BackendUnavailableError",
    "BaseNode",
    "SimpleBaseNode",
    "NonSpikingBaseNode",
    "SimpleIFNode",
    "IFNode",
    "NonSpikingIFNode",
    "SimpleLIFNode",
    "LIFNode",
    "NonSpikingLIFNode",
    "ParametricLIFNode",
    "PSN",
    "MaskedPSN",
    "SlidingPSN",
    "__version__",
]
