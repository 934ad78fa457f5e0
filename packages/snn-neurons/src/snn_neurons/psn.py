"""The Parallel Spiking Neuron family: :class:`PSN`, :class:`MaskedPSN`, :class:`SlidingPSN`.

Fang et al., "Parallel Spiking Neurons with High Efficiency and Ability to Learn Long-term
Dependencies", NeurIPS 2023 (https://arxiv.org/abs/2304.12760).

A PSN drops the reset, so the hidden state of all T steps is one linear map of the inputs,
``H = W X`` with ``X`` of shape ``[T, N]`` (``N`` = every non-time element of the input),
and the spikes are ``S = Θ(H - B)``. The learnable threshold is stored as a bias
``bias = -B`` (initialised to ``-1``, i.e. threshold 1), so ``S = Θ(W X + bias)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from snn_core.base import MemoryModule, MultiStepModule, check_multi_step_input
from snn_core.functional import masked_psn_step, sliding_psn_step
from snn_core.surrogate import ATan, SurrogateFunctionBase
from torch import nn

from snn_neurons.base_node import _check_surrogate

__all__ = ["PSN", "MaskedPSN", "SlidingPSN"]


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


def _check_seq_len(module: nn.Module, x_seq: torch.Tensor) -> None:
    """Multi-step input ``[T, N, *]`` whose ``T`` equals the module's ``T``."""
    check_multi_step_input(x_seq)
    if x_seq.shape[0] != module.T:
        raise ValueError(
            f"{type(module).__name__} was built with T={module.T}, but x_seq has "
            f"{x_seq.shape[0]} time-steps (shape {tuple(x_seq.shape)}); the input's first "
            f"dimension must be T={module.T}"
        )


def _check_lambda(value: Any) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"lambda_ must be a number in [0, 1], got {value!r}")
    return float(value)


def _default_surrogate(surrogate_function: SurrogateFunctionBase | None) -> SurrogateFunctionBase:
    if surrogate_function is None:
        surrogate_function = ATan()
    _check_surrogate(surrogate_function)
    return surrogate_function


def _fire_all_steps(
    weight: torch.Tensor,
    bias: torch.Tensor,
    x_seq: torch.Tensor,
    surrogate_function: SurrogateFunctionBase,
) -> torch.Tensor:
    """``S = Θ(weight @ X + bias)`` with ``X = x_seq`` flattened to ``[T, N]``."""
    h_seq = weight @ x_seq.flatten(1) + bias
    return surrogate_function(h_seq).view(x_seq.shape)


def _check_queue_shape(queue: list[torch.Tensor], x: torch.Tensor, owner: str) -> None:
    """The queue (flattened inputs of earlier steps) must match ``x``'s number of elements."""
    if queue and queue[-1].numel() != x.numel():
        raise ValueError(
            f"{owner} holds inputs of {queue[-1].numel()} elements from earlier steps, but "
            f"the new input has shape {tuple(x.shape)}; call reset() before feeding a batch "
            f"of another shape"
        )


class PSN(nn.Module, MultiStepModule):
    r"""Parallel Spiking Neuron (multi-step only).

    .. math::
        H = W X, \quad S = \Theta(H - B), \qquad
        W \in \mathbb{R}^{T \times T},\ X \in \mathbb{R}^{T \times N},\ B \in \mathbb{R}^{T}

    ``weight`` (``W``, ``[T, T]``) is initialised by Kaiming uniform (``a = sqrt(5)``, as
    ``nn.Linear``); ``bias`` (``[T, 1]``, ``= -B``) by ``-1``. The forward computes
    ``S = Θ(W X + bias)``.

    Args:
        T: number of time-steps; the input must be ``[T, N, *]``.
        surrogate_function: spike function with a surrogate gradient; ``None`` means
            ``surrogate.ATan()``.
    """

    def __init__(self, T: int, surrogate_function: SurrogateFunctionBase | None = None) -> None:
        super().__init__()
        self.T = _check_positive_int("T", T)
        self.surrogate_function = _default_surrogate(surrogate_function)
        self.step_mode = "m"
        self.weight = nn.Parameter(torch.empty(T, T))
        self.bias = nn.Parameter(torch.full((T, 1), -1.0))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, N, *]`` of input ``x_seq`` ``[T, N, *]``."""
        _check_seq_len(self, x_seq)
        return _fire_all_steps(self.weight, self.bias, x_seq, self.surrogate_function)

    def extra_repr(self) -> str:
        return f"{MultiStepModule.extra_repr(self)}, T={self.T}"


class MaskedPSN(MemoryModule):
    r"""Masked Parallel Spiking Neuron: a PSN whose weight is masked to a band of width ``k``.

    .. math::
        H = (W \cdot M_k(\lambda)) X, \quad S = \Theta(H - B), \qquad
        M_k[i][j] = 1 \text{ if } j \le i \le j + k - 1 \text{ else } 0,
        \quad M_k(\lambda) = \lambda M_k + (1 - \lambda) J

    ``J`` is the all-one matrix; ``λ`` (``lambda_``, in ``[0, 1]``) is ramped from 0 to 1
    during training (progressive masking). With ``λ = 1`` each ``H[t]`` depends only on
    ``X[t-k+1..t]``, so the neuron can also run step by step; single-step mode requires it.
    ``weight`` ``[T, T]``: Kaiming uniform (``a = sqrt(5)``); ``bias`` ``[T, 1]`` ``= -B``:
    ``-1``. Buffers: ``_lambda_`` (0-d), ``mask0`` (``M_k``) and ``mask1`` (``J``).
    Single-step state: ``time_step`` and ``queue`` (the last ``k`` inputs, flattened); one
    step is :func:`snn_core.functional.masked_psn_step`.

    Args:
        k: order of the neuron (width of the band of ``M_k``).
        T: number of time-steps.
        lambda_init: initial ``λ``.
        surrogate_function: spike function with a surrogate gradient; ``None`` means
            ``surrogate.ATan()``.
        step_mode: ``'s'`` (one step per call, at most ``T`` calls before ``reset()``) or
            ``'m'`` (``[T, N, *]`` at once, much faster).
    """

    def __init__(
        self,
        k: int,
        T: int,
        lambda_init: float = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        self.k = _check_positive_int("k", k)
        self.T = _check_positive_int("T", T)
        self.surrogate_function = _default_surrogate(surrogate_function)
        self.step_mode = step_mode
        self.register_memory("time_step", 0)
        self.register_memory("queue", [])
        self.register_buffer("_lambda_", torch.tensor(_check_lambda(lambda_init)))
        self.weight = nn.Parameter(torch.empty(T, T))
        self.bias = nn.Parameter(torch.full((T, 1), -1.0))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        mask1 = torch.ones(T, T)
        self.register_buffer("mask0", torch.tril(mask1) * torch.triu(mask1, -(k - 1)))
        self.register_buffer("mask1", mask1)

    @property
    def lambda_(self) -> torch.Tensor:
        """``λ`` of the progressive masking (a 0-d tensor); set it with ``self.lambda_ = v``."""
        return self._lambda_

    @lambda_.setter
    def lambda_(self, value: float | torch.Tensor) -> None:
        with torch.no_grad():
            self._lambda_.fill_(_check_lambda(value))

    @staticmethod
    def gen_masked_weight(
        lambda_: torch.Tensor, mask0: torch.Tensor, mask1: torch.Tensor, weight: torch.Tensor
    ) -> torch.Tensor:
        """``(λ mask0 + (1 - λ) mask1) * weight`` (elementwise)."""
        return (lambda_ * mask0 + (1.0 - lambda_) * mask1) * weight

    def masked_weight(self) -> torch.Tensor:
        """``W · M_k(λ)``; exactly ``W · M_k`` once ``λ >= 1``."""
        if self.lambda_ >= 1.0:
            return self.weight * self.mask0
        return self.gen_masked_weight(self.lambda_, self.mask0, self.mask1, self.weight)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes of step ``t = time_step`` from the last ``k`` inputs (needs ``λ = 1``).

        Past ``T`` steps the input is still queued (as in the reference) before the
        ``OverflowError``; ``time_step`` does not advance."""
        if self.lambda_ < 1.0:
            raise ValueError(
                f"MaskedPSN can only run in single-step mode once fully masked (lambda_ = 1), "
                f"got lambda_={self.lambda_.item()}; set lambda_ = 1 or use step_mode='m'"
            )
        _check_queue_shape(self.queue, x, "MaskedPSN")
        t = self.time_step
        if t >= self.T:
            self.queue = [*self.queue, x.flatten()][-self.k :]
            raise OverflowError(
                f"MaskedPSN(T={self.T}) has already run {t} single steps; call reset() "
                f"(or functional.reset_net) before the next sequence"
            )
        spike, self.time_step, queue = masked_psn_step(
            x, t, tuple(self.queue), self.masked_weight(), self.bias, self.k,
            self.surrogate_function,
        )  # fmt: skip
        self.queue = list(queue)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, N, *]`` of input ``x_seq`` ``[T, N, *]``."""
        _check_seq_len(self, x_seq)
        return _fire_all_steps(self.masked_weight(), self.bias, x_seq, self.surrogate_function)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``((X,), (t, queue)) -> ((S,), (t + 1, queue'))`` by
        :func:`snn_core.functional.masked_psn_step` (needs ``lambda_ = 1`` and ``t < T``)."""
        time_step, queue = states
        if self.lambda_ < 1.0:
            raise ValueError(
                f"MaskedPSN can only run in single-step mode once fully masked (lambda_ = 1), "
                f"got lambda_={self.lambda_.item()}"
            )
        if time_step >= self.T:
            raise OverflowError(f"MaskedPSN(T={self.T}) has already run {time_step} steps")
        spike, time_step, queue = masked_psn_step(
            inputs[0], time_step, tuple(queue), self.masked_weight(), self.bias, self.k,
            self.surrogate_function,
        )  # fmt: skip
        return (spike,), (time_step, list(queue))

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """The matrix form over all T steps; the states are returned unchanged."""
        return (self.multi_step_forward(inputs[0]),), tuple(states)

    def detach(self) -> None:
        super().detach()
        self.queue = [x.detach() for x in self.queue]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, k={self.k}, T={self.T}, lambda_={self.lambda_.item()}"


class SlidingPSN(MemoryModule):
    r"""Sliding Parallel Spiking Neuron: a PSN with ``k`` weights shared over time.

    .. math::
        H[t] = \sum_{i=0}^{k-1} W_i X[t - k + 1 + i], \quad S[t] = \Theta(H[t] - B)

    with ``X[t] = 0`` for ``t < 0``. Works for any number of steps. Single-step state:
    ``queue`` (the last ``k`` inputs, flattened); one step is
    :func:`snn_core.functional.sliding_psn_step`. ``weight`` ``[k]`` is
    ``(..., 1/4, 1/2, 1)`` with ``exp_init`` or Kaiming uniform (``a = sqrt(5)``, fan-in
    ``k``) otherwise; ``bias`` (0-d, ``= -B``) is ``-1``.

    Args:
        k: order of the neuron (number of weights).
        exp_init: initialise ``weight`` as ``W_i = 2^{-(k-1-i)}`` (else Kaiming uniform).
        surrogate_function: spike function with a surrogate gradient; ``None`` means
            ``surrogate.ATan()``.
        step_mode: ``'s'`` (one step per call) or ``'m'`` (``[T, N, *]`` at once).
        backend: multi-step computation, ``'gemm'`` (``H = W_T X`` with the banded
            ``[T, T]`` matrix of :meth:`gen_gemm_weight`) or ``'conv'`` (causal 1-D
            convolution over time); both give the same result.
    """

    def __init__(
        self,
        k: int,
        exp_init: bool = True,
        surrogate_function: SurrogateFunctionBase | None = None,
        step_mode: str = "s",
        backend: str = "gemm",
    ) -> None:
        super().__init__()
        self.k = _check_positive_int("k", k)
        if not isinstance(exp_init, bool):
            raise TypeError(f"exp_init must be a bool, got {exp_init!r}")
        self.surrogate_function = _default_surrogate(surrogate_function)
        self.step_mode = step_mode
        self.backend = backend
        self.register_memory("queue", [])
        if exp_init:
            weight = 0.5 ** torch.arange(k - 1, -1, -1, dtype=torch.get_default_dtype())
        else:
            weight = torch.empty(1, k)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
            weight = weight[0]
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.tensor(-1.0))

    @property
    def supported_backends(self) -> tuple[str, ...]:
        """The multi-step backends: ``('gemm', 'conv')``."""
        return ("gemm", "conv")

    @property
    def backend(self) -> str:
        """The multi-step backend, ``'gemm'`` or ``'conv'``; settable."""
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        if value not in self.supported_backends:
            raise ValueError(
                f"backend must be one of {self.supported_backends} for SlidingPSN, got {value!r}"
            )
        self._backend = value

    def gen_gemm_weight(self, T: int) -> torch.Tensor:
        """The ``[T, T]`` matrix ``W_T`` with ``H = W_T X``: ``W_T[t, j] = W_{k-1-(t-j)}``
        for ``0 <= t - j < k``, else 0."""
        _check_positive_int("T", T)
        steps = torch.arange(T, device=self.weight.device)
        lag = steps[:, None] - steps[None, :]
        band = (lag >= 0) & (lag < self.k)
        index = (self.k - 1 - lag).clamp(0, self.k - 1)
        return self.weight[index] * band.to(self.weight.dtype)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes of the current step from the last ``k`` inputs."""
        _check_queue_shape(self.queue, x, "SlidingPSN")
        spike, queue = sliding_psn_step(
            x, tuple(self.queue), self.weight, self.bias, self.surrogate_function
        )
        self.queue = list(queue)
        return spike

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``((X,), (queue,)) -> ((S,), (queue',))`` by
        :func:`snn_core.functional.sliding_psn_step`."""
        spike, queue = sliding_psn_step(
            inputs[0], tuple(states[0]), self.weight, self.bias, self.surrogate_function
        )
        return (spike,), (list(queue),)

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """The banded-matrix form over all steps; the states are returned unchanged."""
        return (self.multi_step_forward(inputs[0]),), tuple(states)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, N, *]`` of input ``x_seq`` ``[T, N, *]`` (any ``T``)."""
        check_multi_step_input(x_seq)
        if self.backend == "gemm":
            weight = self.gen_gemm_weight(x_seq.shape[0])
            return _fire_all_steps(weight, self.bias, x_seq, self.surrogate_function)
        # 'conv': [T, N*] -> [N*, 1, T], causal cross-correlation with the k weights.
        x = F.pad(x_seq.flatten(1).t().unsqueeze(1), (self.k - 1, 0))
        h = F.conv1d(x, self.weight.view(1, 1, -1)).squeeze(1).t()
        return self.surrogate_function(h + self.bias).reshape(x_seq.shape)

    def detach(self) -> None:
        super().detach()
        self.queue = [x.detach() for x in self.queue]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, order={self.k}, backend={self.backend}"
