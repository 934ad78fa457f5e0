r"""Signed ternary IF / LIF neurons: spikes in ``{-1, 0, 1}`` from thresholds ``±V_th``.

.. math::
    P[t] = \Theta(H[t] - V_{th}), \quad N[t] = \Theta(-H[t] - V_{th}), \quad S[t] = P[t] - N[t]

Hard reset by ``R = P + N``: ``V[t] = (1 - R[t]) H[t] + R[t] V_reset``; ``v_reset=None`` is the
signed soft reset ``V[t] = H[t] - V_th S[t]``. The dynamics are
:func:`snn_core.functional.ternary_if_step` and :func:`snn_core.functional.ternary_lif_step`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from snn_core.functional import lif_charge, ternary_if_step, ternary_lif_step
from snn_core.functional.neuron_steps.ternary import ternary_fire_and_reset
from snn_core.surrogate import SurrogateFunctionBase

from snn_neurons._functional_node import _FunctionalStepNode
from snn_neurons.base_node import BaseNode
from snn_neurons.integrate_and_fire import if_charge

__all__ = ["TernaryIFNode", "TernaryLIFNode"]


def _check_ternary(owner: str, v_threshold: Any, v_reset: Any) -> None:
    if isinstance(v_threshold, bool) or not isinstance(v_threshold, (int, float)):
        raise TypeError(f"{owner}: v_threshold must be a float, got {v_threshold!r}")
    if not math.isfinite(v_threshold) or v_threshold <= 0.0:
        raise ValueError(f"{owner}: v_threshold must be finite and > 0, got {v_threshold!r}")
    if v_reset is None:
        return
    if isinstance(v_reset, bool) or not isinstance(v_reset, (int, float)):
        raise TypeError(f"{owner}: v_reset must be a float or None, got {v_reset!r}")
    if not -v_threshold < v_reset < v_threshold:
        raise ValueError(
            f"{owner}: v_reset must lie strictly between -v_threshold and v_threshold "
            f"(-{v_threshold}, {v_threshold}), got {v_reset!r}"
        )


class _TernaryNode(_FunctionalStepNode, BaseNode):
    """Fire and reset of the ternary neurons; forward runs the functional step (torch)."""

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def fire(self, h: torch.Tensor) -> torch.Tensor:
        """``S = Θ(H - V_th) - Θ(-H - V_th)``."""
        return self._fire_and_reset(h)[0]

    def reset_potential(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Reset of the charged ``h``; the hard reset's event ``P + N`` is taken from ``h``
        (``s = P - N`` alone does not determine its gradient)."""
        return self._fire_and_reset(h)[1]

    def neuronal_reset(self, spike: torch.Tensor) -> None:
        self.v = self.reset_potential(self.v, spike)

    def _fire_and_reset(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return ternary_fire_and_reset(
            h, self.v_threshold, self.v_reset, self.surrogate_function, self.detach_reset
        )


class TernaryIFNode(_TernaryNode):
    r"""Signed ternary integrate-and-fire neuron.

    .. math::
        H[t] = V[t-1] + X[t], \quad S[t] = \Theta(H[t] - V_{th}) - \Theta(-H[t] - V_{th})

    Both thresholds are inclusive (``Θ(0) = 1``) and share ``surrogate_function``. Hard
    reset (to ``v_reset`` for either polarity) differentiates ``P + N``; ``v_reset=None`` is
    the signed soft reset ``V = H - V_th S``. ``detach_reset`` detaches only the reset branch.

    Args:
        v_threshold: magnitude ``V_th > 0`` of the symmetric thresholds.
        v_reset: hard-reset voltage in ``(-V_th, V_th)``; ``None``: signed soft reset.
        surrogate_function: spike function of both thresholds (default ``Sigmoid()``).
        detach_reset: detach the reset event from the autograd graph.
        step_mode: ``'s'`` or ``'m'`` (multi-step loops the single step; backend ``torch``).
        store_v_seq: in multi-step mode keep ``v_seq`` (``[T, N, *]``).
    """

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        _check_ternary(type(self).__name__, v_threshold, v_reset)
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, "torch", store_v_seq
        )

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return if_charge(x, v)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        spike, v = ternary_if_step(
            inputs[0],
            states[0],
            self.v_threshold,
            self.v_reset,
            self.surrogate_function,
            self.detach_reset,
        )
        return (spike,), (v, *states[1:])


class TernaryLIFNode(_TernaryNode):
    r"""Signed ternary leaky integrate-and-fire neuron (leak toward ``V_rest = V_reset``, 0
    for the soft reset):

    - ``decay_input=True``:  ``H[t] = V[t-1] + (X[t] - (V[t-1] - V_rest)) / tau``;
    - ``decay_input=False``: ``H[t] = V[t-1] - (V[t-1] - V_rest) / tau + X[t]``;

    then fire and reset as :class:`TernaryIFNode`. With ``tau=4/3, decay_input=False,
    v_reset=0`` and a zero initial state this is the unit-amplitude forward of Guo et al.,
    "Ternary Spike: Learning Ternary Spikes for Spiking Neural Networks", AAAI 2024,
    eqs. (7)-(8).

    Args:
        tau: membrane time constant (finite, > 1); the leak keeps ``1 - 1/tau``.
        decay_input: whether the input is also divided by ``tau``.
        Other args as :class:`TernaryIFNode`.
    """

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        owner = type(self).__name__
        _check_ternary(owner, v_threshold, v_reset)
        if isinstance(tau, bool) or not isinstance(tau, (int, float)):
            raise TypeError(f"{owner}: tau must be a float, got {tau!r}")
        if not math.isfinite(tau) or tau <= 1.0:
            raise ValueError(f"{owner}: tau must be finite and > 1, got {tau!r}")
        if not isinstance(decay_input, bool):
            raise TypeError(f"{owner}: decay_input must be a bool, got {decay_input!r}")
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, "torch", store_v_seq
        )
        self.tau = float(tau)
        self.decay_input = decay_input

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return lif_charge(x, v, self.tau, self.decay_input, self.v_reset)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        spike, v = ternary_lif_step(
            inputs[0],
            states[0],
            self.tau,
            self.decay_input,
            self.v_threshold,
            self.v_reset,
            self.surrogate_function,
            self.detach_reset,
        )
        return (spike,), (v, *states[1:])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}, decay_input={self.decay_input}"
