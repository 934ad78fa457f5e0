r"""Activation-aware IF steps (ANN-to-SNN conversion with activation-aware redistribution):
an IF neuron with channel-wise threshold ``V_th`` and membrane offset ``O``.

.. math::
    H[t] = V[t-1] + X[t], \quad S[t] = \Theta(H[t] + O - V_{th}),

soft reset ``V[t] = H[t] - S[t] V_th`` (``v_reset=None``) or hard reset
``V[t] = S[t] V_reset + (1 - S[t]) H[t]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from snn_core.functional.neuron_steps.reset import voltage_reset

__all__ = ["activation_aware_if_step", "activation_aware_if_multi_step"]


def activation_aware_if_step(
    x: torch.Tensor,
    v: torch.Tensor,
    v_threshold: torch.Tensor,
    v_offset: torch.Tensor,
    v_reset: float | None,
    surrogate_function: Callable[[torch.Tensor], torch.Tensor],
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step; ``v_threshold`` and ``v_offset`` already broadcast to ``x``.
    Returns ``(S[t], V[t])``."""
    h = v + x
    spike = surrogate_function(h + v_offset - v_threshold)
    return spike, voltage_reset(h, spike, v_threshold, v_reset, detach_reset)


def _per_element(
    param: torch.Tensor, name: str, v: torch.Tensor, channel_size: int, inner_size: int
) -> torch.Tensor:
    if param.numel() == 1:
        return param.reshape(())
    if param.numel() != channel_size:
        raise ValueError(
            f"activation_aware_if_multi_step: {name} must have 1 or channel_size={channel_size} "
            f"elements, got {param.numel()}"
        )
    index = torch.arange(v.numel(), device=v.device) // inner_size % channel_size
    return param.reshape(-1)[index].reshape(v.shape)


def activation_aware_if_multi_step(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    v_threshold: torch.Tensor,
    v_offset: torch.Tensor,
    channel_size: int,
    inner_size: int,
    v_reset: float | None = 0.0,
    store_v_seq: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """All T steps with Heaviside spikes (the inference transition, no surrogate).

    ``v_threshold`` / ``v_offset`` hold 1 or ``channel_size`` values; element ``i`` of a
    step (in row-major order) uses channel ``(i // inner_size) % channel_size``. States are
    computed in at least float32; spikes have ``x_seq``'s dtype. Returns
    ``(S_seq, V[T-1], V_seq or None)``.
    """
    if x_seq.dim() < 2 or x_seq.shape[0] == 0:
        raise ValueError(
            "activation_aware_if_multi_step: x_seq must be a non-empty sequence [T, N, *], "
            f"got shape {tuple(x_seq.shape)}"
        )
    if v.shape != x_seq.shape[1:]:
        raise ValueError(
            f"activation_aware_if_multi_step: v has shape {tuple(v.shape)} but each step of "
            f"x_seq has shape {tuple(x_seq.shape[1:])}"
        )
    for name, size in (("channel_size", channel_size), ("inner_size", inner_size)):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(
                f"activation_aware_if_multi_step: {name} must be a positive int, got {size!r}"
            )
    if v.numel() % (channel_size * inner_size) != 0:
        raise ValueError(
            f"activation_aware_if_multi_step: channel_size * inner_size = "
            f"{channel_size * inner_size} must divide the state size {v.numel()}"
        )
    dtype = torch.promote_types(torch.promote_types(x_seq.dtype, v.dtype), torch.float32)
    v = v.to(dtype)
    threshold = _per_element(v_threshold.to(v), "v_threshold", v, channel_size, inner_size)
    offset = _per_element(v_offset.to(v), "v_offset", v, channel_size, inner_size)
    spikes, voltages = [], []
    for x in x_seq:
        h = v + x.to(dtype)
        spike = (h + offset >= threshold).to(dtype)
        v = voltage_reset(h, spike, threshold, v_reset, False)
        spikes.append(spike.to(x_seq.dtype))
        if store_v_seq:
            voltages.append(v)
    return torch.stack(spikes), v, (torch.stack(voltages) if store_v_seq else None)
