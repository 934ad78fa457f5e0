"""MA-SNN (Yao et al., "Attention Spiking Neural Networks", IEEE TPAMI 2023; official code
github.com/BICLab/Attention-SNN, formerly BICLab/MA-SNN).

Multi-dimensional attention (``MultiDimensionalAttention``: temporal, channel, spatial)
refines the membrane input of spiking layers. Two families are built here:

- :class:`MASNN`, the paper's event-stream network (DVS128 Gesture): three
  ``conv3x3 -> BN (-> avgpool) -> TCSA -> LIF`` layers and two
  ``Linear -> BN -> temporal attention -> ReLU -> LIF`` layers; the output is the firing
  rate of the last layer over time. Parameter names as the official SpikingJelly version
  (``convAttLIF0.conv2d``, ``...BNLayer``, ``...attention.{ta,ca,sa}``, ``FC0.linear``).
  The neuron is the official LIF cell (``snn_neurons.ThresholdResetLIFNode``): it fires at
  ``U >= 0.3``, a spike sets the potential to the threshold 0.3 (not to 0), and 30% of it
  is kept for the next step (``alpha=0.3``, ``beta=0``); rectangular surrogate of width 0.5
  and height 2, reset not detached, as the official configuration.
- :class:`AttMSResNet`, MS-ResNet (membrane shortcut: ``LIF -> conv -> BN`` twice per
  block, the shortcut adds membrane potentials) with channel-spatial attention (CSA) on the
  residual branch, as in the paper's ImageNet models (``T = 1``). Parameter names follow
  the official Att_Res_SNN code (``conv1``, ``conv2_x.0.residual_function.1`` ...,
  the attention as the branch's last module ``residual_function.6.attention.{ca,sa}``,
  ``shortcut``, ``fc``); state dicts with the attention at ``convN_x.i.attention`` (snn-zoo
  0.1) load too. The neuron keeps 25% of its potential and fires above 0.5 (``LIF(tau=4/3,
  decay_input=False, v_threshold=0.5)``, hard reset to 0, rectangular surrogate of width 1)
  and, as the official code, fires only where ``H > 0.5`` strictly
  (:class:`StrictThresholdLIFNode`). It is :class:`~snn_zoo.families.ms_resnet.MSResNet`
  (same blocks, neuron and head) with the attention switched on, the pooled shortcut and
  the last BN of each branch initialised to 0.1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from snn_core import functional
from snn_core.surrogate import Rect
from snn_layers.attention import (
    MultiDimensionalAttention,
    TemporalWiseAttention,
    make_neuron_factory,
)
from snn_neurons import ThresholdResetLIFNode
from torch import nn

from snn_zoo._base import SpikingClassifier, check_global_pool, reject_unplaced
from snn_zoo._blocks import (
    check_positive_int,
    check_rate,
    dropout,
    seq_apply,
    to_2tuple_size,
)
from snn_zoo._registry import register_model
from snn_zoo.families.ms_resnet import MSResNet, StrictThresholdLIFNode

__all__ = ["MASNN", "AttMSResNet", "StrictThresholdLIFNode"]


def _neuron_builder(
    default: type[nn.Module],
    defaults: dict[str, Any],
    neuron: Any,
    neuron_kwargs: Mapping[str, Any] | None,
    backend: str,
) -> Any:
    """The official neuron (``default(**defaults)``, ``neuron_kwargs`` overriding its
    fields) unless the caller picks a neuron."""
    if neuron is None:
        return make_neuron_factory(default, {**defaults, **(neuron_kwargs or {})}, backend)
    return make_neuron_factory(neuron, neuron_kwargs, backend)


# --------------------------------------------------------------------------- MA-SNN (events)
class _ConvAttLIF(nn.Module):
    """``conv3x3 -> BN (-> avgpool) -> MultiDimensionalAttention -> LIF`` on ``[T, B, C, H, W]``."""

    def __init__(
        self, cin: int, cout: int, pool: int, T: int, r_t: int, r_c: int, build: Any
    ) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(cin, cout, 3, stride=1, padding=1, bias=True)
        self.BNLayer = nn.BatchNorm2d(cout)
        self.pooling = nn.AvgPool2d(pool) if pool > 1 else nn.Identity()
        self.attention = MultiDimensionalAttention(T, cout, reduction_t=r_t, reduction_c=r_c)
        self.lif = build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = seq_apply(self.pooling, seq_apply(self.BNLayer, seq_apply(self.conv2d, x)))
        return self.lif(self.attention(x))


class _TemporalAttentionFC(nn.Module):
    """TA-SNN temporal attention on ``[T, B, L]`` followed by ReLU (MA-SNN's ``TA``, fc=True)."""

    def __init__(self, T: int, reduction: int) -> None:
        super().__init__()
        self.ta = TemporalWiseAttention(T, reduction, dimension=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.ta(x))


class _FCAttLIF(nn.Module):
    """``Linear -> BN -> temporal attention -> ReLU -> LIF`` on ``[T, B, L]``."""

    def __init__(self, fin: int, fout: int, T: int, r_t: int, build: Any) -> None:
        super().__init__()
        self.linear = nn.Linear(fin, fout, bias=True)
        self.BNLayer = nn.BatchNorm1d(fout)
        self.attention = _TemporalAttentionFC(T, r_t)
        self.lif = build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.attention(seq_apply(self.BNLayer, seq_apply(self.linear, x))))


# the official cell (MA_SNN/module/LIF.py with the DVS128 Gesture Config.py values)
_DVS_LIF = dict(alpha=0.3, beta=0.0, v_threshold=0.3, detach_reset=False)


class MASNN(SpikingClassifier):
    """MA-SNN's convolutional network for event streams (DVS128 Gesture).

    Args:
        img_size: input size (``H``, ``W`` divisible by the product of ``pools``); it fixes
            the first fully connected layer.
        in_chans: input channels (2 event polarities).
        num_classes: classes (11 gestures).
        T: time steps (fixed: the temporal attention is built for ``T``).
        channels: output channels of the convolution layers.
        pools: average-pool size after each convolution (1: none).
        fc_hidden: units of the hidden fully connected layer.
        reduction_t, reduction_c: attention reduction ratios (5 and 8 in the paper).
        backend, neuron, neuron_kwargs: the neurons; ``neuron=None`` is the official cell
            (``ThresholdResetLIFNode(alpha=0.3, beta=0, v_threshold=0.3)``, surrogate
            ``Rect(alpha=2)``), and ``neuron_kwargs`` then override its fields.
        drop_rate: dropout on the hidden layer's spikes before the classifier (timm's meaning).
        bn_momentum, bn_eps: ``momentum`` / ``eps`` of every BatchNorm (``None``: torch's).
        drop_path_rate, proj_drop_rate, attn_drop_rate, pos_drop_rate, patch_drop_rate,
            drop_block_rate: accepted at 0 only; ``global_pool``: ``None`` only (no residual
            branches, attention projections, position embedding or global pooling).
    """

    fixed_T = True

    def __init__(
        self,
        *,
        img_size: int | tuple[int, int] = 32,
        in_chans: int = 2,
        num_classes: int = 11,
        T: int = 60,
        channels: Sequence[int] = (64, 128, 128),
        pools: Sequence[int] = (1, 2, 2),
        fc_hidden: int = 256,
        reduction_t: int = 5,
        reduction_c: int = 8,
        backend: str = "torch",
        neuron: Any = None,
        neuron_kwargs: Mapping[str, Any] | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        patch_drop_rate: float = 0.0,
        drop_block_rate: float | None = None,
        global_pool: str | None = None,
        bn_momentum: float | None = None,
        bn_eps: float | None = None,
    ) -> None:
        super().__init__(T, num_classes, in_chans)
        name = type(self).__name__
        reject_unplaced(
            name,
            drop_path_rate=(drop_path_rate, "MA-SNN has no residual branches"),
            proj_drop_rate=(proj_drop_rate, "MA-SNN has no attention projections"),
            attn_drop_rate=(attn_drop_rate, "its attention has no softmax attention map"),
            pos_drop_rate=(pos_drop_rate, "MA-SNN has no position embedding"),
            patch_drop_rate=(patch_drop_rate, "MA-SNN has no tokens"),
            drop_block_rate=(drop_block_rate, "DropBlock is not implemented"),
        )
        self.global_pool = check_global_pool(
            name, global_pool, (), "MA-SNN flattens its feature maps into a fully connected layer"
        )
        self.drop_rate = check_rate(name, "drop_rate", drop_rate)
        channels, pools = tuple(channels), tuple(pools)
        if not channels or len(channels) != len(pools):
            raise ValueError(
                f"{name}: channels and pools must be non-empty and of the same length, "
                f"got {channels!r} and {pools!r}"
            )
        for c in channels:
            check_positive_int(name, "channels[i]", c)
        for p in pools:
            check_positive_int(name, "pools[i]", p)
        self.img_size = to_2tuple_size(name, img_size)
        total = 1
        for p in pools:
            total *= p
        if self.img_size[0] % total or self.img_size[1] % total:
            raise ValueError(
                f"{name}: img_size {self.img_size} must be divisible by the total pooling "
                f"{total} (pools={pools})"
            )
        self.fc_hidden = check_positive_int(name, "fc_hidden", fc_hidden)
        self.reduction_t = reduction_t
        self._build = build = _neuron_builder(
            ThresholdResetLIFNode,
            {**_DVS_LIF, "surrogate_function": Rect(alpha=2.0)},
            neuron,
            neuron_kwargs,
            backend,
        )
        cin = in_chans
        self._n_conv = len(channels)
        for i, (cout, pool) in enumerate(zip(channels, pools)):
            setattr(
                self,
                f"convAttLIF{i}",
                _ConvAttLIF(cin, cout, pool, T, reduction_t, reduction_c, build),
            )
            cin = cout
        flat = channels[-1] * (self.img_size[0] // total) * (self.img_size[1] // total)
        self.FC0 = _FCAttLIF(flat, fc_hidden, T, reduction_t, build)
        self.head_drop = dropout(self.drop_rate)
        self.FC1: nn.Module = (
            _FCAttLIF(fc_hidden, num_classes, T, reduction_t, build)
            if num_classes > 0
            else nn.Identity()
        )
        self.num_features = fc_hidden
        red, self.feature_info = 1, []
        for i, (c, p) in enumerate(zip(channels, pools)):
            red *= p
            self.feature_info.append(dict(num_chs=c, reduction=red, module=f"convAttLIF{i}"))
        self.set_bn_options(bn_momentum, bn_eps)

    def adapt_official_tensor(self, key: str, value: torch.Tensor) -> torch.Tensor:
        # The official fully connected TA stores its MLP as Conv1d weights [out, in, 1].
        if re.fullmatch(r"FC\d+\.attention\.ta\.sharedMLP\.[02]\.weight", key) and value.dim() == 3:
            return value.squeeze(-1)
        return value

    @classmethod
    def num_feature_stages(cls, channels: Sequence[int] = (64, 128, 128), **config: Any) -> int:
        """Number of feature stages for a config: the convolution layers."""
        return len(tuple(channels))

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[getattr(self, f"convAttLIF{i}")] for i in range(self._n_conv)]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``[T, B, C, H, W]`` -> ``FC0`` (-> ``FC1``) -> firing rate over time ``[B, *]``."""
        if x.dim() != 5:
            raise ValueError(f"forward_head takes [T, B, C, H, W] features, got {tuple(x.shape)}")
        functional.reset_net(self.FC0)
        functional.reset_net(self.FC1)
        x = self.head_drop(self.FC0(x.flatten(2)))
        if pre_logits:
            return x.mean(0)
        return self.FC1(x).mean(0)

    head_attr = "FC1"
    global_pools = ((), "it has no global pooling")

    def new_head(self, num_classes: int) -> nn.Module:
        if num_classes == 0:
            return nn.Identity()
        return _FCAttLIF(self.fc_hidden, num_classes, self.T, self.reduction_t, self._build)


# --------------------------------------------------------------------------- Att-MS-ResNet
class AttMSResNet(MSResNet):
    """Att-MS-ResNet: MS-ResNet with channel-spatial attention in every block (built by
    :class:`~snn_zoo.families.ms_resnet.MSResNet` with ``reduction_c`` set, the shortcut
    ``AvgPool -> conv1x1 -> BN`` and the last BN of each branch initialised to 0.1).

    Args:
        img_size: input size recorded in the card (any size runs: global average pool).
        in_chans: input channels.
        num_classes: classes (0: no head).
        T: time steps (1 for the paper's ImageNet models).
        layers: blocks per stage (``(2, 2, 2, 2)``: 18 layers, ``(3, 4, 6, 3)``: 34).
        reduction_c: channel attention reduction ratio (8).
        drop_rate: dropout before the classifier.
        backend, neuron, neuron_kwargs: the neurons; ``neuron=None`` is the official LIF
            (:class:`StrictThresholdLIFNode`, ``neuron_kwargs`` overriding its fields).
        drop_path_rate: stochastic depth of the residual branches, rising linearly over the
            blocks (timm's ResNet rule).
        global_pool: ``None`` or ``'avg'`` (the mean over space and time).
        bn_momentum, bn_eps: ``momentum`` / ``eps`` of every BatchNorm (``None``: torch's).
        proj_drop_rate, attn_drop_rate, pos_drop_rate, patch_drop_rate, drop_block_rate:
            accepted at 0 only (no attention projections or map, position embedding, tokens
            or DropBlock).
    """

    def __init__(
        self,
        *,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        T: int = 1,
        layers: Sequence[int] = (2, 2, 2, 2),
        reduction_c: int = 8,
        drop_rate: float = 0.2,
        backend: str = "torch",
        neuron: Any = None,
        neuron_kwargs: Mapping[str, Any] | None = None,
        drop_path_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        patch_drop_rate: float = 0.0,
        drop_block_rate: float | None = None,
        global_pool: str | None = None,
        bn_momentum: float | None = None,
        bn_eps: float | None = None,
    ) -> None:
        super().__init__(
            img_size=img_size,
            in_chans=in_chans,
            num_classes=num_classes,
            T=T,
            layers=layers,
            stem="7x7",
            shortcut="avgpool",
            last_bn_init=0.1,
            reduction_c=reduction_c,
            drop_rate=drop_rate,
            backend=backend,
            neuron=neuron,
            neuron_kwargs=neuron_kwargs,
            drop_path_rate=drop_path_rate,
            proj_drop_rate=proj_drop_rate,
            attn_drop_rate=attn_drop_rate,
            pos_drop_rate=pos_drop_rate,
            patch_drop_rate=patch_drop_rate,
            drop_block_rate=drop_block_rate,
            global_pool=global_pool,
            bn_momentum=bn_momentum,
            bn_eps=bn_eps,
        )


# --------------------------------------------------------------------------- variants
_PAPER = "Attention Spiking Neural Networks (Yao et al., IEEE TPAMI 2023)"


def _card(dataset: str, params_m: float | None, acc: float | None, **kw: Any) -> dict[str, Any]:
    card = dict(
        architecture="masnn",
        paper=_PAPER,
        paper_ids="doi:10.1109/TPAMI.2023.3241201",
        origin_url="https://github.com/BICLab/Attention-SNN",
        dataset=dataset,
        params_m=params_m,
        reported_accuracy=acc,
        T=1,
        num_classes=1000,
        input_size=(3, 224, 224),
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        interpolation="bilinear",
        crop_pct=0.875,
        first_conv="conv1.0",
        classifier="fc",
    )
    card.update(kw)
    return card


@register_model(
    MASNN,
    _card(
        "dvs128-gesture",
        None,
        None,
        T=60,
        num_classes=11,
        input_size=(2, 32, 32),
        mean=(0.0, 0.0),
        std=(1.0, 1.0),
        fixed_input_size=True,
        first_conv="convAttLIF0.conv2d",
        classifier="FC1.linear",
        notes=(
            "input: [T=60, B, 2, 32, 32] event frames (dt = 15 ms, 128x128 sensor downsampled 4x)",
            "params_m: the paper tables no count for this network; measured 2.34 M",
            "output: firing rates of the 11 output neurons (trained with MSE in the paper)",
            "neuron: the official cell snn_neurons.ThresholdResetLIFNode (a spike sets the "
            "potential to the threshold 0.3 and then 30% of it is kept)",
            "the official code takes [B; T; 2; 32; 32]: transpose it to [T; B; 2; 32; 32]",
        ),
    ),
    default=True,
)
def masnn_dvs128_gesture() -> dict[str, Any]:
    """MA-SNN (TCSA) for DVS128 Gesture, 2x32x32 event frames, T=60, 11 classes."""
    return dict(
        img_size=32,
        in_chans=2,
        num_classes=11,
        T=60,
        channels=(64, 128, 128),
        pools=(1, 2, 2),
        fc_hidden=256,
        reduction_t=5,
        reduction_c=8,
    )


@register_model(
    AttMSResNet,
    _card(
        "imagenet-1k",
        11.87,
        None,
        notes=("params: MS-ResNet-18 (11.69 M) + CSA; accuracy not verified from the paper",),
    ),
)
def att_ms_resnet18() -> dict[str, Any]:
    """Att-MS-ResNet-18 (CSA), ImageNet-1k, 224x224, T=1."""
    return dict(layers=(2, 2, 2, 2), T=1, img_size=224, reduction_c=8)


@register_model(
    AttMSResNet,
    _card(
        "imagenet-1k",
        22.12,
        69.2,
        notes=(
            "params: MS-ResNet-34 (21.80 M) + CSA",
            "69.2% top-1 at T=1 with 22.1 M, as cited by later work; not checked in the paper",
        ),
    ),
)
def att_ms_resnet34() -> dict[str, Any]:
    """Att-MS-ResNet-34 (CSA), ImageNet-1k, 224x224, T=1."""
    return dict(layers=(3, 4, 6, 3), T=1, img_size=224, reduction_c=8)


@register_model(
    AttMSResNet,
    _card(
        "imagenet-1k",
        78.37,
        77.08,
        notes=(
            "params: MS-ResNet-104 (3/8/32/8 blocks as the official resnet104) + CSA",
            "77.08% top-1 at T=1 (paper)",
        ),
    ),
)
def att_ms_resnet104() -> dict[str, Any]:
    """Att-MS-ResNet-104 (CSA), ImageNet-1k, 224x224, T=1 (the paper's largest model)."""
    return dict(layers=(3, 8, 32, 8), T=1, img_size=224, reduction_c=8)
