"""The reference framework's import path ``neuron.inter_layer_connection``: ILC neurons,
re-exported.

The classes live in :mod:`snn_neurons.ilc`; import them from ``snn_neurons``.
"""

from snn_neurons.ilc import ILCBaseNode, ILCCUBALIFNode, ILCIFNode, ILCLIFNode

__all__ = ["ILCBaseNode", "ILCIFNode", "ILCLIFNode", "ILCCUBALIFNode"]
