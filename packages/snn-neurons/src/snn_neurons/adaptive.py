"""Neurons with an adaptation current ``W`` (spike-frequency adaptation).

The adaptation follows the adaptive exponential / Izhikevich family (Brette & Gerstner,
2005, J. Neurophysiol. 94; Izhikevich, 2003, IEEE TNN 14(6); Gerstner et al., *Neuronal
Dynamics*, ch. 6), one Euler step per time-step:

- ``H[t] = f(V[t-1], X[t] - W[t-1])`` — the neuron's own charge, with the adaptation
  current subtracted from the input;
- ``W'[t] = W[t-1] + (a (H[t] - V_rest) - W[t-1]) / tau_w`` — subthreshold coupling;
- ``S[t] = Θ(H[t] - V_th)``, ``V[t]`` reset as in :class:`~snn_neurons.BaseNode`;
- ``W[t] = W'[t] + b S[t]`` — spike-triggered jump.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.functional import adaptation_update, izhikevich_charge, izhikevich_step
from snn_core.surrogate import SurrogateFunctionBase

from snn_neurons._stepping import _check_number, _loop_single_steps
from snn_neurons.base_node import BaseNode
from snn_neurons.lif import _check_tau
from snn_neurons.nonlinear_if import qif_charge

__all__ = ["AdaptBaseNode", "IzhikevichNode"]


class AdaptBaseNode(BaseNode):
    """Base class of neurons with an adaptation current ``W``, one Euler step per time-step:

    - ``H[t] = f(V[t-1], X[t] - W[t-1])`` (``f`` is the subclass's :meth:`charge`);
    - ``W'[t] = W[t-1] + (a (H[t] - V_rest) - W[t-1]) / tau_w``;
    - ``S[t] = Θ(H[t] - V_th)``, ``V[t]`` reset as in :class:`~snn_neurons.BaseNode`;
    - ``W[t] = W'[t] + b S[t]``.

    Subclasses define :meth:`charge` ``(x, v) -> h`` of the non-adapting neuron; this class
    feeds it ``X[t] - W[t-1]`` and keeps the state ``w``.

    Args:
        v_threshold: threshold voltage.
        v_reset: reset voltage (``None``: soft reset).
        v_rest: resting potential ``V_rest`` of the subthreshold coupling.
        w_rest: initial (reset) value of the adaptation current.
        tau_w: time constant of the adaptation current (> 0).
        a: subthreshold coupling.
        b: spike-triggered jump of the adaptation current.
        Other args as :class:`~snn_neurons.BaseNode`.
    """

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        v_rest: float = 0.0,
        w_rest: float = 0.0,
        tau_w: float = 2.0,
        a: float = 0.0,
        b: float = 0.0,
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
        self.v_rest = _check_number(owner, "v_rest", v_rest)
        self.w_rest = _check_number(owner, "w_rest", w_rest)
        self.tau_w = _check_number(owner, "tau_w", tau_w, above=0.0)
        self.a = _check_number(owner, "a", a)
        self.b = _check_number(owner, "b", b)
        self.register_memory("w", self.w_rest)

    _loops_single_steps = True

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``((X,), (V, W)) -> ((S,), (V', W'))``: the stateful step on explicit states."""
        x, (v, w) = inputs[0], states
        h = self.charge(x - w, v)
        w = self.adaptation(w, h)
        spike = self.fire(h)
        v = self.reset_potential(h, spike.detach() if self.detach_reset else spike)
        return (spike,), (v, w + self.b * spike)

    def adaptation(self, w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Subthreshold update ``W + (a (H - V_rest) - W) / tau_w``
        (:func:`snn_core.functional.adaptation_update`)."""
        return adaptation_update(w, h, self.a, self.v_rest, self.tau_w)

    # ---------------------------------------------------------------- reference API
    def neuronal_charge(self, x: torch.Tensor) -> None:
        """Charge in place with the adaptation current subtracted:
        ``self.v <- H[t] = f(V[t-1], X[t] - W[t-1])``."""
        self.v = self.charge(x - self.w, self.v)

    def neuronal_adaptation(self) -> None:
        """Subthreshold update in place: ``self.w <- W[t-1] + (a (H[t] - V_rest) - W[t-1]) /
        tau_w``."""
        self.w = self.adaptation(self.w, self.v)

    def neuronal_reset(self, spike: torch.Tensor) -> None:
        """Reset ``self.v`` as :class:`~snn_neurons.BaseNode`, then add the spike-triggered
        jump ``W[t] = W'[t] + b S[t]``."""
        super().neuronal_reset(spike)
        self.w = self.w + self.b * spike

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.init_memory_like("v", x)
        self.init_memory_like("w", x)
        self.neuronal_charge(x)
        self.neuronal_adaptation()
        spike = self.neuronal_fire()
        self.neuronal_reset(spike)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return _loop_single_steps(self, x_seq)

    def loop_multi_step(self, x_seq, v, need_v_seq):  # type: ignore[override]
        # The v-only loop of BaseNode would drop the adaptation state w.
        raise NotImplementedError(
            f"{type(self).__name__} also keeps the adaptation current w; call forward / "
            "multi_step_forward instead of the v-only loop_multi_step"
        )

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, v_rest={self.v_rest}, w_rest={self.w_rest}, "
            f"tau_w={self.tau_w}, a={self.a}, b={self.b}"
        )


class IzhikevichNode(AdaptBaseNode):
    """Izhikevich neuron (Izhikevich, 2003, "Simple model of spiking neurons", IEEE TNN).

    In the dimensionless form of the reference framework: a QIF charge driven by the input
    minus the adaptation current,

    ``H[t] = V[t-1] + (X[t] + a0 (V[t-1] - V_rest)(V[t-1] - V_c) - W[t-1]) / tau``,

    then the adaptation of :class:`AdaptBaseNode`. With ``b > 0`` each spike raises ``W``,
    so under a constant input the inter-spike intervals lengthen and settle (regular
    spiking, Izhikevich 2003 Fig. 2).

    Args:
        tau: membrane time constant (> 1).
        v_c: critical voltage ``V_c``.
        a0: quadratic coefficient (> 0).
        Other args as :class:`AdaptBaseNode`.
    """

    def __init__(
        self,
        tau: float = 2.0,
        v_c: float = 0.8,
        a0: float = 1.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        v_rest: float = -0.1,
        w_rest: float = 0.0,
        tau_w: float = 2.0,
        a: float = 0.0,
        b: float = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__(
            v_threshold,
            v_reset,
            v_rest,
            w_rest,
            tau_w,
            a,
            b,
            surrogate_function,
            detach_reset,
            step_mode,
            backend,
            store_v_seq,
        )
        self.tau = _check_tau("tau", tau)
        self.v_c = _check_number(type(self).__name__, "v_c", v_c)
        self.a0 = _check_number(type(self).__name__, "a0", a0, above=0.0)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The QIF charge of ``x`` (the adaptation current already subtracted)."""
        return qif_charge(x, v, self.tau, self.v_rest, self.v_c, self.a0)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``((X,), (V, W)) -> ((S,), (V', W'))`` by
        :func:`snn_core.functional.izhikevich_step`."""
        spike, v, w = izhikevich_step(
            inputs[0], states[0], states[1], self.tau, self.a0, self.v_rest, self.v_c,
            self.tau_w, self.a, self.b, self.v_threshold, self.v_reset,
            self.surrogate_function, self.detach_reset,
        )  # fmt: skip
        return (spike,), (v, w)

    def neuronal_charge(self, x: torch.Tensor) -> None:
        """``self.v <- V + (X + a0 (V - V_rest)(V - V_c) - W) / tau``
        (:func:`snn_core.functional.izhikevich_charge`, as
        :func:`snn_core.functional.izhikevich_step`)."""
        self.v = izhikevich_charge(x, self.v, self.w, self.tau, self.a0, self.v_rest, self.v_c)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}, v_c={self.v_c}, a0={self.a0}"
