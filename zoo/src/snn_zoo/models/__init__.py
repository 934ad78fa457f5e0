"""The architectures, one file each; importing this package registers their variants."""

from snn_zoo.models import masnn, qkformer, spikformer
from snn_zoo.models.masnn import MASNN, AttMSResNet
from snn_zoo.models.qkformer import QKFormer
from snn_zoo.models.spikformer import Spikformer

__all__ = ["spikformer", "qkformer", "masnn", "Spikformer", "QKFormer", "MASNN", "AttMSResNet"]
