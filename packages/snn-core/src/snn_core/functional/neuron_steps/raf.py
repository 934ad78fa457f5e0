r"""Resonate-and-fire step (Izhikevich, "Resonate-and-fire neurons", Neural Networks 14
(2001) 883-894): a damped 2-D linear oscillator ``z = u + i v`` that rotates by
``θ = ω dt`` and decays by ``α = exp(b dt)`` each step.

.. math::
    u[t] = \alpha (u[t-1]\cos\theta - v[t-1]\sin\theta) + x[t], \quad
    v[t] = \alpha (u[t-1]\sin\theta + v[t-1]\cos\theta)

The spike ``S = Θ(v[t] - V_th)`` resets only ``v`` (hard to ``V_reset`` or soft by ``V_th``);
``u`` is never reset, which gives post-inhibitory rebound.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from snn_core.functional.neuron_steps.reset import voltage_reset

__all__ = ["raf_step"]


def raf_step(
    x: torch.Tensor,
    u: torch.Tensor,
    v: torch.Tensor,
    b: float,
    omega: float,
    dt: float,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: Callable[[torch.Tensor], torch.Tensor],
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One RAF step; returns ``(S[t], u[t], v[t])`` (``v`` after the reset)."""
    alpha = math.exp(b * dt)
    cos_t, sin_t = math.cos(omega * dt), math.sin(omega * dt)
    u_next = alpha * (u * cos_t - v * sin_t) + x
    h = alpha * (u * sin_t + v * cos_t)
    spike = surrogate_function(h - v_threshold)
    return spike, u_next, voltage_reset(h, spike, v_threshold, v_reset, detach_reset)
