"""The architectures, one file each; importing this package registers their variants."""

from snn_zoo.families import masnn, maxformer, ms_resnet, qkformer, sdt, sew_resnet, spikformer
from snn_zoo.families.masnn import MASNN, AttMSResNet
from snn_zoo.families.maxformer import MaxFormer
from snn_zoo.families.ms_resnet import MSResNet
from snn_zoo.families.qkformer import QKFormer
from snn_zoo.families.sdt import SpikeDrivenTransformer
from snn_zoo.families.sdt_v2 import MetaSpikeFormer
from snn_zoo.families.sew_resnet import SEWResNet
from snn_zoo.families.spikformer import Spikformer

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
