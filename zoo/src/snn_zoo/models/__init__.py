"""The architectures, one file each; importing this package registers their variants."""

from snn_zoo.models import masnn, maxformer, ms_resnet, qkformer, sdt, sew_resnet, spikformer
from snn_zoo.models.masnn import MASNN, AttMSResNet
from snn_zoo.models.maxformer import MaxFormer
from snn_zoo.models.ms_resnet import MSResNet
from snn_zoo.models.qkformer import QKFormer
from snn_zoo.models.sdt import SpikeDrivenTransformer
from snn_zoo.models.sdt_v2 import MetaSpikeFormer
from snn_zoo.models.sew_resnet import SEWResNet
from snn_zoo.models.spikformer import Spikformer

__all__ = [
    "spikformer",
    "qkformer",
    "masnn",
    "sew_resnet",
    "ms_resnet",
    "sdt",
    "maxformer",
    "Spikformer",
    "QKFormer",
    "MASNN",
    "AttMSResNet",
    "SEWResNet",
    "MSResNet",
    "SpikeDrivenTransformer",
    "MetaSpikeFormer",
    "MaxFormer",
]
