"""The reference framework's import path ``functional.loss``: the losses, re-exported.

The functions live in :mod:`snn_core.functional.losses`; import them from
``snn_core.functional``.
"""

from snn_core.functional.losses import (
    kernel_dot_product,
    spike_similar_loss,
    temporal_efficient_training_cross_entropy,
)

__all__ = ["kernel_dot_product", "spike_similar_loss", "temporal_efficient_training_cross_entropy"]
