"""Helpers for piecewise primitives whose autograd must not depend on ``clamp``'s bound rule.

``torch.clamp``'s gradient exactly at a bound differs between torch releases (it passes
in some and is 0 in others). Primitives that feed one branch of ``torch.where`` with
``x`` limited to one side of 0 use these instead: their gradient at 0 is always 1.
"""

from __future__ import annotations

import torch

__all__: list[str] = []


def _nonpositive(x: torch.Tensor) -> torch.Tensor:
    """``min(x, 0)``, with gradient 1 where ``x < 0`` and 0 elsewhere."""
    return torch.where(x < 0, x, 0.0)


def _nonnegative(x: torch.Tensor) -> torch.Tensor:
    """``max(x, 0)``, with gradient 1 where ``x >= 0`` (0 included) and 0 elsewhere."""
    return torch.where(x < 0, 0.0, x)
