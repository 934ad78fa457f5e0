"""Meta-SpikeFormer, the Spike-driven Transformer v2 (Yao et al., "Spike-driven Transformer
V2: Meta Spiking Neural Network Architecture Inspiring the Design of Next-generation
Neuromorphic Chips", ICLR 2024; official code github.com/BICLab/Spike-Driven-Transformer-V2,
``classification/models.py``).

Membrane-shortcut layout over four stages (channels ``D0/2, D0, D1, D2, D3``):

- Downsampling: ``BN(conv_k(LIF(U)))`` with a biased convolution (stride 2; the first one
  7x7 on the image without a neuron, the last one 3x3 with stride 1).
- Conv block (stages 1-2): ``U' = U + SepConv(U)`` with ``SepConv(U) = BN(pw2(dw7x7(LIF(
  BN(pw1(LIF(U)))))))`` (expansion 2), then ``U' + BN(conv3x3(LIF(BN(conv3x3(LIF(U'))))))``
  (hidden ``r * D``).
- Transformer block (stages 3-4, 6 + 2 blocks): ``U + SDSA(U)`` and ``U + MLP(U)``. The
  spike-driven self-attention (paper Eq. 19) is ``S = LIF(U)``, ``Q, K, V = LIF(BN(RepConv(
  S)))``, ``BN(RepConv(LIF_0.5(0.125 * Q (K^T V))))`` per head; ``RepConv`` is
  ``conv1x1 -> BN padded with its own bias -> depthwise 3x3 -> conv1x1 -> BN``. The MLP is
  ``BN(W2 LIF(BN(W1 LIF(U))))`` with 1x1 ``Conv1d`` over tokens.
- Head: the token mean ``[T, B, D3]`` passes a LIF, the linear head runs per step, and the
  logits are averaged over T; with ``distillation=True`` a second head ``head_kd`` does the
  same and evaluation returns the mean of both (training returns both, as the official code).

All neurons are ``LIF(tau=2, v_threshold=1, detach_reset=True)`` (hard reset to 0), the
attention neuron fires at 0.5, the official ``MultiStepLIFNode`` settings. The official
``models.py`` at the commit below has only these binary LIF neurons (no multi-level
"multispike" neurons, which belong to later BICLab code).

Official quirks reproduced: the attention scale is the constant 0.125 for every head width;
the padded BN of ``RepConv`` fills its border with ``bias - running_mean * weight /
sqrt(running_var + eps)`` (running statistics, also in training mode); the blocks build a
``DropPath`` they never apply (stochastic depth is not offered); only the linear heads get
the official ``trunc_normal_(std=.02)`` init, convolutions keep torch's default. The number
of transformer blocks is fixed (6 in stage 3, 2 in stage 4) whatever the official ``depths``.

Options beyond the official code, whose defaults reproduce it: ``depths`` (blocks of stages 3
and 4), ``attn_scale`` (the SDSA scale) and ``strides`` (of the five downsamplings); the
digits variant uses them (see ``metaspikformer_digits``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from snn_layers.attention import make_neuron_factory
from torch import nn

from snn_zoo._base import SpikingClassifier, check_global_pool, reject_unplaced
from snn_zoo._blocks import (
    check_int_tuple,
    check_positive_int,
    check_rate,
    dropout,
    seq_apply,
    to_2tuple_size,
    trunc_normal_,
)
from snn_zoo._registry import register_model
from snn_zoo.data import DIGITS_CARD

__all__ = [
    "BNAndPad",
    "RepConv",
    "SepConv",
    "MSConvBlock",
    "MSDownsampling",
    "MSRepAttention",
    "MSTokenMLP",
    "MetaBlock",
    "MetaSpikeFormer",
]


class BNAndPad(nn.Module):
    """``BN(x)`` padded by ``pad`` pixels on every side with the value BN maps a zero input to
    under its running statistics, ``bias - mean * weight / sqrt(var + eps)`` (official
    ``BNAndPadLayer``; the BatchNorm is stored as ``bn``)."""

    def __init__(self, pad: int, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(x)
        if self.pad <= 0:
            return y
        bn = self.bn
        value = bn.bias.detach() - bn.running_mean * bn.weight.detach() / torch.sqrt(
            bn.running_var + bn.eps
        )
        p = self.pad
        y = F.pad(y, [p] * 4)
        value = value.view(1, -1, 1, 1)
        y[:, :, :p, :] = value
        y[:, :, -p:, :] = value
        y[:, :, :, :p] = value
        y[:, :, :, -p:] = value
        return y


class RepConv(nn.Module):
    """``BN(pw(dw3x3(BNAndPad(conv1x1(x)))))``, the official re-parameterisable 3x3
    convolution, stored as ``body`` (``body.0`` conv1x1, ``body.1`` padded BN, ``body.2`` the
    depthwise/pointwise/BN sequence); acts on ``[N, C, H, W]``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 1, bias=False),
            BNAndPad(1, in_channels),
            nn.Sequential(
                nn.Conv2d(in_channels, in_channels, 3, groups=in_channels, bias=False),
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
            ),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SepConv(nn.Module):
    """Inverted separable convolution on spikes: ``BN(pw2(dw7x7(LIF(BN(pw1(LIF(U)))))))``,
    expansion 2, no biases (official ``SepConv``)."""

    def __init__(self, dim: int, build_neuron: Any, expansion: float = 2.0) -> None:
        super().__init__()
        med = int(expansion * dim)
        self.lif1 = build_neuron()
        self.pwconv1 = nn.Conv2d(dim, med, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(med)
        self.lif2 = build_neuron()
        self.dwconv = nn.Conv2d(med, med, 7, padding=3, groups=med, bias=False)
        self.pwconv2 = nn.Conv2d(med, dim, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = seq_apply(self.bn1, seq_apply(self.pwconv1, self.lif1(x)))
        x = seq_apply(self.dwconv, self.lif2(x))
        return seq_apply(self.bn2, seq_apply(self.pwconv2, x))


class MSConvBlock(nn.Module):
    """``U' = U + SepConv(U)``; ``U' + BN(conv3x3(LIF(BN(conv3x3(LIF(U'))))))`` with hidden
    width ``mlp_ratio * D`` (official ``MS_ConvBlock``)."""

    def __init__(self, dim: int, mlp_ratio: int, build_neuron: Any) -> None:
        super().__init__()
        hidden = dim * mlp_ratio
        self.Conv = SepConv(dim, build_neuron)
        self.lif1 = build_neuron()
        self.conv1 = nn.Conv2d(dim, hidden, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.lif2 = build_neuron()
        self.conv2 = nn.Conv2d(hidden, dim, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv(x) + x
        h = seq_apply(self.bn1, seq_apply(self.conv1, self.lif1(x)))
        return x + seq_apply(self.bn2, seq_apply(self.conv2, self.lif2(h)))


class MSDownsampling(nn.Module):
    """``BN(conv(LIF(U)))`` (no neuron on the first, image-facing one; official
    ``MS_DownSampling``, the convolution with a bias)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        padding: int,
        first: bool,
        build_neuron: Any,
    ) -> None:
        super().__init__()
        self.encode_conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.encode_bn = nn.BatchNorm2d(out_channels)
        if not first:
            self.encode_lif = build_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "encode_lif"):
            x = self.encode_lif(x)
        return seq_apply(self.encode_bn, seq_apply(self.encode_conv, x))


class MSRepAttention(nn.Module):
    """Spike-driven self-attention with RepConv projections (official
    ``MS_Attention_RepConv_qkv_id``); returns the branch, without the shortcut.

    ``S = LIF(U)``; ``Q, K, V = LIF(BN(RepConv(S)))`` split into heads ``[T, B, h, N, d]``;
    ``Y = LIF_0.5(scale * Q (K^T V))`` (official ``scale`` 0.125); output ``BN(RepConv(Y))``.
    """

    def __init__(self, dim: int, num_heads: int, build_neuron: Any, scale: float = 0.125) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = scale
        self.head_lif = build_neuron()
        for p in "qkv":
            setattr(self, f"{p}_conv", nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim)))
            setattr(self, f"{p}_lif", build_neuron())
        self.attn_lif = build_neuron(v_threshold=0.5)
        self.proj_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, C, H, W = x.shape
        h = self.num_heads
        s = self.head_lif(x)

        def heads(p: str) -> torch.Tensor:  # [T, B, C, H, W] -> [T, B, h, N, C / h]
            z = getattr(self, f"{p}_lif")(seq_apply(getattr(self, f"{p}_conv"), s))
            return z.flatten(3).transpose(-1, -2).reshape(T, B, H * W, h, C // h).transpose(2, 3)

        q, k, v = heads("q"), heads("k"), heads("v")
        y = (q @ (k.transpose(-2, -1) @ v)) * self.scale
        y = self.attn_lif(y.transpose(3, 4).reshape(T, B, C, H * W)).reshape(T, B, C, H, W)
        return seq_apply(self.proj_conv, y)


class MSTokenMLP(nn.Module):
    """``BN(W2 LIF(BN(W1 LIF(U))))`` over the flattened tokens with biased 1x1 ``Conv1d``
    and ``BatchNorm1d`` (official ``MS_MLP``); returns the branch."""

    def __init__(self, dim: int, hidden: int, build_neuron: Any) -> None:
        super().__init__()
        self.fc1_conv = nn.Conv1d(dim, hidden, 1)
        self.fc1_bn = nn.BatchNorm1d(hidden)
        self.fc1_lif = build_neuron()
        self.fc2_conv = nn.Conv1d(hidden, dim, 1)
        self.fc2_bn = nn.BatchNorm1d(dim)
        self.fc2_lif = build_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = seq_apply(self.fc1_bn, seq_apply(self.fc1_conv, self.fc1_lif(x.flatten(3))))
        return seq_apply(self.fc2_bn, seq_apply(self.fc2_conv, self.fc2_lif(x))).reshape(shape)


class MetaBlock(nn.Module):
    """``U' = U + SDSA(U)``, ``U' + MLP(U')`` (official ``MS_Block``)."""

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: int, build_neuron: Any, scale: float = 0.125
    ) -> None:
        super().__init__()
        self.attn = MSRepAttention(dim, num_heads, build_neuron, scale)
        self.mlp = MSTokenMLP(dim, dim * mlp_ratio, build_neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


def _check_attn_scale(owner: str, attn_scale: Any) -> float:
    """The SDSA scale: a finite float ``> 0``."""
    if (
        isinstance(attn_scale, bool)
        or not isinstance(attn_scale, (int, float))
        or not math.isfinite(attn_scale)
        or attn_scale <= 0
    ):
        raise ValueError(f"{owner}: attn_scale must be a finite float > 0, got {attn_scale!r}")
    return float(attn_scale)


def _init_official(module: nn.Module) -> None:
    """The official ``_init_weights``: linear weights ``trunc_normal_(std=.02)``, biases 0."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class MetaSpikeFormer(SpikingClassifier):
    """Meta-SpikeFormer (Spike-driven Transformer v2); see the module docstring.

    Args:
        img_size: input size ``H`` or ``(H, W)`` recorded in the card (any size runs).
        in_chans: input channels.
        num_classes: classes (0: no head, features only).
        embed_dim: the four stage widths ``(D0, D1, D2, D3)``; stage 1 runs at ``D0 / 2``
            then ``D0``.
        num_heads: attention heads of the transformer blocks (divides ``D2`` and ``D3``).
        mlp_ratio: hidden width factor of the conv blocks and MLPs (an int).
        T: time steps a static image is repeated over (the official ``model.T``).
        distillation: build the official distillation head ``head_kd`` (``kd=True``).
        depths: transformer blocks of stages 3 and 4 (official: ``(6, 2)``).
        attn_scale: ``scale`` of ``LIF_0.5(scale * Q (K^T V))`` (official: 0.125). With few
            tokens and sparse spikes the product stays below the attention neuron's threshold
            at 0.125; the silent neuron then feeds the projection's BatchNorms a constant, and
            each scales its training-mode gradient by ``1 / sqrt(eps)``.
        strides: strides of the five downsamplings (official: ``(2, 2, 2, 2, 1)``); stride 1
            keeps more tokens on small inputs (an 8x8 image keeps a 2x2 grid with
            ``(1, 2, 2, 1, 1)`` instead of a single token).
        backend, neuron, neuron_kwargs: the neurons (see ``snn_layers.attention``).
        drop_rate: dropout on the head neuron's spikes before the heads (timm's meaning).
        global_pool: ``None`` or ``'avg'`` (the mean over tokens).
        bn_momentum, bn_eps: ``momentum`` / ``eps`` of every BatchNorm (``None``: torch's).
        drop_path_rate, proj_drop_rate, attn_drop_rate, pos_drop_rate, patch_drop_rate,
            drop_block_rate: accepted at 0 only (the official blocks never apply them).
    """

    def __init__(
        self,
        *,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: Sequence[int] = (128, 256, 512, 640),
        num_heads: int = 8,
        mlp_ratio: int = 4,
        T: int = 1,
        distillation: bool = False,
        depths: Sequence[int] = (6, 2),
        attn_scale: float = 0.125,
        strides: Sequence[int] = (2, 2, 2, 2, 1),
        backend: str = "torch",
        neuron: Any = None,
        neuron_kwargs: Mapping[str, Any] | None = None,
        drop_rate: float = 0.0,
        global_pool: str | None = None,
        bn_momentum: float | None = None,
        bn_eps: float | None = None,
        drop_path_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        patch_drop_rate: float = 0.0,
        drop_block_rate: float | None = None,
    ) -> None:
        super().__init__(T, num_classes, in_chans)
        name = type(self).__name__
        unused = "the official Meta-SpikeFormer block builds DropPath but never applies it"
        reject_unplaced(
            name,
            drop_path_rate=(drop_path_rate, unused),
            proj_drop_rate=(proj_drop_rate, "the official blocks have no projection dropout"),
            attn_drop_rate=(attn_drop_rate, "SDSA has no softmax attention map"),
            pos_drop_rate=(pos_drop_rate, "there is no position embedding"),
            patch_drop_rate=(patch_drop_rate, "token dropping is not implemented"),
            drop_block_rate=(drop_block_rate, "DropBlock is not implemented"),
        )
        self.global_pool = check_global_pool(name, global_pool)
        self.drop_rate = check_rate(name, "drop_rate", drop_rate)
        dims = check_int_tuple(name, "embed_dim", embed_dim, 4, 2, "the stage widths")
        check_positive_int(name, "num_heads", num_heads)
        check_positive_int(name, "mlp_ratio", mlp_ratio)
        if dims[2] % num_heads or dims[3] % num_heads:
            raise ValueError(
                f"{name}: num_heads={num_heads} must divide embed_dim[2]={dims[2]} and "
                f"embed_dim[3]={dims[3]}"
            )
        if not isinstance(distillation, bool):
            raise TypeError(f"{name}: distillation must be a bool, got {distillation!r}")
        depths = check_int_tuple(name, "depths", depths, 2, 1, "transformer blocks of stages 3, 4")
        strides = check_int_tuple(name, "strides", strides, 5, 1, "the five downsamplings' strides")
        scale = _check_attn_scale(name, attn_scale)
        self.img_size = to_2tuple_size(name, img_size)
        self.embed_dim, self.distillation = dims, distillation
        self.depths, self.strides, self.attn_scale = depths, strides, scale
        self.num_features = dims[3]
        build = make_neuron_factory(neuron, neuron_kwargs, backend)
        d0, d1, d2, d3 = dims
        r = mlp_ratio
        s1, s2, s3, s4, s5 = strides
        n3, n4 = depths
        self.downsample1_1 = MSDownsampling(in_chans, d0 // 2, 7, s1, 3, True, build)
        self.ConvBlock1_1 = nn.ModuleList([MSConvBlock(d0 // 2, r, build)])
        self.downsample1_2 = MSDownsampling(d0 // 2, d0, 3, s2, 1, False, build)
        self.ConvBlock1_2 = nn.ModuleList([MSConvBlock(d0, r, build)])
        self.downsample2 = MSDownsampling(d0, d1, 3, s3, 1, False, build)
        self.ConvBlock2_1 = nn.ModuleList([MSConvBlock(d1, r, build)])
        self.ConvBlock2_2 = nn.ModuleList([MSConvBlock(d1, r, build)])
        self.downsample3 = MSDownsampling(d1, d2, 3, s4, 1, False, build)
        self.block3 = nn.ModuleList(MetaBlock(d2, num_heads, r, build, scale) for _ in range(n3))
        self.downsample4 = MSDownsampling(d2, d3, 3, s5, 1, False, build)
        self.block4 = nn.ModuleList(MetaBlock(d3, num_heads, r, build, scale) for _ in range(n4))
        self.lif = build()
        self.head_drop = dropout(self.drop_rate)
        self.head = nn.Linear(d3, num_classes) if num_classes > 0 else nn.Identity()
        if distillation:
            self.head_kd = nn.Linear(d3, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(_init_official)
        self.set_bn_options(bn_momentum, bn_eps)
        modules = ("ConvBlock1_1", "ConvBlock1_2", "ConvBlock2_2", "block3", "block4")
        channels = (d0 // 2, d0, d1, d2, d3)
        reductions = [math.prod(strides[: i + 1]) for i in range(5)]
        self.feature_info = [
            dict(num_chs=c, reduction=f, module=m) for c, f, m in zip(channels, reductions, modules)
        ]

    @classmethod
    def num_feature_stages(cls, **config: Any) -> int:
        """Five feature stages: the two halves of stage 1, then stages 2, 3 and 4."""
        return 5

    def stage_modules(self) -> list[list[nn.Module]]:
        return [
            [self.downsample1_1, *self.ConvBlock1_1],
            [self.downsample1_2, *self.ConvBlock1_2],
            [self.downsample2, *self.ConvBlock2_1, *self.ConvBlock2_2],
            [self.downsample3, *self.block3],
            [self.downsample4, *self.block4],
        ]

    def forward_head(
        self, x: torch.Tensor, pre_logits: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``[T, B, D3, H, W]`` -> token mean -> ``lif`` -> head(s) per step -> mean over T.
        With the distillation head: ``(head + head_kd) / 2`` in eval mode and the pair
        ``(head, head_kd)`` in training mode (official). ``pre_logits``: the head neuron's
        firing rates ``[B, D3]``."""
        s = self.head_drop(self.lif(x.flatten(3).mean(3)))
        if pre_logits:
            return s.mean(0)
        y = self.head(s).mean(0)
        if not self.distillation:
            return y
        y_kd = self.head_kd(s).mean(0)
        return (y, y_kd) if self.training else (y + y_kd) / 2

    def reset_classifier(self, num_classes: int, global_pool: Any = None) -> None:
        super().reset_classifier(num_classes, global_pool)
        if self.distillation:
            self.head_kd = self.new_head(num_classes)


# --------------------------------------------------------------------------- variants
_PAPER = "Spike-driven Transformer V2 / Meta-SpikeFormer (Yao et al., ICLR 2024)"
_COMMIT = "35f245f4f79acf1a2b3ef22698c58ab05c1ede33"
_NEURONS = "LIF tau=2, v_threshold=1 (attention neuron 0.5), hard reset to 0, detach_reset"
_QUIRKS = (
    "attention scale fixed at 0.125",
    "RepConv's padded BN fills its border from running statistics, also in training",
    "the official DropPath is never applied: drop_path_rate must stay 0",
    "6 + 2 transformer blocks whatever the official `depths` (the default of our `depths`)",
)


def _card(builder: str, params_m: float, top1: str | None, **kw: Any) -> dict[str, Any]:
    notes = (
        f"official code at commit {_COMMIT[:7]}, classification/models.py `{builder}`",
        f"neurons: {_NEURONS}",
        *(f"quirk: {q}" for q in _QUIRKS),
        "T=1 as the official model's default (`--time_steps 1`); pass T=4 for the models "
        "fine-tuned at T=4",
        *kw.pop("notes", ()),
    )
    if top1 is not None:
        notes += (f"paper: {top1}",)
    card = dict(
        architecture="metaspikformer",
        paper=_PAPER,
        paper_ids="openreview:1SIBN5Xyw7",
        origin_url="https://github.com/BICLab/Spike-Driven-Transformer-V2",
        origin_commit=_COMMIT,
        official_config=f"classification/models.py {builder}",
        dataset="imagenet-1k",
        params_m=params_m,
        reported_accuracy=None,
        T=1,
        num_classes=1000,
        input_size=(3, 224, 224),
        crop_pct=0.875,
        interpolation="bicubic",
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        first_conv="downsample1_1.encode_conv",
        classifier="head",
        license="unspecified (no LICENSE file in the official repository)",
        neurons=_NEURONS,
        quirks=_QUIRKS,
        notes=notes,
    )
    card.update(kw)  # a variant may replace any entry (the digits variant's data set)
    return card


def _imagenet(dims: tuple[int, int, int, int], distillation: bool = False) -> dict[str, Any]:
    return dict(embed_dim=dims, num_heads=8, mlp_ratio=4, img_size=224, T=1,
                distillation=distillation)  # fmt: skip


@register_model(MetaSpikeFormer, _card("metaspikformer_8_384", 31.33, None))
def metaspikformer_8_384() -> dict[str, Any]:
    """Meta-SpikeFormer 8-384 (31.3M), ImageNet-1k, 224x224, T=1."""
    return _imagenet((96, 192, 384, 480))


@register_model(
    MetaSpikeFormer,
    _card("metaspikformer_8_512", 55.35, "80.0% top-1 (55M; README abstract)"),
    default=True,
)
def metaspikformer_8_512() -> dict[str, Any]:
    """Meta-SpikeFormer 8-512 (55.4M), ImageNet-1k, 224x224, T=1: the paper's largest model."""
    return _imagenet((128, 256, 512, 640))


@register_model(
    MetaSpikeFormer,
    _card(
        "metaspikformer_8_512 (kd=True)",
        55.99,
        None,
        notes=(
            "distillation head `head_kd` (official kd=True): eval returns (head + head_kd) / 2, "
            "training returns the pair",
            "the README's T=4 fine-tuning passes --kd (teacher caformer_b36_in21ft1k)",
        ),
    ),
)
def metaspikformer_8_512_kd() -> dict[str, Any]:
    """Meta-SpikeFormer 8-512 with the distillation head, ImageNet-1k, 224x224, T=1."""
    return _imagenet((128, 256, 512, 640), distillation=True)


@register_model(MetaSpikeFormer, _card("metaspikformer_8_768", 123.74, None))
def metaspikformer_8_768() -> dict[str, Any]:
    """Meta-SpikeFormer 8-768 (123.7M, official builder, not in the paper), 224x224, T=1."""
    return _imagenet((192, 384, 768, 960))


_DIGITS_NOTES = (
    "inputs: digits.data / 16, normalised by mean/std",
    "options beyond the official layout (this project's): strides=(1, 2, 2, 1, 1), so the 8x8 "
    "image keeps a 2x2 token grid in stages 3-4 (the official strides leave one token); "
    "depths=(1, 1); attn_scale=1.0 (at 0.125 the attention neuron stays silent on 4 tokens and "
    "the constant input of its projection's BatchNorms blows the gradient up); every neuron "
    "fires at 0.5 (neuron_kwargs v_threshold=0.5, as the attention neuron already does), so "
    "that spikes are not too sparse at T=2",
    "`snn-zoo train --model metaspikformer_digits --threads 1` (defaults: 30 epochs, seed 0) "
    "reached 95.33% test accuracy (best 95.78%) in 254 s and 261 s wall in two runs with the same "
    "accuracies epoch by epoch (measured on this project's 2-core machine while other jobs ran; "
    "first >= 95% at epoch 18, after 123 s); no weights ship",
)


@register_model(
    MetaSpikeFormer,
    _card(
        "this project (no official config)",
        0.46,
        None,
        official_config="this project (no official config)",
        dataset="sklearn digits (8x8)",
        paper=_PAPER + "; small variant of this project",
        T=2,
        **DIGITS_CARD,
        neurons=_NEURONS.replace("v_threshold=1", "v_threshold=0.5"),
        quirks=_QUIRKS[1:3],
    )
    | dict(notes=_DIGITS_NOTES),
)
def metaspikformer_digits() -> dict[str, Any]:
    """A small Meta-SpikeFormer for scikit-learn's 8x8 digits (1x8x8, 10 classes, T=2)."""
    return dict(
        embed_dim=(16, 32, 64, 128),
        num_heads=8,
        mlp_ratio=2,
        depths=(1, 1),
        attn_scale=1.0,
        strides=(1, 2, 2, 1, 1),
        neuron_kwargs=dict(v_threshold=0.5),
        img_size=8,
        T=2,
        in_chans=1,
        num_classes=10,
    )
