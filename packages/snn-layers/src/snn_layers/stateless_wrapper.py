"""The reference framework's import path ``layer.stateless_wrapper``: the step-mode wrappers
of stateless torch layers, re-exported.

The classes live in :mod:`snn_layers.conv`, :mod:`snn_layers.pooling`,
:mod:`snn_layers.wrappers` and :mod:`snn_layers.weight_standardization`; import them from
``snn_layers``.
"""

from snn_layers.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from snn_layers.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
    Upsample,
)
from snn_layers.weight_standardization import WSConv2d, WSLinear
from snn_layers.wrappers import Flatten, GroupNorm, Linear

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "Upsample",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "GroupNorm",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "Linear",
    "Flatten",
    "WSConv2d",
    "WSLinear",
]
