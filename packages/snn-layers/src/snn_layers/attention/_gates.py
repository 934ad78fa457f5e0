"""Pooled attention gates shared by the MA-SNN and TA-SNN attention layers."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["check_reduction", "avg_max", "PooledMLPGate", "SpatialGate"]


def check_reduction(cls_name: str, name: str, size_name: str, size: int, reduction: int) -> None:
    for n, v in ((size_name, size), (name, reduction)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{cls_name}: {n} must be a positive int, got {v!r}")
    if reduction > size:
        raise ValueError(
            f"{cls_name}: {name}={reduction} cannot be greater than {size_name}={size} "
            f"(the hidden layer of the shared MLP has {size_name} // {name} units)"
        )


def avg_max(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and max of ``x`` ``[N, K, *]`` over all dims after the second -> two ``[N, K]``.

    The max routes its gradient to one element (like ``AdaptiveMaxPool``), not shared
    among ties.
    """
    flat = x.flatten(2)
    return flat.mean(dim=2), flat.max(dim=2).values


class PooledMLPGate(nn.Module):
    """``sigmoid(MLP(avg) + MLP(max))`` with ``MLP = W2 ReLU(W1 .)`` shared by both.

    ``W1``: ``n -> n // reduction``, ``W2``: ``n // reduction -> n``, no biases, stored as
    1x1x1 ``Conv3d`` (``sharedMLP.0``, ``sharedMLP.2``), the layout of the MA-SNN code.
    ``avg_pool`` / ``max_pool`` (parameter-free) are the reference framework's pooling
    modules, kept so that code reading them works; :meth:`forward` takes the pooled values.
    """

    def __init__(self, n: int, reduction: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.max_pool = nn.AdaptiveMaxPool3d(1)
        hidden = n // reduction
        self.sharedMLP = nn.Sequential(
            nn.Conv3d(n, hidden, 1, bias=False),
            nn.ReLU(),
            nn.Conv3d(hidden, n, 1, bias=False),
        )

    def forward(self, avg: torch.Tensor, mx: torch.Tensor) -> torch.Tensor:
        """``avg``, ``mx``: ``[N, n]`` -> gate ``[N, n]`` in (0, 1)."""

        def mlp(z: torch.Tensor) -> torch.Tensor:
            return self.sharedMLP(z[:, :, None, None, None]).flatten(1)

        return torch.sigmoid(mlp(avg) + mlp(mx))


class SpatialGate(nn.Module):
    """``sigmoid(conv_k([mean_c x; max_c x]))``: one ``H x W`` map from channel statistics."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[N, K, H, W]`` -> gate ``[N, 1, H, W]``."""
        desc = torch.cat([x.mean(dim=1, keepdim=True), x.max(dim=1, keepdim=True).values], 1)
        return torch.sigmoid(self.conv(desc))
