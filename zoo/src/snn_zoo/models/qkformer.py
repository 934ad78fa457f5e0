"""QKFormer as the reference framework's ``model.qkformer`` defines it (Zhou et al., NeurIPS 2024).

Same names, signatures, defaults, state-dict keys and outputs as the reference's ``QKFormer``
and ``qkformer_10_384``: three stages of ``D/4, D/2, D`` channels, each after a patch
embedding with a ``conv1x1 (stride 2) -> BN -> SN`` shortcut; Q-K attention blocks
(``qka_type`` ``'token'`` or ``'channel'``) in stages 1-2, Spiking Self-Attention blocks in
stage 3; the head classifies the features averaged over tokens and time, ``[N, num_classes]``.

How it differs from the official code (:class:`snn_zoo.families.qkformer.QKFormer`, which
reproduces github.com/zhouchenlin2096/QKFormer and loads its checkpoints):

- the embeddings reduce 2x in every stage (the first pools twice: 4x in total, then 2x, 2x),
  with biased convolutions, and pool *before* the neuron;
- the attentions use the fused projections (``qk_conv_bn``, ``qkv_conv_bn``, one neuron,
  :mod:`snn_zoo.models._token_attention`); the output neuron of SSA runs over time per sample;
- the stem and MLP neurons are ``spiking_neuron(**kwargs)``: with the default ``LIFNode``
  that is ``tau=2.0, detach_reset=False`` (the attentions default to ``detach_reset=True``);
- the MLP is the family's ``Conv1d`` + ``BatchNorm1d`` MLP (:class:`snn_zoo._blocks.MLP`)
  saved under the reference's keys (``fc1, bn1, lif1, fc2, bn2, lif2``); torch's default
  initialisation; no stochastic depth;
- state: as in the reference, the neurons keep their state after a forward; call
  ``snn_core.functional.reset_net(model)`` between samples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from snn_core import functional
from snn_layers import BatchNorm2d, Conv2d, MaxPool2d
from torch import nn

from snn_zoo._blocks import MLP
from snn_zoo.models._input import to_sequence
from snn_zoo.models._key_layout import MLP_NAMES, use_reference_keys
from snn_zoo.models._neuron import check_spiking_neuron, make_multi_step_neuron
from snn_zoo.models._token_attention import FusedQKAttention, FusedSpikingSelfAttention

__all__ = ["QKFormer", "qkformer_10_384"]

Neuron = Callable[..., nn.Module] | None


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> tuple[nn.Module, nn.Module]:
    conv = Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, step_mode="m")
    return conv, BatchNorm2d(cout, step_mode="m")


def _pool() -> nn.Module:
    return MaxPool2d(3, stride=2, padding=1, step_mode="m")


def _shortcut(cin: int, cout: int, neuron: Neuron, kwargs: Mapping[str, Any]) -> nn.Sequential:
    """The deformed shortcut ``SN(BN(conv1x1 stride 2))``."""
    return nn.Sequential(*_conv_bn(cin, cout, 1, 2), make_multi_step_neuron(neuron, kwargs))


class _PatchEmbedInit(nn.Module):
    """First embedding, 4x reduction: ``SN(P(BN(conv)))`` twice, then ``SN(BN(conv))``, plus
    the shortcut from the first unit's spikes."""

    def __init__(
        self, in_channels: int, out_channels: int, neuron: Neuron, kwargs: Mapping[str, Any]
    ) -> None:
        super().__init__()
        hidden = out_channels // 2
        self.conv1, self.bn1 = _conv_bn(in_channels, hidden, 3)
        self.pool1 = _pool()
        self.lif1 = make_multi_step_neuron(neuron, kwargs)
        self.conv2, self.bn2 = _conv_bn(hidden, out_channels, 3)
        self.pool2 = _pool()
        self.lif2 = make_multi_step_neuron(neuron, kwargs)
        self.conv3, self.bn3 = _conv_bn(out_channels, out_channels, 3)
        self.lif3 = make_multi_step_neuron(neuron, kwargs)
        self.shortcut = _shortcut(hidden, out_channels, neuron, kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.lif1(self.pool1(self.bn1(self.conv1(x))))
        y = self.lif2(self.pool2(self.bn2(self.conv2(s))))
        return self.lif3(self.bn3(self.conv3(y))) + self.shortcut(s)


class _PatchEmbedStage(nn.Module):
    """Later embeddings, 2x reduction: ``SN(BN(conv(SN(P(BN(conv x)))))) + shortcut(x)``."""

    def __init__(
        self, in_channels: int, out_channels: int, neuron: Neuron, kwargs: Mapping[str, Any]
    ) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(in_channels, out_channels, 3)
        self.pool = _pool()
        self.lif1 = make_multi_step_neuron(neuron, kwargs)
        self.conv2, self.bn2 = _conv_bn(out_channels, out_channels, 3)
        self.lif2 = make_multi_step_neuron(neuron, kwargs)
        self.shortcut = _shortcut(in_channels, out_channels, neuron, kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lif1(self.pool(self.bn1(self.conv1(x))))
        return self.lif2(self.bn2(self.conv2(y))) + self.shortcut(x)


def _mlp(dim: int, hidden_dim: int, neuron: Neuron, kwargs: Mapping[str, Any]) -> nn.Module:
    """``SN(BN(W2 SN(BN(W1 x))))`` with biased 1x1 ``Conv1d``: the family's :class:`MLP`
    (``kind='conv1d'``) saving and loading the reference's keys (``fc1, bn1, lif1, ...``)."""
    mlp = MLP(dim, hidden_dim, "conv1d", lambda: make_multi_step_neuron(neuron, kwargs))
    return use_reference_keys(mlp, MLP_NAMES)


class _Block(nn.Module):
    """``x + attn(x)``, then ``x + MLP(x)`` on ``[T, N, C, H, W]`` (QKFormer Eq. 9-10)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        qka_type: str,
        self_attention: bool,
        neuron: Neuron,
        kwargs: Mapping[str, Any],
    ) -> None:
        super().__init__()
        if self_attention:
            self.attn: nn.Module = FusedSpikingSelfAttention(dim, num_heads, neuron, **kwargs)
        else:
            self.attn = FusedQKAttention(dim, num_heads, qka_type, neuron, **kwargs)
        self.mlp = _mlp(dim, int(dim * mlp_ratio), neuron, kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.flatten(3)
        y = y + self.attn(y)
        y = y + self.mlp(y)
        return y.reshape(x.shape)


class QKFormer(nn.Module):
    """QKFormer as the reference framework defines it; see the module docstring.

    Input ``[N, C, H, W]`` (repeated over ``T``) or ``[T, N, C, H, W]``; output
    ``[N, num_classes]``.

    Args:
        T: time steps an image is repeated over.
        in_channels: input channels.
        num_classes: classes of the head.
        embed_dims: ``D`` of the last stage (divisible by 4); stages have ``D/4, D/2, D``.
        num_heads: heads per stage (three ints).
        depths: blocks per stage (three ints).
        mlp_ratio: MLP hidden size ``int(dim * mlp_ratio)``.
        qka_type: ``'token'`` or ``'channel'`` Q-K attention in stages 1-2.
        spiking_neuron: neuron class (``None``: ``LIFNode``).
        **kwargs: neuron arguments (e.g. ``backend``, ``tau``, ``surrogate_function``).
    """

    def __init__(
        self,
        T: int = 4,
        in_channels: int = 3,
        num_classes: int = 1000,
        embed_dims: int = 384,
        num_heads: tuple[int, int, int] = (3, 6, 6),
        depths: tuple[int, int, int] = (1, 2, 7),
        mlp_ratio: float = 4.0,
        qka_type: str = "token",
        spiking_neuron: Neuron = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        check_spiking_neuron("QKFormer", spiking_neuron)
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"QKFormer: T must be a positive int, got {T!r}")
        for name, value in (("num_heads", num_heads), ("depths", depths)):
            if not isinstance(value, (tuple, list)) or len(value) != 3:
                raise ValueError(f"QKFormer: {name} must hold three stage values, got {value!r}")
        if isinstance(embed_dims, bool) or not isinstance(embed_dims, int) or embed_dims % 4:
            raise ValueError(
                f"QKFormer: embed_dims must be an int divisible by 4, got {embed_dims!r}"
            )
        if qka_type not in ("token", "channel"):
            raise ValueError(f"QKFormer: qka_type must be 'token' or 'channel', got {qka_type!r}")
        dims = (embed_dims // 4, embed_dims // 2, embed_dims)
        self.T = T
        self.patch_embed1 = _PatchEmbedInit(in_channels, dims[0], spiking_neuron, kwargs)
        self.patch_embed2 = _PatchEmbedStage(dims[0], dims[1], spiking_neuron, kwargs)
        self.patch_embed3 = _PatchEmbedStage(dims[1], dims[2], spiking_neuron, kwargs)
        for i in range(3):
            blocks = nn.ModuleList(
                _Block(dims[i], num_heads[i], mlp_ratio, qka_type, i == 2, spiking_neuron, kwargs)
                for _ in range(depths[i])
            )
            setattr(self, f"stage{i + 1}", blocks)
        self.head = nn.Linear(embed_dims, num_classes)
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_sequence("QKFormer", x, self.T)
        for i in (1, 2, 3):
            x = getattr(self, f"patch_embed{i}")(x)
            for block in getattr(self, f"stage{i}"):
                x = block(x)
        return self.head(x.flatten(3).mean(dim=-1).mean(0))


def qkformer_10_384(
    T: int = 4,
    in_channels: int = 3,
    num_classes: int = 1000,
    spiking_neuron: Neuron = None,
    **kwargs: Any,
) -> QKFormer:
    """QKFormer-10-384: ``D=384``, 6 heads per stage, ``(1, 2, 7)`` blocks."""
    return QKFormer(
        T=T,
        in_channels=in_channels,
        num_classes=num_classes,
        embed_dims=384,
        num_heads=(6, 6, 6),
        depths=(1, 2, 7),
        spiking_neuron=spiking_neuron,
        **kwargs,
    )
