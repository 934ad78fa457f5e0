"""The reference framework's import path ``layer.bn``: the batch-norm layers, re-exported.

The classes live in :mod:`snn_layers.wrappers` and :mod:`snn_layers.batch_norm`; import
them from ``snn_layers``.
"""

from snn_layers.batch_norm import (
    BatchNormThroughTime1d,
    BatchNormThroughTime2d,
    BatchNormThroughTime3d,
    NeuNorm,
    TemporalEffectiveBatchNorm1d,
    TemporalEffectiveBatchNorm2d,
    TemporalEffectiveBatchNorm3d,
    ThresholdDependentBatchNorm1d,
    ThresholdDependentBatchNorm2d,
    ThresholdDependentBatchNorm3d,
)
from snn_layers.wrappers import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "NeuNorm",
    "ThresholdDependentBatchNorm1d",
    "ThresholdDependentBatchNorm2d",
    "ThresholdDependentBatchNorm3d",
    "TemporalEffectiveBatchNorm1d",
    "TemporalEffectiveBatchNorm2d",
    "TemporalEffectiveBatchNorm3d",
    "BatchNormThroughTime1d",
    "BatchNormThroughTime2d",
    "BatchNormThroughTime3d",
]
