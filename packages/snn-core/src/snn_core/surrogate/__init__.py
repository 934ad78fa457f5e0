"""Surrogate-gradient spike functions: heaviside forward, a smooth derivative backward.

Where each one lives:

- ``smooth.py``: :class:`Sigmoid`, :class:`ATan`, :class:`SoftSign`, :class:`SuperSpike`,
  :class:`NonzeroSignLogAbs`, :class:`Erf`, :class:`QPseudoSpike`,
  :class:`SquarewaveFourierSeries`;
- ``piecewise.py``: :class:`PiecewiseQuadratic`, :class:`PiecewiseExp`,
  :class:`PiecewiseLeakyReLU`, :class:`S2NN`, :class:`LeakyKReLU`,
  :class:`FakeNumericalGradient`, :class:`LogTailedReLU`, :class:`Rect`;
- ``straight_through.py``: :class:`DeterministicPass`, :class:`PoissonPass`;
- ``base.py``: the contract, :class:`SurrogateFunctionBase` and :func:`heaviside`.

``SURROGATES`` maps each class name to its class, e.g. to iterate over all of them.
"""

from snn_core.surrogate.base import SurrogateFunctionBase, heaviside
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
]
