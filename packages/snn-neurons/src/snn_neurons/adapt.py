"""The reference framework's import path ``neuron.adapt``: adaptive neurons, re-exported.

The classes live in :mod:`snn_neurons.adaptive`; import them from ``snn_neurons``.
"""

from snn_neurons.adaptive import AdaptBaseNode, IzhikevichNode

__all__ = ["AdaptBaseNode", "IzhikevichNode"]
