r"""Single-step recurrences of the Parallel Spiking Neurons (Fang et al., "Parallel Spiking
Neurons with High Efficiency and Ability to Learn Long-term Dependencies", NeurIPS 2023).

The state is the queue of the last ``k`` inputs (each flattened), oldest first:

.. math::
    H[t] = \sum_{i} W_i X[t - n + 1 + i] + b, \quad S[t] = \Theta(H[t])

with the band of the masked weight at row ``t`` (MaskedPSN) or the last ``n`` of the ``k``
shared weights (SlidingPSN); ``b = -V_th`` is the learnable bias.
"""

from __future__ import annotations

import torch

from snn_core.functional.neuron_steps.reset import SurrogateFunction

__all__ = ["sliding_psn_step", "masked_psn_step"]


def _enqueue(queue: tuple[torch.Tensor, ...], x: torch.Tensor, k: int, owner: str):
    if not isinstance(queue, tuple):
        queue = tuple(queue)
    flat = x.flatten()
    if queue and queue[-1].shape != flat.shape:
        raise ValueError(
            f"{owner}: the queue holds inputs of {queue[-1].numel()} elements but x has "
            f"{flat.numel()} (shape {tuple(x.shape)}); start a new queue for another shape"
        )
    queue = (*queue, flat)
    return queue[1:] if len(queue) > k else queue


def _weighted_sum(w: torch.Tensor, queue: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return (w.unsqueeze(-1) * torch.stack(queue)).sum(0)


def sliding_psn_step(
    x: torch.Tensor,
    queue: tuple[torch.Tensor, ...],
    weight: torch.Tensor,
    bias: torch.Tensor,
    surrogate_function: SurrogateFunction,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """One SlidingPSN step: push ``x.flatten()`` (keep the last ``k = weight.numel()``) and
    fire ``Θ(sum_i W[k-n+i] X_i + bias)``. Returns ``(S[t], queue_next)``; the input queue
    is not modified."""
    k = weight.numel()
    queue = _enqueue(queue, x, k, "sliding_psn_step")
    h = _weighted_sum(weight[k - len(queue) :], queue)
    return surrogate_function(h + bias).view(x.shape), queue


def masked_psn_step(
    x: torch.Tensor,
    time_step: int,
    queue: tuple[torch.Tensor, ...],
    masked_weight: torch.Tensor,
    bias: torch.Tensor,
    k: int,
    surrogate_function: SurrogateFunction,
) -> tuple[torch.Tensor, int, tuple[torch.Tensor, ...]]:
    """One MaskedPSN step at ``t = time_step`` with the full ``[T, T]`` ``masked_weight``:
    push ``x.flatten()`` (keep the last ``k``) and fire ``Θ(sum_i M[t, t-n+1+i] X_i +
    bias[t])``. Returns ``(S[t], t + 1, queue_next)``."""
    T = masked_weight.shape[0]
    if isinstance(time_step, bool) or not isinstance(time_step, int) or not 0 <= time_step < T:
        raise ValueError(
            f"masked_psn_step: time_step must be an int in [0, {T}) for a masked weight of "
            f"shape {tuple(masked_weight.shape)}, got {time_step!r}"
        )
    queue = _enqueue(queue, x, k, "masked_psn_step")
    n = len(queue)
    h = _weighted_sum(masked_weight[time_step, time_step + 1 - n : time_step + 1], queue)
    return surrogate_function(h + bias[time_step]).view(x.shape), time_step + 1, queue
