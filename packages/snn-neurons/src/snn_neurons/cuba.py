"""Current-based LIF neuron (CUBA-LIF).

As in PopSAN (Tang et al., 2020, "Deep Reinforcement Learning with
Population-Coded Spiking Neural Network for Continuous Control", CoRL):

- ``C[t] = d_c C[t-1] + X[t]`` — synaptic current;
- ``H[t] = d_v V[t-1] + C[t]`` — membrane potential;
- ``S[t] = Θ(H[t] - V_th)`` and the reset of :class:`~snn_neurons.BaseNode`.

Both updates are leaky integrations with the leak toward 0; the charge is
:func:`snn_core.functional.cuba_charge` and one whole step
:func:`snn_core.functional.cuba_lif_step`.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.functional import cuba_charge, cuba_lif_step
from snn_core.surrogate import Rect, SurrogateFunctionBase

from snn_neurons._stepping import _loop_single_steps
from snn_neurons.base_node import BaseNode

__all__ = ["cuba_charge", "CUBALIFNode"]


def _check_decay(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: {name} must be a number in [0, 1], got {value!r}")
    return float(value)


class _CUBACharge:
    """Mixin for :class:`~snn_neurons.BaseNode` subclasses: the synaptic current ``c`` and
    the CUBA charge. Call :meth:`_init_cuba` in ``__init__`` after ``BaseNode.__init__``."""

    def _init_cuba(self, c_decay: float, v_decay: float) -> None:
        owner = type(self).__name__
        self.c_decay = _check_decay(owner, "c_decay", c_decay)
        self.v_decay = _check_decay(owner, "v_decay", v_decay)
        self.register_memory("c", 0.0)

    def neuronal_charge(self, x: torch.Tensor) -> None:
        self.init_memory_like("c", x)
        self.c, self.v = cuba_charge(x, self.c, self.v, self.c_decay, self.v_decay)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            f"{type(self).__name__}'s charge also reads and updates the current c; use "
            "neuronal_charge or cuba_charge(x, c, v, c_decay, v_decay)"
        )

    def loop_multi_step(self, x_seq, v, need_v_seq):  # type: ignore[no-untyped-def]
        # The v-only loop of BaseNode would drop the synaptic current c.
        raise NotImplementedError(
            f"{type(self).__name__} also keeps the synaptic current c; call forward instead"
        )


class CUBALIFNode(_CUBACharge, BaseNode):
    """Current-based LIF neuron (PopSAN, Tang et al., CoRL 2020):

    - ``C[t] = d_c C[t-1] + X[t]`` — synaptic current;
    - ``H[t] = d_v V[t-1] + C[t]`` — membrane potential;
    - ``S[t] = Θ(H[t] - V_th)`` and the reset of :class:`~snn_neurons.BaseNode`.

    Args:
        c_decay: decay factor ``d_c`` of the synaptic current, in [0, 1].
        v_decay: decay factor ``d_v`` of the membrane potential, in [0, 1].
        v_threshold: threshold voltage.
        v_reset: reset voltage (``None``: soft reset).
        surrogate_function: spike function; default :class:`~snn_core.surrogate.Rect`
            (PopSAN's rectangular pseudo-gradient).
        detach_reset, step_mode, backend, store_v_seq: as :class:`~snn_neurons.BaseNode`
            (keyword extensions; the reference constructor stops at ``surrogate_function``).
    """

    def __init__(
        self,
        c_decay: float = 0.5,
        v_decay: float = 0.75,
        v_threshold: float = 0.5,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
    ) -> None:
        if surrogate_function is None:
            surrogate_function = Rect()
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )
        self._init_cuba(c_decay, v_decay)

    _loops_single_steps = True

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``((X,), (V, C)) -> ((S,), (V', C'))`` by :func:`snn_core.functional.cuba_lif_step`."""
        v, c = states
        spike, c, v = cuba_lif_step(
            inputs[0], c, v, self.c_decay, self.v_decay, self.v_threshold, self.v_reset,
            self.surrogate_function, self.detach_reset,
        )  # fmt: skip
        return (spike,), (v, c)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.init_memory_like("v", x)
        self.neuronal_charge(x)
        spike = self.neuronal_fire()
        self.neuronal_reset(spike)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return _loop_single_steps(self, x_seq)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, c_decay={self.c_decay}, v_decay={self.v_decay}"
