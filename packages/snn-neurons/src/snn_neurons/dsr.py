"""Neurons trained by Differentiation on Spike Representation (DSR).

Meng et al., 2022, "Training High-Performance Low-Latency Spiking
Neural Networks by Differentiation on Spike Representation", CVPR (arXiv:2205.00459).

Forward: a subtractive-reset neuron fires spikes of size ``V_th`` when its potential
reaches ``alpha V_th``. Backward: the spike train is read as a representation ``y`` of the
input representation ``r`` and differentiated through that mapping:

- IF: ``r = mean_t X[t]``, ``y = clamp(r, 0, V_th)``;
- LIF: ``r = sum_t w_t X[t] / sum_t w_t`` with ``w_t = exp(-(T - t) dt / tau)``,
  ``y = clamp(r / tau, 0, V_th / dt)``; the LIF potential is
  ``V[t] = b V[t-1] + (1 - b) X[t]``, ``b = exp(-dt / tau)``, and spikes are divided by
  ``dt``.

Every time-step receives the same input gradient ``dy/dr`` times the representation of
the output gradient; the threshold receives the gradient of the saturated elements, scaled
by ``v_threshold_grad_scaling`` (and, for LIF, by ``dt``, as the reference framework does).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from snn_core.base import MemoryModule
from torch import nn

from snn_neurons._stepping import _check_int, _check_number, _check_sequence

__all__ = ["DSRIFNode", "DSRLIFNode"]


def _dsr_spikes(x_seq: torch.Tensor, v_threshold: torch.Tensor, alpha: float, decay: float | None):
    """Subtractive-reset spikes of size ``V_th``; ``decay=None`` is IF, else ``b`` of LIF."""
    v = torch.zeros_like(x_seq[0])
    spikes = []
    for t in range(x_seq.shape[0]):
        v = v + x_seq[t] if decay is None else decay * v + (1.0 - decay) * x_seq[t]
        spike = (v >= alpha * v_threshold).to(x_seq.dtype) * v_threshold
        v = v - spike
        spikes.append(spike)
    return torch.stack(spikes)


def _lif_weights(T: int, tau: float, delta_t: float, like: torch.Tensor) -> torch.Tensor:
    """Normalised weights ``w_t = exp(-(T - t) dt / tau)``, ``t = 1..T``, shaped ``[T, 1, ...]``."""
    t = torch.arange(1, T + 1, dtype=like.dtype, device=like.device)
    w = torch.exp(-(T - t) * delta_t / tau)
    return (w / w.sum()).view(T, *([1] * (like.dim() - 1)))


class _DSRIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x_seq, v_threshold, alpha: float, grad_scaling: float):
        ctx.save_for_backward(x_seq, v_threshold)
        ctx.grad_scaling = grad_scaling
        return _dsr_spikes(x_seq, v_threshold, alpha, None)

    @staticmethod
    def backward(ctx: Any, grad_y):
        x_seq, v_threshold = ctx.saved_tensors
        T = x_seq.shape[0]
        r = x_seq.mean(0)
        g = grad_y.sum(0)  # T * mean_t(grad)
        inside = (r >= 0) & (r <= v_threshold)
        grad_x = torch.where(inside, g, torch.zeros_like(g)) / T
        grad_x = grad_x.unsqueeze(0).expand_as(x_seq).contiguous()
        grad_vth = torch.where(r > v_threshold, g, torch.zeros_like(g)).sum() * ctx.grad_scaling
        return grad_x, grad_vth.reshape(v_threshold.shape), None, None


class _DSRLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x_seq, v_threshold, tau: float, delta_t: float, alpha, grad_scaling):
        ctx.save_for_backward(x_seq, v_threshold)
        ctx.tau, ctx.delta_t, ctx.grad_scaling = tau, delta_t, grad_scaling
        decay = math.exp(-delta_t / tau)
        return _dsr_spikes(x_seq, v_threshold, alpha, decay) / delta_t

    @staticmethod
    def backward(ctx: Any, grad_y):
        x_seq, v_threshold = ctx.saved_tensors
        T, tau, delta_t = x_seq.shape[0], ctx.tau, ctx.delta_t
        w = _lif_weights(T, tau, delta_t, x_seq)
        r = (w * x_seq).sum(0)
        g = (w * grad_y).sum(0) * T
        upper = v_threshold / delta_t * tau
        inside = (r > 0) & (r < upper)
        grad_x = torch.where(inside, g / tau, torch.zeros_like(g)) / T
        grad_x = grad_x.unsqueeze(0).expand_as(x_seq).contiguous()
        grad_vth = torch.where(r > upper, g, torch.zeros_like(g)).sum() * delta_t
        grad_vth = grad_vth * ctx.grad_scaling
        return grad_x, grad_vth.reshape(v_threshold.shape), None, None, None, None


class _DSRBase(MemoryModule):
    def __init__(
        self,
        T: int,
        v_threshold: float,
        alpha: float,
        v_threshold_training: bool,
        v_threshold_grad_scaling: float,
        v_threshold_lower_bound: float,
        step_mode: str,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.T = _check_int(owner, "T", T)
        lower = _check_number(owner, "v_threshold_lower_bound", v_threshold_lower_bound, above=0.0)
        v_threshold = _check_number(owner, "v_threshold", v_threshold)
        if v_threshold < lower:
            raise ValueError(
                f"{owner}: v_threshold must be >= v_threshold_lower_bound={lower}, "
                f"got {v_threshold!r}"
            )
        alpha = _check_number(owner, "alpha", alpha, above=0.0)
        if alpha > 1.0:
            raise ValueError(f"{owner}: alpha must be in (0, 1], got {alpha!r}")
        if not isinstance(v_threshold_training, bool):
            raise TypeError(
                f"{owner}: v_threshold_training must be a bool, got {v_threshold_training!r}"
            )
        self.step_mode = step_mode
        vth = torch.tensor(v_threshold)
        if v_threshold_training:
            self.v_threshold = nn.Parameter(vth)
        else:
            self.register_buffer("v_threshold", vth, persistent=False)
        self.alpha = alpha
        self.v_threshold_lower_bound = lower
        self.v_threshold_grad_scaling = _check_number(
            owner, "v_threshold_grad_scaling", v_threshold_grad_scaling
        )

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)

    def clamped_threshold(self) -> torch.Tensor:
        """The threshold used in forward: ``max(v_threshold, v_threshold_lower_bound)``."""
        return self.v_threshold.clamp(min=self.v_threshold_lower_bound)


class DSRIFNode(_DSRBase):
    """IF neuron trained by DSR (Meng et al., CVPR 2022); multi-step only.

    Forward: ``V[t] = V[t-1] + X[t]``; a spike of size ``V_th`` is fired (and ``V_th``
    subtracted) when ``V[t] >= alpha V_th``. Backward: through the representation
    ``y = clamp(r, 0, V_th)`` of ``r = mean_t X[t]``; every time-step receives the same
    input gradient.

    Args:
        T: number of time-steps; inputs must be ``[T, N, *]``.
        v_threshold: initial threshold ``V_th``.
        alpha: spikes are fired at ``alpha V_th`` (in (0, 1]).
        v_threshold_training: make ``V_th`` a learnable parameter.
        v_threshold_grad_scaling: factor on the threshold's gradient.
        v_threshold_lower_bound: ``V_th`` is clamped to at least this value.
        step_mode: only ``'m'``.
    """

    def __init__(
        self,
        T: int = 20,
        v_threshold: float = 6.0,
        alpha: float = 0.5,
        v_threshold_training: bool = True,
        v_threshold_grad_scaling: float = 1.0,
        v_threshold_lower_bound: float = 0.01,
        step_mode: str = "m",
    ) -> None:
        super().__init__(
            T,
            v_threshold,
            alpha,
            v_threshold_training,
            v_threshold_grad_scaling,
            v_threshold_lower_bound,
            step_mode,
        )

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_sequence(type(self).__name__, x_seq, self.T)
        vth = self.clamped_threshold().to(x_seq.dtype)
        return _DSRIF.apply(x_seq, vth, self.alpha, self.v_threshold_grad_scaling)

    def extra_repr(self) -> str:
        return (
            f"T={self.T}, v_threshold={self.v_threshold.item():g}, alpha={self.alpha}, "
            f"v_threshold_lower_bound={self.v_threshold_lower_bound}, "
            f"v_threshold_grad_scaling={self.v_threshold_grad_scaling}, step_mode=m"
        )


class DSRLIFNode(_DSRBase):
    """LIF neuron trained by DSR (Meng et al., CVPR 2022); multi-step only.

    Forward: ``V[t] = b V[t-1] + (1 - b) X[t]``, ``b = exp(-dt / tau)``; a spike of size
    ``V_th`` is fired (and ``V_th`` subtracted) when ``V[t] >= alpha V_th``, and spikes are
    divided by ``dt``. Backward: through the representation ``y = clamp(r / tau, 0, V_th /
    dt)`` of ``r = sum_t w_t X[t] / sum_t w_t``, ``w_t = exp(-(T - t) dt / tau)``.

    Args:
        T: number of time-steps; inputs must be ``[T, N, *]``.
        v_threshold: initial threshold ``V_th``.
        tau: membrane time constant.
        delta_t: discretisation step ``dt`` of the continuous LIF equation.
        alpha: spikes are fired at ``alpha V_th`` (in (0, 1]).
        Other args as :class:`DSRIFNode`.
    """

    def __init__(
        self,
        T: int = 20,
        v_threshold: float = 1.0,
        tau: float = 2.0,
        delta_t: float = 0.05,
        alpha: float = 0.3,
        v_threshold_training: bool = True,
        v_threshold_grad_scaling: float = 1.0,
        v_threshold_lower_bound: float = 0.1,
        step_mode: str = "m",
    ) -> None:
        super().__init__(
            T,
            v_threshold,
            alpha,
            v_threshold_training,
            v_threshold_grad_scaling,
            v_threshold_lower_bound,
            step_mode,
        )
        self.tau = _check_number(type(self).__name__, "tau", tau, above=0.0)
        self.delta_t = _check_number(type(self).__name__, "delta_t", delta_t, above=0.0)

    @staticmethod
    def weight_rate_spikes(data: torch.Tensor, tau: float, delta_t: float) -> torch.Tensor:
        """The weighted rate ``sum_t w_t data[t] / sum_t w_t`` of ``[T, N, *]`` data."""
        return (_lif_weights(data.shape[0], tau, delta_t, data) * data).sum(0)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_sequence(type(self).__name__, x_seq, self.T)
        vth = self.clamped_threshold().to(x_seq.dtype)
        return _DSRLIF.apply(
            x_seq, vth, self.tau, self.delta_t, self.alpha, self.v_threshold_grad_scaling
        )

    def extra_repr(self) -> str:
        return (
            f"T={self.T}, v_threshold={self.v_threshold.item():g}, tau={self.tau}, "
            f"delta_t={self.delta_t}, alpha={self.alpha}, "
            f"v_threshold_lower_bound={self.v_threshold_lower_bound}, "
            f"v_threshold_grad_scaling={self.v_threshold_grad_scaling}, step_mode=m"
        )
