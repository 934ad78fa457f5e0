"""The reference framework's import path ``neuron.lif_variants``: LIF variants, re-exported.

The classes live in their own files; import them from ``snn_neurons``.
"""

from snn_neurons.clif import ComplementaryLIFNode
from snn_neurons.cuba import CUBALIFNode
from snn_neurons.glif import GatedLIFNode
from snn_neurons.klif import KLIFNode
from snn_neurons.liaf import LIAFNode

__all__ = ["GatedLIFNode", "KLIFNode", "ComplementaryLIFNode", "CUBALIFNode", "LIAFNode"]
