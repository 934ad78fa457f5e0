"""Max-Former (Fang et al., "Spiking Neural Networks Need High-Frequency Information",
NeurIPS 2025, arXiv:2505.18608; official code github.com/bic-L/MaxFormer,
``imagenet/max_former.py``, ``imagenet/embedding_hub.py``, ``imagenet/mixer_hub.py``).

A three-stage membrane-shortcut spiking transformer that restores high-frequency
information with max-pooling in the patch embeddings and depth-wise convolutions instead
of self-attention in the early stages. Every residual adds membrane potentials, and every
branch starts with its own spiking neuron, so all convolutions but the first take spikes.

- ``E(x) = BN(conv(LIF(x)))`` (``E'``: without the neuron, on spikes or the image).
- Stem (``Embed_Orig_ImageNet``, ``D/4`` channels, stride 4):
  ``u = E'_1(x)`` (3x3 stride 2), ``s = LIF(u)``, ``E_3(BN(conv3x3_s2(s))) + E'_4(s)``
  with ``E'_4`` a 1x1 stride-2 convolution.
- Down-sampling (``Embed_Max``, stride 2): ``s = LIF(u)``,
  ``E_1(maxpool(BN(conv3x3(s)))) + maxpool(BN(conv1x1(s)))``.
- Stage 1: one block with a 7x7 depth-wise mixer ``u + BN(dwconv7(LIF(u)))``; stage 2: two
  blocks with a 5x5 one; stage 3: seven spiking self-attention blocks (SSA).
- SSA: ``s = LIF(u)``, ``Q, K, V = LIF(BN(conv1x1(s)))``,
  ``u + BN(conv1x1(LIF_0.5(0.125 * Q (K^T V))))``.
- MLP: ``h = BN(conv1x1(LIF(u)))`` (``+ u`` when the hidden width is ``D``),
  ``h' + BN(conv1x1(LIF(h)))``.
- Head: the token mean ``[T, B, D]`` passes a LIF, the linear head runs per step, and the
  logits are averaged over T.

All neurons are ``LIF(tau=2, v_threshold=1, detach_reset=True)`` (hard reset to 0), the
attention neuron fires at 0.5, as the official ``MultiStepLIFNode`` settings.

Official quirks reproduced: the builders' ``depths=10`` is ignored by the official model,
whose stages always hold 1, 2 and 7 blocks (here ``depths``, default ``(1, 2, 7)``); the
official ``_init_weights`` touches only ``Conv2d`` / ``BatchNorm2d`` (the SSA's ``Conv1d``
and ``BatchNorm1d`` keep torch's init). Spatial sizes must be divisible by 16 (the official
reshapes assume it; here any size runs, each stride-2 step giving ``ceil(H / 2)``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from snn_layers.attention import make_neuron_factory
from torch import nn

from snn_zoo._base import SpikingClassifier, check_global_pool, reject_unplaced
from snn_zoo._blocks import (
    check_positive_int,
    check_rate,
    dropout,
    seq_apply,
    to_2tuple_size,
    trunc_normal_,
)
from snn_zoo._registry import register_model
from snn_zoo.data import DIGITS_CARD

_logger = logging.getLogger("snn_zoo")

__all__ = ["MaxEmbed", "StemEmbed", "DWConvMixer", "MaxSSA", "MaxMLP", "MaxBlock", "MaxFormer"]


class _ConvBN(nn.Module):
    """``BN(conv(LIF(x)))`` (official ``Embed`` / ``Max_Embed``), the neuron skipped when
    ``spiking_input`` (the official ``shortcut=True``), a 3x3 stride-2 max-pool after the BN
    when ``pool``. ``[T, B, C, H, W] -> [T, B, C', H', W']``."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        k: int,
        stride: int,
        build: Any,
        spiking_input: bool = False,
        pool: bool = False,
    ) -> None:
        super().__init__()
        self.spiking_input = spiking_input
        self.embed_lif = build()
        self.embed_conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False)
        self.embed_bn = nn.BatchNorm2d(c_out)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if pool else None

    def spikes(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.spiking_input else self.embed_lif(x)

    def forward(self, x: torch.Tensor, spikes: torch.Tensor | None = None) -> torch.Tensor:
        s = self.spikes(x) if spikes is None else spikes
        y = seq_apply(self.embed_bn, seq_apply(self.embed_conv, s))
        return y if self.maxpool is None else seq_apply(self.maxpool, y)


class StemEmbed(nn.Module):
    """The official ``Embed_Orig_ImageNet``: ``C_in -> D/2 -> D``, stride 4 (module docstring)."""

    def __init__(self, in_chans: int, dim: int, build: Any) -> None:
        super().__init__()
        self.embed1 = _ConvBN(in_chans, dim // 2, 3, 2, build, spiking_input=True)
        self.embed2 = _ConvBN(dim // 2, dim, 3, 2, build)
        self.embed3 = _ConvBN(dim, dim, 3, 1, build)
        self.embed4 = _ConvBN(dim // 2, dim, 1, 2, build, spiking_input=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.embed2.spikes(self.embed1(x))
        return self.embed3(self.embed2(s, spikes=s)) + self.embed4(s)


class MaxEmbed(nn.Module):
    """The official ``Embed_Max``: ``C -> D``, stride 2 by max-pooling (module docstring)."""

    def __init__(self, c_in: int, dim: int, build: Any) -> None:
        super().__init__()
        self.max_embed1 = _ConvBN(c_in, dim, 3, 1, build, pool=True)
        self.embed1 = _ConvBN(dim, dim, 3, 1, build)
        self.max_embed2 = _ConvBN(c_in, dim, 1, 1, build, spiking_input=True, pool=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.max_embed1.spikes(x)
        return self.embed1(self.max_embed1(x, spikes=s)) + self.max_embed2(s)


class DWConvMixer(nn.Module):
    """``u + BN(dwconv_k(LIF(u)))`` (official ``Mixer_DWC5`` / ``Mixer_DWC7``; the 7x7 one
    names its layers ``conv5``, ``conv5_bn``, as the official code)."""

    def __init__(self, dim: int, kernel_size: int, build: Any) -> None:
        super().__init__()
        self.prefix = "conv5" if kernel_size == 7 else "conv"
        setattr(self, f"{self.prefix}_neuron", build())
        conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        setattr(self, self.prefix, conv)
        setattr(self, f"{self.prefix}_bn", nn.BatchNorm2d(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = getattr(self, f"{self.prefix}_neuron")(x)
        y = seq_apply(getattr(self, self.prefix), s)
        return seq_apply(getattr(self, f"{self.prefix}_bn"), y) + x


class MaxSSA(nn.Module):
    """Membrane-shortcut spiking self-attention (official ``SSA`` of ``mixer_hub``):
    ``u + BN(W_p LIF_0.5(0.125 * Q (K^T V)))``, ``Q, K, V = LIF(BN(W LIF(u)))`` per head,
    1x1 ``Conv1d`` projections over the ``N = H W`` tokens."""

    def __init__(self, dim: int, num_heads: int, build: Any) -> None:
        super().__init__()
        self.num_heads, self.scale = num_heads, 0.125
        self.x_lif = build()
        for p in "qkv":
            setattr(self, f"{p}_conv", nn.Conv1d(dim, dim, 1, bias=False))
            setattr(self, f"{p}_bn", nn.BatchNorm1d(dim))
            setattr(self, f"{p}_lif", build())
        self.attn_lif = build(v_threshold=0.5)
        self.proj_conv = nn.Conv1d(dim, dim, 1)
        self.proj_bn = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, C, H, W = x.shape
        N, h = H * W, self.num_heads
        s = self.x_lif(x).flatten(3)

        def heads(p: str) -> torch.Tensor:  # [T, B, C, N] -> [T, B, h, N, C / h]
            z = seq_apply(getattr(self, f"{p}_bn"), seq_apply(getattr(self, f"{p}_conv"), s))
            z = getattr(self, f"{p}_lif")(z)
            return z.transpose(-1, -2).reshape(T, B, N, h, C // h).transpose(2, 3)

        q, k, v = heads("q"), heads("k"), heads("v")
        y = (q @ (k.transpose(-2, -1) @ v)) * self.scale
        y = self.attn_lif(y.transpose(3, 4).reshape(T, B, C, N))
        y = seq_apply(self.proj_bn, seq_apply(self.proj_conv, y))
        return y.reshape(T, B, C, H, W) + x


class MaxMLP(nn.Module):
    """The official ``S_MLP``: ``h = BN(W1 LIF(u))`` (``+ u`` when the hidden width equals
    ``D``), output ``h' + BN(W2 LIF(h))`` with ``h'`` that sum or ``u``."""

    def __init__(self, dim: int, hidden: int, build: Any) -> None:
        super().__init__()
        self.res = dim == hidden
        self.fc1_conv = nn.Conv2d(dim, hidden, kernel_size=1)
        self.fc1_bn = nn.BatchNorm2d(hidden)
        self.fc1_lif = build()
        self.fc2_conv = nn.Conv2d(hidden, dim, kernel_size=1)
        self.fc2_bn = nn.BatchNorm2d(dim)
        self.fc2_lif = build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        x = seq_apply(self.fc1_bn, seq_apply(self.fc1_conv, self.fc1_lif(x)))
        if self.res:
            x = identity = x + identity
        return seq_apply(self.fc2_bn, seq_apply(self.fc2_conv, self.fc2_lif(x))) + identity


class MaxBlock(nn.Module):
    """``mlp(token_mixer(u))``, both with their own membrane shortcut; the mixer is named
    ``mixer`` (depth-wise convolution) or ``attn`` (SSA) as in the official blocks."""

    def __init__(self, mixer: nn.Module, mlp: nn.Module) -> None:
        super().__init__()
        self.mixer_name = "attn" if isinstance(mixer, MaxSSA) else "mixer"
        setattr(self, self.mixer_name, mixer)
        self.mlp = mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(getattr(self, self.mixer_name)(x))


def _init_official(module: nn.Module) -> None:
    """The official ``_init_weights``: ``Conv2d`` weights ``trunc_normal_(std=.02)``, biases
    0; ``BatchNorm2d`` weight 1 / bias 0; everything else keeps torch's init."""
    if isinstance(module, nn.Conv2d):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _load_by_position(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any
) -> None:
    """The official ``misc.load_old_ckpt`` (used by ``imagenet/test.py`` for the released
    weights): a checkpoint whose key names are not this model's, but whose tensors match
    its state dict one for one in order and shape, is mapped by position (logged). Anything
    else is left as it is, so the strict load names the missing and unexpected keys; so is
    a file whose keys are sorted (safetensors sorts them: the module order is lost; a
    state dict in module order is never sorted, ``bn.weight`` precedes ``bn.bias``)."""
    keys = [k for k in state_dict if k.startswith(prefix)]
    mine = module.state_dict()
    if {k[len(prefix) :] for k in keys} == set(mine) or len(keys) != len(mine):
        return
    if keys == sorted(keys):  # safetensors sorts its keys: the module order is lost
        return
    values = [state_dict[k] for k in keys]
    if any(
        not isinstance(v, torch.Tensor) or v.shape != t.shape
        for v, t in zip(values, mine.values(), strict=True)
    ):
        return
    for k in keys:
        del state_dict[k]
    for name, v in zip(mine, values, strict=True):
        state_dict[prefix + name] = v
    _logger.info(
        "%s: checkpoint keys (e.g. %r) are not this layout's; loaded its %d tensors by "
        "position, as the official load_old_ckpt does",
        type(module).__name__,
        keys[0][len(prefix) :],
        len(keys),
    )


class MaxFormer(SpikingClassifier):
    """Max-Former-``10``-``embed_dim``; see the module docstring.

    Args:
        img_size: input size ``H`` or ``(H, W)`` recorded in the card (any size runs).
        in_chans: input channels.
        num_classes: classes (0: no head, features only).
        embed_dim: ``D``, the width of stage 3 (stages 1, 2: ``D/4``, ``D/2``); divisible by 64.
        depths: blocks per stage, official ``(1, 2, 7)``.
        num_heads: SSA heads (``None``: the official ``D // 64``).
        mlp_ratio: MLP hidden size ``int(C * mlp_ratio)``.
        T: time steps a static image is repeated over.
        backend, neuron, neuron_kwargs: the neurons (see ``snn_layers.attention``).
        drop_rate: dropout on the head neuron's spikes before the head (timm's meaning).
        global_pool: ``None`` or ``'avg'`` (the mean over tokens).
        bn_momentum, bn_eps: ``momentum`` / ``eps`` of every BatchNorm (``None``: torch's).
        drop_path_rate, proj_drop_rate, attn_drop_rate, pos_drop_rate, patch_drop_rate,
            drop_block_rate: accepted at 0 only (the official model has none of them).
    """

    def __init__(
        self,
        *,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 384,
        depths: Sequence[int] = (1, 2, 7),
        num_heads: int | None = None,
        mlp_ratio: float = 4.0,
        T: int = 1,
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
        absent = "the official Max-Former has no such layer"
        reject_unplaced(
            name,
            drop_path_rate=(drop_path_rate, absent),
            proj_drop_rate=(proj_drop_rate, absent),
            attn_drop_rate=(attn_drop_rate, "SSA has no softmax attention map"),
            pos_drop_rate=(pos_drop_rate, "there is no position dropout"),
            patch_drop_rate=(patch_drop_rate, "token dropping is not implemented"),
            drop_block_rate=(drop_block_rate, "DropBlock is not implemented"),
        )
        self.global_pool = check_global_pool(name, global_pool)
        self.drop_rate = check_rate(name, "drop_rate", drop_rate)
        check_positive_int(name, "embed_dim", embed_dim, minimum=8)
        if num_heads is None:
            if embed_dim % 64:
                raise ValueError(
                    f"{name}: embed_dim must be divisible by 64 (the official num_heads = "
                    f"embed_dim // 64) unless num_heads is given, got {embed_dim}"
                )
            num_heads = embed_dim // 64
        check_positive_int(name, "num_heads", num_heads)
        if embed_dim % 4 or embed_dim % num_heads:
            raise ValueError(
                f"{name}: embed_dim must be divisible by 4 and by num_heads={num_heads}, "
                f"got {embed_dim}"
            )
        if (
            isinstance(depths, (str, bytes))
            or not isinstance(depths, Sequence)
            or len(depths) != 3
            or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in depths)
        ):
            raise ValueError(
                f"{name}: depths must be three non-negative ints (blocks of stages 1-3, "
                f"official (1, 2, 7)), got {depths!r}"
            )
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or mlp_ratio <= 0:
            raise ValueError(f"{name}: mlp_ratio must be a positive number, got {mlp_ratio!r}")
        self.img_size = to_2tuple_size(name, img_size)
        self.embed_dim = self.num_features = embed_dim
        self.depths, self.num_heads = tuple(depths), num_heads
        build = make_neuron_factory(neuron, neuron_kwargs, backend)
        d1, d2, d3 = embed_dim // 4, embed_dim // 2, embed_dim

        def mlp(dim: int) -> MaxMLP:
            return MaxMLP(dim, int(dim * mlp_ratio), build)

        # registered in the official order (embeddings first), so state-dict keys match it
        self.patch_embed1 = StemEmbed(in_chans, d1, build)
        self.patch_embed2 = MaxEmbed(d1, d2, build)
        self.patch_embed3 = MaxEmbed(d2, d3, build)
        self.stage1 = nn.ModuleList(
            MaxBlock(DWConvMixer(d1, 7, build), mlp(d1)) for _ in range(depths[0])
        )
        self.stage2 = nn.ModuleList(
            MaxBlock(DWConvMixer(d2, 5, build), mlp(d2)) for _ in range(depths[1])
        )
        self.stage3 = nn.ModuleList(
            MaxBlock(MaxSSA(d3, num_heads, build), mlp(d3)) for _ in range(depths[2])
        )
        self.head_lif = build()
        self.head_drop = dropout(self.drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(_init_official)
        self.set_bn_options(bn_momentum, bn_eps)
        self._register_load_state_dict_pre_hook(_load_by_position, with_module=True)
        self.feature_info = []
        for i, (dim, red) in enumerate(((d1, 4), (d2, 8), (d3, 16)), start=1):
            self.feature_info.append(dict(num_chs=dim, reduction=red, module=f"patch_embed{i}"))
            self.feature_info += [
                dict(num_chs=dim, reduction=red, module=f"stage{i}.{j}")
                for j in range(depths[i - 1])
            ]

    @classmethod
    def num_feature_stages(cls, depths: Sequence[int] = (1, 2, 7), **config: Any) -> int:
        """Number of feature stages for a config: the three embeddings and every block."""
        return 3 + sum(depths)

    def stage_modules(self) -> list[list[nn.Module]]:
        out: list[list[nn.Module]] = []
        for i in (1, 2, 3):
            out.append([getattr(self, f"patch_embed{i}")])
            out += [[blk] for blk in getattr(self, f"stage{i}")]
        return out

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``[T, B, D, H, W]`` -> token mean -> ``head_lif`` -> ``head`` per step -> mean
        over T (``pre_logits``: the head neuron's firing rates ``[B, D]``)."""
        s = self.head_drop(self.head_lif(x.flatten(3).mean(3)))
        return s.mean(0) if pre_logits else self.head(s).mean(0)


# --------------------------------------------------------------------------- variants
_PAPER = "Spiking Neural Networks Need High-Frequency Information (Fang et al., NeurIPS 2025)"
_COMMIT = "6ddd4ccde2cc9c4b965059403868e57803b9b6b0"
_RELEASE = "https://github.com/bic-L/MaxFormer/releases/download/checkpoints/"
# timm 0.6.12's defaults (IMAGENET_DEFAULT_MEAN/STD), which the official train.py uses
_IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
_NEURONS = "LIF tau=2, v_threshold=1 (attention neuron 0.5), hard reset to 0, detach_reset"
_QUIRKS = (
    "the builders' depths=10 is ignored by the official model: stages hold 1, 2, 7 blocks",
    "official _init_weights only initialises Conv2d / BatchNorm2d",
)


def _card(
    variant: str, T: int, params_m: float | None, top1: float | None, **kw: Any
) -> dict[str, Any]:
    url = _RELEASE + f"{variant}-T{T}.pth.tar"
    card = dict(
        architecture="maxformer",
        paper=_PAPER,
        paper_ids="arXiv:2505.18608",
        origin_url="https://github.com/bic-L/MaxFormer",
        origin_commit=_COMMIT,
        official_config=f"imagenet/conf/{variant.replace('-', '_')}_t{T}.yml",
        dataset="imagenet-1k",
        params_m=params_m,
        reported_accuracy=top1,
        T=T,
        num_classes=1000,
        input_size=(3, 224, 224),
        crop_pct=0.875,
        interpolation="bicubic",
        first_conv="patch_embed1.embed1.embed_conv",
        classifier="head",
        neurons=_NEURONS,
        quirks=_QUIRKS,
        url=url,
        **_IMAGENET,
    )
    card.update(kw)
    card["notes"] = (
        f"official code at commit {_COMMIT[:7]}, {card['official_config']}",
        *(
            (
                f"official weights (release 'checkpoints'): {url}; pretrained=True downloads "
                f"them once into torch.hub's cache (no published hash), or pass "
                f"checkpoint_path=...",
            )
            if card["url"]
            else ()
        ),
        f"neurons: {_NEURONS}",
        *(f"quirk: {q}" for q in _QUIRKS),
        "params_m: counted here (the README gives 63.99 M for 10-768); reported_accuracy: the "
        "best val_acc1 of the official training log (imagenet/logs_*.csv), None without a log",
        *kw.get("notes", ()),
    )
    return card


def _imagenet(dim: int, T: int) -> dict[str, Any]:
    return dict(embed_dim=dim, depths=(1, 2, 7), img_size=224, T=T)


@register_model(MaxFormer, _card("10-384", 4, 16.24, 77.78))
def maxformer_10_384() -> dict[str, Any]:
    """Max-Former-10-384, ImageNet-1k, 224x224, T=4."""
    return _imagenet(384, 4)


@register_model(MaxFormer, _card("10-512", 1, 28.65, 75.43))
def maxformer_10_512() -> dict[str, Any]:
    """Max-Former-10-512, ImageNet-1k, 224x224, T=1."""
    return _imagenet(512, 1)


@register_model(MaxFormer, _card("10-512", 4, 28.65, None))
def maxformer_10_512_t4() -> dict[str, Any]:
    """Max-Former-10-512, ImageNet-1k, 224x224, T=4."""
    return _imagenet(512, 4)


@register_model(MaxFormer, _card("10-768", 1, 63.99, 78.60))
def maxformer_10_768() -> dict[str, Any]:
    """Max-Former-10-768, ImageNet-1k, 224x224, T=1."""
    return _imagenet(768, 1)


@register_model(MaxFormer, _card("10-768", 4, 63.99, 82.39), default=True)
def maxformer_10_768_t4() -> dict[str, Any]:
    """Max-Former-10-768, ImageNet-1k, 224x224, T=4: the paper's headline model."""
    return _imagenet(768, 4)


@register_model(
    MaxFormer,
    _card(
        "10-384",
        2,
        None,
        None,
        official_config="this project (no official config)",
        dataset="sklearn digits (8x8)",
        **DIGITS_CARD,
        url=None,
        paper=_PAPER + "; small variant of this project",
        notes=(
            "inputs: digits.data / 16, normalised by mean/std; tokens 2x2 -> 1x1 -> 1x1",
            "`snn-zoo train --model maxformer_digits` (defaults: 30 epochs, seed 0, T=2) reached "
            "95.33% test accuracy in 160 s on 2 shared CPU cores (measured; best 96.00%); "
            "with --T 4: 98.22% in 310 s; no weights ship",
        ),
    ),
)
def maxformer_digits() -> dict[str, Any]:
    """A small Max-Former for scikit-learn's 8x8 digits (1x8x8, 10 classes, T=2)."""
    return dict(embed_dim=256, depths=(1, 1, 1), img_size=8, T=2, in_chans=1, num_classes=10)
