r"""Spike-Driven Self-Attention (SDSA) of the Spike-driven Transformer.

Yao et al., "Spike-driven Transformer", NeurIPS 2023 (SDSA version 1, Eq. 13-16):

.. math::
    Q = \mathcal{SN}_Q(\mathrm{BN}(\mathrm{Conv}_Q(S))),\;
    K = \mathcal{SN}_K(\mathrm{BN}(\mathrm{Conv}_K(S))),\;
    V = \mathcal{SN}_V(\mathrm{BN}(\mathrm{Conv}_V(S)))

    \mathrm{SDSA}(Q, K, V) = Q \otimes \mathcal{SN}_{attn}\big(\mathrm{SUM}_{c}(K \otimes V)\big)

with :math:`S = \mathcal{SN}(U)` the spikes of the membrane-shortcut input :math:`U`,
:math:`\otimes` the Hadamard product and :math:`\mathrm{SUM}_c` the sum over the tokens
(the columns of the ``tokens x channels`` matrix), so the attention costs only masks and
additions: no softmax and no matrix product. The block returns
:math:`\mathrm{BN}(\mathrm{Conv}_{proj}(\mathrm{SDSA})) + U`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from snn_core.base import MultiStepModule
from snn_neurons import LIFNode
from torch import nn

from snn_layers.conv import Conv2d
from snn_layers.wrappers import BatchNorm2d

__all__ = ["SpikeDrivenSelfAttention"]

_LIF_DEFAULTS: dict[str, Any] = {"tau": 2.0, "detach_reset": True}


def _build_neuron(
    spiking_neuron: Callable[..., nn.Module] | None,
    kwargs: dict[str, Any],
    defaults: dict[str, Any],
) -> nn.Module:
    """One multi-step neuron: ``LIFNode(**defaults, **kwargs)`` or ``spiking_neuron(**kwargs)``
    (the defaults are the paper's LIF settings and apply to the default neuron only)."""
    params = copy.deepcopy(defaults) if spiking_neuron is None else {}
    params.update(copy.deepcopy(kwargs))  # a fresh copy per neuron: no shared surrogates
    params["step_mode"] = "m"
    module = (LIFNode if spiking_neuron is None else spiking_neuron)(**params)
    if not isinstance(module, nn.Module):
        raise TypeError(f"spiking_neuron must build an nn.Module, got {type(module).__name__}")
    return module


class SpikeDrivenSelfAttention(nn.Module, MultiStepModule):
    r"""Spike-Driven Self-Attention of the Spike-driven Transformer (SDSA-1; Yao et al.,
    NeurIPS 2023), with its membrane shortcut; multi-step only.

    Input and output ``[T, N, C, H, W]`` with ``C = dim`` (floats, same dtype and device):

    .. math::
        S = \mathcal{SN}(x), \quad Q, K, V = \mathcal{SN}(\mathrm{BN}(W_{q,k,v} * S)), \quad
        y = \mathrm{BN}\big(W_p * (Q \otimes \mathcal{SN}_{attn}(\textstyle\sum_{hw}
        K \otimes V))\big) + x,

    where the token sum runs over the ``H * W`` positions per channel, for each of the
    ``num_heads`` heads (``dim // num_heads`` channels each; the attention neuron sees
    ``[T, N, heads, 1, dim // heads]``). The convolutions are 1x1, bias-free except
    ``proj_conv``.

    Neurons (``shortcut_lif``, ``q_lif``, ``k_lif``, ``v_lif``, ``attn_lif``): with
    ``spiking_neuron=None``, ``LIFNode(tau=2.0, detach_reset=True)`` and ``v_threshold=0.5``
    for ``attn_lif``, each overridden by ``**kwargs``; with a custom ``spiking_neuron``,
    ``spiking_neuron(**kwargs)``. All are built with ``step_mode='m'``. Parameter names
    follow the reference framework (``q_conv``, ``q_bn``, ..., ``proj_conv``, ``proj_bn``).

    Args:
        dim: number of channels ``C`` (divisible by ``num_heads``).
        num_heads: number of heads.
        spiking_neuron: class or factory of the neurons; ``None``: ``LIFNode``.
        **kwargs: arguments of every neuron (``step_mode``, if given, must be ``'m'``).
    """

    keeps_submodule_step_mode = True

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        if spiking_neuron is not None and not callable(spiking_neuron):
            raise TypeError(
                f"spiking_neuron must be None or a class/callable building a neuron, "
                f"got {spiking_neuron!r}"
            )
        if kwargs.get("step_mode", "m") != "m":
            raise ValueError(
                f"SpikeDrivenSelfAttention's neurons are multi-step: step_mode must be 'm', "
                f"got {kwargs['step_mode']!r}"
            )
        self.step_mode = "m"
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads

        def lif(**defaults: Any) -> nn.Module:
            return _build_neuron(spiking_neuron, kwargs, {**_LIF_DEFAULTS, **defaults})

        self.shortcut_lif = lif()
        for p in ("q", "k", "v"):
            setattr(self, f"{p}_conv", Conv2d(dim, dim, 1, bias=False, step_mode="m"))
            setattr(self, f"{p}_bn", BatchNorm2d(dim, step_mode="m"))
            setattr(self, f"{p}_lif", lif())
        self.attn_lif = lif(v_threshold=0.5)
        self.proj_conv = Conv2d(dim, dim, 1, step_mode="m")
        self.proj_bn = BatchNorm2d(dim, step_mode="m")

    def _spikes(self, p: str, s: torch.Tensor) -> torch.Tensor:
        conv, bn, lif = (getattr(self, f"{p}_{part}") for part in ("conv", "bn", "lif"))
        return lif(bn(conv(s)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or x.shape[2] != self.dim:
            got = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"SpikeDrivenSelfAttention(dim={self.dim}) expected x with shape "
                f"[T, N, C={self.dim}, H, W], got {got}"
            )
        T, N, C, H, W = x.shape
        s = self.shortcut_lif(x)
        q, k, v = (self._spikes(p, s) for p in ("q", "k", "v"))
        # SUM over the H*W tokens of K (x) V, per channel c = head * head_dim + d
        kv = (k * v).sum(dim=(3, 4)).reshape(T, N, self.num_heads, 1, self.head_dim)
        kv = self.attn_lif(kv).reshape(T, N, C, 1, 1)
        return self.proj_bn(self.proj_conv(q * kv)) + x

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, step_mode=m"
