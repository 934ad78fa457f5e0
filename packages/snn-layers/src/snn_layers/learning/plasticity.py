"""The reference framework's module path ``learning.plasticity``: the STDP-family learners.

Defined in :mod:`snn_layers.learning.stdp` and :mod:`snn_layers.learning.reward`; import
them from :mod:`snn_layers.learning`.
"""

from snn_layers.learning.reward import MSTDPETLearner, MSTDPLearner
from snn_layers.learning.stdp import STDPLearner

__all__ = ["STDPLearner", "MSTDPLearner", "MSTDPETLearner"]
