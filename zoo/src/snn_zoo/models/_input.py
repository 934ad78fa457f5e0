"""Input convention of the reference-namespace models: an image batch or a sequence."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["to_sequence"]


def to_sequence(owner: str, x: Any, T: int) -> torch.Tensor:
    """``[N, C, H, W]`` repeated over ``T`` steps, or a ``[T, N, C, H, W]`` sequence as is."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner}: x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 4:
        return x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
    if x.dim() == 5:
        return x
    raise ValueError(
        f"{owner}: x must be an image batch [N, C, H, W] (repeated over T={T}) or a sequence "
        f"[T, N, C, H, W], got shape {tuple(x.shape)}"
    )
