"""SEW-ResNet and the plain spiking ResNet (Fang et al., "Deep Residual Learning in Spiking
Neural Networks", NeurIPS 2021; official code github.com/fangwei123456/Spike-Element-Wise-ResNet).

A spike-element-wise (SEW) block ends its residual branch with a spiking neuron and joins
the branch's spikes ``A = SN(BN(conv(...)))`` to the shortcut's spikes ``S`` with a
connect function ``g`` (``cnf``, Eq. 4 of the paper):

- ``'ADD'``: ``O = A + S`` (the output counts spikes and may reach 2);
- ``'AND'``: ``O = A * S``;
- ``'IAND'``: ``O = S * (1 - A)``.

A down-sampling shortcut is ``SN(BN(conv1x1(S)))``. The plain spiking ResNet (the paper's
"Spiking ResNet" baseline, ``cnf=None``) adds the shortcut to the branch's last BN output
and fires once, ``O = SN(BN(conv(...)) + S)``; its down-sampling shortcut has no neuron.

The ImageNet networks follow the official code: ``conv7x7/2 -> BN`` on the static image,
repeated over ``T`` steps, then ``IF -> maxpool3x3/2``, four stages of basic (18/34) or
bottleneck (50/101/152) blocks, global average pooling, the mean over time and ``fc``.
Every neuron is the official ``MultiStepIFNode(detach_reset=True)``: ``H = V + X``, spike
at ``H >= 1``, hard reset to 0 (surrogate ATan with ``alpha = 2``).

Parameter names follow the official code (its layers sit in SpikingJelly 0.0.0.0.x's
``SeqToANNContainer``, hence ``layer1.0.conv1.module.0.weight``), so the published
checkpoints (``{'model': ..., 'optimizer': ..., 'args': ...}``) load as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from snn_core import functional
from snn_core.surrogate import ATan
from snn_layers.attention import make_neuron_factory
from snn_neurons import IFNode
from torch import nn

from snn_zoo._base import SpikingClassifier, check_global_pool, reject_unplaced
from snn_zoo._blocks import (
    DropPath,
    check_positive_int,
    check_rate,
    drop_path_rates,
    dropout,
    seq_apply,
    to_2tuple_size,
)
from snn_zoo._registry import register_model
from snn_zoo.data import DIGITS_CARD

__all__ = ["SEWResNet", "CONNECT_FUNCTIONS"]

#: the connect functions of SEW blocks (``None``: the plain spiking ResNet)
CONNECT_FUNCTIONS = ("ADD", "AND", "IAND")
_BLOCKS = ("basic", "bottleneck")
_STEMS = ("imagenet", "small")

# the official neuron: spikingjelly.cext.neuron.MultiStepIFNode(detach_reset=True)
_IF = dict(v_threshold=1.0, v_reset=0.0, detach_reset=True)


class _SeqToANN(nn.Module):
    """Stateless layers applied to ``[T, B, ...]`` with T folded into the batch, kept under
    ``module`` as SpikingJelly 0.0.0.0.x's ``SeqToANNContainer`` (keys ``module.0.*``)."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.module = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return seq_apply(self.module, x)


class _StemConv2d(nn.Conv2d):
    """``nn.Conv2d`` on a static ``[B, C, H, W]`` image or a ``[T, B, C, H, W]`` sequence."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x) if x.dim() == 4 else seq_apply(super().forward, x)


class _StemBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` on ``[B, C, H, W]`` or ``[T, B, C, H, W]`` (statistics over T too)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x) if x.dim() == 4 else seq_apply(super().forward, x)


class _RepeatT(nn.Module):
    """Repeat a static ``[B, ...]`` map over ``T`` steps (the official code repeats the
    stem's BN output, not the image); a ``[T, B, ...]`` sequence passes unchanged."""

    def __init__(self, T: int) -> None:
        super().__init__()
        self.T = T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            return x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        return x

    def extra_repr(self) -> str:
        return f"T={self.T}"


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1) -> _SeqToANN:
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
    return _SeqToANN(conv, nn.BatchNorm2d(cout))


class _Block(nn.Module):
    """One residual block: ``conv1 .. convN`` (``_SeqToANN(conv, BN)``) with neurons
    ``sn1 .. snN``, joined to the shortcut by ``cnf`` (SEW) or by adding the shortcut to the
    last BN output before ``snN`` (``cnf=None``, plain spiking ResNet).

    ``basic``: two 3x3 convolutions (the first strided); ``bottleneck``: 1x1, 3x3 (strided),
    1x1 to ``4 * planes`` channels.
    """

    def __init__(
        self,
        cin: int,
        planes: int,
        stride: int,
        bottleneck: bool,
        cnf: str | None,
        build: Any,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.cnf = cnf
        cout = planes * (4 if bottleneck else 1)
        if bottleneck:
            specs = [(cin, planes, 1, 1), (planes, planes, 3, stride), (planes, cout, 1, 1)]
        else:
            specs = [(cin, planes, 3, stride), (planes, planes, 3, 1)]
        self.n = len(specs)
        for i, (a, b, k, s) in enumerate(specs, start=1):
            setattr(self, f"conv{i}", _conv_bn(a, b, k, s))
            setattr(self, f"sn{i}", build())
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            down = _conv_bn(cin, cout, 1, stride)
            # SEW: the shortcut's down-sampling is a spiking layer; plain: BN output is added
            self.downsample = down if cnf is None else nn.Sequential(down, build())
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for i in range(1, self.n):
            out = getattr(self, f"sn{i}")(getattr(self, f"conv{i}")(out))
        out = self.drop_path(getattr(self, f"conv{self.n}")(out))
        identity = x if self.downsample is None else self.downsample(x)
        last = getattr(self, f"sn{self.n}")
        if self.cnf is None:
            return last(out + identity)
        out = last(out)
        if self.cnf == "ADD":
            return out + identity
        if self.cnf == "AND":
            return out * identity
        return identity * (1.0 - out)  # IAND

    def extra_repr(self) -> str:
        return f"cnf={self.cnf}"


class SEWResNet(SpikingClassifier):
    """SEW-ResNet (``cnf`` in ``'ADD'``, ``'AND'``, ``'IAND'``) or the plain spiking ResNet
    (``cnf=None``); see the module docstring.

    Args:
        img_size: input size recorded in the card (any size runs: global average pool).
        in_chans: input channels.
        num_classes: classes (0: no head, pooled features).
        T: time steps a static image is repeated over (4 in the paper's ImageNet runs).
        layers: blocks per stage (``(2, 2, 2, 2)``: 18 layers with ``block='basic'``).
        block: ``'basic'`` (two 3x3 convolutions) or ``'bottleneck'`` (1x1-3x3-1x1, x4).
        cnf: the connect function of the SEW blocks, or ``None`` for the spiking ResNet.
        widths: ``planes`` of each stage (``(64, 128, 256, 512)`` on ImageNet).
        stem: ``'imagenet'`` (``conv7x7/2 -> BN -> IF -> maxpool3x3/2``, the official
            layout) or ``'small'`` (``conv3x3/1 -> BN -> IF``, for small images).
        zero_init_residual: initialise the last BN of every branch to 0 (and its bias to 1
            for ``'AND'``), as the official ``--zero_init_residual``.
        backend, neuron, neuron_kwargs: the neurons; ``neuron=None`` is the official IF
            neuron (``IFNode(v_threshold=1, v_reset=0, detach_reset=True)``, surrogate
            ``ATan(alpha=2)``), ``neuron_kwargs`` overriding its fields.
        drop_rate: dropout on the pooled features before ``fc`` (0 in the paper).
        drop_path_rate: stochastic depth of the residual branches, rising linearly over
            the blocks (``cnf`` ``'ADD'`` or ``None`` only).
        global_pool: ``None`` or ``'avg'`` (the mean over space and time).
        bn_momentum, bn_eps: ``momentum`` / ``eps`` of every BatchNorm (``None``: torch's).
        proj_drop_rate, attn_drop_rate, pos_drop_rate, patch_drop_rate, drop_block_rate:
            accepted at 0 only (no attention, position embedding, tokens or DropBlock).
    """

    def __init__(
        self,
        *,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        T: int = 4,
        layers: Sequence[int] = (2, 2, 2, 2),
        block: str = "basic",
        cnf: str | None = "ADD",
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        zero_init_residual: bool = False,
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
            proj_drop_rate=(proj_drop_rate, "SEW-ResNet has no attention projections"),
            attn_drop_rate=(attn_drop_rate, "SEW-ResNet has no attention"),
            pos_drop_rate=(pos_drop_rate, "SEW-ResNet has no position embedding"),
            patch_drop_rate=(patch_drop_rate, "SEW-ResNet has no tokens"),
            drop_block_rate=(drop_block_rate, "DropBlock is not implemented"),
        )
        self.global_pool = check_global_pool(name, global_pool)
        if cnf is not None and cnf not in CONNECT_FUNCTIONS:
            raise ValueError(
                f"{name}: cnf must be one of {CONNECT_FUNCTIONS} or None (plain spiking "
                f"ResNet), got {cnf!r}"
            )
        if cnf in ("AND", "IAND") and drop_path_rate:
            raise ValueError(
                f"{name}: drop_path_rate={drop_path_rate!r} needs cnf 'ADD' or None (a "
                f"dropped branch would gate the shortcut with cnf={cnf!r}); leave it at 0"
            )
        if block not in _BLOCKS:
            raise ValueError(f"{name}: block must be one of {_BLOCKS}, got {block!r}")
        if stem not in _STEMS:
            raise ValueError(f"{name}: stem must be one of {_STEMS}, got {stem!r}")
        layers, widths = tuple(layers), tuple(widths)
        if not layers or len(layers) != len(widths):
            raise ValueError(
                f"{name}: layers and widths must be non-empty and of the same length, got "
                f"layers={layers!r}, widths={widths!r}"
            )
        for n in layers:
            check_positive_int(name, "layers[i]", n)
        for w in widths:
            check_positive_int(name, "widths[i]", w)
        if not isinstance(zero_init_residual, bool):
            raise TypeError(
                f"{name}: zero_init_residual must be a bool, got {zero_init_residual!r}"
            )
        self.img_size = to_2tuple_size(name, img_size)
        self.cnf, self.block, self.stem = cnf, block, stem
        self.drop_rate = check_rate(name, "drop_rate", drop_rate)
        if neuron is None:
            defaults = {**_IF, "surrogate_function": ATan(alpha=2.0), **(neuron_kwargs or {})}
            build = make_neuron_factory(IFNode, defaults, backend)
        else:
            build = make_neuron_factory(neuron, neuron_kwargs, backend)

        stem_width = widths[0]
        k, s = (7, 2) if stem == "imagenet" else (3, 1)
        self.conv1 = _StemConv2d(in_chans, stem_width, k, stride=s, padding=k // 2, bias=False)
        self.bn1 = _StemBatchNorm2d(stem_width)
        self.repeat = _RepeatT(T)
        self.sn1 = build()
        self.maxpool: nn.Module = (
            _SeqToANN(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
            if stem == "imagenet"
            else nn.Identity()
        )
        reduction = 4 if stem == "imagenet" else 1
        self.feature_info = [dict(num_chs=stem_width, reduction=reduction, module="sn1")]
        bottleneck = block == "bottleneck"
        dpr = iter(drop_path_rates(name, drop_path_rate, sum(layers)))
        cin = stem_width
        self._n_stages = len(layers)
        for i, (planes, n) in enumerate(zip(widths, layers)):
            stride = 1 if i == 0 else 2
            reduction *= stride
            blocks = []
            for j in range(n):
                blocks.append(
                    _Block(cin, planes, stride if j == 0 else 1, bottleneck, cnf, build, next(dpr))
                )
                cin = planes * (4 if bottleneck else 1)
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            self.feature_info.append(dict(num_chs=cin, reduction=reduction, module=f"layer{i + 1}"))
        self.num_features = cin
        self.head_drop = dropout(self.drop_rate)
        self.fc: nn.Module = nn.Linear(cin, num_classes) if num_classes > 0 else nn.Identity()
        self._init_weights(zero_init_residual)
        self.set_bn_options(bn_momentum, bn_eps)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """The official init: convolutions Kaiming-normal (fan-out, ReLU gain), BN 1 / 0;
        with ``zero_init_residual`` the last BN of each branch starts at weight 0 (bias 1
        for ``'AND'``, so that the block starts as the identity)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, _Block):
                    last_bn = getattr(m, f"conv{m.n}").module[1]
                    nn.init.zeros_(last_bn.weight)
                    if self.cnf == "AND":
                        nn.init.ones_(last_bn.bias)

    # ------------------------------------------------------------------ input
    def _start(self, x: torch.Tensor) -> torch.Tensor:
        """A static image stays ``[B, C, H, W]``: the stem's conv and BN run on it once and
        their output is repeated over ``T`` (the official op order, which also keeps the
        BN statistics of training exactly the official ones)."""
        if isinstance(x, torch.Tensor) and x.dim() == 4 and x.is_floating_point():
            if x.shape[1] != self.in_chans:
                raise ValueError(
                    f"{type(self).__name__}: input has {x.shape[1]} channels, the model takes "
                    f"in_chans={self.in_chans} (shape {tuple(x.shape)})"
                )
            functional.reset_net(self)
            return x
        return super()._start(x)

    # ------------------------------------------------------------------ stages
    @classmethod
    def num_feature_stages(cls, layers: Sequence[int] = (2, 2, 2, 2), **config: Any) -> int:
        """Number of feature stages: the stem and one per residual stage."""
        return 1 + len(tuple(layers))

    def stage_modules(self) -> list[list[nn.Module]]:
        stem = [self.conv1, self.bn1, self.repeat, self.sn1, self.maxpool]
        return [stem] + [[getattr(self, f"layer{i + 1}")] for i in range(self._n_stages)]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``[T, B, C, H, W]`` -> spatial average pool -> mean over time -> ``fc``."""
        if x.dim() != 5:
            raise ValueError(f"forward_head takes [T, B, C, H, W] features, got {tuple(x.shape)}")
        x = seq_apply(lambda z: F.adaptive_avg_pool2d(z, 1), x).flatten(2).mean(0)
        x = self.head_drop(x)
        return x if pre_logits else self.fc(x)

    head_attr = "fc"


# --------------------------------------------------------------------------- variants
_PAPER = "Deep Residual Learning in Spiking Neural Networks (Fang et al., NeurIPS 2021)"
_ORIGIN = "https://github.com/fangwei123456/Spike-Element-Wise-ResNet"
_COMMIT = "cfc547c5e8196b1a16ebc596509b4dffea7c306f"
_NEURON = (
    "neuron: IF (spikingjelly.cext MultiStepIFNode), v_threshold=1, hard reset to 0, "
    "detach_reset=True, surrogate ATan(alpha=2)"
)
_SHARED_NOTES = (
    f"official code: {_ORIGIN} at {_COMMIT} (imagenet/sew_resnet.py, spiking_resnet.py)",
    _NEURON,
    "static input: conv1 -> bn1 run once on the image, their output repeated over T "
    "(official op order); a [T, B, C, H, W] input runs the stem at every step",
    "checkpoints: the official training snapshots {'model': ...} load strictly; keys keep "
    "SpikingJelly 0.0.0.0.x's SeqToANNContainer layout (conv1.module.0.weight)",
    "recipe: SGD lr 0.1 momentum 0.9, cosine over 320 epochs, batch 32 x 8 GPUs, AMP, "
    "no weight decay, RandomResizedCrop 224 + flip",
)


def _card(params_m: float, top1: float | None, **kw: Any) -> dict[str, Any]:
    card = dict(
        architecture="sew_resnet",
        paper=_PAPER,
        paper_ids="arXiv:2102.04159",
        origin_url=_ORIGIN,
        origin_commit=_COMMIT,
        dataset="imagenet-1k",
        params_m=params_m,
        reported_accuracy=top1,
        T=4,
        num_classes=1000,
        input_size=(3, 224, 224),
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        interpolation="bilinear",
        crop_pct=0.875,
        first_conv="conv1",
        classifier="fc",
        license="MPL-2.0",
        notes=_SHARED_NOTES,
    )
    card.update(kw)
    return card


def _cfg(layers: tuple[int, ...], block: str, cnf: str | None) -> dict[str, Any]:
    return dict(layers=layers, block=block, cnf=cnf, T=4, img_size=224)


_R18, _R34 = (2, 2, 2, 2), (3, 4, 6, 3)
_R101, _R152 = (3, 4, 23, 3), (3, 8, 36, 3)


@register_model(SEWResNet, _card(11.69, 63.18))
def sew_resnet18() -> dict[str, Any]:
    """SEW-ResNet-18 (ADD), ImageNet-1k, 224x224, T=4."""
    return _cfg(_R18, "basic", "ADD")


@register_model(SEWResNet, _card(21.79, 67.04), default=True)
def sew_resnet34() -> dict[str, Any]:
    """SEW-ResNet-34 (ADD), ImageNet-1k, 224x224, T=4."""
    return _cfg(_R34, "basic", "ADD")


@register_model(SEWResNet, _card(25.56, 67.78))
def sew_resnet50() -> dict[str, Any]:
    """SEW-ResNet-50 (ADD), ImageNet-1k, 224x224, T=4."""
    return _cfg(_R34, "bottleneck", "ADD")


@register_model(SEWResNet, _card(44.55, 68.76))
def sew_resnet101() -> dict[str, Any]:
    """SEW-ResNet-101 (ADD), ImageNet-1k, 224x224, T=4."""
    return _cfg(_R101, "bottleneck", "ADD")


@register_model(SEWResNet, _card(60.19, 69.26))
def sew_resnet152() -> dict[str, Any]:
    """SEW-ResNet-152 (ADD), ImageNet-1k, 224x224, T=4."""
    return _cfg(_R152, "bottleneck", "ADD")


_PLAIN_NOTES = _SHARED_NOTES + (
    "cnf=None: the paper's plain 'Spiking ResNet' baseline, SN(BN(conv(x)) + shortcut); "
    "trained with --zero_init_residual (origin logs: mem_add_resnet2_*)",
    "reported_accuracy: left empty (not checked against the paper's table)",
)


def _plain_card(params_m: float, top1: float | None) -> dict[str, Any]:
    return _card(params_m, top1, architecture="spiking_resnet", notes=_PLAIN_NOTES)


@register_model(SEWResNet, _plain_card(11.69, None))
def spiking_resnet18() -> dict[str, Any]:
    """Plain spiking ResNet-18 (the paper's baseline), ImageNet-1k, 224x224, T=4."""
    return _cfg(_R18, "basic", None)


@register_model(SEWResNet, _plain_card(21.79, None), default=True)
def spiking_resnet34() -> dict[str, Any]:
    """Plain spiking ResNet-34, ImageNet-1k, 224x224, T=4."""
    return _cfg(_R34, "basic", None)


@register_model(SEWResNet, _plain_card(25.56, None))
def spiking_resnet50() -> dict[str, Any]:
    """Plain spiking ResNet-50, ImageNet-1k, 224x224, T=4."""
    return _cfg(_R34, "bottleneck", None)


@register_model(SEWResNet, _plain_card(44.55, None))
def spiking_resnet101() -> dict[str, Any]:
    """Plain spiking ResNet-101, ImageNet-1k, 224x224, T=4."""
    return _cfg(_R101, "bottleneck", None)


@register_model(SEWResNet, _plain_card(60.19, None))
def spiking_resnet152() -> dict[str, Any]:
    """Plain spiking ResNet-152, ImageNet-1k, 224x224, T=4."""
    return _cfg(_R152, "bottleneck", None)


@register_model(
    SEWResNet,
    _card(
        None,
        None,
        dataset="sklearn digits (8x8)",
        paper=_PAPER + "; small variant of this project",
        T=4,
        **DIGITS_CARD,
        notes=(
            "inputs: digits.data / 16, normalised by mean/std",
            "stem conv3x3/1 -> BN -> IF (no max-pool); stages of 16 and 32 channels, one "
            "SEW basic block (ADD) each; 8x8 -> 4x4",
            _NEURON,
            "trained by `snn-zoo train --model sew_resnet_digits --threads 1` (30 epochs, "
            "seed 0): 98.22% test accuracy, 198 s on this project's shared 2-core machine",
        ),
    ),
)
def sew_resnet_digits() -> dict[str, Any]:
    """A small SEW-ResNet (ADD) for scikit-learn's 8x8 digits (1x8x8, 10 classes, T=4)."""
    return dict(
        layers=(1, 1),
        widths=(16, 32),
        block="basic",
        cnf="ADD",
        stem="small",
        T=4,
        img_size=8,
        in_chans=1,
        num_classes=10,
    )
