"""The reference framework's import path ``layer.container``: the containers, re-exported.

The classes live in :mod:`snn_layers.containers`; import them from ``snn_layers``.
"""

from snn_layers.containers import (
    ElementWiseRecurrentContainer,
    LinearRecurrentContainer,
    MultiStepContainer,
    SeqToANNContainer,
    StepModeContainer,
    TLastMultiStepContainer,
    TLastSeqToANNContainer,
)

__all__ = [
    "MultiStepContainer",
    "SeqToANNContainer",
    "TLastMultiStepContainer",
    "TLastSeqToANNContainer",
    "StepModeContainer",
    "ElementWiseRecurrentContainer",
    "LinearRecurrentContainer",
]
