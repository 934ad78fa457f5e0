"""Q-K attention of QKFormer.

Zhou et al., "QKFormer: Hierarchical Spiking Transformer using Q-K Attention", NeurIPS 2024,
Eq. 3-6. With spiking ``Q = SN_Q(BN(X W_Q))`` and ``K = SN_K(BN(X W_K))`` of shape
``[C, L]`` per head (``d = C / heads`` channels each):

- token attention (QKTA): ``A_t[l] = SN_attn(sum_{c in head} Q[c, l])``, a ``1 x L`` mask per
  head; ``X' = A_t ⊙ K``;
- channel attention (QKCA): ``A_c[c] = SN_attn(sum_l Q[c, l])``, a ``d x 1`` mask per head;
  ``X' = A_c ⊙ K``;

then ``out = SN_proj(BN(Linear(X')))``. The attention neuron has threshold 0.5. There is no V
and no ``L x L`` matrix, so the cost is linear in the number of tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from snn_core.base import MultiStepModule
from torch import nn

from snn_layers.attention._neuron import (
    NeuronFactory,
    make_neuron_factory,
    merge_neuron_args,
    set_neurons_backend,
)
from snn_layers.attention._reference_layout import split_reference_layout
from snn_layers.attention._tokens import apply_projection, check_dim_heads, to_tokens

__all__ = ["QKAttention", "TokenQKAttention", "ChannelQKAttention"]

_QKA_TYPES = ("token", "channel")


class QKAttention(nn.Module, MultiStepModule):
    """QKFormer's Q-K attention (multi-step only), token- or channel-wise.

    Input ``[T, N, C, L]`` or ``[T, N, C, H, W]``; output of the same shape (spikes).

    Args:
        dim: number of channels ``C``.
        num_heads: number of heads (must divide ``dim``).
        qka_type: ``'token'`` (mask over tokens) or ``'channel'`` (mask over channels).
        backend: backend of every neuron inside.
        attn_v_threshold: threshold of the attention neuron ``attn_lif`` (0.5 in the paper).
        proj_bias: bias of the output projection ``proj_conv``.
        neuron: class or factory of the neurons; ``None``:
            ``LIFNode(tau=2.0, detach_reset=True, step_mode='m')``.
        neuron_kwargs: extra arguments of every neuron.
        spiking_neuron: alias of ``neuron`` (the reference framework's name; give one).
        **kwargs: more neuron arguments, merged with ``neuron_kwargs`` (the reference
            framework's call style ``QKAttention(dim, heads, spiking_neuron=..., tau=...)``);
            each key must be a parameter of the neuron and not in ``neuron_kwargs``.

    Parameters follow QKFormer's code: ``q_conv, q_bn, k_conv, k_bn, proj_conv, proj_bn``.
    State dicts in the reference framework's fused layout (``qk_conv_bn.0.weight`` with
    ``2 * dim`` output channels ordered ``q | k``, ``qk_conv_bn.1.*`` its BN,
    ``proj_conv_bn.{0,1}.*``) load too; saving always gives the layout above.
    """

    keeps_submodule_step_mode = True

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qka_type: str = "token",
        backend: str = "torch",
        *,
        attn_v_threshold: float = 0.5,
        proj_bias: bool = False,
        neuron: NeuronFactory | None = None,
        neuron_kwargs: Mapping[str, Any] | None = None,
        spiking_neuron: NeuronFactory | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        neuron, neuron_kwargs = merge_neuron_args(
            name, neuron, spiking_neuron, neuron_kwargs, kwargs
        )
        check_dim_heads(name, dim, num_heads)
        if qka_type not in _QKA_TYPES:
            raise ValueError(f"{name}: qka_type must be one of {_QKA_TYPES}, got {qka_type!r}")
        if isinstance(attn_v_threshold, bool) or not isinstance(attn_v_threshold, (int, float)):
            raise TypeError(f"{name}: attn_v_threshold must be a number, got {attn_v_threshold!r}")
        self.step_mode = "m"
        self.dim = dim
        self.num_heads = num_heads
        self._qka_type = qka_type
        self.attn_v_threshold = float(attn_v_threshold)
        build = make_neuron_factory(neuron, neuron_kwargs, backend)
        self._backend = backend
        self.q_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.q_bn = nn.BatchNorm1d(dim)
        self.q_lif = build()
        self.k_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.k_bn = nn.BatchNorm1d(dim)
        self.k_lif = build()
        self.attn_lif = build(v_threshold=self.attn_v_threshold)
        self.proj_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=proj_bias)
        self.proj_bn = nn.BatchNorm1d(dim)
        self.proj_lif = build()

    @property
    def qka_type(self) -> str:
        """``'token'`` or ``'channel'``; fixed at construction."""
        return self._qka_type

    def neurons(self) -> list[nn.Module]:
        """The neurons of this layer: ``q_lif, k_lif, attn_lif, proj_lif``."""
        return [self.q_lif, self.k_lif, self.attn_lif, self.proj_lif]

    @property
    def backend(self) -> str:
        """Backend of the neurons; setting it sets it on every neuron of the layer."""
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        set_neurons_backend(iter(self.neurons()), value)
        self._backend = value

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x, spatial = to_tokens(x_seq, self.dim, type(self).__name__)
        T, N, C, L = x.shape
        h, d = self.num_heads, C // self.num_heads
        q = self.q_lif(apply_projection(self.q_conv, self.q_bn, x)).reshape(T, N, h, d, L)
        k = self.k_lif(apply_projection(self.k_conv, self.k_bn, x)).reshape(T, N, h, d, L)
        sum_dim = 3 if self._qka_type == "token" else 4
        attn = self.attn_lif(q.sum(dim=sum_dim, keepdim=True))
        y = (attn * k).reshape(T, N, C, L)
        y = self.proj_lif(apply_projection(self.proj_conv, self.proj_bn, y))
        return y.reshape(T, N, C, *spatial)

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
        # before the children load from ``state_dict``: the reference framework's fused
        # ``qk_conv_bn`` / ``proj_conv_bn`` entries -> our separate projections
        split_reference_layout(
            self, state_dict, prefix, "qk_conv_bn", ("q", "k"), "conv", error_msgs
        )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, num_heads={self.num_heads}, qka_type={self.qka_type!r}, "
            f"attn_v_threshold={self.attn_v_threshold}, backend={self.backend!r}, step_mode=m"
        )


class TokenQKAttention(QKAttention):
    """``QKAttention(..., qka_type='token')``: Q-K token attention (QKTA)."""

    def __init__(self, dim: int, num_heads: int = 8, backend: str = "torch", **kwargs: Any) -> None:
        super().__init__(dim, num_heads, qka_type="token", backend=backend, **kwargs)


class ChannelQKAttention(QKAttention):
    """``QKAttention(..., qka_type='channel')``: Q-K channel attention (QKCA)."""

    def __init__(self, dim: int, num_heads: int = 8, backend: str = "torch", **kwargs: Any) -> None:
        super().__init__(dim, num_heads, qka_type="channel", backend=backend, **kwargs)
