"""Spike-driven Transformer as the reference framework's ``model.spike_driven_transformer``
defines it (Yao et al., NeurIPS 2023).

Same names, signatures, defaults, state-dict keys and outputs as the reference's
``SpikeDrivenTransformer`` and ``sdt_8_384``: a membrane-shortcut patch splitting (stages
``D/8, D/4, D/2, D``, ``pooling_stat`` saying which of the four max-pool), ``depths`` blocks
of Spike-Driven Self-Attention (:class:`snn_layers.SpikeDrivenSelfAttention`, membrane
shortcut included) and a membrane-shortcut MLP, a head neuron on the token means and a linear
head on their mean over time, ``[N, num_classes]``.

How it differs from the official code (:class:`snn_zoo.families.sdt.SpikeDrivenTransformer`,
which reproduces BICLab/Spike-Driven-Transformer and loads its checkpoints): the same
computation except that the patch-splitting convolutions carry biases, the stem, MLP and head
neurons are ``spiking_neuron(**kwargs)`` (with the default ``LIFNode``: ``tau=2.0,
detach_reset=False``; the attention's default to ``detach_reset=True``), parameter names
follow the reference (``stages.i.0``, ``final_stage``, ``fc1`` / ``bn1`` ...; the MLP is the
family's ``MSMLP`` with its keys renamed on save and load), torch's default
initialisation is kept, and, as in the reference, the neurons keep their state after a
forward (call ``snn_core.functional.reset_net(model)`` between samples).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from snn_core import functional
from snn_layers import BatchNorm2d, Conv2d, MaxPool2d, SpikeDrivenSelfAttention
from torch import nn

from snn_zoo.families.sdt import MSMLP
from snn_zoo.models._input import to_sequence
from snn_zoo.models._key_layout import MLP_NAMES, use_reference_keys
from snn_zoo.models._neuron import check_spiking_neuron, make_multi_step_neuron

__all__ = ["SpikeDrivenTransformer", "sdt_8_384"]

Neuron = Callable[..., nn.Module] | None


def _pool() -> nn.Module:
    return MaxPool2d(3, stride=2, padding=1, step_mode="m")


class _PatchEmbed(nn.Module):
    """Membrane-shortcut spiking patch splitting; returns membrane potentials ``U``.

    Stages 1-3 ``conv3x3 -> BN -> SN (-> pool)``; stage 4 ``conv3x3 -> BN (-> pool)`` gives
    ``U``; the output is ``U + BN(conv3x3(SN(U)))`` (relative position embedding).
    """

    def __init__(
        self,
        in_channels: int,
        embed_dims: int,
        pooling_stat: Sequence[str],
        neuron: Neuron,
        kwargs: Mapping[str, Any],
    ) -> None:
        super().__init__()
        chans = (in_channels, embed_dims // 8, embed_dims // 4, embed_dims // 2, embed_dims)
        self.stages = nn.ModuleList()
        for i in range(3):
            stage: list[nn.Module] = [
                Conv2d(chans[i], chans[i + 1], 3, padding=1, step_mode="m"),
                BatchNorm2d(chans[i + 1], step_mode="m"),
                make_multi_step_neuron(neuron, kwargs),
            ]
            if pooling_stat[i] == "1":
                stage.append(_pool())
            self.stages.append(nn.Sequential(*stage))
        final: list[nn.Module] = [
            Conv2d(chans[3], embed_dims, 3, padding=1, step_mode="m"),
            BatchNorm2d(embed_dims, step_mode="m"),
        ]
        if pooling_stat[3] == "1":
            final.append(_pool())
        self.final_stage = nn.Sequential(*final)
        self.final_lif = make_multi_step_neuron(neuron, kwargs)
        self.rpe_conv = Conv2d(embed_dims, embed_dims, 3, padding=1, bias=False, step_mode="m")
        self.rpe_bn = BatchNorm2d(embed_dims, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        u = self.final_stage(x)
        return self.rpe_bn(self.rpe_conv(self.final_lif(u))) + u


class _Block(nn.Module):
    """``MLP(SDSA(U))``; both add their own membrane shortcut. The MLP is the family's
    :class:`~snn_zoo.families.sdt.MSMLP`, saved under the reference's keys (``fc1, bn1, ...``)."""

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float, neuron: Neuron, kwargs: Mapping[str, Any]
    ) -> None:
        super().__init__()
        self.attn = SpikeDrivenSelfAttention(dim, num_heads, spiking_neuron=neuron, **kwargs)
        mlp = MSMLP(dim, int(dim * mlp_ratio), lambda: make_multi_step_neuron(neuron, kwargs))
        self.mlp = use_reference_keys(mlp, MLP_NAMES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.attn(x))


class SpikeDrivenTransformer(nn.Module):
    """Spike-driven Transformer as the reference framework defines it; see the module docstring.

    Input ``[N, C, H, W]`` (repeated over ``T``) or ``[T, N, C, H, W]``; output
    ``[N, num_classes]``.

    Args:
        T: time steps an image is repeated over.
        in_channels: input channels.
        num_classes: classes of the head.
        embed_dims: ``D`` (divisible by 8 and ``num_heads``).
        num_heads: attention heads.
        depths: number of blocks.
        mlp_ratio: MLP hidden size ``int(D * mlp_ratio)``.
        pooling_stat: four ``'0'`` / ``'1'`` characters: which patch-splitting stages pool.
        spiking_neuron: neuron class (``None``: ``LIFNode``).
        **kwargs: neuron arguments (e.g. ``backend``, ``tau``, ``surrogate_function``).
    """

    def __init__(
        self,
        T: int = 4,
        in_channels: int = 3,
        num_classes: int = 1000,
        embed_dims: int = 384,
        num_heads: int = 8,
        depths: int = 8,
        mlp_ratio: float = 4.0,
        pooling_stat: str = "1111",
        spiking_neuron: Neuron = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        check_spiking_neuron("SpikeDrivenTransformer", spiking_neuron)
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"SpikeDrivenTransformer: T must be a positive int, got {T!r}")
        if (
            isinstance(pooling_stat, (bytes, bytearray))
            or not isinstance(pooling_stat, Sequence)
            or len(pooling_stat) != 4
            or any(v not in ("0", "1") for v in pooling_stat)
        ):
            raise ValueError(
                "SpikeDrivenTransformer: pooling_stat must be four '0'/'1' characters (which of "
                f"the four patch-splitting stages max-pool), e.g. '1111', got {pooling_stat!r}"
            )
        self.T = T
        self.patch_embed = _PatchEmbed(
            in_channels, embed_dims, pooling_stat, spiking_neuron, kwargs
        )
        self.blocks = nn.ModuleList(
            _Block(embed_dims, num_heads, mlp_ratio, spiking_neuron, kwargs) for _ in range(depths)
        )
        self.head_lif = make_multi_step_neuron(spiking_neuron, kwargs)
        self.head = nn.Linear(embed_dims, num_classes)
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(to_sequence("SpikeDrivenTransformer", x, self.T))
        for block in self.blocks:
            x = block(x)
        return self.head(self.head_lif(x.flatten(3).mean(-1)).mean(0))


def sdt_8_384(
    T: int = 4,
    in_channels: int = 3,
    num_classes: int = 1000,
    spiking_neuron: Neuron = None,
    **kwargs: Any,
) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-8-384: ``D=384``, 8 heads, 8 blocks."""
    return SpikeDrivenTransformer(
        T=T,
        in_channels=in_channels,
        num_classes=num_classes,
        embed_dims=384,
        num_heads=8,
        depths=8,
        spiking_neuron=spiking_neuron,
        **kwargs,
    )
