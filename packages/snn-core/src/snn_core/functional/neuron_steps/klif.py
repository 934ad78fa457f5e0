r"""KLIF step (Jiang & Zhang, "KLIF: An optimized spiking neuron unit for tuning surrogate
gradient slope and membrane potential", ICASSP 2023): a LIF neuron whose charged potential
is scaled by a learnable ``k`` and rectified.

.. math::
    F[t] = \mathrm{ReLU}(k\, H_{LIF}[t]), \quad S[t] = \Theta(F[t] - V_{th}),

reset of ``F`` (``scale_reset=False``) or of ``F / k`` with threshold ``V_th / k``
(``scale_reset=True``).
"""

from __future__ import annotations

import torch

from snn_core.functional.neuron_steps._loop import check_state
from snn_core.functional.neuron_steps.lif import lif_charge
from snn_core.functional.neuron_steps.reset import SurrogateFunction, fire, voltage_reset

__all__ = ["klif_charge", "klif_reset", "klif_step"]


def klif_charge(
    x: torch.Tensor,
    v: torch.Tensor,
    k: torch.Tensor,
    tau: float,
    decay_input: bool,
    v_reset: float | None,
) -> torch.Tensor:
    """``F[t] = ReLU(k H[t])`` with ``H[t]`` the :func:`~snn_core.functional.lif_charge`."""
    return torch.relu(k * lif_charge(x, v, tau, decay_input, v_reset))


def klif_reset(
    f: torch.Tensor,
    spike: torch.Tensor,
    k: torch.Tensor,
    scale_reset: bool,
    v_threshold: float,
    v_reset: float | None,
    detach_reset: bool = False,
) -> torch.Tensor:
    """Reset ``F`` (``scale_reset=False``) or ``F / k`` with the threshold ``V_th / k``."""
    if scale_reset:
        return voltage_reset(f / k, spike, v_threshold / k, v_reset, detach_reset)
    return voltage_reset(f, spike, v_threshold, v_reset, detach_reset)


def klif_step(
    x: torch.Tensor,
    v: torch.Tensor,
    k: torch.Tensor,
    tau: float,
    decay_input: bool,
    scale_reset: bool,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One KLIF step ``-> (S[t], V[t])``; iterate it for several steps."""
    check_state("klif_step", "v", v, x.shape)
    f = klif_charge(x, v, k, tau, decay_input, v_reset)
    spike = fire(f, v_threshold, surrogate_function)
    return spike, klif_reset(f, spike, k, scale_reset, v_threshold, v_reset, detach_reset)
