"""The reference framework's import path ``layer.online_learning``: the online-learning
modules, re-exported.

The classes live in :mod:`snn_layers.online`; import them from ``snn_layers``.
"""

from snn_layers.online import GradwithTrace, OTTTSequential, ReplaceforGrad, SpikeTraceOp

__all__ = ["ReplaceforGrad", "GradwithTrace", "SpikeTraceOp", "OTTTSequential"]
