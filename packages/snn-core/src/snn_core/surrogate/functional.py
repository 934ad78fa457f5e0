r"""Functional forms of the surrogates, with the reference framework's names and signatures.

For each surrogate class there is a spike function, e.g. ``sigmoid(x, alpha)``, that emits
``heaviside(x)`` forward and backpropagates the class's surrogate gradient, and (for the
surrogates the reference gives one) a ``*_backward(grad_output, x, *params)`` that returns
that gradient as ``(grad_x, None, ...)`` (one ``None`` per hyper-parameter):

.. code-block:: python

    spikes = surrogate.sigmoid(x, 4.0)           # same as surrogate.Sigmoid(4.0)(x)
    spikes = surrogate.sigmoid.apply(x, 4.0)     # the reference's call style also works
    grad_x, _ = surrogate.sigmoid_backward(grad_output, x, 4.0)

Nothing here writes a formula: a spike function runs the autograd function the class uses
(``SurrogateFunctionBase.forward``) with an instance of the class, and a ``*_backward``
multiplies by that class's :meth:`~SurrogateFunctionBase.derivative` (through the class-level
``spiking_function`` and ``backward``). Hyper-parameters are validated as the class
validates them; instances are cached per ``(class, parameters)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch

from snn_core.surrogate.base import SurrogateFunctionBase
from snn_core.surrogate.piecewise import (
    S2NN,
    FakeNumericalGradient,
    LeakyKReLU,
    LogTailedReLU,
    PiecewiseExp,
    PiecewiseLeakyReLU,
    PiecewiseQuadratic,
    Rect,
)
from snn_core.surrogate.smooth import (
    ATan,
    Erf,
    NonzeroSignLogAbs,
    QPseudoSpike,
    Sigmoid,
    SoftSign,
    SquarewaveFourierSeries,
    SuperSpike,
)
from snn_core.surrogate.straight_through import DeterministicPass, PoissonPass

__all__ = [
    "piecewise_quadratic",
    "piecewise_quadratic_backward",
    "piecewise_exp",
    "piecewise_exp_backward",
    "sigmoid",
    "sigmoid_backward",
    "soft_sign",
    "soft_sign_backward",
    "super_spike",
    "super_spike_backward",
    "atan",
    "atan_backward",
    "nonzero_sign_log_abs",
    "nonzero_sign_log_abs_backward",
    "erf",
    "erf_backward",
    "piecewise_leaky_relu",
    "piecewise_leaky_relu_backward",
    "squarewave_fourier_series",
    "s2nn",
    "q_pseudo_spike",
    "leaky_k_relu",
    "leaky_k_relu_backward",
    "fake_numerical_gradient",
    "fake_numerical_gradient_backward",
    "log_tailed_relu",
    "log_tailed_relu_backward",
    "deterministic_pass",
    "poisson_pass",
    "rect",
    "rect_backward",
]

Tensor = torch.Tensor
_F = TypeVar("_F", bound=Callable[..., Any])


def _spike(cls: type[SurrogateFunctionBase], x: Tensor, *params: Any) -> Tensor:
    """``cls(*params)(x)`` in spiking mode, through the class's own autograd function."""
    return cls.spiking_function(x, *params)


def _backward(
    cls: type[SurrogateFunctionBase], grad_output: Tensor, x: Tensor, *params: Any
) -> tuple[Any, ...]:
    """``(grad_output * cls(*params).derivative(x), None, ...)``, one ``None`` per parameter."""
    return (cls.backward(grad_output, x, *params), *(None for _ in params))


def _with_apply(fn: _F) -> _F:
    """Give ``fn`` an ``apply`` alias, so reference code ``sigmoid.apply(x, a)`` runs as is."""
    fn.apply = fn  # type: ignore[attr-defined]
    return fn


# ---- smooth derivatives (smooth.py) ------------------------------------------------------
@_with_apply
def sigmoid(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.Sigmoid` gradient."""
    return _spike(Sigmoid, x, alpha)


def sigmoid_backward(grad_output: Tensor, x: Tensor, alpha: float) -> tuple[Tensor, None]:
    """``(grad_output * Sigmoid(alpha).derivative(x), None)``."""
    return _backward(Sigmoid, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def atan(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.ATan` gradient."""
    return _spike(ATan, x, alpha)


def atan_backward(grad_output: Tensor, x: Tensor, alpha: float) -> tuple[Tensor, None]:
    """``(grad_output * ATan(alpha).derivative(x), None)``."""
    return _backward(ATan, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def soft_sign(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.SoftSign` gradient."""
    return _spike(SoftSign, x, alpha)


def soft_sign_backward(grad_output: Tensor, x: Tensor, alpha: float) -> tuple[Tensor, None]:
    """``(grad_output * SoftSign(alpha).derivative(x), None)``."""
    return _backward(SoftSign, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def super_spike(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.SuperSpike` gradient."""
    return _spike(SuperSpike, x, alpha)


def super_spike_backward(grad_output: Tensor, x: Tensor, alpha: float) -> tuple[Tensor, None]:
    """``(grad_output * SuperSpike(alpha).derivative(x), None)``."""
    return _backward(SuperSpike, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def nonzero_sign_log_abs(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.NonzeroSignLogAbs` gradient."""
    return _spike(NonzeroSignLogAbs, x, alpha)


def nonzero_sign_log_abs_backward(
    grad_output: Tensor, x: Tensor, alpha: float
) -> tuple[Tensor, None]:
    """``(grad_output * NonzeroSignLogAbs(alpha).derivative(x), None)``."""
    return _backward(NonzeroSignLogAbs, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def erf(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.Erf` gradient."""
    return _spike(Erf, x, alpha)


def erf_backward(grad_output: Tensor, x: Tensor, alpha: float) -> tuple[Tensor, None]:
    """``(grad_output * Erf(alpha).derivative(x), None)``."""
    return _backward(Erf, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def q_pseudo_spike(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.QPseudoSpike` gradient."""
    return _spike(QPseudoSpike, x, alpha)


@_with_apply
def squarewave_fourier_series(x: Tensor, n: int, T_period: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.SquarewaveFourierSeries`
    gradient."""
    return _spike(SquarewaveFourierSeries, x, n, T_period)


# ---- piecewise derivatives (piecewise.py) ------------------------------------------------
@_with_apply
def piecewise_quadratic(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.PiecewiseQuadratic` gradient."""
    return _spike(PiecewiseQuadratic, x, alpha)


def piecewise_quadratic_backward(
    grad_output: Tensor, x: Tensor, alpha: float
) -> tuple[Tensor, None]:
    """``(grad_output * PiecewiseQuadratic(alpha).derivative(x), None)``."""
    return _backward(PiecewiseQuadratic, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def piecewise_exp(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.PiecewiseExp` gradient."""
    return _spike(PiecewiseExp, x, alpha)


def piecewise_exp_backward(grad_output: Tensor, x: Tensor, alpha: float) -> tuple[Tensor, None]:
    """``(grad_output * PiecewiseExp(alpha).derivative(x), None)``."""
    return _backward(PiecewiseExp, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def piecewise_leaky_relu(x: Tensor, w: float = 1, c: float = 0.01) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.PiecewiseLeakyReLU` gradient."""
    return _spike(PiecewiseLeakyReLU, x, w, c)


def piecewise_leaky_relu_backward(
    grad_output: Tensor, x: Tensor, w: float, c: float
) -> tuple[Tensor, None, None]:
    """``(grad_output * PiecewiseLeakyReLU(w, c).derivative(x), None, None)``."""
    return _backward(PiecewiseLeakyReLU, grad_output, x, w, c)  # type: ignore[return-value]


@_with_apply
def s2nn(x: Tensor, alpha: float, beta: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.S2NN` gradient."""
    return _spike(S2NN, x, alpha, beta)


@_with_apply
def leaky_k_relu(x: Tensor, leak: float, k: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.LeakyKReLU` gradient."""
    return _spike(LeakyKReLU, x, leak, k)


def leaky_k_relu_backward(
    grad_output: Tensor, x: Tensor, leak: float, k: float
) -> tuple[Tensor, None, None]:
    """``(grad_output * LeakyKReLU(leak, k).derivative(x), None, None)``."""
    return _backward(LeakyKReLU, grad_output, x, leak, k)  # type: ignore[return-value]


@_with_apply
def fake_numerical_gradient(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.FakeNumericalGradient`
    gradient."""
    return _spike(FakeNumericalGradient, x, alpha)


def fake_numerical_gradient_backward(
    grad_output: Tensor, x: Tensor, alpha: float
) -> tuple[Tensor, None]:
    """``(grad_output * FakeNumericalGradient(alpha).derivative(x), None)``."""
    return _backward(FakeNumericalGradient, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def log_tailed_relu(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.LogTailedReLU` gradient."""
    return _spike(LogTailedReLU, x, alpha)


def log_tailed_relu_backward(grad_output: Tensor, x: Tensor, alpha: float) -> tuple[Tensor, None]:
    """``(grad_output * LogTailedReLU(alpha).derivative(x), None)``."""
    return _backward(LogTailedReLU, grad_output, x, alpha)  # type: ignore[return-value]


@_with_apply
def rect(x: Tensor, alpha: float) -> Tensor:
    """Spikes ``heaviside(x)`` with the :class:`~snn_core.surrogate.Rect` gradient."""
    return _spike(Rect, x, alpha)


def rect_backward(grad_output: Tensor, x: Tensor, alpha: float) -> tuple[Tensor, None]:
    """``(grad_output * Rect(alpha).derivative(x), None)``."""
    return _backward(Rect, grad_output, x, alpha)  # type: ignore[return-value]


# ---- straight-through (straight_through.py) ----------------------------------------------
@_with_apply
def deterministic_pass(x: Tensor) -> Tensor:
    """Spikes ``heaviside(x)``; the gradient passes unchanged (:class:`DeterministicPass`)."""
    return _spike(DeterministicPass, x)


@_with_apply
def poisson_pass(x: Tensor) -> Tensor:
    """Bernoulli spikes with probability ``x`` in ``[0, 1]``; the gradient passes unchanged.

    As :class:`~snn_core.surrogate.PoissonPass`, spikes keep ``x``'s dtype (the reference
    casts them to float32).
    """
    return _spike(PoissonPass, x)
