"""Spikformer (Zhou et al., "Spikformer: When Spiking Neural Network Meets Transformer",
ICLR 2023; official code github.com/ZK-Zhou/spikformer).

Spiking Patch Splitting (SPS, Eq. 1-3): four ``conv3x3 -> BN -> LIF (-> maxpool)`` stages
``C_in -> D/8 -> D/4 -> D/2 -> D`` and a relative position embedding
``x + LIF(BN(conv3x3(x)))``; then ``depth`` blocks of Spiking Self-Attention and a spiking
MLP with residuals (Eq. 7-8); the head classifies the features averaged over tokens and
time. All neurons are ``LIF(tau=2, detach_reset=True)``; the attention neuron fires at 0.5.

Three official layouts are kept so that published checkpoints load as they are:

- ``'imagenet'``: SSA projections ``Conv1d`` (``q_conv``...), MLP ``Conv2d`` (``fc1_conv``),
  max-pool after every SPS stage (patch 16);
- ``'cifar'``: SSA projections ``Linear`` with biases (``q_linear``...), MLP ``Linear``
  (``fc1_linear``), max-pool after SPS stages 3 and 4 only (patch 4);
- ``'dvs'``: as ImageNet but the MLP is ``Conv1d`` and the SSA scale is 0.25, as in the
  official CIFAR10-DVS code.

The official blocks also build two LayerNorms (``norm1``, ``norm2``) that the forward never
uses, and the event model a ``pos_embed`` and ``norm``; they are left out here (the papers'
parameter counts leave them out too) and dropped, with a logged note, when loading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from snn_layers.attention import SpikingSelfAttention, make_neuron_factory
from torch import nn

from snn_zoo._base import SpikingClassifier, check_global_pool, reject_unplaced
from snn_zoo._blocks import (
    MLP,
    ResidualBlock,
    check_positive_int,
    check_rate,
    drop_path_rates,
    dropout,
    init_vit_weights,
    seq_apply,
    to_2tuple_size,
)
from snn_zoo._registry import register_model
from snn_zoo.data import DIGITS_CARD

__all__ = ["SPS", "Spikformer"]

_LAYOUTS: dict[str, dict[str, Any]] = {
    "imagenet": dict(pools=(True, True, True, True), proj="conv", mlp="conv2d", qkv_bias=False),
    "cifar": dict(pools=(False, False, True, True), proj="linear", mlp="linear", qkv_bias=True),
    "dvs": dict(pools=(True, True, True, True), proj="conv", mlp="conv1d", qkv_bias=False),
}


class SPS(nn.Module):
    """Spiking Patch Splitting with relative position embedding (Spikformer Eq. 1-3).

    ``[T, B, C_in, H, W] -> [T, B, D, H / 2^p, W / 2^p]`` with ``p`` the number of pooled
    stages. Parameter names as the official code: ``proj_conv``, ``proj_bn``,
    ``proj_conv1`` ... ``proj_conv3``, ``rpe_conv``, ``rpe_bn``.
    """

    def __init__(
        self,
        in_chans: int,
        embed_dim: int,
        pools: Sequence[bool],
        build_neuron: Any,
    ) -> None:
        super().__init__()
        if len(pools) != 4:
            raise ValueError(f"SPS: pools must have 4 entries (one per stage), got {pools!r}")
        self.pools = tuple(bool(p) for p in pools)
        chans = [in_chans, embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim]
        for i in range(4):
            sfx = "" if i == 0 else str(i)
            setattr(
                self,
                f"proj_conv{sfx}",
                nn.Conv2d(chans[i], chans[i + 1], kernel_size=3, stride=1, padding=1, bias=False),
            )
            setattr(self, f"proj_bn{sfx}", nn.BatchNorm2d(chans[i + 1]))
            setattr(self, f"proj_lif{sfx}", build_neuron())
            if self.pools[i]:
                setattr(self, f"maxpool{sfx}", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.rpe_conv = nn.Conv2d(embed_dim, embed_dim, 3, stride=1, padding=1, bias=False)
        self.rpe_bn = nn.BatchNorm2d(embed_dim)
        self.rpe_lif = build_neuron()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(4):
            sfx = "" if i == 0 else str(i)
            x = seq_apply(getattr(self, f"proj_conv{sfx}"), x)
            x = getattr(self, f"proj_lif{sfx}")(seq_apply(getattr(self, f"proj_bn{sfx}"), x))
            if self.pools[i]:
                x = seq_apply(getattr(self, f"maxpool{sfx}"), x)
        rpe = self.rpe_lif(seq_apply(self.rpe_bn, seq_apply(self.rpe_conv, x)))
        return x + rpe


class Spikformer(SpikingClassifier):
    """Spikformer-``depth``-``embed_dim``; see the module docstring.

    Args:
        img_size: input size ``H`` or ``(H, W)`` recorded in the card (any size runs).
        in_chans: input channels.
        num_classes: classes (0: no head, features only).
        embed_dim: ``D`` (divisible by 8 and by ``num_heads``).
        depth: number of SSA blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden size ``int(D * mlp_ratio)``.
        T: time steps a static image is repeated over.
        layout: ``'imagenet'``, ``'cifar'`` or ``'dvs'`` (official parameter layouts).
        attn_scale: SSA scale ``s`` (``None``: 0.125, or 0.25 for ``layout='dvs'``).
        sps_pools: which SPS stages max-pool (``None``: the layout's).
        drop_path_rate: stochastic depth (0 in the paper).
        backend, neuron, neuron_kwargs: the neurons (see ``snn_layers.attention``).
        drop_rate: dropout on the pooled features before the head (timm's meaning).
        proj_drop_rate: dropout on the outputs of the attention and MLP branches.
        pos_drop_rate: dropout after the patch splitting and its relative position embedding.
        attn_drop_rate, patch_drop_rate, drop_block_rate: accepted at 0 only (SSA has no
            softmax attention matrix; tokens are not dropped; no DropBlock).
        global_pool: ``None`` or ``'avg'`` (the mean over tokens and time).
        bn_momentum, bn_eps: ``momentum`` / ``eps`` of every BatchNorm (``None``: torch's).
    """

    unused_official_keys = (
        r"block\.\d+\.norm[12]\.(weight|bias)",
        r"pos_embed",
        r"norm\.(weight|bias)",
    )

    def __init__(
        self,
        *,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 384,
        depth: int = 8,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        T: int = 4,
        layout: str = "imagenet",
        attn_scale: float | None = None,
        sps_pools: Sequence[bool] | None = None,
        drop_path_rate: float = 0.0,
        backend: str = "torch",
        neuron: Any = None,
        neuron_kwargs: Mapping[str, Any] | None = None,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
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
            attn_drop_rate=(attn_drop_rate, "spiking self-attention has no softmax attention map"),
            patch_drop_rate=(patch_drop_rate, "token dropping is not implemented"),
            drop_block_rate=(drop_block_rate, "DropBlock is not implemented"),
        )
        self.global_pool = check_global_pool(name, global_pool)
        self.drop_rate = check_rate(name, "drop_rate", drop_rate)
        proj_drop = check_rate(name, "proj_drop_rate", proj_drop_rate)
        if layout not in _LAYOUTS:
            raise ValueError(f"{name}: layout must be one of {sorted(_LAYOUTS)}, got {layout!r}")
        check_positive_int(name, "embed_dim", embed_dim, minimum=8)
        check_positive_int(name, "depth", depth)
        if embed_dim % 8:
            raise ValueError(f"{name}: embed_dim must be divisible by 8 (SPS), got {embed_dim}")
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or mlp_ratio <= 0:
            raise ValueError(f"{name}: mlp_ratio must be a positive number, got {mlp_ratio!r}")
        spec = _LAYOUTS[layout]
        self.img_size = to_2tuple_size(name, img_size)
        self.embed_dim = self.num_features = embed_dim
        self.layout = layout
        scale = attn_scale if attn_scale is not None else (0.25 if layout == "dvs" else 0.125)
        pools = spec["pools"] if sps_pools is None else tuple(sps_pools)
        build = make_neuron_factory(neuron, neuron_kwargs, backend)
        self.patch_embed = SPS(in_chans, embed_dim, pools, build)
        self.pos_drop = dropout(check_rate(name, "pos_drop_rate", pos_drop_rate))
        dpr = drop_path_rates(name, drop_path_rate, depth)
        self.block = nn.ModuleList(
            ResidualBlock(
                "attn",
                SpikingSelfAttention(
                    embed_dim,
                    num_heads,
                    backend,
                    scale=scale,
                    qkv_bias=spec["qkv_bias"],
                    proj_bias=True,
                    proj_type=spec["proj"],
                    neuron=neuron,
                    neuron_kwargs=neuron_kwargs,
                ),
                MLP(embed_dim, int(embed_dim * mlp_ratio), spec["mlp"], build),
                dpr[i],
                proj_drop,
            )
            for i in range(depth)
        )
        self.head_drop = dropout(self.drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(init_vit_weights)
        self.set_bn_options(bn_momentum, bn_eps)
        reduction = 2 ** sum(self.patch_embed.pools)
        self.feature_info = [dict(num_chs=embed_dim, reduction=reduction, module="patch_embed")]
        self.feature_info += [
            dict(num_chs=embed_dim, reduction=reduction, module=f"block.{i}") for i in range(depth)
        ]

    @classmethod
    def num_feature_stages(cls, depth: int = 8, **config: Any) -> int:
        """Number of feature stages for a config: the patch embedding and every block."""
        return depth + 1

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[self.patch_embed, self.pos_drop]] + [[blk] for blk in self.block]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``[T, B, D, H, W]`` -> mean over tokens and time -> dropout -> ``head``."""
        x = self.head_drop(x.flatten(3).mean(3).mean(0))
        return x if pre_logits else self.head(x)

    def new_head(self, num_classes: int) -> nn.Module:
        head = super().new_head(num_classes)
        if num_classes > 0:
            init_vit_weights(head)
        return head


# --------------------------------------------------------------------------- variants
_PAPER = "Spikformer: When Spiking Neural Network Meets Transformer (Zhou et al., ICLR 2023)"
_IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
_CIFAR10 = dict(mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))
_EVENTS = dict(mean=(0.0, 0.0), std=(1.0, 1.0))


def _card(dataset: str, params_m: float | None, top1: float | None, **kw: Any) -> dict[str, Any]:
    card = dict(
        architecture="spikformer",
        paper=_PAPER,
        paper_ids="arXiv:2209.15425",
        origin_url="https://github.com/ZK-Zhou/spikformer",
        dataset=dataset,
        params_m=params_m,
        reported_accuracy=top1,
        T=4,
        num_classes=1000,
        input_size=(3, 224, 224),
        crop_pct=1.0,
        interpolation="bicubic",
        first_conv="patch_embed.proj_conv",
        classifier="head",
        license="MIT",
        **_IMAGENET,
    )
    card.update(kw)
    return card


def _imagenet(depth: int, dim: int, heads: int) -> dict[str, Any]:
    return dict(embed_dim=dim, depth=depth, num_heads=heads, img_size=224, T=4, layout="imagenet")


@register_model(Spikformer, _card("imagenet-1k", 16.81, 70.24))
def spikformer_8_384() -> dict[str, Any]:
    """Spikformer-8-384, ImageNet-1k, 224x224, T=4."""
    return _imagenet(8, 384, 12)


@register_model(Spikformer, _card("imagenet-1k", 23.37, 72.46))
def spikformer_6_512() -> dict[str, Any]:
    """Spikformer-6-512, ImageNet-1k, 224x224, T=4."""
    return _imagenet(6, 512, 8)


@register_model(Spikformer, _card("imagenet-1k", 29.68, 73.38))
def spikformer_8_512() -> dict[str, Any]:
    """Spikformer-8-512, ImageNet-1k, 224x224, T=4 (the official code's default)."""
    return _imagenet(8, 512, 8)


@register_model(Spikformer, _card("imagenet-1k", 36.01, 73.68))
def spikformer_10_512() -> dict[str, Any]:
    """Spikformer-10-512, ImageNet-1k, 224x224, T=4."""
    return _imagenet(10, 512, 8)


@register_model(Spikformer, _card("imagenet-1k", 66.34, 74.81), default=True)
def spikformer_8_768() -> dict[str, Any]:
    """Spikformer-8-768, ImageNet-1k, 224x224, T=4: the paper's headline model."""
    return _imagenet(8, 768, 12)


@register_model(
    Spikformer,
    _card(
        "cifar-10",
        9.32,
        95.51,
        num_classes=10,
        input_size=(3, 32, 32),
        **_CIFAR10,
        notes=("95.19% after 300 epochs, 95.51% after 400 (paper)",),
    ),
)
def spikformer_4_384_cifar() -> dict[str, Any]:
    """Spikformer-4-384, CIFAR-10, 32x32, T=4 (official CIFAR layout)."""
    return dict(
        embed_dim=384, depth=4, num_heads=12, img_size=32, T=4, num_classes=10, layout="cifar"
    )


@register_model(
    Spikformer,
    _card(
        "cifar10-dvs",
        2.57,
        80.9,
        T=16,
        num_classes=10,
        input_size=(2, 128, 128),
        **_EVENTS,
        notes=("input: [T=16, B, 2, 128, 128] event frames",),
    ),
)
def spikformer_2_256_dvs() -> dict[str, Any]:
    """Spikformer-2-256, CIFAR10-DVS, 128x128 event frames, T=16 (official event layout)."""
    return dict(
        embed_dim=256,
        depth=2,
        num_heads=16,
        img_size=128,
        T=16,
        in_chans=2,
        num_classes=10,
        layout="dvs",
    )


@register_model(
    Spikformer,
    _card(
        "sklearn digits (8x8)",
        None,
        97.78,  # measured: `snn-zoo eval --model spikformer_digits --pretrained`
        T=4,
        **DIGITS_CARD,
        paper=_PAPER + "; small variant of this project",
        # Trained by `snn-zoo train` with its defaults (30 epochs, seed 0); bundled.
        file="weights/spikformer_digits.safetensors",
        sha256="914deb2b7aa7f1e1db7923fe2e9b64fdfb386b2259c90c07433ddeca2316d134",
        # measured: `snn-zoo profile --model spikformer_digits --pretrained [--multi-spike]`
        # (the papers' convention, fp32 45 nm: 4.6 pJ a MAC, 0.9 pJ an AC; the test split)
        energy_mj=0.009568,
        energy_mj_multi_spike=0.001919,
        notes=(
            "inputs: digits.data / 16, normalised by mean/std",
            "SPS pools once (4x4 tokens)",
            "reported_accuracy: this project's measurement on the fixed 450-image test split",
            "energy (papers' convention, fp32, per sample, 450 test images): 0.009568 mJ; "
            "0.001919 mJ counting residual spike sums as ACs (--multi-spike)",
        ),
    ),
)
def spikformer_digits() -> dict[str, Any]:
    """A small Spikformer for scikit-learn's 8x8 digits (1x8x8, 10 classes, T=4)."""
    return dict(
        embed_dim=64,
        depth=1,
        num_heads=4,
        img_size=8,
        T=4,
        in_chans=1,
        num_classes=10,
        layout="imagenet",
        sps_pools=(False, False, False, True),
    )
