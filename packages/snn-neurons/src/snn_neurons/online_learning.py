"""The reference framework's import path ``neuron.online_learning``: online-learning LIF
neurons, re-exported.

The classes live in :mod:`snn_neurons.online`; import them from ``snn_neurons``.
"""

from snn_neurons.online import OTTTLIFNode, SLTTLIFNode

__all__ = ["OTTTLIFNode", "SLTTLIFNode"]
