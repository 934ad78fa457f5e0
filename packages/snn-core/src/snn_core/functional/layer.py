r"""Single-step state transitions of stateful layers, as pure functions.

Each function takes the state explicitly and returns the next state; nothing is mutated, so
a stateful layer module is a thin wrapper that keeps the state and calls the step. None of
them has a separate multi-step form: loop over time and carry the state.
"""

from __future__ import annotations

import torch

__all__ = ["delay_step", "synapse_filter_step", "neunorm_step"]


def delay_step(
    x: torch.Tensor,
    queue: tuple[torch.Tensor, ...],
    delay_steps: int,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    r"""One step of a pure delay line :math:`y[t] = x[t - d]` (zeros for :math:`t < d`).

    ``queue`` holds the inputs not yet emitted, oldest first (start with ``()``). The step
    appends ``x``; if more than ``delay_steps`` items are then waiting, the oldest is emitted
    (the output *is* that tensor, and with ``delay_steps=0`` it is ``x`` itself), otherwise
    ``zeros_like(x)`` is emitted. The input tuple is never changed.

    Args:
        x: input at the current step.
        queue: waiting inputs, oldest first.
        delay_steps: the delay :math:`d`, a non-negative ``int``.

    Returns:
        ``(y, queue_next)``.
    """
    if isinstance(delay_steps, bool) or not isinstance(delay_steps, int) or delay_steps < 0:
        raise ValueError(f"delay_steps must be a non-negative integer, got {delay_steps!r}")
    if not isinstance(queue, tuple):
        raise TypeError(
            f"queue must be a tuple of tensors (oldest first), got {type(queue).__name__}"
        )
    waiting = (*queue, x)
    if len(waiting) > delay_steps:
        return waiting[0], waiting[1:]
    return torch.zeros_like(x), waiting


def synapse_filter_step(
    x: torch.Tensor,
    out_i: torch.Tensor,
    reciprocal_tau: float | torch.Tensor,
) -> torch.Tensor:
    r"""One step of the exponential synaptic current filter (``SynapseFilter``).

    .. math::
        I[t] = I[t-1] - (1 - S[t]) \frac{I[t-1]}{\tau} + S[t]

    The current decays with time constant :math:`\tau` and is raised by 1 by every input
    spike; for a spike the decay of that step is skipped.

    Args:
        x: input spikes (or current) :math:`S[t]`.
        out_i: the current :math:`I[t-1]`, a tensor broadcastable with ``x``.
        reciprocal_tau: :math:`1/\tau`; a learnable filter passes ``w.sigmoid()``.

    Returns:
        :math:`I[t]` (the inputs are not modified).
    """
    return out_i - (1.0 - x) * out_i * reciprocal_tau + x


def neunorm_step(
    in_spikes: torch.Tensor,
    state: torch.Tensor,
    weight: torch.Tensor,
    momentum: float,
    input_scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One step of neuron normalization (NeuNorm).

    With input spikes :math:`S[t]` of shape ``[N, C, H, W]``:

    .. math::
        X[t] = k_0 X[t-1] + k_1 \sum_c S_c[t], \qquad O[t] = S[t] - W \odot X[t]

    Wu et al., "Direct Training for Spiking Neural Networks: Faster, Larger, Better",
    AAAI 2019.

    Args:
        in_spikes: :math:`S[t]`, ``[N, C, H, W]``.
        state: :math:`X[t-1]`, ``[N, 1, H, W]`` (a tensor; start from zeros).
        weight: :math:`W`, broadcastable to ``in_spikes``.
        momentum: :math:`k_0`.
        input_scale: :math:`k_1`.

    Returns:
        ``(output, state_next)`` = :math:`(O[t], X[t])`.
    """
    if in_spikes.dim() < 2:
        raise ValueError(
            f"in_spikes must have a channel dimension ([N, C, *]), got shape "
            f"{tuple(in_spikes.shape)}"
        )
    state_next = momentum * state + input_scale * in_spikes.sum(dim=1, keepdim=True)
    return in_spikes - weight * state_next, state_next
