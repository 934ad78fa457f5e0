"""Base classes of spiking neurons.

A neuron's dynamics are written once, as pure elementwise torch functions of the current
input and state:

- :meth:`BaseNode.charge` ``(x, v) -> h`` — the subthreshold update ``H[t] = f(V[t-1], X[t])``;
- :meth:`BaseNode.fire` ``h -> s`` — ``S[t] = Θ(H[t] - V_th)`` through the surrogate;
- :meth:`BaseNode.reset_potential` ``(h, s) -> v`` — hard reset
  ``V[t] = H[t](1 - S[t]) + V_reset S[t]`` or, with ``v_reset=None``, soft reset
  ``V[t] = H[t] - V_th S[t]``.

The stateful methods of the reference API (``neuronal_charge``, ``neuronal_fire``,
``neuronal_reset``, ``single_step_forward``) call these functions; the multi-step
backends (the fused torch path, generated Triton / CUDA kernels) are derived from them.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from snn_core import anomaly as _anomaly
from snn_core.base import MemoryModule, MultiStepModule, check_multi_step_input, check_step_mode
from snn_core.functional import voltage_reset
from snn_core.surrogate import Sigmoid, SurrogateFunctionBase

from snn_neurons import backends as _backends
from snn_neurons import fused as _fused

__all__ = ["BaseNode", "SimpleBaseNode", "NonSpikingBaseNode", "DECODE_MODES"]


def _check_number(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        allowed = "a float or None" if allow_none else "a float"
        raise TypeError(f"{name} must be {allowed}, got {value!r}")


def _check_threshold_above_reset(
    owner: str, v_threshold: float, v_reset: float | None, surrogate_function: Any
) -> None:
    # At rest (V = V_reset, or 0 with the soft reset) a neuron must not fire on zero input.
    # Only for the Heaviside spike: a stochastic one (PoissonPass) fires with p = H - V_th.
    if type(surrogate_function).spike_forward is not SurrogateFunctionBase.spike_forward:
        return
    if v_reset is not None and not float(v_threshold) > float(v_reset):
        raise ValueError(
            f"{owner}: v_threshold must be > v_reset (the potential the neuron starts from and "
            f"resets to), got v_threshold={v_threshold!r}, v_reset={v_reset!r}: such a neuron "
            f"fires on zero input at every step"
        )
    if v_reset is None and not float(v_threshold) > 0.0:
        raise ValueError(
            f"{owner}: v_threshold must be > 0 with the soft reset (v_reset=None, the neuron "
            f"starts from 0), got v_threshold={v_threshold!r}: such a neuron fires on zero "
            f"input at every step"
        )


def _check_surrogate(surrogate_function: Any) -> None:
    if not isinstance(surrogate_function, SurrogateFunctionBase):
        raise TypeError(
            "surrogate_function must be an instance of snn_core.surrogate.SurrogateFunctionBase "
            f"(e.g. surrogate.Sigmoid()), got {surrogate_function!r}"
        )


class SimpleBaseNode(MemoryModule):
    """A minimal spiking neuron: charge, fire, reset, one step at a time.

    Args:
        v_threshold: threshold voltage ``V_th``.
        v_reset: reset voltage; ``None`` selects the soft reset ``V = H - V_th S``.
        surrogate_function: spike function with a surrogate gradient.
        detach_reset: detach the spike in the reset path from the autograd graph.
        step_mode: ``'s'`` or ``'m'`` (multi-step loops the single step).
    """

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        _check_number("v_threshold", v_threshold)
        _check_number("v_reset", v_reset, allow_none=True)
        if surrogate_function is None:
            surrogate_function = Sigmoid()
        _check_surrogate(surrogate_function)
        _check_threshold_above_reset(type(self).__name__, v_threshold, v_reset, surrogate_function)
        if not isinstance(detach_reset, bool):
            raise TypeError(f"detach_reset must be a bool, got {detach_reset!r}")
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.surrogate_function = surrogate_function
        self.detach_reset = detach_reset
        self.step_mode = step_mode
        self.register_memory("v", 0.0 if v_reset is None else float(v_reset))

    # ---------------------------------------------------------------- dynamics (pure)
    @abstractmethod
    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``H[t] = f(V[t-1], X[t])``; pure and elementwise."""

    def fire(self, h: torch.Tensor) -> torch.Tensor:
        """``S[t] = Θ(H[t] - V_th)`` with the surrogate gradient."""
        return self.surrogate_function(h - self.v_threshold)

    def reset_potential(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Hard reset ``H(1 - S) + V_reset S`` or soft reset ``H - V_th S`` (``v_reset=None``);
        :func:`snn_core.functional.voltage_reset`."""
        return voltage_reset(h, s, self.v_threshold, self.v_reset, False)

    # ---------------------------------------------------------------- reference API
    def neuronal_charge(self, x: torch.Tensor) -> None:
        """Charge in place: ``self.v <- H[t] = charge(X[t], V[t-1])``."""
        self.v = self.charge(x, self.v)

    def neuronal_fire(self) -> torch.Tensor:
        """Return the spike ``S[t] = Θ(H[t] - V_th)`` of the charged ``self.v``."""
        return self.fire(self.v)

    def neuronal_reset(self, spike: torch.Tensor) -> None:
        """Reset ``self.v`` after ``spike`` (hard or soft; ``spike`` detached if
        ``detach_reset``)."""
        spike_d = spike.detach() if self.detach_reset else spike
        self.v = self.reset_potential(self.v, spike_d)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Single- or multi-step forward by ``step_mode``. A ``torch.bool`` input is a
        ``TypeError`` (cast spikes with ``x.float()``); with
        :func:`snn_core.anomaly.detect_anomaly` on, non-finite input or state raises."""
        x = args[0] if args else next(iter(kwargs.values()), None)
        if isinstance(x, torch.Tensor) and x.dtype == torch.bool:
            raise TypeError(
                f"{type(self).__name__} got an input of dtype torch.bool; neurons integrate "
                f"floating-point currents: pass spikes as x.float() (or x.to(dtype))"
            )
        if _anomaly.enabled and args:
            return _anomaly.checked_forward(self, super().forward, *args, **kwargs)
        return super().forward(*args, **kwargs)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.init_memory_like("v", x)
        self.neuronal_charge(x)
        spike = self.neuronal_fire()
        self.neuronal_reset(spike)
        return spike

    # ---------------------------------------------------------------- functional forward
    #: Subclasses whose multi-step forward is a loop of their single step (extra states,
    #: analog outputs) set this, so the functional multi-step forward may loop the
    #: functional single step.
    _loops_single_steps: bool = False

    def materialize_states(
        self, inputs: tuple[Any, ...], states: tuple[Any, ...], step_mode: str
    ) -> tuple[Any, ...]:
        """Number states become ``full_like`` one input step; a tensor state must have that
        step's shape (as in the stateful forward). ``states`` itself is not modified."""
        return states_like_step(self, inputs, states, step_mode)

    def _is_plain_step(self) -> bool:
        """The single step is exactly charge -> fire -> reset of ``v`` alone."""
        cls = type(self)
        methods = ("single_step_forward", "neuronal_charge", "neuronal_fire", "neuronal_reset")
        plain = all(getattr(cls, m) is getattr(SimpleBaseNode, m) for m in methods)
        return plain and tuple(self._memories) == ("v",)

    def has_functional_forward(self, step_mode: str | None = None) -> bool:
        """Whether :meth:`functional_forward` computes what the stateful forward does.

        A subclass with its own functional step is trusted; otherwise the generic
        functional step (charge -> fire -> reset) applies only to a plain step (see
        :meth:`_is_plain_step`) and, in ``'m'``, only where the multi-step forward is that
        step over time. Elsewhere :func:`snn_core.base.to_functional_forward` runs the
        stateful forward on the given states instead.
        """
        mode = self.step_mode if step_mode is None else check_step_mode(step_mode)
        cls = type(self)
        generic = (MemoryModule, SimpleBaseNode, BaseNode)

        def own(name: str) -> bool:
            return all(getattr(cls, name) is not getattr(k, name, None) for k in generic)

        if own("functional_forward") or own("single_step_functional_forward"):
            return super().has_functional_forward(step_mode)
        if mode == "m" and own("multi_step_functional_forward"):
            return super().has_functional_forward(step_mode)
        if not self._is_plain_step():
            return False
        if mode == "m" and not self._loops_single_steps:
            defaults = (MemoryModule.multi_step_forward, BaseNode.multi_step_forward)
            if all(cls.multi_step_forward is not d for d in defaults):
                return False
        return super().has_functional_forward(step_mode)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``((X[t],), (V[t-1],)) -> ((S[t],), (V[t],))`` with :meth:`charge`, :meth:`fire`
        and :meth:`reset_potential`, the functions of the stateful forward (and of the
        :mod:`snn_core.functional` steps)."""
        if not self._is_plain_step():
            return super().single_step_functional_forward(inputs, states, **kwargs)
        h = self.charge(inputs[0], states[0])
        spike = self.fire(h)
        return (spike,), (self.reset_potential(h, spike.detach() if self.detach_reset else spike),)

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, "
            f"detach_reset={self.detach_reset}, step_mode={self.step_mode}"
        )


class BaseNode(SimpleBaseNode):
    """Base class of differentiable spiking neurons with multi-step backends.

    Adds to :class:`SimpleBaseNode`:

    Args:
        backend: multi-step backend, one of :attr:`supported_backends` (``'torch'``
            always; ``'triton'`` / ``'cupy'`` where they can run).
        store_v_seq: keep ``v_seq`` (``[T, N, *]``, the membrane potential after each
            step's reset): in multi-step mode that of the last call; in single-step mode each
            step is appended (until :meth:`reset`; a change of shape, dtype or device starts
            a new sequence). ``v_seq`` is an observation, not a state: it is not among the
            memories, but :meth:`reset` clears it and :meth:`detach` detaches it.
    """

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode)
        # v_seq and its switch live in a dict, apart from the dynamics' hyper-parameters that
        # the fused and kernel paths read from vars(neuron) (and key their caches by).
        self._observed: dict[str, Any] = {"v_seq": None, "store_v_seq": False}
        self.store_v_seq = store_v_seq
        self.backend = backend

    # ---------------------------------------------------------------- v_seq
    @property
    def store_v_seq(self) -> bool:
        """Whether ``v_seq`` is recorded; setting it clears ``v_seq``."""
        return self._observed["store_v_seq"]

    @store_v_seq.setter
    def store_v_seq(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"store_v_seq must be a bool, got {value!r}")
        self._observed["store_v_seq"] = value
        self.v_seq = None

    @property
    def v_seq(self) -> torch.Tensor | None:
        """Membrane potentials after each step's reset, ``[T, N, *]`` (``store_v_seq``)."""
        return self._observed["v_seq"]

    @v_seq.setter
    def v_seq(self, value: torch.Tensor | None) -> None:
        self._observed["v_seq"] = value

    def reset(self) -> None:
        super().reset()
        self.v_seq = None

    def detach(self) -> None:
        super().detach()
        if isinstance(self.v_seq, torch.Tensor):
            self.v_seq = self.v_seq.detach()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = super().forward(*args, **kwargs)
        if self.store_v_seq and self.step_mode == "s" and isinstance(self.v, torch.Tensor):
            v_step = self.v.unsqueeze(0)
            seq = self.v_seq
            same = (
                seq is not None
                and seq.shape[1:] == v_step.shape[1:]
                and (seq.dtype, seq.device) == (v_step.dtype, v_step.device)
            )
            self.v_seq = torch.cat((seq, v_step)) if same else v_step.clone()
        return out

    # ---------------------------------------------------------------- backends
    @property
    def backend(self) -> str:
        """Multi-step backend name (``'torch'``, ``'triton'`` or ``'cupy'``); settable."""
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        _backends.check_backend_name(value)
        self._backend = value

    @property
    def supported_backends(self) -> tuple[str, ...]:
        """Backends that can run this neuron in the current step mode and environment."""
        if self.step_mode == "s":
            return ("torch",)
        return _backends.available_backends(self)

    #: every backend name a neuron may take (:attr:`supported_backends` says which run here)
    known_backends: tuple[str, ...] = _backends.KNOWN_BACKENDS

    def backend_unavailable_reason(self, backend: str) -> str | None:
        """Why ``backend`` cannot run this neuron here (and what to install), or ``None``."""
        if backend in self.supported_backends:
            return None
        if self.step_mode == "s":
            return "single-step mode runs on 'torch' only; set step_mode='m' for other backends"
        if backend not in self.known_backends:
            return f"{type(self).__name__} knows only the backends {self.known_backends}"
        reason = _backends.why_not_reason(backend, self)
        return reason or f"{type(self).__name__} runs only on {self.supported_backends}"

    def locate_non_finite_step(self, x_seq: torch.Tensor, v_init: Any) -> int | None:
        """First time step at which replaying the single-step dynamics from ``v_init``
        gives a non-finite potential (used by anomaly mode); ``None`` if none does."""
        v = v_init if isinstance(v_init, torch.Tensor) else torch.full_like(x_seq[0], v_init)
        for t in range(x_seq.shape[0]):
            h = self.charge(x_seq[t], v)
            v = self.reset_potential(h, self.fire(h))
            if not bool(torch.isfinite(h).all() and torch.isfinite(v).all()):
                return t
        return None

    #: Recompute the forward in backward on the fused path instead of saving ``H`` (or
    #: ``V``); ``None`` follows ``snn_neurons.fused.settings.recompute``.
    fused_recompute: bool | None = None
    _v_init_fill: float | None = None

    def fused_multi_step(
        self, x_seq: torch.Tensor, v: torch.Tensor, need_v_seq: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """All T steps as one fused autograd function (see :mod:`snn_neurons.fused`).

        Returns ``NotImplemented`` where the fused path does not apply; the caller then
        runs :meth:`loop_multi_step`.
        """
        return _fused.fused_multi_step(self, x_seq, v, need_v_seq)

    def dynamics_params(self) -> tuple[torch.Tensor, ...]:
        """Learnable tensors that :meth:`charge` reads (e.g. PLIF's ``w``); none by default."""
        return ()

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq)
        if x_seq.shape[0] == 0:  # no time steps: no spikes, the state is unchanged
            self.init_memory_like("v", x_seq.new_zeros(x_seq.shape[1:]))
            if self.store_v_seq:
                self.v_seq = x_seq.new_zeros(x_seq.shape)
            return x_seq.new_zeros(x_seq.shape)
        v0 = self.v
        # A fresh state is the constant reset value: the fused path then need not save it.
        self._v_init_fill = float(v0) if isinstance(v0, (int, float)) else None
        self.init_memory_like("v", x_seq[0])
        try:
            spike_seq, v_last, v_seq = _backends.run_multi_step(self, x_seq, self.v)
        finally:
            self._v_init_fill = None
        self.v = v_last
        if self.store_v_seq:
            self.v_seq = v_seq
        return spike_seq

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """All T steps as a pure function: the functional single step over ``inputs[0]``
        (for neurons whose multi-step forward is their single step over time)."""
        plain = type(self).multi_step_forward is BaseNode.multi_step_forward
        if not (plain or self._loops_single_steps):
            raise NotImplementedError(
                f"{type(self).__name__} has its own multi-step forward and no functional "
                "multi-step form; use snn_core.base.to_functional_forward(module)"
            )
        return super().multi_step_functional_forward(inputs, states, **kwargs)

    def loop_multi_step(
        self, x_seq: torch.Tensor, v: torch.Tensor, need_v_seq: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The reference multi-step path: the single-step dynamics in a Python loop."""
        spikes, vs = [], []
        for t in range(x_seq.shape[0]):
            h = self.charge(x_seq[t], v)
            s = self.fire(h)
            v = self.reset_potential(h, s.detach() if self.detach_reset else s)
            spikes.append(s)
            if need_v_seq:
                vs.append(v)
        return torch.stack(spikes), v, (torch.stack(vs) if need_v_seq else None)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, backend={self.backend}, store_v_seq={self.store_v_seq}"


DECODE_MODES = ("max-mem", "max-abs-mem", "mean-mem", "last_mem", "last-mem")


class NonSpikingBaseNode(MemoryModule, MultiStepModule):
    """Base class of non-spiking (readout) neurons: integrate and output the potential.

    ``forward(x_seq)`` takes ``[T, N, *]``, runs :meth:`charge` over T from ``v = 0`` and
    returns the membrane potential sequence ``[T, N, *]`` or, with ``decode``, one of:
    ``'max-mem'`` (max over T), ``'max-abs-mem'`` (the value of largest magnitude over T),
    ``'mean-mem'`` (mean over T), ``'last_mem'`` / ``'last-mem'`` (the last step).
    """

    def __init__(self, decode: str | None = None) -> None:
        super().__init__()
        if decode is not None and decode not in DECODE_MODES:
            raise ValueError(f"decode must be None or one of {DECODE_MODES}, got {decode!r}")
        self.decode = decode
        self._step_mode = "m"
        self.register_memory("v", 0.0)

    @abstractmethod
    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``V[t] = f(V[t-1], X[t])``; pure and elementwise."""

    def neuronal_charge(self, x: torch.Tensor) -> None:
        """Charge in place: ``self.v <- charge(X[t], V[t-1])``."""
        self.v = self.charge(x, self.v)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq)
        self.init_memory_like("v", x_seq[0])
        v_seq = []
        for t in range(x_seq.shape[0]):
            self.neuronal_charge(x_seq[t])
            v_seq.append(self.v)
        return self.decode_v_seq(torch.stack(v_seq))

    def decode_v_seq(self, v_seq: torch.Tensor) -> torch.Tensor:
        """Apply ``self.decode`` to ``v_seq`` (``[T, N, *]``)."""
        if self.decode is None:
            return v_seq
        if self.decode == "max-mem":
            return v_seq.max(dim=0).values
        if self.decode == "max-abs-mem":
            idx = v_seq.abs().argmax(dim=0, keepdim=True)
            return v_seq.gather(0, idx).squeeze(0)
        if self.decode == "mean-mem":
            return v_seq.mean(dim=0)
        return v_seq[-1]

    def extra_repr(self) -> str:
        return f"decode={self.decode!r}, step_mode=m"


def states_like_step(
    module: Any, inputs: tuple[Any, ...], states: tuple[Any, ...], step_mode: str
) -> tuple[Any, ...]:
    """``module``'s states for a functional step: a number becomes ``full_like`` one input
    step; a tensor must have that step's shape (a state kept from an earlier input of
    another shape asks for ``reset()``). ``states`` itself is not modified."""
    x = inputs[0][0] if step_mode == "m" else inputs[0]
    out = []
    for name, value in zip(tuple(module._memories), states, strict=True):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = torch.full_like(x, float(value))
        elif isinstance(value, torch.Tensor) and value.shape != x.shape:
            raise ValueError(
                f"{type(module).__name__}.{name}: the state has shape {tuple(value.shape)} "
                f"but one step of the input has shape {tuple(x.shape)}; a state kept "
                "from an earlier input needs reset() (or functional.reset_net(net)) "
                "before a batch of another shape"
            )
        out.append(value)
    return tuple(out)
