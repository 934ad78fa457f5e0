r"""Current-based LIF steps: the synaptic current ``C`` integrates the input and drives the
membrane potential.

CUBA-LIF (as in PopSAN, Tang et al., "Deep Reinforcement Learning with Population-Coded
Spiking Neural Network for Continuous Control", CoRL 2020):

.. math::
    C[t] = d_c C[t-1] + X[t], \quad H[t] = d_v V[t-1] + C[t], \quad S[t] = \Theta(H[t] - V_{th})

Lava's fixed-point CUBA-LIF (Intel Lava / Loihi): the same two leaky integrations in integer
arithmetic with 12-bit decays ``D`` (``d = 1 - D / 4096``, ``D`` rounded) and the synaptic
scale ``s``: ``Y = (trunc(s Y_prev) (4096 - D) >> 12 + trunc(s X)) / s`` with the shift
rounding toward zero, threshold ``V_th + eps`` and a hard reset.
"""

from __future__ import annotations

from typing import Any

import torch

from snn_core.functional.neuron_steps._loop import check_state
from snn_core.functional.neuron_steps.reset import SurrogateFunction, fire, voltage_reset

__all__ = ["cuba_charge", "cuba_lif_step", "lava_cuba_lif_step"]

_HW_BITS = 12  # Loihi's decay resolution: decays are integers in [0, 4096]


def cuba_charge(
    x: torch.Tensor, c: torch.Tensor, v: torch.Tensor, c_decay: float, v_decay: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns ``(C[t], H[t]) = (d_c C + X, d_v V + C[t])``."""
    c = c * c_decay + x
    return c, v * v_decay + c


def cuba_lif_step(
    x: torch.Tensor,
    current: torch.Tensor,
    v: torch.Tensor,
    current_decay: float,
    voltage_decay: float,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One CUBA-LIF step ``-> (S[t], C[t], V[t])``; iterate it for several steps."""
    check_state("cuba_lif_step", "current", current, x.shape)
    check_state("cuba_lif_step", "v", v, x.shape)
    current_next, h = cuba_charge(x, current, v, current_decay, voltage_decay)
    spike = fire(h, v_threshold, surrogate_function)
    return spike, current_next, voltage_reset(h, spike, v_threshold, v_reset, detach_reset)


def _shift_toward_zero(x: torch.Tensor, bits: int) -> torch.Tensor:
    return torch.sign(x) * (torch.abs(x) >> bits)


class _FixedPointLeak(torch.autograd.Function):
    """``Y = (trunc(s Y_prev) (2^12 - round(D)) >> 12 + trunc(s X)) / s`` in int64.

    Backward treats it as the real map ``Y = (1 - D / 2^12) Y_prev + X`` with the rounding
    of ``D`` passed straight through: ``dY/dX = 1``, ``dY/dY_prev = 1 - round(D) / 2^12``,
    ``dY/dD = -Y_prev / 2^12`` (summed over all elements).
    """

    @staticmethod
    def forward(ctx: Any, x, decay, state, scale):  # type: ignore[override]
        decay_q = torch.round(decay)
        scaled = (state * scale).to(torch.int64)
        factor = (1 << _HW_BITS) - decay_q.to(torch.int64)
        out = _shift_toward_zero(scaled * factor, _HW_BITS) + (scale * x).to(torch.int64)
        ctx.save_for_backward(decay_q, state)
        ctx.decay_shape = decay.shape
        return out.to(x.dtype) / scale

    @staticmethod
    def backward(ctx: Any, grad):  # type: ignore[override]
        decay_q, state = ctx.saved_tensors
        grad_state = (1 - decay_q / (1 << _HW_BITS)) * grad
        grad_decay = (-state / (1 << _HW_BITS) * grad).sum()
        if grad_decay.shape != ctx.decay_shape:
            grad_decay = grad_decay.expand(ctx.decay_shape)
        return grad, grad_decay, grad_state, None


def lava_cuba_lif_step(
    x: torch.Tensor,
    current_state: torch.Tensor,
    voltage_state: torch.Tensor,
    current_decay: torch.Tensor,
    voltage_decay: torch.Tensor,
    s_scale: float,
    v_threshold: float,
    v_threshold_eps: float,
    v_reset: float,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of Lava's fixed-point CUBA-LIF (no norm); returns ``(S[t], C[t], V[t])``.

    ``current_decay`` / ``voltage_decay`` are on Lava's 12-bit scale (``4096 d``, rounded in
    the forward, straight-through in the backward); ``s_scale`` is the synaptic scale. The
    spike is ``Θ(H - (V_th + v_threshold_eps))``; ``V`` is hard-reset to ``v_reset`` (soft
    reset when ``None``).
    """
    check_state("lava_cuba_lif_step", "current_state", current_state, x.shape)
    check_state("lava_cuba_lif_step", "voltage_state", voltage_state, x.shape)
    decays = [
        d if isinstance(d, torch.Tensor) else torch.as_tensor(float(d), device=x.device)
        for d in (current_decay, voltage_decay)
    ]
    current_next = _FixedPointLeak.apply(x, decays[0], current_state, s_scale)
    h = _FixedPointLeak.apply(current_next, decays[1], voltage_state, s_scale)
    spike = fire(h, v_threshold + v_threshold_eps, surrogate_function)
    return spike, current_next, voltage_reset(h, spike, v_threshold, v_reset, detach_reset)
