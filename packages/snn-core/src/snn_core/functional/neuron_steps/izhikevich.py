r"""Izhikevich neuron step (Izhikevich, "Simple model of spiking neurons", IEEE TNN 14(6),
2003) in the dimensionless form: a QIF charge driven by the input minus an adaptation
current ``W``.

.. math::
    H[t] = V[t-1] + \frac{1}{\tau}\left(X[t] + a_0 (V[t-1] - V_{rest})(V[t-1] - V_c)
        - W[t-1]\right), \quad S[t] = \Theta(H[t] - V_{th}),

    W[t] = W[t-1] + \frac{1}{\tau_w}\left(a (H[t] - V_{rest}) - W[t-1]\right) + b\, S[t]

and ``V[t]`` is the hard or soft reset of ``H[t]``.
"""

from __future__ import annotations

import torch

from snn_core.functional.neuron_steps._loop import (
    check_sequence,
    check_state,
    default_surrogate,
    run_steps,
)
from snn_core.functional.neuron_steps.reset import SurrogateFunction, fire, voltage_reset

__all__ = [
    "izhikevich_charge",
    "adaptation_update",
    "izhikevich_step",
    "izhikevich_multi_step",
]


def izhikevich_charge(
    x: torch.Tensor,
    v: torch.Tensor,
    w: torch.Tensor,
    tau: float,
    a0: float,
    v_rest: float,
    v_c: float,
) -> torch.Tensor:
    """``H = V + (X + a0 (V - V_rest)(V - V_c) - W) / tau``."""
    return v + (x + a0 * (v - v_rest) * (v - v_c) - w) / tau


def adaptation_update(
    w: torch.Tensor, h: torch.Tensor, a: float, v_rest: float, tau_w: float
) -> torch.Tensor:
    """Subthreshold update of the adaptation current ``W + (a (H - V_rest) - W) / tau_w``
    (the spike-triggered jump ``b S`` is added after it)."""
    return w + (a * (h - v_rest) - w) / tau_w


def _izhikevich_step(x, v, w, tau, a0, v_rest, v_c, tau_w, a, b, v_threshold, v_reset, sg, dr):
    h = izhikevich_charge(x, v, w, tau, a0, v_rest, v_c)
    spike = fire(h, v_threshold, sg)
    w_next = adaptation_update(w, h, a, v_rest, tau_w) + b * spike
    return spike, voltage_reset(h, spike, v_threshold, v_reset, dr), w_next


def izhikevich_step(
    x: torch.Tensor,
    v: torch.Tensor,
    w: torch.Tensor,
    tau: float,
    a0: float,
    v_rest: float,
    v_c: float,
    tau_w: float,
    a: float,
    b: float,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Izhikevich step ``-> (S[t], V[t], W[t])``."""
    check_state("izhikevich_step", "v", v, x.shape)
    check_state("izhikevich_step", "w", w, x.shape)
    return _izhikevich_step(
        x, v, w, tau, a0, v_rest, v_c, tau_w, a, b, v_threshold, v_reset,
        surrogate_function, detach_reset,
    )  # fmt: skip


def izhikevich_multi_step(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    w: torch.Tensor,
    tau: float = 2.0,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    v_rest: float = 0.0,
    a: float = 0.1,
    b: float = 0.2,
    tau_w: float = 2.0,
    v_c: float = 0.8,
    a0: float = 1.0,
    detach_reset: bool = False,
    surrogate_function: SurrogateFunction | None = None,
    store_state_seq: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """:func:`izhikevich_step` over ``x_seq`` ``[T, N, *]``.

    Returns ``(spike_seq, v_last, w_last, v_seq, w_seq)``; the two sequences (after each
    step) only with ``store_state_seq``, else ``None``.
    """
    check_sequence("izhikevich_multi_step", x_seq)
    check_state("izhikevich_multi_step", "v", v, x_seq.shape[1:])
    check_state("izhikevich_multi_step", "w", w, x_seq.shape[1:])
    sg = default_surrogate(surrogate_function)

    def step(x, v_, w_):
        return _izhikevich_step(
            x, v_, w_, tau, a0, v_rest, v_c, tau_w, a, b, v_threshold, v_reset, sg, detach_reset
        )

    spikes, (v_last, w_last), seqs = run_steps(step, x_seq, (v, w), store_state_seq)
    if seqs is None:
        return spikes, v_last, w_last, None, None
    return spikes, v_last, w_last, seqs[0], seqs[1]
