r"""Signed ternary IF / LIF steps: spikes in ``{-1, 0, 1}`` from two symmetric thresholds.

.. math::
    P[t] = \Theta(H[t] - V_{th}), \quad N[t] = \Theta(-H[t] - V_{th}), \quad S[t] = P[t] - N[t]

Hard reset uses the event ``R[t] = P[t] + N[t]``: ``V[t] = (1 - R[t]) H[t] + R[t] V_reset``;
``v_reset=None`` is the signed soft reset ``V[t] = H[t] - V_th S[t]``. The LIF form with
``tau=4/3, decay_input=False, v_reset=0`` is the unit-amplitude forward of Guo et al.,
"Ternary Spike: Learning Ternary Spikes for Spiking Neural Networks", AAAI 2024, eqs. (7)-(8).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from snn_core.functional.neuron_steps.lif import lif_charge
from snn_core.functional.neuron_steps.reset import voltage_reset

__all__ = ["ternary_fire_and_reset", "ternary_if_step", "ternary_lif_step"]

SpikeFunction = Callable[[torch.Tensor], torch.Tensor]


def ternary_fire_and_reset(
    h: torch.Tensor,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SpikeFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fire at ``+V_th`` and ``-V_th`` from the charged ``h`` and reset: ``(S[t], V[t])``.

    Both thresholds use ``surrogate_function`` (``Θ(0) = 1``: inclusive). The hard reset
    differentiates ``P + N``; ``detach_reset`` detaches only the reset branch.
    """
    positive = surrogate_function(h - v_threshold)
    negative = surrogate_function(-h - v_threshold)
    spike = positive - negative
    event = spike if v_reset is None else positive + negative
    return spike, voltage_reset(h, event, v_threshold, v_reset, detach_reset)


def ternary_if_step(
    x: torch.Tensor,
    v: torch.Tensor,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SpikeFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One step of the ternary IF neuron: ``H[t] = V[t-1] + X[t]``, then
    :func:`ternary_fire_and_reset`. Returns ``(S[t], V[t])`` with ``S`` in ``{-1, 0, 1}``."""
    return ternary_fire_and_reset(v + x, v_threshold, v_reset, surrogate_function, detach_reset)


def ternary_lif_step(
    x: torch.Tensor,
    v: torch.Tensor,
    tau: float,
    decay_input: bool,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SpikeFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One step of the ternary LIF neuron, leaking toward ``V_rest = V_reset`` (0 if None):

    - ``decay_input=True``:  ``H[t] = V[t-1] + (X[t] - (V[t-1] - V_rest)) / tau``;
    - ``decay_input=False``: ``H[t] = V[t-1] - (V[t-1] - V_rest) / tau + X[t]``;

    then :func:`ternary_fire_and_reset`. Returns ``(S[t], V[t])``.
    """
    h = lif_charge(x, v, tau, decay_input, v_reset)
    return ternary_fire_and_reset(h, v_threshold, v_reset, surrogate_function, detach_reset)
