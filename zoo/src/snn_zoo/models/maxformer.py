"""The reference framework's ``model.maxformer``: Max-Former in its layout.

Fang et al., "Spiking Neural Networks Need High-Frequency Information", NeurIPS 2025
(arXiv:2505.18608). Three stages on membrane potentials ``u`` ``[T, N, C, H, W]``, widths
``D/4, D/2, D``, each after a patch embedding:

- embeddings: ImageNet stem ``u = BN(conv3x3_s2(x))``, ``s = LIF(u)``,
  ``BN(conv3x3(LIF(BN(conv3x3_s2(s))))) + BN(conv1x1_s2(s))``; down-sampling ``s = LIF(u)``,
  ``BN(conv3x3(LIF(maxpool(BN(conv3x3(s)))))) + maxpool(BN(conv1x1(s)))``;
- stages 1-2: ``u + BN(dwconv_k(LIF(u)))`` (``k`` = 7, 5) then the spiking MLP; stage 3:
  ``u + SSA(u)`` then the MLP; MLP ``h = BN(W1 LIF(u)) (+ u if hidden = D)``,
  ``h' + BN(W2 LIF(h))``;
- head: ``LIF`` of the token mean, averaged over ``T``, then ``Linear``.

``cifar=True`` is the official CIFAR model (bic-L/MaxFormer ``cifar10-100``): a stride-1
stem ``BN(conv3x3(x))`` then ``BN(conv3x3(LIF(.))) + BN(conv1x1(LIF(.)))``, bias-free
down-sampling convolutions, stage 1 the MLP only, 3x3 depth-wise mixing, and in stage 3 the
official membrane-shortcut SSA (``u + BN(W_p LIF_0.5(0.125 Q K^T V))`` with
``Q, K, V = LIF(BN(W LIF(u)))``, eight heads); neurons ``LIF(tau=2, detach_reset=True)``.

Blocks shared with the official model (:mod:`snn_zoo.families.maxformer`: the depth-wise
mixer, the MLP, the CIFAR SSA) are reused under the reference's names and its fused ``qkv``
tensors; the ImageNet SSA is the reference's ``SpikingSelfAttention`` (fused layout,
:class:`snn_zoo.models._token_attention.FusedSpikingSelfAttention`). Differences from the
official ImageNet model (:class:`snn_zoo.families.MaxFormer`): biased embedding
convolutions, the Spikformer SSA (no input neuron, an output neuron) in stage 3,
``LIFNode`` defaults (``detach_reset=False``) outside the SSA, torch's initialisation, the
head neuron's rate averaged over ``T`` before the classifier, and the reference's names.
As in the reference, neuron state carries over between calls (``reset_net``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from snn_core import functional
from snn_layers import BatchNorm2d, Conv2d, MaxPool2d
from torch import nn

from snn_zoo.families.maxformer import DWConvMixer, MaxBlock, MaxMLP, MaxSSA
from snn_zoo.models._input import to_sequence
from snn_zoo.models._key_layout import MLP_NAMES, use_reference_keys
from snn_zoo.models._neuron import check_spiking_neuron, make_multi_step_neuron
from snn_zoo.models._token_attention import FusedSpikingSelfAttention
from snn_zoo.models.ms_resnet import NeuronClass

__all__ = ["MaxFormer", "maxformer_10_384", "maxformer_cifar"]

Build = Callable[..., nn.Module]

_BLOCK_MLP_NAMES = {f"mlp.{k}": f"mlp.{v}" for k, v in MLP_NAMES.items()}


def _conv(cin: int, cout: int, k: int, stride: int = 1, bias: bool = True) -> Conv2d:
    return Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias, step_mode="m")


def _bn(channels: int) -> BatchNorm2d:
    return BatchNorm2d(channels, step_mode="m")


class _CifarEmbed(nn.Module):
    """``u = BN(conv3x3(x))``; ``BN(conv3x3(LIF(u))) + BN(conv1x1(LIF(u)))``, bias-free."""

    def __init__(self, cin: int, cout: int, build: Build) -> None:
        super().__init__()
        hidden = cout // 2
        self.conv = _conv(cin, hidden, 3, bias=False)
        self.bn = _bn(hidden)
        self.branch = nn.Sequential(build(), _conv(hidden, cout, 3, bias=False), _bn(cout))
        self.shortcut = nn.Sequential(build(), _conv(hidden, cout, 1, bias=False), _bn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.branch(x) + self.shortcut(x)


class _StemEmbed(nn.Module):
    """ImageNet stem, stride 4 (module docstring); biased convolutions."""

    def __init__(self, cin: int, cout: int, build: Build) -> None:
        super().__init__()
        hidden = cout // 2
        self.conv1 = _conv(cin, hidden, 3, stride=2)
        self.bn1 = _bn(hidden)
        self.lif1 = build()
        self.conv2 = _conv(hidden, cout, 3, stride=2)
        self.bn2 = _bn(cout)
        self.lif2 = build()
        self.conv3 = _conv(cout, cout, 3)
        self.bn3 = _bn(cout)
        self.shortcut = nn.Sequential(_conv(hidden, cout, 1, stride=2), _bn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.lif1(self.bn1(self.conv1(x)))
        x = self.bn3(self.conv3(self.lif2(self.bn2(self.conv2(s)))))
        return x + self.shortcut(s)


class _MaxEmbed(nn.Module):
    """Down-sampling by max-pooling, stride 2 (module docstring)."""

    def __init__(self, cin: int, cout: int, build: Build, bias: bool = True) -> None:
        super().__init__()
        self.conv1 = _conv(cin, cout, 3, bias=bias)
        self.bn1 = _bn(cout)
        self.lif1 = build()
        self.pool = MaxPool2d(3, stride=2, padding=1, step_mode="m")
        self.conv2 = _conv(cout, cout, 3, bias=bias)
        self.bn2 = _bn(cout)
        self.lif2 = build()
        self.shortcut = nn.Sequential(
            _conv(cin, cout, 1, bias=bias),
            _bn(cout),
            MaxPool2d(3, stride=2, padding=1, step_mode="m"),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.lif1(x)
        x = self.bn2(self.conv2(self.lif2(self.pool(self.bn1(self.conv1(s))))))
        return x + self.shortcut(s)


class _TokenResidual(nn.Module):
    """``u + attn(u)`` with ``attn`` on the tokens ``[T, N, C, H * W]``."""

    def __init__(self, attn: nn.Module) -> None:
        super().__init__()
        self.attn = attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attn(x.flatten(3)).reshape(x.shape)


def _dwc_block(dim: int, kernel_size: int, mlp_ratio: float, build: Build) -> nn.Module:
    mixer = DWConvMixer(dim, kernel_size, build)
    p = mixer.prefix
    block = MaxBlock(mixer, MaxMLP(dim, int(dim * mlp_ratio), build))
    names = {f"mixer.{p}_neuron": "lif", f"mixer.{p}": "dwconv", f"mixer.{p}_bn": "bn"}
    return use_reference_keys(block, {**names, **_BLOCK_MLP_NAMES})


def _share_parameters(source: nn.Module, *others: nn.Module) -> None:
    """Make ``others`` use ``source``'s parameters (one learnable neuron over ``q | k | v``,
    as the reference's single ``qkv_lif``)."""
    for name, param in list(source.named_parameters()):
        path, _, attr = name.rpartition(".")
        for other in others:
            setattr(other.get_submodule(path) if path else other, attr, param)


def _cifar_ssa_block(dim: int, mlp_ratio: float, build: Build) -> nn.Module:
    ssa = MaxSSA(dim, 8, build)
    _share_parameters(ssa.q_lif, ssa.k_lif, ssa.v_lif)
    block = MaxBlock(ssa, MaxMLP(dim, int(dim * mlp_ratio), build))
    names = {
        "attn.x_lif": "attn.input_lif",
        "attn.proj_conv": "attn.proj.0",
        "attn.proj_bn": "attn.proj.1",
    }
    fused = {
        "attn.qkv.0": ("attn.q_conv", "attn.k_conv", "attn.v_conv"),
        "attn.qkv.1": ("attn.q_bn", "attn.k_bn", "attn.v_bn"),
        "attn.qkv_lif": ("attn.q_lif", "attn.k_lif", "attn.v_lif"),
    }
    return use_reference_keys(block, {**names, **_BLOCK_MLP_NAMES}, fused)


def _ssa_block(
    dim: int, mlp_ratio: float, spiking_neuron: NeuronClass | None, kwargs: dict, build: Build
) -> nn.Module:
    heads = max(1, dim // 64)
    ssa = FusedSpikingSelfAttention(dim, heads, spiking_neuron=spiking_neuron, **kwargs)
    block = MaxBlock(_TokenResidual(ssa), MaxMLP(dim, int(dim * mlp_ratio), build))
    return use_reference_keys(block, {"mixer.attn": "attn", **_BLOCK_MLP_NAMES})


class MaxFormer(nn.Module):
    """Max-Former (see the module docstring).

    Args:
        T: steps a static image ``[N, C, H, W]`` is repeated over.
        in_channels, num_classes: input channels and classes.
        embed_dims: ``D``, the width of stage 3 (divisible by 4; by 8 with ``cifar``).
        depths: blocks of the three stages.
        mlp_ratio: MLP hidden width ``int(C * mlp_ratio)``.
        spiking_neuron: neuron class; ``None`` is ``LIFNode`` (``tau=2``; ``detach_reset``
            in the SSA and, with ``cifar``, everywhere; the SSA's attention neuron fires at 0.5).
        cifar: the official CIFAR model (module docstring; use ``depths=(1, 1, 2)``).
        **kwargs: neuron arguments (overriding those defaults, or all a custom class gets).

    Input ``[N, C, H, W]`` or ``[T, N, C, H, W]``; output ``[N, num_classes]``.
    """

    def __init__(
        self,
        T: int = 4,
        in_channels: int = 3,
        num_classes: int = 1000,
        embed_dims: int = 384,
        depths: tuple[int, int, int] = (1, 2, 7),
        mlp_ratio: float = 4.0,
        spiking_neuron: NeuronClass | None = None,
        cifar: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(depths, (tuple, list)) or len(depths) != 3:
            raise ValueError(f"{owner}: depths must give 3 stage depths, got {depths!r}")
        multiple = 8 if cifar else 4
        if isinstance(embed_dims, bool) or not isinstance(embed_dims, int) or embed_dims % multiple:
            raise ValueError(
                f"{owner}: embed_dims must be an int divisible by {multiple} "
                f"({'cifar=True' if cifar else 'cifar=False'}), got {embed_dims!r}"
            )
        check_spiking_neuron(owner, spiking_neuron)
        self.T = T
        if cifar and spiking_neuron is None:
            kwargs = {"tau": 2.0, "detach_reset": True, **kwargs}

        def build(**defaults: Any) -> nn.Module:
            return make_multi_step_neuron(spiking_neuron, kwargs, defaults)

        d1, d2, d3 = embed_dims // 4, embed_dims // 2, embed_dims
        stem = _CifarEmbed if cifar else _StemEmbed
        self.patch_embed1 = stem(in_channels, d1, build)
        self.patch_embed2 = _MaxEmbed(d1, d2, build, bias=not cifar)
        self.patch_embed3 = _MaxEmbed(d2, d3, build, bias=not cifar)
        self.stage1 = nn.ModuleList(
            use_reference_keys(MaxMLP(d1, int(d1 * mlp_ratio), build), MLP_NAMES)
            if cifar
            else _dwc_block(d1, 7, mlp_ratio, build)
            for _ in range(depths[0])
        )
        self.stage2 = nn.ModuleList(
            _dwc_block(d2, 3 if cifar else 5, mlp_ratio, build) for _ in range(depths[1])
        )
        self.stage3 = nn.ModuleList(
            _cifar_ssa_block(d3, mlp_ratio, build)
            if cifar
            else _ssa_block(d3, mlp_ratio, spiking_neuron, kwargs, build)
            for _ in range(depths[2])
        )
        self.head_lif = build()
        self.head = nn.Linear(embed_dims, num_classes)
        functional.set_step_mode(self, "m")
        if cifar:
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` / ``[T, N, C, H, W]`` -> stage 3's potentials."""
        x = to_sequence(type(self).__name__, x, self.T)
        for i in (1, 2, 3):
            x = getattr(self, f"patch_embed{i}")(x)
            for block in getattr(self, f"stage{i}"):
                x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head_lif(self.forward_features(x).flatten(3).mean(-1))
        return self.head(x.mean(0))


def maxformer_10_384(
    T: int = 4,
    in_channels: int = 3,
    num_classes: int = 1000,
    spiking_neuron: NeuronClass | None = None,
    **kwargs: Any,
) -> MaxFormer:
    """Max-Former-10-384, ImageNet: ``embed_dims=384``, ``depths=(1, 2, 7)``."""
    return MaxFormer(
        T=T,
        in_channels=in_channels,
        num_classes=num_classes,
        embed_dims=384,
        depths=(1, 2, 7),
        spiking_neuron=spiking_neuron,
        **kwargs,
    )


def maxformer_cifar(
    T: int = 4,
    in_channels: int = 3,
    num_classes: int = 100,
    spiking_neuron: NeuronClass | None = None,
    **kwargs: Any,
) -> MaxFormer:
    """The official CIFAR Max-Former-4-384 (``cifar=True``, ``depths=(1, 1, 2)``, eight-head
    SSA), CIFAR-100 by default; input ``[N, 3, 32, 32]``."""
    return MaxFormer(
        T=T,
        in_channels=in_channels,
        num_classes=num_classes,
        embed_dims=384,
        depths=(1, 1, 2),
        cifar=True,
        spiking_neuron=spiking_neuron,
        **kwargs,
    )
