"""snn-layers: layers for spiking networks with the SpikingJelly ``layer`` API.

Import from the top level (``from snn_layers import SeqToANNContainer``); the submodules
are private and may move.
"""

# the reference framework's submodule paths (layer.container, layer.bn, ...), as aliases
from snn_layers import (  # noqa: F401
    ann2snn,
    bn,
    container,
    learning,
    online_learning,
    rnn,
    stateless_wrapper,
)
from snn_layers.attention import (
    ChannelQKAttention,
    MultiDimensionalAttention,
    QKAttention,
    SpikeDrivenSelfAttention,
    SpikingSelfAttention,
    TemporalWiseAttention,
    TokenQKAttention,
)
from snn_layers.batch_norm import (
    BatchNormThroughTime1d,
    BatchNormThroughTime2d,
    BatchNormThroughTime3d,
    NeuNorm,
    TemporalEffectiveBatchNorm1d,
    TemporalEffectiveBatchNorm2d,
    TemporalEffectiveBatchNorm3d,
    TemporalEffectiveBatchNormNd,
    ThresholdDependentBatchNorm1d,
    ThresholdDependentBatchNorm2d,
    ThresholdDependentBatchNorm3d,
)
from snn_layers.containers import (
    ElementWiseRecurrentContainer,
    LinearRecurrentContainer,
    MultiStepContainer,
    SeqToANNContainer,
    StepModeContainer,
    TLastMultiStepContainer,
    TLastSeqToANNContainer,
)
from snn_layers.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from snn_layers.dropout import DropConnectLinear, Dropout, Dropout2d
from snn_layers.misc import Delay, PrintShapeModule, SynapseFilter, VotingLayer
from snn_layers.online import GradwithTrace, OTTTSequential, ReplaceforGrad, SpikeTraceOp
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
from snn_layers.spike_slots import SpikeCountToBinary, TemporalBinSum
from snn_layers.weight_standardization import WSConv2d, WSLinear
from snn_layers.wrappers import BatchNorm1d, BatchNorm2d, BatchNorm3d, Flatten, GroupNorm, Linear

__version__ = "0.1.0"

__all__ = [
    # containers
    "MultiStepContainer",
    "SeqToANNContainer",
    "TLastMultiStepContainer",
    "TLastSeqToANNContainer",
    "StepModeContainer",
    "ElementWiseRecurrentContainer",
    "LinearRecurrentContainer",
    # stateless wrappers
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Upsample",
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
    "GroupNorm",
    # batch normalization
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "NeuNorm",
    "ThresholdDependentBatchNorm1d",
    "ThresholdDependentBatchNorm2d",
    "ThresholdDependentBatchNorm3d",
    "TemporalEffectiveBatchNormNd",
    "TemporalEffectiveBatchNorm1d",
    "TemporalEffectiveBatchNorm2d",
    "TemporalEffectiveBatchNorm3d",
    "BatchNormThroughTime1d",
    "BatchNormThroughTime2d",
    "BatchNormThroughTime3d",
    # dropout
    "Dropout",
    "Dropout2d",
    "DropConnectLinear",
    # online learning
    "ReplaceforGrad",
    "GradwithTrace",
    "SpikeTraceOp",
    "OTTTSequential",
    # attention
    "TemporalWiseAttention",
    "MultiDimensionalAttention",
    "SpikingSelfAttention",
    "QKAttention",
    "TokenQKAttention",
    "ChannelQKAttention",
    "SpikeDrivenSelfAttention",
    # integer spike counts <-> binary slots
    "SpikeCountToBinary",
    "TemporalBinSum",
    # misc
    "SynapseFilter",
    "PrintShapeModule",
    "VotingLayer",
    "Delay",
    "__version__",
]
