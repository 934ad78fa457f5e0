r"""Resonate-and-fire neuron (Izhikevich, "Resonate-and-fire neurons", Neural Networks 14
(2001) 883-894): a damped subthreshold oscillator instead of an integrator.

.. math::
    u[t] = \alpha (u[t-1]\cos\theta - v[t-1]\sin\theta) + x[t], \quad
    v[t] = \alpha (u[t-1]\sin\theta + v[t-1]\cos\theta),

with ``α = exp(b dt)`` and ``θ = ω dt``; ``S = Θ(v - V_th)`` resets ``v`` only. The dynamics
are :func:`snn_core.functional.raf_step`.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.functional import raf_step
from snn_core.surrogate import SurrogateFunctionBase

from snn_neurons._functional_node import _FunctionalStepNode
from snn_neurons._stepping import _check_number
from snn_neurons.base_node import BaseNode

__all__ = ["RAFNode"]


class RAFNode(_FunctionalStepNode, BaseNode):
    r"""Resonate-and-fire neuron: the complex state ``z = u + i v`` rotates by ``θ = ω dt``
    and decays by ``α = exp(b dt)`` per step.

    .. math::
        u[t] = \alpha (u[t-1]\cos\theta - v[t-1]\sin\theta) + x[t], \quad
        v[t] = \alpha (u[t-1]\sin\theta + v[t-1]\cos\theta)

    The input drives the real part ``u``; ``S[t] = Θ(v[t] - V_th)`` fires from the imaginary
    part ``v``, which alone is reset (hard or soft as :class:`~snn_neurons.BaseNode`). ``u``
    is never reset, which gives post-inhibitory rebound. States: ``v`` and ``u``.

    Args:
        b: decay rate (< 0).
        omega: intrinsic angular frequency (> 0).
        dt: integration step (> 0).
        v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq: as
            :class:`~snn_neurons.BaseNode` (multi-step loops the single step; ``torch``).
    """

    def __init__(
        self,
        b: float = -0.2,
        omega: float = 1.0,
        dt: float = 1.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        owner = type(self).__name__
        b = _check_number(owner, "b", b)
        if not b < 0.0:
            raise ValueError(f"{owner}: b must be < 0 (a decay rate), got {b!r}")
        omega = _check_number(owner, "omega", omega, above=0.0)
        dt = _check_number(owner, "dt", dt, above=0.0)
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, "torch", store_v_seq
        )
        self.register_memory("u", 0.0)
        self.b, self.omega, self.dt = b, omega, dt

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "RAFNode's charge also reads and updates u; call forward or "
            "snn_core.functional.raf_step(x, u, v, ...)"
        )

    def locate_non_finite_step(self, x_seq: torch.Tensor, v_init: Any) -> int | None:
        """Anomaly mode cannot replay this neuron from ``v`` alone (it also needs ``u``)."""
        return None

    def loop_multi_step(self, x_seq: Any, v: Any, need_v_seq: bool) -> Any:
        raise NotImplementedError("RAFNode also keeps the state u; call forward instead")

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        v, u = states
        spike, u, v = raf_step(
            inputs[0],
            u,
            v,
            self.b,
            self.omega,
            self.dt,
            self.v_threshold,
            self.v_reset,
            self.surrogate_function,
            self.detach_reset,
        )
        return (spike,), (v, u)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, b={self.b}, omega={self.omega}, dt={self.dt}"
