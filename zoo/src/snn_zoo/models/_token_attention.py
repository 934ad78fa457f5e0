r"""Spikformer's and QKFormer's token attentions in the reference framework's fused layout.

``snn_layers.SpikingSelfAttention`` and ``snn_layers.QKAttention`` keep the official
repositories' layout: one ``conv -> BN -> LIF`` branch per Q, K, V. The reference framework's
models store those projections fused, as one ``Conv1d`` + ``BatchNorm1d`` over ``n * C``
channels (``q | k (| v)``) followed by **one** neuron over all of them (``qkv_conv_bn``,
``qkv_lif``; ``qk_conv_bn``, ``qk_lif``), and the output projection as ``proj_conv_bn``.
With a learnable neuron (e.g. ``ParametricLIFNode``) the fused form has one parameter where the
separate form has three, so the reference models' state (and its keys) can only be held by the
fused form: these two classes are that form, for :mod:`snn_zoo.models` only. The equations are
those of ``snn_layers.attention`` (Spikformer Eq. 5-9; QKFormer Eq. 3-6):

- SSA: ``SN_attn(V K^T Q * scale)`` per head (channel-first ``[d, L]`` matrices, no softmax),
  then ``SN_proj(BN(W_proj .))``; ``scale = 0.125``;
- QKA: ``SN_attn(sum Q)`` over the head's channels (``'token'``) or tokens (``'channel'``),
  times ``K``, then ``SN_proj(BN(W_proj .))``.

Input and output ``[T, N, C, L]``. Neurons follow
:func:`~snn_zoo.models._neuron.make_multi_step_neuron` with the defaults ``tau=2.0,
detach_reset=True`` (and ``v_threshold=0.5`` for ``attn_lif``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from snn_layers import SeqToANNContainer
from torch import nn

from snn_zoo.models._neuron import check_spiking_neuron, make_multi_step_neuron

__all__ = ["FusedSpikingSelfAttention", "FusedQKAttention"]

_LIF = {"tau": 2.0, "detach_reset": True}
_ATTN_LIF = {"tau": 2.0, "v_threshold": 0.5, "detach_reset": True}
_QKA_TYPES = ("token", "channel")


def _check_dims(owner: str, dim: Any, num_heads: Any) -> None:
    for name, value in (("dim", dim), ("num_heads", num_heads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    if dim % num_heads:
        raise ValueError(f"{owner}: dim={dim} must be divisible by num_heads={num_heads}")


def _fused_conv_bn(dim: int, out: int) -> SeqToANNContainer:
    return SeqToANNContainer(
        nn.Conv1d(dim, out, kernel_size=1, stride=1, bias=False), nn.BatchNorm1d(out)
    )


def _check_tokens(owner: str, x_seq: Any, dim: int) -> None:
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() != 4 or x_seq.shape[2] != dim:
        got = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq).__name__
        raise ValueError(f"{owner}(dim={dim}): x_seq must have shape [T, N, C={dim}, L], got {got}")


class FusedSpikingSelfAttention(nn.Module):
    """Spikformer's Spiking Self-Attention with fused ``q | k | v`` projection (see module doc).

    Args:
        dim: channels ``C`` (divisible by ``num_heads``).
        num_heads: heads.
        spiking_neuron: neuron class (``None``: ``LIFNode``).
        **kwargs: neuron arguments.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        _check_dims(type(self).__name__, dim, num_heads)
        check_spiking_neuron(type(self).__name__, spiking_neuron)
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.scale = 0.125
        self.qkv_conv_bn = _fused_conv_bn(dim, 3 * dim)
        self.qkv_lif = make_multi_step_neuron(spiking_neuron, kwargs, _LIF)
        self.attn_lif = make_multi_step_neuron(spiking_neuron, kwargs, _ATTN_LIF)
        self.proj_conv_bn = _fused_conv_bn(dim, dim)
        self.proj_lif = make_multi_step_neuron(spiking_neuron, kwargs, _LIF)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_tokens(type(self).__name__, x_seq, self.dim)
        T, N, C, L = x_seq.shape
        qkv = self.qkv_lif(self.qkv_conv_bn(x_seq)).reshape(
            T, N, 3 * self.num_heads, self.head_dim, L
        )
        q, k, v = qkv.chunk(3, dim=2)  # each [T, N, heads, d, L]
        y = (v @ k.transpose(-2, -1)) @ q * self.scale
        y = self.attn_lif(y).reshape(T, N, C, L)
        return self.proj_lif(self.proj_conv_bn(y))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}"


class FusedQKAttention(nn.Module):
    """QKFormer's Q-K attention with fused ``q | k`` projection (see module doc).

    Args:
        dim: channels ``C`` (divisible by ``num_heads``).
        num_heads: heads.
        qka_type: ``'token'`` (a mask over tokens) or ``'channel'`` (a mask over channels).
        spiking_neuron: neuron class (``None``: ``LIFNode``).
        **kwargs: neuron arguments.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qka_type: str = "token",
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        _check_dims(owner, dim, num_heads)
        if qka_type not in _QKA_TYPES:
            raise ValueError(f"{owner}: qka_type must be one of {_QKA_TYPES}, got {qka_type!r}")
        check_spiking_neuron(owner, spiking_neuron)
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.qka_type = qka_type
        self.qk_conv_bn = _fused_conv_bn(dim, 2 * dim)
        self.qk_lif = make_multi_step_neuron(spiking_neuron, kwargs, _LIF)
        self.attn_lif = make_multi_step_neuron(spiking_neuron, kwargs, _ATTN_LIF)
        self.proj_conv_bn = _fused_conv_bn(dim, dim)
        self.proj_lif = make_multi_step_neuron(spiking_neuron, kwargs, _LIF)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_tokens(type(self).__name__, x_seq, self.dim)
        T, N, C, L = x_seq.shape
        qk = self.qk_lif(self.qk_conv_bn(x_seq)).reshape(T, N, 2 * self.num_heads, self.head_dim, L)
        q, k = qk.chunk(2, dim=2)  # each [T, N, heads, d, L]
        attn = self.attn_lif(q.sum(dim=3 if self.qka_type == "token" else 4, keepdim=True))
        return self.proj_lif(self.proj_conv_bn((attn * k).reshape(T, N, C, L)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, qka_type={self.qka_type!r}"
