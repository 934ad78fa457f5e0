"""Nonlinear integrate-and-fire neurons: quadratic (QIF) and exponential (EIF).

Both follow Gerstner, Kistler, Naud & Paninski, *Neuronal Dynamics* (2014), ch. 5
("Nonlinear integrate-and-fire models"), discretised with one Euler step per time-step:

- QIF (Latham et al., 2000):
  ``H[t] = V[t-1] + (X[t] + a0 (V[t-1] - V_rest)(V[t-1] - V_c)) / tau``
- EIF (Fourcaud-Trocmé et al., 2003, J. Neurosci. 23(37)):
  ``H[t] = V[t-1] + (X[t] + V_rest - V[t-1] + Delta_T exp((V[t-1] - theta_rh) / Delta_T)) / tau``

Fire and reset are those of :class:`~snn_neurons.BaseNode`; the charge is elementwise, so
both neurons get every multi-step backend of the core neurons.
"""

from __future__ import annotations

import torch
from snn_core.functional import eif_charge, qif_charge
from snn_core.surrogate import SurrogateFunctionBase

from snn_neurons._stepping import _check_number
from snn_neurons.base_node import BaseNode
from snn_neurons.lif import _check_tau

__all__ = ["qif_charge", "eif_charge", "QIFNode", "EIFNode"]


def _check_reset_order(owner: str, v_threshold: float, v_rest: float, v_reset: float | None):
    if v_reset is None:
        return
    if not v_threshold > v_reset:
        raise ValueError(
            f"{owner}: v_threshold must be > v_reset, got v_threshold={v_threshold!r}, "
            f"v_reset={v_reset!r}"
        )
    if not v_rest >= v_reset:
        raise ValueError(
            f"{owner}: v_rest must be >= v_reset, got v_rest={v_rest!r}, v_reset={v_reset!r}"
        )


class QIFNode(BaseNode):
    """Quadratic integrate-and-fire neuron.

    ``H[t] = V[t-1] + (X[t] + a0 (V[t-1] - V_rest)(V[t-1] - V_c)) / tau``. Under a constant
    input ``X`` below the rheobase ``a0 (V_c - V_rest)^2 / 4`` the potential settles at the
    lower root of ``X + a0 (V - V_rest)(V - V_c) = 0``; the upper root is the firing
    threshold of the continuous model.

    Args:
        tau: membrane time constant (> 1).
        v_c: critical voltage ``V_c`` (> ``V_rest`` for the usual shape).
        a0: quadratic coefficient (> 0).
        v_threshold: spike cut-off (the numerical threshold of the fire step).
        v_rest: resting potential.
        v_reset: reset voltage (``None``: soft reset); default ``-0.1`` as in the reference.
        Other args as :class:`~snn_neurons.BaseNode`.
    """

    def __init__(
        self,
        tau: float = 2.0,
        v_c: float = 0.8,
        a0: float = 1.0,
        v_threshold: float = 1.0,
        v_rest: float = 0.0,
        v_reset: float | None = -0.1,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )
        owner = type(self).__name__
        self.tau = _check_tau("tau", tau)
        self.v_c = _check_number(owner, "v_c", v_c)
        self.a0 = _check_number(owner, "a0", a0, above=0.0)
        self.v_rest = _check_number(owner, "v_rest", v_rest)
        _check_reset_order(owner, self.v_threshold, self.v_rest, self.v_reset)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return qif_charge(x, v, self.tau, self.v_rest, self.v_c, self.a0)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, tau={self.tau}, v_c={self.v_c}, a0={self.a0}, "
            f"v_rest={self.v_rest}"
        )


class EIFNode(BaseNode):
    """Exponential integrate-and-fire neuron.

    ``H[t] = V[t-1] + (X[t] - (V[t-1] - V_rest) + Delta_T exp((V[t-1] - theta_rh) / Delta_T))
    / tau``; as ``Delta_T -> 0`` it becomes the LIF neuron. The rheobase (the smallest
    constant input that makes the neuron fire) is ``theta_rh - V_rest - Delta_T``.

    Args:
        tau: membrane time constant (> 1).
        delta_T: sharpness ``Delta_T`` (> 0).
        theta_rh: rheobase threshold ``theta_rh``.
        v_threshold: spike cut-off (the numerical threshold of the fire step).
        v_rest: resting potential.
        v_reset: reset voltage (``None``: soft reset); default ``-0.1`` as in the reference.
        Other args as :class:`~snn_neurons.BaseNode`.
    """

    def __init__(
        self,
        tau: float = 2.0,
        delta_T: float = 1.0,
        theta_rh: float = 0.8,
        v_threshold: float = 1.0,
        v_rest: float = 0.0,
        v_reset: float | None = -0.1,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )
        owner = type(self).__name__
        self.tau = _check_tau("tau", tau)
        self.delta_T = _check_number(owner, "delta_T", delta_T, above=0.0)
        self.theta_rh = _check_number(owner, "theta_rh", theta_rh)
        self.v_rest = _check_number(owner, "v_rest", v_rest)
        _check_reset_order(owner, self.v_threshold, self.v_rest, self.v_reset)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return eif_charge(x, v, self.tau, self.v_rest, self.theta_rh, self.delta_T)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, tau={self.tau}, delta_T={self.delta_T}, "
            f"theta_rh={self.theta_rh}, v_rest={self.v_rest}"
        )
