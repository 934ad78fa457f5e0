"""Surrogate-gradient spike functions: heaviside forward, a smooth derivative backward.

Where each one lives:

- ``smooth.py``: :class:`Sigmoid`, :class:`ATan`, :class:`SoftSign`, :class:`SuperSpike`,
  :class:`NonzeroSignLogAbs`, :class:`Erf`, :class:`QPseudoSpike`,
  :class:`SquarewaveFourierSeries`;
- ``piecewise.py``: :class:`PiecewiseQuadratic`, :class:`PiecewiseExp`,
  :class:`PiecewiseLeakyReLU`, :class:`S2NN`, :class:`LeakyKReLU`,
  :class:`FakeNumericalGradient`, :class:`LogTailedReLU`, :class:`Rect`;
- ``straight_through.py``: :class:`DeterministicPass`, :class:`PoissonPass`;
- ``multilevel.py``: :class:`MultiLevelSpikeCount` (integer spike counts);
- ``base.py``: the contract, :class:`SurrogateFunctionBase` and :func:`heaviside`;
- ``functional.py``: the reference's functional forms, derived from the classes, e.g.
  ``sigmoid(x, alpha)`` (also callable as ``sigmoid.apply(x, alpha)``) and
  ``sigmoid_backward(grad_output, x, alpha)``;
- ``quantize``: straight-through quantizers, defined in :mod:`snn_core.quantize` and
  re-exported here as the ``surrogate.quantize`` namespace;
- ``tools.py``: :func:`check_manual_grad`, :func:`plot_surrogate_function`.

``SURROGATES`` maps each class name to its class, e.g. to iterate over all of them
(the classes constructible without arguments; :class:`MultiLevelSpikeCount` needs one).
"""

from snn_core import quantize
from snn_core.surrogate.base import SurrogateFunctionBase, heaviside
from snn_core.surrogate.functional import (
    atan,
    atan_backward,
    deterministic_pass,
    erf,
    erf_backward,
    fake_numerical_gradient,
    fake_numerical_gradient_backward,
    leaky_k_relu,
    leaky_k_relu_backward,
    log_tailed_relu,
    log_tailed_relu_backward,
    nonzero_sign_log_abs,
    nonzero_sign_log_abs_backward,
    piecewise_exp,
    piecewise_exp_backward,
    piecewise_leaky_relu,
    piecewise_leaky_relu_backward,
    piecewise_quadratic,
    piecewise_quadratic_backward,
    poisson_pass,
    q_pseudo_spike,
    rect,
    rect_backward,
    s2nn,
    sigmoid,
    sigmoid_backward,
    soft_sign,
    soft_sign_backward,
    squarewave_fourier_series,
    super_spike,
    super_spike_backward,
)
from snn_core.surrogate.multilevel import MultiLevelSpikeCount
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
from snn_core.surrogate.tools import check_manual_grad, plot_surrogate_function

SURROGATES: dict[str, type[SurrogateFunctionBase]] = {
    cls.__name__: cls
    for cls in (
        Sigmoid,
        ATan,
        PiecewiseQuadratic,
        PiecewiseExp,
        SoftSign,
        SuperSpike,
        NonzeroSignLogAbs,
        Erf,
        PiecewiseLeakyReLU,
        SquarewaveFourierSeries,
        S2NN,
        QPseudoSpike,
        LeakyKReLU,
        FakeNumericalGradient,
        LogTailedReLU,
        DeterministicPass,
        Rect,
        PoissonPass,
    )
}
"""Every surrogate class by name, in the reference framework's documentation order."""

__all__ = [
    "SurrogateFunctionBase",
    "heaviside",
    "SURROGATES",
    "Sigmoid",
    "ATan",
    "PiecewiseQuadratic",
    "PiecewiseExp",
    "SoftSign",
    "SuperSpike",
    "NonzeroSignLogAbs",
    "Erf",
    "PiecewiseLeakyReLU",
    "SquarewaveFourierSeries",
    "S2NN",
    "QPseudoSpike",
    "LeakyKReLU",
    "FakeNumericalGradient",
    "LogTailedReLU",
    "DeterministicPass",
    "Rect",
    "PoissonPass",
    "MultiLevelSpikeCount",
    "quantize",
    "check_manual_grad",
    "plot_surrogate_function",
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
