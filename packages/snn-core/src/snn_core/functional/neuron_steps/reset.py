r"""Fire and reset, shared by every spiking neuron step.

.. math::
    S[t] = \Theta(H[t] - V_{th}), \qquad
    V[t] = \begin{cases}
        S[t] V_{reset} + (1 - S[t]) H[t] & \text{hard reset} \\
        H[t] - S[t] V_{th} & \text{soft reset } (V_{reset} = \text{None})
    \end{cases}
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["fire", "voltage_reset", "fire_and_reset"]

SurrogateFunction = Callable[[torch.Tensor], torch.Tensor]


def fire(
    h: torch.Tensor, v_threshold: float | torch.Tensor, surrogate_function: SurrogateFunction
) -> torch.Tensor:
    """``S[t] = Θ(H[t] - V_th)`` through ``surrogate_function`` (its surrogate gradient)."""
    return surrogate_function(h - v_threshold)


def voltage_reset(
    v: torch.Tensor,
    spike: torch.Tensor,
    v_threshold: float | torch.Tensor,
    v_reset: float | None,
    detach_reset: bool,
) -> torch.Tensor:
    """Reset the charged potential ``v`` after ``spike``.

    Hard reset ``S V_reset + (1 - S) V``, or soft reset ``V - S V_th`` when ``v_reset`` is
    ``None``. With ``detach_reset`` the spike of the reset path is detached from autograd.
    """
    if detach_reset:
        spike = spike.detach()
    if v_reset is None:
        return v - spike * v_threshold
    return v * (1.0 - spike) + v_reset * spike


def fire_and_reset(
    h: torch.Tensor,
    v_threshold: float | torch.Tensor,
    v_reset: float | None,
    surrogate_function: SurrogateFunction,
    detach_reset: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The common end of a step: ``(S[t], V[t])`` from the charged potential ``H[t]``
    (:func:`fire`, then :func:`voltage_reset`)."""
    spike = fire(h, v_threshold, surrogate_function)
    return spike, voltage_reset(h, spike, v_threshold, v_reset, detach_reset)
