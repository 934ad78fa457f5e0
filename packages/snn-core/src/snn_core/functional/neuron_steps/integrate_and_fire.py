r"""Integrate-and-fire neuron steps.

.. math::
    H[t] = V[t-1] + X[t], \quad S[t] = \Theta(H[t] - V_{th}),

then the hard or soft reset of :func:`~snn_core.functional.voltage_reset`.
"""

from __future__ import annotations

import torch

from snn_core.functional.neuron_steps._loop import (
    check_precision,
    check_sequence,
    check_state,
    default_surrogate,
    run_steps,
)
from snn_core.functional.neuron_steps.reset import (
    SurrogateFunction,
    fire_and_reset,
)

__all__ = ["if_charge", "if_step", "if_multi_step"]


def if_charge(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """IF charge ``H[t] = V[t-1] + X[t]``."""
    return v + x


def _if_step(x, v, v_threshold, v_reset, surrogate_function, detach_reset):
    h = if_charge(x, v)
    return fire_and_reset(h, v_threshold, v_reset, surrogate_function, detach_reset)


def if_step(
    x: torch.Tensor,
    v: torch.Tensor,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One IF step ``(X[t], V[t-1]) -> (S[t], V[t])``; pure (no input is modified).

    Args:
        x: input ``[N, *]``; v: membrane potential of the same shape.
        v_threshold: threshold; v_reset: reset voltage, ``None`` for the soft reset.
        surrogate_function: spike function with a surrogate gradient.
        detach_reset: detach the spike in the reset path.
    """
    check_state("if_step", "v", v, x.shape)
    return _if_step(x, v, v_threshold, v_reset, surrogate_function, detach_reset)


def if_multi_step(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    surrogate_function: SurrogateFunction | None = None,
    detach_reset: bool = False,
    store_v_seq: bool = False,
    *,
    neuron_storage: torch.dtype | str | None = None,
    neuron_fwd: str = "fp32",
    neuron_bwd: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """:func:`if_step` over ``x_seq`` ``[T, N, *]`` from the initial ``v`` ``[N, *]``.

    ``surrogate_function=None`` means ``surrogate.Sigmoid()``. Returns
    ``(spike_seq, v_last, v_seq)``, ``v_seq`` (``[T, N, *]``, after each reset) only with
    ``store_v_seq``, else ``None``. ``neuron_storage`` (explicit low-precision state of the
    reference's CUDA kernels) is not supported and must stay ``None``.
    """
    check_precision("if_multi_step", neuron_storage, neuron_fwd, neuron_bwd)
    check_sequence("if_multi_step", x_seq)
    check_state("if_multi_step", "v", v, x_seq.shape[1:])
    sg = default_surrogate(surrogate_function)

    def step(x, v_):
        return _if_step(x, v_, v_threshold, v_reset, sg, detach_reset)

    spikes, (v_last,), seqs = run_steps(step, x_seq, (v,), store_v_seq)
    return spikes, v_last, (seqs[0] if seqs is not None else None)
