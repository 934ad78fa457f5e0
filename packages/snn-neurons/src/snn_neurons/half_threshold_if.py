r"""IF neuron whose membrane potential starts (and is ``reset()``) at half the threshold.

.. math::
    V[-1] = V_{th} / 2, \quad H[t] = V[t-1] + X[t], \quad S[t] = \Theta(H[t] - V_{th}), \quad
    V[t] = H[t] - S[t] V_{th}

Starting at ``V_th / 2`` makes the spike count of a constant input round to nearest instead
of down, the usual ANN-to-SNN conversion trick (e.g. Bu et al., "Optimal ANN-SNN Conversion
for High-accuracy and Ultra-low-latency Spiking Neural Networks", ICLR 2022).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from snn_core.functional import if_step
from snn_core.surrogate import SurrogateFunctionBase

from snn_neurons.base_node import BaseNode
from snn_neurons.integrate_and_fire import if_charge

__all__ = ["HalfThresholdIFNode"]


def _threshold(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                "HalfThresholdIFNode: v_threshold must be a scalar finite positive value (a "
                f"number or a one-element tensor), got a tensor of shape {tuple(value.shape)}"
            )
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"HalfThresholdIFNode: v_threshold must be a real number, got {value!r}")
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(
            f"HalfThresholdIFNode: v_threshold must be scalar finite positive, got {value!r}"
        )
    return float(value)


class HalfThresholdIFNode(BaseNode):
    r"""Soft-reset IF neuron with the initial (and ``reset()``) potential ``V_th / 2``.

    .. math::
        H[t] = V[t-1] + X[t], \quad S[t] = \Theta(H[t] - V_{th}), \quad
        V[t] = H[t] - S[t] V_{th}

    Only the initial value differs from :class:`~snn_neurons.IFNode` with ``v_reset=None``;
    the multi-step backends (fused ``torch``, ``triton``, ``cupy``) are those of
    :class:`~snn_neurons.BaseNode`.

    Args:
        v_threshold: threshold ``V_th`` (finite, > 0; a number or a one-element tensor).
        surrogate_function: spike function (default ``Sigmoid()``).
        detach_reset: detach the spike in the reset.
        step_mode: ``'s'`` or ``'m'``.
        store_v_seq: in multi-step mode keep ``v_seq`` (``[T, N, *]``).
        backend: multi-step backend (keyword extension; the reference has ``torch`` only).
    """

    def __init__(
        self,
        v_threshold: float = 1.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
        backend: str = "torch",
    ) -> None:
        v_threshold = _threshold(v_threshold)
        super().__init__(
            v_threshold, None, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )
        self.register_memory("v", v_threshold / 2.0)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return if_charge(x, v)

    def _restarted(self, v: Any, x: torch.Tensor) -> Any:
        """``V_th / 2`` for a state of another shape than the input ``x`` (the reference's
        rule for this neuron; other neurons ask for a reset), else ``v``."""
        reshaped = isinstance(v, torch.Tensor) and v.shape != x.shape
        return self.v_threshold / 2.0 if reshaped else v

    def init_memory_like(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if name == "v":
            self._memories[name] = self._restarted(self._memories[name], x)
        return super().init_memory_like(name, x)

    def materialize_states(
        self, inputs: tuple[Any, ...], states: tuple[Any, ...], step_mode: str
    ) -> tuple[Any, ...]:
        step = inputs[0][0] if step_mode == "m" else inputs[0]
        states = (self._restarted(states[0], step), *states[1:])
        return super().materialize_states(inputs, states, step_mode)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        spike, v = if_step(
            inputs[0], states[0], self.v_threshold, None, self.surrogate_function, self.detach_reset
        )
        return (spike,), (v, *states[1:])
