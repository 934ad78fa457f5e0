"""Gated LIF neuron (Yao et al., 2022, "GLIF: A Unified Gated Leaky
Integrate-and-Fire Neuron for Spiking Neural Networks", NeurIPS; openreview UmFSx2c4ubT).

Three learnable gates ``alpha, beta, gamma`` (sigmoids of parameters) blend two choices of
each part of the LIF neuron, and every membrane constant is learnable (stored as the
logit of its value, ``p = sigmoid(param)``):

- input: ``I[t] = X[t] (1 - beta (1 - g[t]))`` with a per-step conductance ``g[t]``;
- leak: ``U[t] = (1 - alpha (1 - tau)) V[t-1] - (1 - alpha) V_decay + I[t]``
  (exponential decay ``tau`` vs. linear decay ``V_decay``);
- reset, from the previous spike: ``U[t] -= gamma (1 - alpha (1 - tau)) V[t-1] S[t-1]
  + (1 - gamma) V_subreset S[t-1]`` (hard/multiplicative vs. soft/subtractive);
- fire: ``S[t] = Θ(U[t] - V_th)``, ``V[t] = U[t]``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from snn_core.base import MemoryModule
from snn_core.functional import gated_lif_step
from snn_core.surrogate import Sigmoid, SurrogateFunctionBase
from torch import nn

from snn_neurons._stepping import _check_int, _check_sequence
from snn_neurons.backends import check_backend_name
from snn_neurons.base_node import _check_surrogate

__all__ = ["GatedLIFNode"]


def _logit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise ValueError(f"GatedLIFNode: {name} must be a number in (0, 1), got {value!r}")
    return -math.log(1.0 / value - 1.0)


class GatedLIFNode(MemoryModule):
    """Gated LIF neuron (GLIF); multi-step only (the conductance ``g[t]`` depends on ``t``).

    Args:
        T: number of time-steps; inputs must be ``[T, N, *]``.
        inplane: number of channels (dimension 1 of ``[N, C, *]``) for channel-wise
            parameters; ``None`` for layer-wise (scalar) parameters.
        init_linear_decay: initial ``V_decay``; default ``init_v_threshold / (2 T)``.
        init_v_subreset: initial ``V_subreset``; default ``init_v_threshold``.
        init_tau: initial exponential decay factor ``tau`` in (0, 1).
        init_v_threshold: initial threshold in (0, 1).
        init_conduct: initial conductance ``g[t]`` in (0, 1).
        surrogate_function: spike function (default :class:`~snn_core.surrogate.Sigmoid`).
        step_mode: only ``'m'``.
        backend: only ``'torch'``.

    The gates ``alpha, beta, gamma`` start as ``sigmoid(u)``, ``u`` uniform in [-0.1, 0.1].
    All parameters are float32 (as in the reference), whatever the default dtype. One step
    is :func:`snn_core.functional.gated_lif_step`.
    """

    def __init__(
        self,
        T: int,
        inplane: int | None = None,
        init_linear_decay: float | None = None,
        init_v_subreset: float | None = None,
        init_tau: float = 0.25,
        init_v_threshold: float = 0.5,
        init_conduct: float = 0.5,
        surrogate_function: SurrogateFunctionBase | None = None,
        step_mode: str = "m",
        backend: str = "torch",
    ) -> None:
        super().__init__()
        self.T = _check_int("GatedLIFNode", "T", T)
        if inplane is not None:
            inplane = _check_int("GatedLIFNode", "inplane", inplane)
        self.inplane = inplane
        if surrogate_function is None:
            surrogate_function = Sigmoid()
        _check_surrogate(surrogate_function)
        self.surrogate_function = surrogate_function
        self.step_mode = step_mode
        check_backend_name(backend)
        if backend != "torch":
            raise ValueError(f"GatedLIFNode supports only backend='torch', got {backend!r}")
        self.backend = backend
        if init_linear_decay is None:
            init_linear_decay = init_v_threshold / (T * 2)
        if init_v_subreset is None:
            init_v_subreset = init_v_threshold
        shape = () if inplane is None else (inplane,)
        f32 = torch.float32
        self.alpha, self.beta, self.gamma = (
            nn.Parameter(0.2 * (torch.rand(shape, dtype=f32) - 0.5)) for _ in range(3)
        )
        self.tau = nn.Parameter(torch.full(shape, _logit("init_tau", init_tau), dtype=f32))
        self.v_threshold = nn.Parameter(
            torch.full(shape, _logit("init_v_threshold", init_v_threshold), dtype=f32)
        )
        self.linear_decay = nn.Parameter(
            torch.full(shape, _logit("init_linear_decay", init_linear_decay), dtype=f32)
        )
        self.v_subreset = nn.Parameter(
            torch.full(shape, _logit("init_v_subreset", init_v_subreset), dtype=f32)
        )
        self.conduct = nn.Parameter(
            torch.full((T, *shape), _logit("init_conduct", init_conduct), dtype=f32)
        )
        self.register_memory("v", 0.0)
        self.register_memory("u", 0.0)

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)

    @property
    def supported_backends(self) -> tuple[str, ...]:
        """Only ``('torch',)``: GLIF runs as a Python loop over the time-steps."""
        return ("torch",)

    def _view(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Sigmoid of a parameter, shaped to broadcast over ``x`` = ``[N, C, *]``."""
        p = p.sigmoid()
        if self.inplane is None:
            return p
        return p.view(1, -1, *([1] * (x.dim() - 2)))

    def materialize_states(
        self, inputs: tuple[Any, ...], states: tuple[Any, ...], step_mode: str
    ) -> tuple[Any, ...]:
        """A number ``v`` becomes ``full_like`` one input step; ``u`` is kept."""
        v = states[0]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = torch.full_like(inputs[0][0], float(v))
        return (v, *states[1:])

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``((X_seq,), (V, U)) -> ((S_seq,), (V', V'))``: the T steps of
        :func:`snn_core.functional.gated_lif_step` from the explicit ``V``."""
        spikes, v = self._run(inputs[0], states[0])
        return (spikes,), (v, v)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_sequence("GatedLIFNode", x_seq, self.T)
        spikes, v = self._run(x_seq, self.init_memory_like("v", x_seq[0]))
        self.u = v
        self.v = v
        return spikes

    def _run(self, x_seq: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_sequence("GatedLIFNode", x_seq, self.T)
        if self.inplane is not None and (x_seq.dim() < 3 or x_seq.shape[2] != self.inplane):
            raise ValueError(
                f"GatedLIFNode: channel-wise parameters need x_seq of shape [T, N, {self.inplane}"
                f", *] (inplane={self.inplane}), got {tuple(x_seq.shape)}"
            )
        x0 = x_seq[0]
        alpha, beta, gamma = (self._view(p, x0) for p in (self.alpha, self.beta, self.gamma))
        tau, v_th = self._view(self.tau, x0), self._view(self.v_threshold, x0)
        linear_decay, v_subreset = (
            self._view(self.linear_decay, x0),
            self._view(self.v_subreset, x0),
        )
        spike = torch.zeros_like(x0)
        spikes = []
        for t in range(self.T):
            conduct = self._view(self.conduct[t], x0)
            spike, v = gated_lif_step(
                x_seq[t],
                v,
                spike,
                alpha,
                beta,
                gamma,
                tau,
                v_th,
                linear_decay,
                v_subreset,
                conduct,
                self.surrogate_function,
            )
            spikes.append(spike)
        return torch.stack(spikes), v

    def extra_repr(self) -> str:
        return f"T={self.T}, inplane={self.inplane}, step_mode=m, backend={self.backend}"
