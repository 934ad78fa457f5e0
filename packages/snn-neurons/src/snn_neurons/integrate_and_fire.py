"""Integrate-and-fire neurons: ``H[t] = V[t-1] + X[t]``."""

from __future__ import annotations

import torch
from snn_core.functional import if_charge
from snn_core.surrogate import SurrogateFunctionBase

from snn_neurons.base_node import BaseNode, NonSpikingBaseNode, SimpleBaseNode

__all__ = ["if_charge", "SimpleIFNode", "IFNode", "NonSpikingIFNode"]


class SimpleIFNode(SimpleBaseNode):
    """Integrate-and-fire neuron, minimal version: ``H[t] = V[t-1] + X[t]``."""

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return if_charge(x, v)


class IFNode(BaseNode):
    """Integrate-and-fire neuron: ``H[t] = V[t-1] + X[t]``, then fire and reset.

    Args are those of :class:`~snn_neurons.BaseNode`.
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
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return if_charge(x, v)


class NonSpikingIFNode(NonSpikingBaseNode):
    """Non-spiking IF readout: ``V[t] = V[t-1] + X[t]``, output decoded by ``decode``."""

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return if_charge(x, v)
