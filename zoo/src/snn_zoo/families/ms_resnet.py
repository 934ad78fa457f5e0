"""MS-ResNet (Hu et al., "Advancing Spiking Neural Networks towards Deep Residual Learning",
IEEE TNNLS 2024, arXiv:2112.08954; official code github.com/Ariande1/MS-ResNet).

Membrane shortcut: a block's residual branch is ``LIF -> conv -> BN -> LIF -> conv -> BN``
on membrane potentials, and the shortcut adds the block's input potentials (or
``BN(conv1x1(x))`` where the shape changes), so spikes only feed convolutions and the
additions stay real-valued. The head fires once more, averages the spikes over space and
time and classifies. Every stage starts with a stride-2 block (the official code defines a
max-pool but never applies it).

The neuron is the official ``mem_update``: ``H = 0.25 V + X``, spike where ``H > 0.5``
strictly (:class:`StrictThresholdLIFNode`), hard reset to 0 with the reset detached,
rectangular surrogate of width 1 and height 1 (``|H - 0.5| < 0.5``). Batch norm is
``tdBN`` (statistics over time, batch and space; key ``bn``), initialised to the threshold
0.5, and the last BN of every branch to 0.

Official layouts kept: MS-ResNet-18/34 (``ResNet_origin_18``: ``conv7x7/2`` stem, strided
``conv1x1`` shortcut at ``shortcut.0``), MS-ResNet-104 (``ResNet_104``: three stacked
``conv3x3`` with biases and no neuron between them as the stem, ``AvgPool(2) -> conv1x1``
shortcut at ``shortcut.1``, dropout 0.2 before ``fc``). :class:`MSResNet` with
``reduction_c`` set adds channel-spatial attention to every branch: that is MA-SNN's
Att-MS-ResNet (:class:`snn_zoo.families.AttMSResNet`), built by this same class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from snn_core import functional
from snn_core.surrogate import Rect
from snn_layers.attention import MultiDimensionalAttention, make_neuron_factory
from snn_neurons import LIFNode
from torch import nn

from snn_zoo._base import SpikingClassifier, check_global_pool, reject_unplaced
from snn_zoo._blocks import (
    DropPath,
    check_positive_int,
    drop_path_rates,
    seq_apply,
    to_2tuple_size,
)
from snn_zoo._registry import register_model
from snn_zoo.data import DIGITS_CARD

__all__ = ["MSResNet", "MSBlock", "StrictThresholdLIFNode"]

_STEMS = ("7x7", "deep3x3", "3x3")
_SHORTCUTS = ("conv", "avgpool")


class _SeqConv2d(nn.Conv2d):
    """``nn.Conv2d`` on ``[T, B, C, H, W]`` (T folded into the batch); same parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return seq_apply(super().forward, x)


class _SeqAvgPool2d(nn.AvgPool2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return seq_apply(super().forward, x)


class _TDBatchNorm(nn.Module):
    """Batch norm over ``(T, B, H, W)`` per channel (MS-ResNet's ``batch_norm_2d``, key ``bn``).

    ``weight_init`` is the initial scale: the threshold 0.5 (``batch_norm_2d``), or for the
    last BN of a residual branch 0 (MS-ResNet's ``batch_norm_2d1``) or 0.1 (Att-MS-ResNet).
    """

    def __init__(self, channels: int, weight_init: float) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        nn.init.constant_(self.bn.weight, weight_init)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return seq_apply(self.bn, x)


class _CSACell(nn.Module):
    """The official ``PruningCell(attention='CSA')`` of Att-MS-ResNet: channel-spatial
    attention kept under ``attention`` (keys ``attention.ca.sharedMLP.{0,2}.weight``,
    ``attention.sa.conv.weight``)."""

    def __init__(self, T: int, C: int, r_c: int) -> None:
        super().__init__()
        self.attention = MultiDimensionalAttention(T, C, reduction_c=r_c, use_temporal=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x)


class MSBlock(nn.Module):
    """``BN(conv(LIF(BN(conv(LIF(x)))))) (-> CSA) + shortcut(x)`` on membrane potentials.

    Args:
        cin, cout, stride: channels and the stride of the first convolution.
        build: ``() -> neuron`` factory.
        last_bn_init: initial scale of the branch's last BN (0 MS-ResNet, 0.1 Att-MS-ResNet).
        shortcut: ``'conv'`` (``conv1x1/stride -> BN`` at ``shortcut.{0,1}``, MS-ResNet-18/34)
            or ``'avgpool'`` (``AvgPool(stride) -> conv1x1 -> BN`` at ``shortcut.{0,1,2}``,
            MS-ResNet-104 and Att-MS-ResNet), used where the shape changes.
        attention: a module appended to the branch (``residual_function.6``) or ``None``.
        drop_path: stochastic depth of the branch.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int,
        build: Any,
        last_bn_init: float = 0.0,
        shortcut: str = "conv",
        attention: nn.Module | None = None,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        branch: list[nn.Module] = [
            build(),
            _SeqConv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            _TDBatchNorm(cout, 0.5),
            build(),
            _SeqConv2d(cout, cout, 3, stride=1, padding=1, bias=False),
            _TDBatchNorm(cout, last_bn_init),
        ]
        if attention is not None:
            branch.append(attention)
        self.residual_function = nn.Sequential(*branch)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            if shortcut == "conv":
                self.shortcut = nn.Sequential(
                    _SeqConv2d(cin, cout, 1, stride=stride, bias=False), _TDBatchNorm(cout, 0.5)
                )
            else:
                down: nn.Module = _SeqAvgPool2d(stride, stride) if stride != 1 else nn.Identity()
                self.shortcut = nn.Sequential(
                    down, _SeqConv2d(cin, cout, 1, stride=1, bias=False), _TDBatchNorm(cout, 0.5)
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop_path(self.residual_function(x)) + self.shortcut(x)

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: Any,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # snn-zoo 0.1 kept Att-MS-ResNet's attention beside the branch: ``attention.*`` ->
        # the branch's last module, ``residual_function.6.attention.*``
        old = prefix + "attention."
        for key in [k for k in state_dict if k.startswith(old)]:
            state_dict[prefix + "residual_function.6." + key[len(prefix) :]] = state_dict.pop(key)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class StrictThresholdLIFNode(LIFNode):
    """``LIFNode`` that fires at ``H > V_th`` (strictly), as MS-ResNet's ``act_fun``
    (``input.gt(thresh)``); ``LIFNode`` fires at ``H >= V_th``.

    The two differ only where ``H`` equals the threshold exactly, which float32 feature maps
    of ImageNet size do hit. The surrogate gradient is unchanged. On the ``torch`` backend
    multi-step input runs the single-step loop (the fused path assumes ``H >= V_th``); the
    generated Triton / CUDA kernels trace this ``fire``.
    """

    def fire(self, h: torch.Tensor) -> torch.Tensor:
        x = h - self.v_threshold  # exactly 0 only where H == V_th
        return self.surrogate_function(x) - (x == 0).to(x.dtype)


#: the official ``mem_update``: H = 0.25 V + X, hard reset to 0, reset detached
RESNET_LIF = dict(tau=4.0 / 3.0, decay_input=False, v_threshold=0.5, v_reset=0.0, detach_reset=True)


def ms_neuron_builder(neuron: Any, neuron_kwargs: Mapping[str, Any] | None, backend: str) -> Any:
    """The official neuron (``StrictThresholdLIFNode`` with ``RESNET_LIF`` and ``Rect(1)``,
    ``neuron_kwargs`` overriding its fields) unless the caller picks a neuron."""
    if neuron is None:
        defaults = {**RESNET_LIF, "surrogate_function": Rect(alpha=1.0), **(neuron_kwargs or {})}
        return make_neuron_factory(StrictThresholdLIFNode, defaults, backend)
    return make_neuron_factory(neuron, neuron_kwargs, backend)


class MSResNet(SpikingClassifier):
    """MS-ResNet; see the module docstring.

    Args:
        img_size: input size recorded in the card (any size runs: global average pool).
        in_chans: input channels.
        num_classes: classes (0: no head).
        T: time steps a static image is repeated over (the official code: 6).
        layers: blocks per stage (``(2, 2, 2, 2)``: 18 layers, ``(3, 4, 6, 3)``: 34,
            ``(3, 8, 32, 8)``: 104).
        stem: ``'7x7'`` (``conv7x7/2 -> BN``, MS-ResNet-18/34), ``'deep3x3'`` (three
            ``conv3x3`` with biases, the first strided, then BN; MS-ResNet-104) or ``'3x3'``
            (``conv3x3/1 -> BN``, for small inputs; not an official stem).
        widths: channels of the stem and the four stages' outputs (official:
            ``(64, 128, 256, 512)``).
        shortcut: ``'conv'`` or ``'avgpool'`` (see :class:`MSBlock`).
        last_bn_init: initial scale of each branch's last BN.
        reduction_c: ``None``, or the channel reduction of a CSA attention appended to
            every branch (Att-MS-ResNet).
        drop_rate: dropout before ``fc`` (0.2 in MS-ResNet-104 and Att-MS-ResNet).
        backend, neuron, neuron_kwargs: the neurons; ``neuron=None`` is the official one
            (:class:`StrictThresholdLIFNode`, ``neuron_kwargs`` overriding its fields).
        drop_path_rate: stochastic depth of the residual branches, rising linearly.
        global_pool: ``None`` or ``'avg'`` (the mean over space and time).
        bn_momentum, bn_eps: ``momentum`` / ``eps`` of every BatchNorm (``None``: torch's).
        proj_drop_rate, attn_drop_rate, pos_drop_rate, patch_drop_rate, drop_block_rate:
            accepted at 0 only.
    """

    def __init__(
        self,
        *,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        T: int = 6,
        layers: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "7x7",
        shortcut: str = "conv",
        last_bn_init: float = 0.0,
        reduction_c: int | None = None,
        drop_rate: float = 0.0,
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
        super().__init__(T, num_classes, in_chans)
        name = type(self).__name__
        reject_unplaced(
            name,
            proj_drop_rate=(proj_drop_rate, f"{name} has no attention projections"),
            attn_drop_rate=(attn_drop_rate, "it has no softmax attention map"),
            pos_drop_rate=(pos_drop_rate, f"{name} has no position embedding"),
            patch_drop_rate=(patch_drop_rate, f"{name} has no tokens"),
            drop_block_rate=(drop_block_rate, "DropBlock is not implemented"),
        )
        self.global_pool = check_global_pool(name, global_pool)
        layers = tuple(layers)
        if len(layers) != 4:
            raise ValueError(f"{name}: layers must give 4 stage depths, got {layers!r}")
        for n in layers:
            check_positive_int(name, "layers[i]", n)
        widths = tuple(widths)
        if len(widths) != 4:
            raise ValueError(f"{name}: widths must give 4 stage widths, got {widths!r}")
        for w in widths:
            check_positive_int(name, "widths[i]", w)
        if stem not in _STEMS:
            raise ValueError(f"{name}: stem must be one of {_STEMS}, got {stem!r}")
        if shortcut not in _SHORTCUTS:
            raise ValueError(f"{name}: shortcut must be one of {_SHORTCUTS}, got {shortcut!r}")
        if reduction_c is not None:
            check_positive_int(name, "reduction_c", reduction_c)
        if (
            isinstance(drop_rate, bool)
            or not isinstance(drop_rate, (int, float))
            or not 0 <= drop_rate < 1
        ):
            raise ValueError(f"{name}: drop_rate must be in [0, 1), got {drop_rate!r}")
        self.img_size = to_2tuple_size(name, img_size)
        build = ms_neuron_builder(neuron, neuron_kwargs, backend)
        c0 = widths[0]
        if stem == "7x7":
            self.conv1 = nn.Sequential(
                _SeqConv2d(in_chans, c0, 7, stride=2, padding=3, bias=False),
                _TDBatchNorm(c0, 0.5),
            )
        elif stem == "3x3":
            self.conv1 = nn.Sequential(
                _SeqConv2d(in_chans, c0, 3, stride=1, padding=1, bias=False),
                _TDBatchNorm(c0, 0.5),
            )
        else:  # official ResNet_104: three linear convolutions (biased), no neuron between
            self.conv1 = nn.Sequential(
                _SeqConv2d(in_chans, c0, 3, stride=2, padding=1, bias=True),
                _SeqConv2d(c0, c0, 3, stride=1, padding=1, bias=True),
                _SeqConv2d(c0, c0, 3, stride=1, padding=1, bias=True),
                _TDBatchNorm(c0, 0.5),
            )
        cin = c0
        reduction = 1 if stem == "3x3" else 2
        self.feature_info = [dict(num_chs=c0, reduction=reduction, module="conv1")]
        dpr = iter(drop_path_rates(name, drop_path_rate, sum(layers)))
        for s, (cout, n) in enumerate(zip(widths, layers)):
            blocks = []
            for i in range(n):
                attn = None if reduction_c is None else _CSACell(T, cout, reduction_c)
                blocks.append(
                    MSBlock(
                        cin,
                        cout,
                        2 if i == 0 else 1,
                        build,
                        last_bn_init,
                        shortcut,
                        attn,
                        next(dpr),
                    )
                )
                cin = cout
            setattr(self, f"conv{s + 2}_x", nn.Sequential(*blocks))
            self.feature_info.append(
                dict(num_chs=cout, reduction=reduction * 2 ** (s + 1), module=f"conv{s + 2}_x")
            )
        self.mem_update = build()
        self.num_features = cin
        self.dropout = nn.Dropout(drop_rate)
        self.fc: nn.Module = self.new_head(num_classes)
        self.set_bn_options(bn_momentum, bn_eps)

    @classmethod
    def num_feature_stages(cls, **config: Any) -> int:
        """Number of feature stages: the stem and the four residual stages."""
        return 5

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[self.conv1]] + [[getattr(self, f"conv{s}_x")] for s in range(2, 6)]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``[T, B, C, H, W]`` potentials -> LIF -> mean over space and time -> ``fc``."""
        functional.reset_net(self.mem_update)
        x = self.mem_update(x)
        # the official op order (spatial adaptive average pool, then the sum over T over T),
        # so that the pooled features are bit-identical
        x = F.adaptive_avg_pool3d(x, (None, 1, 1)).flatten(2).sum(0) / x.shape[0]
        x = self.dropout(x)
        return x if pre_logits else self.fc(x)

    head_attr = "fc"


# --------------------------------------------------------------------------- variants
_PAPER = (
    "Advancing Spiking Neural Networks towards Deep Residual Learning (Hu et al., IEEE TNNLS 2024)"
)
_ORIGIN = "https://github.com/Ariande1/MS-ResNet"
_COMMIT = "7c5f0066659fc6cee824db567d4a4d49a699916a"
_NOTES = (
    f"official code: {_ORIGIN} at {_COMMIT} (models/MS_ResNet.py)",
    "neuron: mem_update, H = 0.25 V + X, spike where H > 0.5 (strict), hard reset to 0 "
    "(detached), rectangular surrogate |H - 0.5| < 0.5",
    "T: the official code fixes time_window = 6",
    "tdBN (stats over T, B, H, W) initialised to 0.5; the last BN of every branch to 0",
    "the official stem defines a max-pool that its forward never applies (left out)",
)


def _card(params_m: float, top1: float | None, **kw: Any) -> dict[str, Any]:
    card = dict(
        architecture="ms_resnet",
        paper=_PAPER,
        paper_ids="arXiv:2112.08954; doi:10.1109/TNNLS.2024.3355393",
        origin_url=_ORIGIN,
        origin_commit=_COMMIT,
        dataset="imagenet-1k",
        params_m=params_m,
        reported_accuracy=top1,
        T=6,
        num_classes=1000,
        input_size=(3, 224, 224),
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        interpolation="bilinear",
        crop_pct=0.875,
        first_conv="conv1.0",
        classifier="fc",
        notes=_NOTES,
    )
    card.update(kw)
    return card


_UNCHECKED = _NOTES + ("reported_accuracy: left empty (not checked against the paper's table)",)


@register_model(MSResNet, _card(11.69, None, notes=_UNCHECKED))
def ms_resnet18() -> dict[str, Any]:
    """MS-ResNet-18, ImageNet-1k, 224x224, T=6 (official ``resnet18``)."""
    return dict(layers=(2, 2, 2, 2), T=6, img_size=224)


@register_model(MSResNet, _card(21.80, None, notes=_UNCHECKED), default=True)
def ms_resnet34() -> dict[str, Any]:
    """MS-ResNet-34, ImageNet-1k, 224x224, T=6 (official ``resnet34``)."""
    return dict(layers=(3, 4, 6, 3), T=6, img_size=224)


@register_model(
    MSResNet,
    _card(
        77.35,
        76.02,
        notes=_NOTES
        + (
            "params_m: 77.35 M as the official code builds it; the paper's 77.28 M is this "
            "network with a single conv7x7 stem (stem='7x7': 77.28 M)",
            "stem: three conv3x3 (with biases, no neuron between them) -> tdBN; shortcut "
            "AvgPool(2) -> conv1x1 -> tdBN; dropout 0.2 before fc (official ResNet_104)",
            "reported_accuracy: 76.02% top-1 (paper abstract)",
        ),
        first_conv="conv1.0",
    ),
)
def ms_resnet104() -> dict[str, Any]:
    """MS-ResNet-104, ImageNet-1k, 224x224, T=6 (official ``resnet104``)."""
    return dict(
        layers=(3, 8, 32, 8),
        T=6,
        img_size=224,
        stem="deep3x3",
        shortcut="avgpool",
        drop_rate=0.2,
    )


@register_model(
    MSResNet,
    _card(
        None,
        None,
        dataset="sklearn digits (8x8)",
        paper=_PAPER + "; small variant of this project",
        T=4,
        **DIGITS_CARD,
        notes=_NOTES
        + (
            "inputs: digits.data / 16, normalised by mean/std",
            "stem conv3x3/1 -> tdBN (not an official stem); one MS block per stage, widths "
            "16, 32, 32, 64; 8x8 -> 1x1",
            "`snn-zoo train --model ms_resnet_digits --threads 1` (defaults: 30 epochs, seed 0) "
            "reached 97.56% test accuracy in 73 s (measured on this project's 2-core machine "
            "while other jobs ran; first >= 95% at epoch 4); no weights ship",
        ),
    ),
)
def ms_resnet_digits() -> dict[str, Any]:
    """A small MS-ResNet for scikit-learn's 8x8 digits (1x8x8, 10 classes, T=4)."""
    return dict(
        layers=(1, 1, 1, 1),
        widths=(16, 32, 32, 64),
        stem="3x3",
        T=4,
        img_size=8,
        in_chans=1,
        num_classes=10,
    )
