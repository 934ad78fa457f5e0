"""Building blocks shared by the zoo's architectures.

- :func:`trunc_normal_` and :class:`DropPath`: the timm helpers the official code imports,
  written here so the zoo does not need timm;
- :class:`MLP`: the spiking two-layer MLP of Spikformer and QKFormer
  (``fc -> BN -> LIF`` twice), with the official parameter names of each code base;
- argument checks used by every model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

__all__ = [
    "trunc_normal_",
    "init_vit_weights",
    "DropPath",
    "MLP",
    "check_positive_int",
    "to_2tuple_size",
    "seq_apply",
    "ResidualBlock",
    "drop_path_rates",
    "check_rate",
    "dropout",
]


def trunc_normal_(
    tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> torch.Tensor:
    """Fill ``tensor`` in place from ``N(mean, std^2)`` truncated to ``[a, b]`` (absolute bounds).

    Inverse-CDF sampling: draw ``u ~ U(Phi(alpha), Phi(beta))`` with
    ``alpha = (a - mean) / std``, ``beta = (b - mean) / std`` and return
    ``mean + std * sqrt(2) * erfinv(2u - 1)``, clamped to ``[a, b]`` against rounding.
    """
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be > 0, got {std!r}")
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a!r}, b={b!r}")

    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    with torch.no_grad():
        tensor.uniform_(2 * lo - 1, 2 * hi - 1)
        tensor.erfinv_()
        tensor.mul_(std * math.sqrt(2.0)).add_(mean)
        tensor.clamp_(min=a, max=b)
    return tensor


def init_vit_weights(module: nn.Module) -> None:
    """The official Spikformer / QKFormer init: ``Linear`` weights ``trunc_normal_(std=.02)``,
    biases 0 (apply with ``model.apply``)."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class DropPath(nn.Module):
    """Stochastic depth on a residual branch of a ``[T, B, ...]`` sequence.

    In training, each sample ``b`` keeps its branch with probability ``1 - drop_prob``
    (the same decision for every time step) and kept branches are scaled by
    ``1 / (1 - drop_prob)``; identity in eval or with ``drop_prob = 0``.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if isinstance(drop_prob, bool) or not isinstance(drop_prob, (int, float)):
            raise TypeError(f"drop_prob must be a float in [0, 1), got {drop_prob!r}")
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob!r}")
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
        mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


_MLP_KINDS = ("conv2d", "conv1d", "linear")


class MLP(nn.Module):
    """Spiking MLP ``LIF(BN(W2 LIF(BN(W1 x))))`` on ``[T, B, C, H, W]``.

    Args:
        dim: in/out channels.
        hidden: hidden channels (``int(dim * mlp_ratio)``).
        kind: ``'conv2d'`` (1x1 ``Conv2d`` + ``BatchNorm2d``, Spikformer/QKFormer ImageNet
            code), ``'conv1d'`` (``Conv1d`` + ``BatchNorm1d``, Spikformer event code) or
            ``'linear'`` (``Linear`` + ``BatchNorm1d``, Spikformer CIFAR code). All compute
            the same map; the parameter shapes differ.
        names: attribute prefixes of the two layers, ``('fc1', 'fc2')`` (Spikformer,
            QKFormer ImageNet) or ``('mlp1', 'mlp2')`` (QKFormer CIFAR/event).
        build_neuron: ``() -> neuron`` factory.
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        kind: str,
        build_neuron: Callable[..., nn.Module],
        names: tuple[str, str] = ("fc1", "fc2"),
    ) -> None:
        super().__init__()
        if kind not in _MLP_KINDS:
            raise ValueError(f"MLP kind must be one of {_MLP_KINDS}, got {kind!r}")
        self.kind, self.names = kind, names
        suffix = {"conv2d": "conv", "conv1d": "conv", "linear": "linear"}[kind]
        for name, cin, cout in ((names[0], dim, hidden), (names[1], hidden, dim)):
            if kind == "conv2d":
                layer: nn.Module = nn.Conv2d(cin, cout, kernel_size=1, stride=1)
                bn: nn.Module = nn.BatchNorm2d(cout)
            elif kind == "conv1d":
                layer, bn = nn.Conv1d(cin, cout, kernel_size=1, stride=1), nn.BatchNorm1d(cout)
            else:
                layer, bn = nn.Linear(cin, cout), nn.BatchNorm1d(cout)
            setattr(self, f"{name}_{suffix}", layer)
            setattr(self, f"{name}_bn", bn)
            setattr(self, f"{name}_lif", build_neuron())
        self._suffix = suffix

    def _layer(self, name: str, x: torch.Tensor) -> torch.Tensor:
        T, B = x.shape[:2]
        fc = getattr(self, f"{name}_{self._suffix}")
        bn = getattr(self, f"{name}_bn")
        flat = x.flatten(0, 1)  # [TB, C, H, W]
        if self.kind == "conv2d":
            y = bn(fc(flat))
        else:
            tokens = flat.flatten(2)  # [TB, C, L]
            if self.kind == "linear":
                # Token-major: BatchNorm1d over the contiguous [TB * L, C'] tokens (the same
                # statistics as over [TB, C', L], without its slow strided path), returned
                # as a [TB, C', L] view that the neuron keeps (see snn_neurons' layouts).
                z = fc(tokens.transpose(1, 2))  # [TB, L, C']
                y = bn(z.flatten(0, 1)).view(z.shape).transpose(1, 2)
            else:
                y = bn(fc(tokens))
            y = y.unflatten(2, flat.shape[2:])
        return getattr(self, f"{name}_lif")(y.reshape(T, B, *y.shape[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._layer(self.names[1], self._layer(self.names[0], x))


def check_positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return value


def check_int_tuple(owner: str, name: str, value: Any, n: int, minimum: int, what: str) -> tuple:
    """``value`` as a tuple of ``n`` ints ``>= minimum`` (``what`` names them in the error)."""
    out = tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else ()
    if len(out) != n or any(
        isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in out
    ):
        raise ValueError(f"{owner}: {name} must be {n} ints >= {minimum} ({what}), got {value!r}")
    return out


def to_2tuple_size(owner: str, img_size: Any) -> tuple[int, int]:
    """``img_size`` as ``(H, W)``: an int or a pair of positive ints."""
    if isinstance(img_size, int) and not isinstance(img_size, bool):
        img_size = (img_size, img_size)
    if (
        not isinstance(img_size, (tuple, list))
        or len(img_size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in img_size)
    ):
        raise ValueError(f"{owner}: img_size must be a positive int or (H, W), got {img_size!r}")
    return int(img_size[0]), int(img_size[1])


def seq_apply(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a stateless layer to ``[T, B, ...]`` with T folded into the batch."""
    y = module(x.flatten(0, 1))
    return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])


class ResidualBlock(nn.Module):
    """``x + attn(x)``, then ``x + mlp(x)`` (Spikformer Eq. 7-8, QKFormer Eq. 9-10).

    The attention is stored under ``attn_name`` (``'attn'``, ``'ssa'`` or ``'tssa'`` in the
    official codes) so checkpoints keep their keys. ``proj_drop`` is timm's
    ``proj_drop_rate``: dropout on each branch's output (the attention's projection and the
    MLP) before stochastic depth and the residual sum; ``drop_path`` the stochastic depth.
    """

    def __init__(
        self,
        attn_name: str,
        attn: nn.Module,
        mlp: nn.Module,
        drop_path: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self._attn_name = attn_name
        setattr(self, attn_name, attn)
        self.mlp = mlp
        self.proj_drop = dropout(proj_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.proj_drop(getattr(self, self._attn_name)(x)))
        return x + self.drop_path(self.proj_drop(self.mlp(x)))


def drop_path_rates(owner: str, drop_path_rate: float, n: int) -> list[float]:
    """Stochastic-depth rates rising linearly from 0 to ``drop_path_rate`` over ``n`` blocks."""
    if isinstance(drop_path_rate, bool) or not isinstance(drop_path_rate, (int, float)):
        raise TypeError(
            f"{owner}: drop_path_rate must be a float in [0, 1), got {drop_path_rate!r}"
        )
    if not 0.0 <= drop_path_rate < 1.0:
        raise ValueError(f"{owner}: drop_path_rate must be in [0, 1), got {drop_path_rate!r}")
    if n == 1:
        return [float(drop_path_rate)]
    return [drop_path_rate * i / (n - 1) for i in range(n)]


def check_rate(owner: str, name: str, value: Any) -> float:
    """A dropout rate: a number in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}: {name} must be a float in [0, 1), got {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value!r}")
    return float(value)


def dropout(p: float) -> nn.Module:
    """``nn.Dropout(p)``, or ``nn.Identity`` for ``p = 0`` (no extra module in the repr)."""
    return nn.Dropout(p) if p > 0 else nn.Identity()
