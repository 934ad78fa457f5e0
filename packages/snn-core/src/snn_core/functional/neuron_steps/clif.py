r"""CLIF step (Huang et al., "CLIF: Complementary Leaky Integrate-and-Fire Neuron for Spiking
Neural Networks", ICML 2024): LIF without input decay plus a complementary potential ``M``.

.. math::
    H[t] = (1 - 1/\tau) V[t-1] + X[t], \quad S[t] = \Theta(H[t] - V_{th}),

    M[t] = M[t-1] \odot \sigma(H[t] / \tau) + S[t], \quad
    V[t] = H[t] - S[t] \odot (V_{th} + \sigma(M[t]))
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from snn_core.functional.neuron_steps.lif import lif_charge

__all__ = ["clif_step"]


def clif_step(
    x: torch.Tensor,
    v: torch.Tensor,
    m: torch.Tensor,
    tau: float,
    v_threshold: float,
    spike_function: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One CLIF step; returns ``(S[t], V[t], M[t])``. ``spike_function`` is a surrogate (or
    :func:`~snn_core.surrogate.heaviside` for inference)."""
    h = lif_charge(x, v, tau, False, None)
    spike = spike_function(h - v_threshold)
    m_next = m * torch.sigmoid(h / tau) + spike
    return spike, h - spike * (v_threshold + torch.sigmoid(m_next)), m_next
