"""Spikformer as the reference framework's ``model.spikformer`` defines it (Zhou et al., ICLR 2023).

Same names, signatures, defaults, state-dict keys and outputs as the reference's
``Spikformer``, ``spikformer_ti``, ``spikformer_s`` and ``spikformer_cifar10``. Its
distributed-planner configs (``SpikformerConfig``, ``SpikformerCIFAR10Config``) are not part of
this namespace.

How it differs from the official code (:class:`snn_zoo.families.spikformer.Spikformer`, which
reproduces github.com/ZK-Zhou/spikformer and loads its checkpoints):

- patch stem: each stage is ``conv3x3 -> BN (-> maxpool) -> LIF``, the pool *before* the
  neuron (the official code pools the spikes); ``patch_size=16`` pools in all four stages,
  ``patch_size=4`` in the last two;
- attention: the fused ``q | k | v`` projection with one neuron
  (:class:`~snn_zoo.models._token_attention.FusedSpikingSelfAttention`), no biases;
- MLP: bias-free ``Conv1d`` + ``BatchNorm1d`` (the official ImageNet MLP has biased ``Conv2d``);
- head: applied at every time step; ``forward`` returns ``[T, N, num_classes]`` (not the mean
  over T); all weights ``trunc_normal_(std=0.02)``, BN weight 1, bias 0;
- state: as in the reference, the neurons keep their state after a forward; call
  ``snn_core.functional.reset_net(model)`` between samples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from snn_core import functional
from snn_layers import Linear, SeqToANNContainer
from torch import nn

from snn_zoo.models._input import to_sequence
from snn_zoo.models._neuron import check_spiking_neuron, make_multi_step_neuron
from snn_zoo.models._token_attention import FusedSpikingSelfAttention

__all__ = ["Spikformer", "spikformer_cifar10", "spikformer_s", "spikformer_ti"]

Neuron = Callable[..., nn.Module] | None
_LIF = {"tau": 2.0, "detach_reset": True}


class SpikformerConv2dBN(nn.Module):
    """``conv3x3 (no bias) -> BN (-> maxpool 3/2/1)`` on ``[T, N, C, H, W]``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        pool: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if pool:
            layers.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.block = SeqToANNContainer(*layers)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.block(x_seq)


class SpikformerConv2dBNLIF(nn.Module):
    """:class:`SpikformerConv2dBN` followed by a neuron (default ``LIF(tau=2, detach_reset)``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        pool: bool = False,
        spiking_neuron: Neuron = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.conv_bn = SpikformerConv2dBN(
            in_channels, out_channels, kernel_size, stride, padding, pool
        )
        self.neuron = make_multi_step_neuron(spiking_neuron, kwargs, _LIF)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.conv_bn(x_seq))


class SpikformerPatchStem(nn.Module):
    """Spiking patch splitting: four stages ``D/8, D/4, D/2, D`` and the relative position
    embedding ``x + SN(BN(conv3x3(x)))`` (Spikformer Eq. 1-3).

    ``patch_size`` 16 pools in every stage, 4 in the last two; any other value is an error.
    """

    def __init__(
        self,
        img_size_h: int = 224,
        img_size_w: int = 224,
        patch_size: int = 16,
        in_channels: int = 3,
        embed_dims: int = 256,
        spiking_neuron: Neuron = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if patch_size not in (4, 16):
            raise ValueError(f"SpikformerPatchStem: patch_size must be 4 or 16, got {patch_size!r}")
        if isinstance(embed_dims, bool) or not isinstance(embed_dims, int) or embed_dims < 8:
            raise ValueError(
                f"SpikformerPatchStem: embed_dims must be an int >= 8, got {embed_dims!r}"
            )
        self.image_size = (img_size_h, img_size_w)
        self.patch_size = patch_size
        self.embed_dims = embed_dims
        dims = [in_channels, embed_dims // 8, embed_dims // 4, embed_dims // 2, embed_dims]
        first_pool = 2 if patch_size == 4 else 0
        self.stages = nn.Sequential(
            *(
                SpikformerConv2dBNLIF(
                    dims[i], dims[i + 1], 3, 1, 1, i >= first_pool, spiking_neuron, **kwargs
                )
                for i in range(4)
            )
        )
        self.positional_encoding = SpikformerConv2dBNLIF(
            embed_dims, embed_dims, 3, 1, 1, False, spiking_neuron, **kwargs
        )
        self.grid_size = (img_size_h // patch_size, img_size_w // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = self.stages(x_seq)
        return self.positional_encoding(x_seq) + x_seq


class SpikformerMLP(nn.Module):
    """``SN(BN(W2 SN(BN(W1 x))))`` with bias-free 1x1 ``Conv1d`` on ``[T, N, C, L]``."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        spiking_neuron: Neuron = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.fc1 = SeqToANNContainer(
            nn.Conv1d(in_features, hidden_features, kernel_size=1, bias=False),
            nn.BatchNorm1d(hidden_features),
        )
        self.neuron1 = make_multi_step_neuron(spiking_neuron, kwargs, _LIF)
        self.fc2 = SeqToANNContainer(
            nn.Conv1d(hidden_features, out_features, kernel_size=1, bias=False),
            nn.BatchNorm1d(out_features),
        )
        self.neuron2 = make_multi_step_neuron(spiking_neuron, kwargs, _LIF)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.neuron2(self.fc2(self.neuron1(self.fc1(x_seq))))


class SpikformerBlock(nn.Module):
    """``x + SSA(x)``, then ``x + MLP(x)`` (Spikformer Eq. 7-8) on ``[T, N, C, H, W]``.

    With the default neuron the attention keeps its paper settings (``tau=2``,
    ``detach_reset=True``) whatever ``tau`` / ``detach_reset`` say; other keywords reach every
    neuron.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        spiking_neuron: Neuron = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        attn_kwargs = kwargs
        if spiking_neuron is None:
            attn_kwargs = {k: v for k, v in kwargs.items() if k not in ("tau", "detach_reset")}
        self.attn = FusedSpikingSelfAttention(dim, num_heads, spiking_neuron, **attn_kwargs)
        self.mlp = SpikformerMLP(dim, int(dim * mlp_ratio), dim, spiking_neuron, **kwargs)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() != 5:
            got = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq).__name__
            raise ValueError(f"SpikformerBlock: x_seq must have shape [T, N, C, H, W], got {got}")
        x = x_seq.flatten(3)
        x = x + self.attn(x)
        x = x + self.mlp(x)
        return x.reshape(x_seq.shape).contiguous()


class Spikformer(nn.Module):
    """Spikformer as the reference framework defines it; see the module docstring.

    Input ``[N, C, H, W]`` (repeated over ``T``) or ``[T, N, C, H, W]``; output
    ``[T, N, num_classes]``, the head applied to the token mean at every step.

    Args:
        T: time steps an image is repeated over.
        in_channels, img_size_h, img_size_w: input channels and size.
        patch_size: 16 (ImageNet stem) or 4 (CIFAR stem).
        num_classes: classes of the head.
        embed_dims: ``D`` (divisible by 8 and ``num_heads``).
        num_heads: attention heads.
        mlp_ratio: MLP hidden size ``int(D * mlp_ratio)``.
        depths: number of blocks.
        spiking_neuron: neuron class (``None``: ``LIFNode(tau=2.0, detach_reset=True)``).
        **kwargs: neuron arguments (e.g. ``backend``, ``tau``, ``surrogate_function``).
    """

    def __init__(
        self,
        T: int = 4,
        in_channels: int = 3,
        img_size_h: int = 224,
        img_size_w: int = 224,
        patch_size: int = 16,
        num_classes: int = 1000,
        embed_dims: int = 256,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        depths: int = 4,
        spiking_neuron: Neuron = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        check_spiking_neuron("Spikformer", spiking_neuron)
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"Spikformer: T must be a positive int, got {T!r}")
        self.T = T
        self.num_classes = num_classes
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.depths = depths
        self.patch_embed = SpikformerPatchStem(
            img_size_h, img_size_w, patch_size, in_channels, embed_dims, spiking_neuron, **kwargs
        )
        self.blocks = nn.ModuleList(
            SpikformerBlock(embed_dims, num_heads, mlp_ratio, spiking_neuron, **kwargs)
            for _ in range(depths)
        )
        self.head = Linear(embed_dims, num_classes, step_mode="m")
        self._init_weights()
        functional.set_step_mode(self, "m")

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``[T, N, C, H, W]`` -> token-mean features ``[T, N, D]``."""
        x_seq = self.patch_embed(x_seq)
        for block in self.blocks:
            x_seq = block(x_seq)
        return x_seq.flatten(3).mean(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(to_sequence("Spikformer", x, self.T)))


def spikformer_ti(
    T: int = 4,
    in_channels: int = 3,
    img_size_h: int = 224,
    img_size_w: int = 224,
    num_classes: int = 1000,
    spiking_neuron: Neuron = None,
    **kwargs: Any,
) -> Spikformer:
    """Spikformer-Ti: ``D=256``, 8 heads, 4 blocks, patch 16."""
    return Spikformer(
        T=T, in_channels=in_channels, img_size_h=img_size_h, img_size_w=img_size_w,
        num_classes=num_classes, embed_dims=256, num_heads=8, mlp_ratio=4.0, depths=4,
        spiking_neuron=spiking_neuron, **kwargs,
    )  # fmt: skip


def spikformer_s(
    T: int = 4,
    in_channels: int = 3,
    img_size_h: int = 224,
    img_size_w: int = 224,
    num_classes: int = 1000,
    spiking_neuron: Neuron = None,
    **kwargs: Any,
) -> Spikformer:
    """Spikformer-S: ``D=384``, 12 heads, 6 blocks, patch 16."""
    return Spikformer(
        T=T, in_channels=in_channels, img_size_h=img_size_h, img_size_w=img_size_w,
        num_classes=num_classes, embed_dims=384, num_heads=12, mlp_ratio=4.0, depths=6,
        spiking_neuron=spiking_neuron, **kwargs,
    )  # fmt: skip


def spikformer_cifar10(
    T: int = 4,
    num_classes: int = 10,
    spiking_neuron: Neuron = None,
    **kwargs: Any,
) -> Spikformer:
    """CIFAR-10 Spikformer: 3x32x32 input, patch 4, ``D=384``, 12 heads, 4 blocks."""
    return Spikformer(
        T=T, in_channels=3, img_size_h=32, img_size_w=32, patch_size=4,
        num_classes=num_classes, embed_dims=384, num_heads=12, mlp_ratio=4.0, depths=4,
        spiking_neuron=spiking_neuron, **kwargs,
    )  # fmt: skip
