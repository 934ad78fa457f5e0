"""Input checks and layout helpers of the token attention layers (``[T, N, C, L]``)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["check_dim_heads", "to_tokens", "conv1x1_bn", "apply_projection"]


def check_dim_heads(cls_name: str, dim: int, num_heads: int) -> None:
    for name, value in (("dim", dim), ("num_heads", num_heads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{cls_name}: {name} must be a positive int, got {value!r}")
    if dim % num_heads != 0:
        raise ValueError(
            f"{cls_name}: dim={dim} must be divisible by num_heads={num_heads} "
            f"(each head gets dim // num_heads channels)"
        )


def to_tokens(x_seq: torch.Tensor, dim: int, cls_name: str) -> tuple[torch.Tensor, torch.Size]:
    """``[T, N, C, L]`` or ``[T, N, C, H, W]`` -> ``([T, N, C, L], spatial_shape)``."""
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{cls_name}: x_seq must be a torch.Tensor, got {type(x_seq).__name__}")
    if x_seq.dim() not in (4, 5):
        raise ValueError(
            f"{cls_name}: x_seq must have shape [T, N, C, L] or [T, N, C, H, W], "
            f"got shape {tuple(x_seq.shape)}"
        )
    if x_seq.shape[2] != dim:
        raise ValueError(
            f"{cls_name}: x_seq has {x_seq.shape[2]} channels (dim 2 of shape "
            f"{tuple(x_seq.shape)}), but the layer was built with dim={dim}"
        )
    return x_seq.flatten(3), x_seq.shape[3:]


def conv1x1_bn(dim: int, bias: bool) -> tuple[nn.Conv1d, nn.BatchNorm1d]:
    return nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=bias), nn.BatchNorm1d(dim)


def apply_projection(proj: nn.Module, bn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``BN(proj(x))`` on ``x`` of shape ``[T, N, C, L]`` with T folded into the batch.

    ``proj`` is a ``Conv1d`` (kernel 1) or a ``Linear`` acting on the channel dim.
    """
    T, N, C, L = x.shape
    flat = x.reshape(T * N, C, L)
    if isinstance(proj, nn.Linear) and isinstance(bn, nn.BatchNorm1d):
        # Token-major all the way: the Linear's [TN, L, C'] output is normalised as a
        # contiguous [TN * L, C'] batch (the same statistics as over [TN, C', L], without
        # BatchNorm's slow strided path) and returned as a [T, N, C', L] view. The neurons
        # keep that layout, so the next Linear reads its tokens without a copy.
        y = bn(proj(flat.transpose(1, 2)).flatten(0, 1))
        return y.view(T, N, L, y.shape[1]).permute(0, 1, 3, 2)
    if isinstance(proj, nn.Linear):
        y = proj(flat.transpose(1, 2)).transpose(1, 2)
    else:
        y = proj(flat)
    y = bn(y)
    return y.reshape(T, N, y.shape[1], L)
