r"""Spiking Self-Attention (SSA) of Spikformer.

Zhou et al., "Spikformer: When Spiking Neural Network Meets Transformer", ICLR 2023, Eq. 5-9:

.. math::
    Q = \mathcal{SN}_Q(\mathrm{BN}(X W_Q)),\;
    K = \mathcal{SN}_K(\mathrm{BN}(X W_K)),\;
    V = \mathcal{SN}_V(\mathrm{BN}(X W_V))

    \mathrm{SSA}'(Q, K, V) = \mathcal{SN}_{attn}(Q K^{\top} V \cdot s)

    \mathrm{SSA}(Q, K, V) = \mathcal{SN}_{proj}(\mathrm{BN}(\mathrm{Linear}(\mathrm{SSA}')))

per head, with spiking (binary) Q, K, V, **no softmax**, scale ``s = 0.125`` and an attention
neuron of threshold 0.5. Since Q, K and V are spikes, ``Q K^T V`` holds integer counts and
the product is evaluated in whichever order is cheaper (``(Q K^T) V`` or ``Q (K^T V)``);
both give the same values.
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

__all__ = ["SpikingSelfAttention"]

_PROJ_TYPES = ("conv", "linear")


def _check_number(cls_name: str, name: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{cls_name}: {name} must be a number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{cls_name}: {name} must be > 0, got {value!r}")
    return float(value)


class SpikingSelfAttention(nn.Module, MultiStepModule):
    """Spikformer's Spiking Self-Attention (multi-step only).

    Input ``[T, N, C, L]`` (``L`` tokens) or ``[T, N, C, H, W]`` (``L = H * W``); output of
    the same shape, spikes of ``proj_lif``. Channels are split into ``num_heads`` contiguous
    groups of ``dim // num_heads``.

    Args:
        dim: number of channels ``C``.
        num_heads: number of heads (must divide ``dim``).
        backend: backend of every neuron inside (``'torch'``, ``'triton'``, ``'cupy'``).
        scale: the factor ``s`` applied to ``Q K^T V`` (0.125 in the paper).
        attn_v_threshold: threshold of the attention neuron ``attn_lif`` (0.5 in the paper).
        qkv_bias: bias of the Q/K/V projections.
        proj_bias: bias of the output projection.
        proj_type: ``'conv'`` (``Conv1d`` kernel 1; parameters ``q_conv`` ... ``proj_conv``,
            as Spikformer's ImageNet/event code) or ``'linear'`` (``nn.Linear`` on the channel
            dim; parameters ``q_linear`` ... ``proj_linear``, as its CIFAR code). Both compute
            the same map; only the parameter names and shapes differ.
        neuron: class or factory of the neurons; ``None``:
            ``LIFNode(tau=2.0, detach_reset=True, step_mode='m')``.
        neuron_kwargs: extra arguments of every neuron (the attention neuron additionally
            gets ``v_threshold=attn_v_threshold``).
        spiking_neuron: alias of ``neuron`` (the reference framework's name; give one).
        **kwargs: more neuron arguments, merged with ``neuron_kwargs`` (the reference
            framework's call style ``SpikingSelfAttention(dim, heads, spiking_neuron=...,
            tau=...)``); each key must be a parameter of the neuron and not in ``neuron_kwargs``.

    State dicts in the reference framework's fused layout (``qkv_conv_bn.0.weight`` with
    ``3 * dim`` output channels ordered ``q | k | v``, ``qkv_conv_bn.1.*`` its BN,
    ``proj_conv_bn.{0,1}.*``) load too; saving always gives the layout above.
    """

    keeps_submodule_step_mode = True

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        backend: str = "torch",
        *,
        scale: float = 0.125,
        attn_v_threshold: float = 0.5,
        qkv_bias: bool = False,
        proj_bias: bool = False,
        proj_type: str = "conv",
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
        if proj_type not in _PROJ_TYPES:
            raise ValueError(f"{name}: proj_type must be one of {_PROJ_TYPES}, got {proj_type!r}")
        self.step_mode = "m"
        self.dim = dim
        self.num_heads = num_heads
        self.scale = _check_number(name, "scale", scale, positive=True)
        self.attn_v_threshold = _check_number(name, "attn_v_threshold", attn_v_threshold)
        self.proj_type = proj_type
        build = make_neuron_factory(neuron, neuron_kwargs, backend)
        self._backend = backend
        for p, bias in (("q", qkv_bias), ("k", qkv_bias), ("v", qkv_bias)):
            self._add_branch(p, bias)
            setattr(self, f"{p}_lif", build())
        self.attn_lif = build(v_threshold=self.attn_v_threshold)
        self._add_branch("proj", proj_bias)
        self.proj_lif = build()

    def _add_branch(self, prefix: str, bias: bool) -> None:
        if self.proj_type == "conv":
            layer: nn.Module = nn.Conv1d(self.dim, self.dim, kernel_size=1, stride=1, bias=bias)
        else:
            layer = nn.Linear(self.dim, self.dim, bias=bias)
        setattr(self, f"{prefix}_{self.proj_type}", layer)
        setattr(self, f"{prefix}_bn", nn.BatchNorm1d(self.dim))

    def _branch(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        proj = getattr(self, f"{prefix}_{self.proj_type}")
        return apply_projection(proj, getattr(self, f"{prefix}_bn"), x)

    def neurons(self) -> list[nn.Module]:
        """The neurons of this layer: ``q_lif, k_lif, v_lif, attn_lif, proj_lif``."""
        return [self.q_lif, self.k_lif, self.v_lif, self.attn_lif, self.proj_lif]

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
        q = self.q_lif(self._branch("q", x)).reshape(T, N, h, d, L)
        k = self.k_lif(self._branch("k", x)).reshape(T, N, h, d, L)
        v = self.v_lif(self._branch("v", x)).reshape(T, N, h, d, L)
        # Channel-first form of Q K^T V: out[c, l] = sum_j v[c, j] * sum_e k[e, j] q[e, l].
        if d <= L:
            y = (v @ k.transpose(-2, -1)) @ q
        else:
            y = v @ (k.transpose(-2, -1) @ q)
        y = self.attn_lif((y * self.scale).reshape(T, N, C, L))
        y = self.proj_lif(self._branch("proj", y))
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
        # ``qkv_conv_bn`` / ``proj_conv_bn`` entries -> our separate projections
        split_reference_layout(
            self, state_dict, prefix, "qkv_conv_bn", ("q", "k", "v"), self.proj_type, error_msgs
        )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, num_heads={self.num_heads}, scale={self.scale}, "
            f"attn_v_threshold={self.attn_v_threshold}, proj_type={self.proj_type!r}, "
            f"backend={self.backend!r}, step_mode=m"
        )
