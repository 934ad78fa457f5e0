"""The leaky charge shared by the research neuron steps of this subpackage (private)."""

from __future__ import annotations

import torch

__all__: list[str] = []


def _leaky_charge(
    x: torch.Tensor, v: torch.Tensor, tau: float, decay_input: bool, v_rest: float | None
) -> torch.Tensor:
    """LIF charge toward ``V_rest`` (0 when ``None``):

    - ``decay_input=True``:  ``H = V + (X - (V - V_rest)) / tau``;
    - ``decay_input=False``: ``H = V - (V - V_rest) / tau + X``.
    """
    leak = v if v_rest is None or v_rest == 0.0 else v - v_rest
    if decay_input:
        return v + (x - leak) / tau
    return v - leak / tau + x


def _voltage_reset(
    h: torch.Tensor,
    spike: torch.Tensor,
    v_threshold: float | torch.Tensor,
    v_reset: float | None,
    detach_reset: bool,
) -> torch.Tensor:
    """Soft reset ``H - V_th S`` (``v_reset=None``) or hard reset ``S V_reset + (1 - S) H``;
    ``spike`` is detached first when ``detach_reset``."""
    if detach_reset:
        spike = spike.detach()
    if v_reset is None:
        return h - spike * v_threshold
    return spike * v_reset + (1.0 - spike) * h
