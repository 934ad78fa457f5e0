"""snn-neurons: spiking neurons with torch, triton and cupy multi-step backends."""

from snn_neurons import backends
from snn_neurons.activation_aware import ActivationAwareIFNode
from snn_neurons.adaptive import AdaptBaseNode, IzhikevichNode
from snn_neurons.backends import BackendUnavailableError
from snn_neurons.base_node import BaseNode, NonSpikingBaseNode, SimpleBaseNode
from snn_neurons.clif import ComplementaryLIFNode
from snn_neurons.colored_noise import powerlaw_psd_gaussian
from snn_neurons.cuba import CUBALIFNode
from snn_neurons.dsr import DSRIFNode, DSRLIFNode
from snn_neurons.few_spike import FewSpikeNode, FewSpikeTable, HGNode, OutlierAwareThresholdNode
from snn_neurons.flexsn import FlexSN, FlexSNKernel
from snn_neurons.glif import GatedLIFNode
from snn_neurons.half_threshold_if import HalfThresholdIFNode
from snn_neurons.ilc import ILCBaseNode, ILCCUBALIFNode, ILCIFNode, ILCLIFNode
from snn_neurons.ilif import ILIFNode
from snn_neurons.integrate_and_fire import IFNode, NonSpikingIFNode, SimpleIFNode

# registers the generated-kernel backends 'triton' and 'cupy' (Triton / CuPy load lazily)
from snn_neurons.kernels import runner as _kernel_runner  # noqa: F401
from snn_neurons.klif import KLIFNode
from snn_neurons.liaf import LIAFNode
from snn_neurons.lif import LIFNode, NonSpikingLIFNode, SimpleLIFNode
from snn_neurons.mpbn import MPBNBaseNode, MPBNLIFNode
from snn_neurons.noisy import (
    NoisyBaseNode,
    NoisyCUBALIFNode,
    NoisyILCBaseNode,
    NoisyILCCUBALIFNode,
    NoisyNonSpikingBaseNode,
    NoisyNonSpikingIFNode,
)
from snn_neurons.nonlinear_if import EIFNode, QIFNode
from snn_neurons.online import OTTTLIFNode, SLTTLIFNode
from snn_neurons.plif import ParametricLIFNode
from snn_neurons.psn import PSN, MaskedPSN, SlidingPSN
from snn_neurons.resonate import RAFNode
from snn_neurons.spikezip import STBIFNode
from snn_neurons.ternary import TernaryIFNode, TernaryLIFNode
from snn_neurons.threshold_reset_lif import ThresholdResetLIFNode

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
    "FlexSN",
    "FlexSNKernel",
    "PSN",
    "MaskedPSN",
    "SlidingPSN",
    "AdaptBaseNode",
    "IzhikevichNode",
    "QIFNode",
    "EIFNode",
    "GatedLIFNode",
    "KLIFNode",
    "CUBALIFNode",
    "LIAFNode",
    "ThresholdResetLIFNode",
    "MPBNBaseNode",
    "MPBNLIFNode",
    "DSRIFNode",
    "DSRLIFNode",
    "OTTTLIFNode",
    "SLTTLIFNode",
    "ILCBaseNode",
    "ILCIFNode",
    "ILCLIFNode",
    "ILCCUBALIFNode",
    "powerlaw_psd_gaussian",
    "NoisyBaseNode",
    "NoisyCUBALIFNode",
    "NoisyILCBaseNode",
    "NoisyILCCUBALIFNode",
    "NoisyNonSpikingBaseNode",
    "NoisyNonSpikingIFNode",
    "ILIFNode",
    "FewSpikeNode",
    "FewSpikeTable",
    "HGNode",
    "OutlierAwareThresholdNode",
    "ActivationAwareIFNode",
    "ComplementaryLIFNode",
    "HalfThresholdIFNode",
    "RAFNode",
    "STBIFNode",
    "TernaryIFNode",
    "TernaryLIFNode",
    "__version__",
]
