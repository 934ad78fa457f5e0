"""Leaky integrate-and-fire neurons.

``decay_input=True``:  ``H[t] = V[t-1] + (X[t] - (V[t-1] - V_reset)) / tau``
``decay_input=False``: ``H[t] = V[t-1] - (V[t-1] - V_reset) / tau + X[t]``
(``V_reset`` is taken as 0 in the leak when ``v_reset=None``, the soft reset.)
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core import functional as F
from snn_core.surrogate import SurrogateFunctionBase

from snn_neurons.base_node import BaseNode, NonSpikingBaseNode, SimpleBaseNode

__all__ = ["lif_charge", "SimpleLIFNode", "LIFNode", "NonSpikingLIFNode"]

#: The LIF charge written with the decay ``1/tau`` (a number, or a tensor as PLIF's
#: ``sigmoid(w)``): ``lif_charge(x, v, decay, decay_input, v_reset)``. It is
#: :func:`snn_core.functional.leaky_charge`; the reference's ``functional.lif_charge`` takes
#: ``tau`` instead (:func:`snn_core.functional.lif_charge`, which the LIF neurons use).
lif_charge = F.leaky_charge


def _check_tau(name: str, tau: Any) -> float:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 1.0:
        raise ValueError(f"{name} must be a number > 1, got {tau!r}")
    return float(tau)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


class SimpleLIFNode(SimpleBaseNode):
    """Leaky integrate-and-fire neuron, minimal version (no multi-step backends):

    - ``decay_input=True``:  ``H[t] = V[t-1] + (X[t] - (V[t-1] - V_reset)) / tau``;
    - ``decay_input=False``: ``H[t] = V[t-1] - (V[t-1] - V_reset) / tau + X[t]``;

    ``V_reset`` is 0 in the leak when ``v_reset=None`` (soft reset). Fire and reset as
    :class:`~snn_neurons.SimpleBaseNode`.

    Args:
        tau: membrane time constant (> 1).
        decay_input: whether the input is also divided by ``tau``.
        Other args as :class:`~snn_neurons.SimpleBaseNode`.
    """

    def __init__(
        self,
        tau: float,
        decay_input: bool,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
    ) -> None:
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode)
        self.tau = _check_tau("tau", tau)
        self.decay_input = _check_bool("decay_input", decay_input)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.lif_charge(x, v, self.tau, self.decay_input, self.v_reset)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}, decay_input={self.decay_input}"


class LIFNode(BaseNode):
    """Leaky integrate-and-fire neuron:

    - ``decay_input=True``:  ``H[t] = V[t-1] + (X[t] - (V[t-1] - V_reset)) / tau``;
    - ``decay_input=False``: ``H[t] = V[t-1] - (V[t-1] - V_reset) / tau + X[t]``;

    ``V_reset`` is 0 in the leak when ``v_reset=None`` (soft reset). Fire and reset as
    :class:`~snn_neurons.BaseNode`.

    Args:
        tau: membrane time constant (> 1).
        decay_input: whether the input is also divided by ``tau``.
        Other args as :class:`~snn_neurons.BaseNode`.
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
        backend: str = "torch",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )
        self.tau = _check_tau("tau", tau)
        self.decay_input = _check_bool("decay_input", decay_input)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.lif_charge(x, v, self.tau, self.decay_input, self.v_reset)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}, decay_input={self.decay_input}"


class NonSpikingLIFNode(NonSpikingBaseNode):
    """Non-spiking LIF readout: ``V[t] = V[t-1] + (X[t] - V[t-1]) / tau``."""

    def __init__(self, tau: float = 2.0, decode: str | None = None) -> None:
        super().__init__(decode)
        self.tau = _check_tau("tau", tau)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.lif_charge(x, v, self.tau, True, None)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, {super().extra_repr()}"
