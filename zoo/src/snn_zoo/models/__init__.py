"""SpikingJelly 2.0.0's ``activation_based.model`` namespace, ported by imports.

``from spikingjelly.activation_based.model import Spikformer`` becomes
``from snn_zoo.models import Spikformer``: the same classes and builders, signatures,
defaults, ``state_dict`` keys and outputs as the reference's definitions (which differ from
the official code in places; each module's docstring says how). The submodules keep the
reference's names (``snn_zoo.models.sew_resnet``, ``.spiking_resnet``, ``.spiking_vgg``,
``.spiking_vggws_ottt``, ``.parametric_lif_net``, ``.spike_dhs``, ``.snas_net`` ...).

As in the reference these models keep their neuron state between calls: call
``snn_core.functional.reset_net(model)`` before each new sample. The official-code-exact,
timm-registered variants with model cards are ``snn_zoo.create_model(...)``
(``snn_zoo.families``).
"""

from snn_zoo.models.masnn import MASNN, AttMSResNet, att_ms_resnet18, masnn_dvs128_gesture
from snn_zoo.models.maxformer import MaxFormer, maxformer_10_384, maxformer_cifar
from snn_zoo.models.ms_resnet import MaxResNet, MSResNet, max_resnet18, ms_resnet18, ms_resnet34
from snn_zoo.models.qkformer import QKFormer, qkformer_10_384
from snn_zoo.models.spike_driven_transformer import SpikeDrivenTransformer, sdt_8_384
from snn_zoo.models.spikformer import Spikformer, spikformer_cifar10, spikformer_s, spikformer_ti

__all__ = [
    "AttMSResNet",
    "MASNN",
    "MSResNet",
    "MaxFormer",
    "MaxResNet",
    "QKFormer",
    "SpikeDrivenTransformer",
    "Spikformer",
    "att_ms_resnet18",
    "masnn_dvs128_gesture",
    "max_resnet18",
    "maxformer_10_384",
    "maxformer_cifar",
    "ms_resnet18",
    "ms_resnet34",
    "qkformer_10_384",
    "sdt_8_384",
    "spikformer_cifar10",
    "spikformer_s",
    "spikformer_ti",
]
