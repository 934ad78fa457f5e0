"""Helpers of the NeuroMC model."""

from __future__ import annotations

from math import prod

import torch

__all__ = ["_conv_mul_add", "_is_spike", "_spike_nnz"]


def _conv_mul_add(args, out) -> tuple[int, int]:
    """Multiplies and adds of a convolution call: ``C_in/g · prod(k)`` multiplies per
    output and one add fewer, plus one add per output for a bias."""
    x, w, bias = args[:3]
    groups = args[8] if len(args) > 8 else 1
    per_out = x.shape[1] // groups * prod(w.shape[2:])
    adds = out.numel() * max(per_out - 1, 0) + (out.numel() if bias is not None else 0)
    return int(out.numel() * per_out), int(adds)


def _is_spike(x: torch.Tensor | None) -> bool:
    """Whether ``x`` is a non-empty binary tensor."""
    if x is None or not torch.is_tensor(x):
        return False
    if x.dtype == torch.bool:
        return True
    return x.numel() > 0 and bool(torch.logical_or(x == 0, x == 1).all().item())


def _spike_nnz(x: torch.Tensor | None) -> int | None:
    """Spikes in ``x`` if it is a (non-empty or bool) binary tensor, else ``None``."""
    return int(x.count_nonzero().item()) if _is_spike(x) else None
