r"""Gated LIF step (Yao et al., "GLIF: A Unified Gated Leaky Integrate-and-Fire Neuron for
Spiking Neural Networks", NeurIPS 2022).

With the gates ``alpha, beta, gamma``, the decays ``tau`` (exponential) and ``V_decay``
(linear), the conductance ``g[t]`` and the previous spike ``S[t-1]`` (all already passed
through their sigmoids):

.. math::
    U[t] = (1 - \alpha(1 - \tau)) V[t-1] - (1 - \alpha) V_{decay} + X[t](1 - \beta(1 - g[t]))
        - \gamma (1 - \alpha(1 - \tau)) V[t-1] S[t-1] - (1 - \gamma) V_{subreset} S[t-1],

    S[t] = \Theta(U[t] - V_{th}), \quad V[t] = U[t]
"""

from __future__ import annotations

import torch

from snn_core.functional.neuron_steps.reset import SurrogateFunction, fire

__all__ = ["gated_lif_step"]


def gated_lif_step(
    x: torch.Tensor,
    v: torch.Tensor,
    spike: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor,
    gamma: torch.Tensor,
    tau: torch.Tensor,
    v_threshold: torch.Tensor,
    linear_decay: torch.Tensor,
    v_subreset: torch.Tensor,
    conduct: torch.Tensor,
    surrogate_function: SurrogateFunction,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One GLIF step from ``(X[t], V[t-1], S[t-1])``; returns ``(S[t], V[t])``. The
    parameters are the sigmoids of the module's, shaped to broadcast over ``x``."""
    leak = 1 - alpha * (1 - tau)
    u = leak * v - (1 - alpha) * linear_decay + x * (1 - beta * (1 - conduct))
    u = u - leak * v * gamma * spike - (1 - gamma) * v_subreset * spike
    return fire(u, v_threshold, surrogate_function), u
