r"""Quadratic (QIF) and exponential (EIF) integrate-and-fire steps, one Euler step per
time-step (Gerstner, Kistler, Naud & Paninski, *Neuronal Dynamics*, 2014, ch. 5).

.. math::
    \text{QIF:}\quad H[t] = V[t-1] + \frac{1}{\tau}\left(X[t] + a_0 (V[t-1] - V_{rest})
        (V[t-1] - V_c)\right)

    \text{EIF:}\quad H[t] = V[t-1] + \frac{1}{\tau}\left(X[t] + V_{rest} - V[t-1]
        + \Delta_T \exp\left(\frac{V[t-1] - \theta_{rh}}{\Delta_T}\right)\right)

then fire and the hard or soft reset.
"""

from __future__ import annotations

import torch

from snn_core.functional.neuron_steps._loop import (
    check_sequence,
    check_state,
    default_surrogate,
    run_steps,
)
from snn_core.functional.neuron_steps.reset import (
    SurrogateFunction,
    fire_and_reset,
)

__all__ = ["qif_charge", "eif_charge", "qif_step", "qif_multi_step", "eif_step", "eif_multi_step"]


def qif_charge(
    x: torch.Tensor, v: torch.Tensor, tau: float, v_rest: float, v_c: float, a0: float
) -> torch.Tensor:
    """QIF charge ``V + (X + a0 (V - V_rest)(V - V_c)) / tau``."""
    return v + (x + a0 * (v - v_rest) * (v - v_c)) / tau


def eif_charge(
    x: torch.Tensor, v: torch.Tensor, tau: float, v_rest: float, theta_rh: float, delta_T: float
) -> torch.Tensor:
    """EIF charge ``V + (X + V_rest - V + Delta_T exp((V - theta_rh) / Delta_T)) / tau``."""
    return v + (x + v_rest - v + delta_T * torch.exp((v - theta_rh) / delta_T)) / tau


def qif_step(
    x: torch.Tensor,
    v: torch.Tensor,
    tau: float,
    a0: float,
    v_rest: float,
    v_c: float,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One QIF step ``-> (S[t], V[t])`` (:func:`qif_charge`, fire, reset)."""
    check_state("qif_step", "v", v, x.shape)
    h = qif_charge(x, v, tau, v_rest, v_c, a0)
    return fire_and_reset(h, v_threshold, v_reset, surrogate_function, detach_reset)


def qif_multi_step(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    tau: float = 2.0,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    v_rest: float = 0.0,
    v_c: float = 0.8,
    a0: float = 1.0,
    detach_reset: bool = False,
    surrogate_function: SurrogateFunction | None = None,
    store_v_seq: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """:func:`qif_step` over ``x_seq`` ``[T, N, *]``; returns ``(spike_seq, v_last, v_seq or
    None)`` (``surrogate_function=None``: Sigmoid)."""
    check_sequence("qif_multi_step", x_seq)
    check_state("qif_multi_step", "v", v, x_seq.shape[1:])
    sg = default_surrogate(surrogate_function)

    def step(x, v_):
        h = qif_charge(x, v_, tau, v_rest, v_c, a0)
        return fire_and_reset(h, v_threshold, v_reset, sg, detach_reset)

    spikes, (v_last,), seqs = run_steps(step, x_seq, (v,), store_v_seq)
    return spikes, v_last, (seqs[0] if seqs is not None else None)


def eif_step(
    x: torch.Tensor,
    v: torch.Tensor,
    tau: float,
    delta_t: float,
    theta_rh: float,
    v_rest: float,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One EIF step ``-> (S[t], V[t])`` (:func:`eif_charge` with ``Delta_T = delta_t``)."""
    check_state("eif_step", "v", v, x.shape)
    h = eif_charge(x, v, tau, v_rest, theta_rh, delta_t)
    return fire_and_reset(h, v_threshold, v_reset, surrogate_function, detach_reset)


def eif_multi_step(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    tau: float = 2.0,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    v_rest: float = 0.0,
    theta_rh: float = 1.0,
    delta_t: float = 1.0,
    detach_reset: bool = False,
    surrogate_function: SurrogateFunction | None = None,
    store_v_seq: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """:func:`eif_step` over ``x_seq`` ``[T, N, *]``; returns ``(spike_seq, v_last, v_seq or
    None)`` (``surrogate_function=None``: Sigmoid)."""
    check_sequence("eif_multi_step", x_seq)
    check_state("eif_multi_step", "v", v, x_seq.shape[1:])
    sg = default_surrogate(surrogate_function)

    def step(x, v_):
        h = eif_charge(x, v_, tau, v_rest, theta_rh, delta_t)
        return fire_and_reset(h, v_threshold, v_reset, sg, detach_reset)

    spikes, (v_last,), seqs = run_steps(step, x_seq, (v,), store_v_seq)
    return spikes, v_last, (seqs[0] if seqs is not None else None)
