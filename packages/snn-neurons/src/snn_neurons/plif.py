"""Parametric LIF (Fang et al., 2021, "Incorporating Learnable Membrane Time Constant to
Enhance Learning of Spiking Neural Networks", ICCV).

The LIF charge with a learnable decay ``1/tau = sigmoid(w)``; ``w`` starts at
``-log(init_tau - 1)`` so that ``tau = init_tau``.
"""

from __future__ import annotations

import math

import torch
from snn_core.functional import plif_charge
from snn_core.surrogate import SurrogateFunctionBase
from torch import nn

from snn_neurons.base_node import BaseNode
from snn_neurons.lif import _check_bool, _check_tau

__all__ = ["ParametricLIFNode"]


class ParametricLIFNode(BaseNode):
    """PLIF neuron: ``H[t] = V[t-1] + sigmoid(w) (X[t] - (V[t-1] - V_reset))`` (decay_input).

    Args:
        init_tau: initial membrane time constant (> 1).
        decay_input: whether the input is also scaled by ``sigmoid(w)``.
        Other args as :class:`~snn_neurons.BaseNode`.
    """

    def __init__(
        self,
        init_tau: float = 2.0,
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
        init_tau = _check_tau("init_tau", init_tau)
        self.decay_input = _check_bool("decay_input", decay_input)
        self.w = nn.Parameter(torch.as_tensor(-math.log(init_tau - 1.0)))

    def dynamics_params(self) -> tuple[torch.Tensor, ...]:
        return (self.w,)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return plif_charge(x, v, self.w, self.decay_input, self.v_reset)

    def extra_repr(self) -> str:
        tau = 1.0 / self.w.detach().sigmoid().item()
        return f"{super().extra_repr()}, tau={tau}, decay_input={self.decay_input}"
