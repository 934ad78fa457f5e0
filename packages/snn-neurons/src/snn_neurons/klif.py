"""KLIF neuron (Jiang & Zhang, 2023, "KLIF: An optimized spiking neuron unit for tuning
surrogate gradient slope and membrane potential", ICASSP; arXiv:2302.09238).

A LIF neuron whose charged potential is scaled by a learnable ``k`` and rectified:

- ``H[t]`` = the LIF charge (see :mod:`snn_neurons.lif`);
- ``F[t] = ReLU(k H[t])``, ``S[t] = Θ(F[t] - V_th)``;
- ``scale_reset=False``: ``V[t] = F[t](1 - S[t]) + V_reset S[t]`` (hard) or
  ``F[t] - V_th S[t]`` (soft);
- ``scale_reset=True``: ``V[t] = F[t]/k (1 - S[t]) + V_reset S[t]`` (hard) or
  ``F[t]/k - S[t] V_th/k`` (soft).

``k`` scales the slope of the surrogate gradient seen by ``H``; it starts at 1.
"""

from __future__ import annotations

import torch
from snn_core.functional import klif_charge, klif_reset
from snn_core.surrogate import SurrogateFunctionBase
from torch import nn

from snn_neurons.base_node import BaseNode
from snn_neurons.lif import _check_bool, _check_tau

__all__ = ["KLIFNode"]


class KLIFNode(BaseNode):
    """KLIF neuron (Jiang & Zhang, ICASSP 2023): a LIF neuron with a learnable scale ``k``.

    - ``H[t]`` = the LIF charge (as :class:`~snn_neurons.LIFNode`);
    - ``F[t] = ReLU(k H[t])``, ``S[t] = Θ(F[t] - V_th)``;
    - ``scale_reset=False``: ``V[t] = F[t](1 - S[t]) + V_reset S[t]`` (hard) or
      ``F[t] - V_th S[t]`` (soft);
    - ``scale_reset=True``: ``V[t] = F[t]/k (1 - S[t]) + V_reset S[t]`` (hard) or
      ``F[t]/k - S[t] V_th/k`` (soft).

    Args:
        scale_reset: divide the potential by ``k`` in the reset.
        tau: membrane time constant (> 1).
        decay_input: whether the input is also divided by ``tau``.
        Other args as :class:`~snn_neurons.BaseNode`.

    The learnable scale is the parameter ``k`` (initialised to 1).
    """

    def __init__(
        self,
        scale_reset: bool = False,
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
        self.scale_reset = _check_bool("scale_reset", scale_reset)
        self.tau = _check_tau("tau", tau)
        self.decay_input = _check_bool("decay_input", decay_input)
        self.k = nn.Parameter(torch.as_tensor(1.0))

    def dynamics_params(self) -> tuple[torch.Tensor, ...]:
        return (self.k,)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return klif_charge(x, v, self.k, self.tau, self.decay_input, self.v_reset)

    def reset_potential(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return klif_reset(h, s, self.k, self.scale_reset, self.v_threshold, self.v_reset)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, scale_reset={self.scale_reset}, tau={self.tau}, "
            f"decay_input={self.decay_input}"
        )
