"""Closed-form values of each surrogate's derivative g'(x) and primitive g(x).

Every expected number is worked out by hand from the equation in the surrogate's docstring
(and the reference framework's docs), written with ``math`` so the arithmetic is visible.
"""

from __future__ import annotations

import math

import pytest
import torch
from snn_core import surrogate as sg


def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# (surrogate, x, g'(x), g(x))
_VALUES = [
    # Sigmoid: g = sig(a x), g' = a sig (1 - sig); a = 4 -> g'(0) = 4 / 4 = 1.
    (sg.Sigmoid(), 0.0, 1.0, 0.5),
    (sg.Sigmoid(), 0.5, 4 * _sig(2.0) * (1 - _sig(2.0)), _sig(2.0)),
    (sg.Sigmoid(alpha=1.0), -2.0, _sig(-2.0) * (1 - _sig(-2.0)), _sig(-2.0)),
    # ATan: g' = (a/2) / (1 + (pi/2 a x)^2), g = atan(pi/2 a x)/pi + 1/2; a = 2.
    (sg.ATan(), 0.0, 1.0, 0.5),
    (sg.ATan(), 0.5, 1.0 / (1.0 + (math.pi / 2) ** 2), math.atan(math.pi / 2) / math.pi + 0.5),
    (
        sg.ATan(alpha=4.0),
        -1.0,
        2.0 / (1.0 + (2 * math.pi) ** 2),
        0.5 - math.atan(2 * math.pi) / math.pi,
    ),
    # PiecewiseQuadratic, a = 1: g' = 1 - |x| on |x| <= 1; g = -x|x|/2 + x + 1/2.
    (sg.PiecewiseQuadratic(), 0.0, 1.0, 0.5),
    (sg.PiecewiseQuadratic(), 0.5, 0.5, -0.125 + 0.5 + 0.5),
    (sg.PiecewiseQuadratic(), -0.5, 0.5, 0.125 - 0.5 + 0.5),
    (sg.PiecewiseQuadratic(), 2.0, 0.0, 1.0),
    (sg.PiecewiseQuadratic(), -2.0, 0.0, 0.0),
    # a = 2: window |x| <= 1/2, g'(0.25) = 2 - 4 * 0.25 = 1, g(0.25) = -2*0.0625 + 0.5 + 0.5.
    (sg.PiecewiseQuadratic(alpha=2.0), 0.25, 1.0, 0.875),
    # PiecewiseExp, a = 1: g' = e^{-|x|} / 2; g = e^x / 2 (x < 0), 1 - e^{-x} / 2 (x >= 0).
    (sg.PiecewiseExp(), 0.0, 0.5, 0.5),
    (sg.PiecewiseExp(), 1.0, 0.5 * math.exp(-1), 1 - 0.5 * math.exp(-1)),
    (sg.PiecewiseExp(), -1.0, 0.5 * math.exp(-1), 0.5 * math.exp(-1)),
    (sg.PiecewiseExp(alpha=2.0), -0.5, math.exp(-1), 0.5 * math.exp(-1)),
    # SoftSign, a = 2: g' = a / (2 (1 + |a x|)^2); g = (a x / (1 + |a x|) + 1) / 2.
    (sg.SoftSign(), 0.0, 1.0, 0.5),
    (sg.SoftSign(), 0.5, 2 / (2 * 4), 0.75),
    (sg.SoftSign(), -0.5, 0.25, 0.25),
    (sg.SoftSign(alpha=1.0), 3.0, 1 / (2 * 16), 0.5 * (0.75 + 1)),
    # SuperSpike, a = 1: g' = a / (1 + |x|)^2; g = a x / (1 + |x|) + 1/2.
    (sg.SuperSpike(), 0.0, 1.0, 0.5),
    (sg.SuperSpike(), 1.0, 0.25, 1.0),
    (sg.SuperSpike(), -3.0, 1 / 16, 0.5 - 0.75),
    (sg.SuperSpike(alpha=2.0), 1.0, 0.5, 1.5),
    # NonzeroSignLogAbs, a = 1: g' = 1 / (1/a + |x|); g = sign(x) ln(|a x| + 1).
    (sg.NonzeroSignLogAbs(), 0.0, 1.0, 0.0),
    (sg.NonzeroSignLogAbs(), 1.0, 0.5, math.log(2)),
    (sg.NonzeroSignLogAbs(), -3.0, 0.25, -math.log(4)),
    (sg.NonzeroSignLogAbs(alpha=2.0), -1.5, 1 / (0.5 + 1.5), -math.log(4)),
    # Erf, a = 2: g' = a / sqrt(pi) e^{-a^2 x^2}; g = (1 + erf(a x)) / 2.
    (sg.Erf(), 0.0, 2 / math.sqrt(math.pi), 0.5),
    (sg.Erf(), 0.5, 2 / math.sqrt(math.pi) * math.exp(-1), 0.5 * (1 + math.erf(1))),
    (sg.Erf(), -0.5, 2 / math.sqrt(math.pi) * math.exp(-1), 0.5 * (1 - math.erf(1))),
    # PiecewiseLeakyReLU, w = 1, c = 0.01: g' = 1/(2w) on |x| < w, c outside (and at |x| = w).
    (sg.PiecewiseLeakyReLU(), 0.0, 0.5, 0.5),
    (sg.PiecewiseLeakyReLU(), 0.5, 0.5, 0.75),
    (sg.PiecewiseLeakyReLU(), 1.0, 0.01, 1.0),
    (sg.PiecewiseLeakyReLU(), 2.0, 0.01, 0.02 - 0.01 + 1),
    (sg.PiecewiseLeakyReLU(), -2.0, 0.01, -0.02 + 0.01),
    (sg.PiecewiseLeakyReLU(w=2.0, c=0.0), 1.0, 0.25, 0.75),
    (sg.PiecewiseLeakyReLU(w=2.0, c=0.0), -3.0, 0.0, 0.0),
    # SquarewaveFourierSeries, n = 2, T = 8: w = pi/4, g' = (4/T) cos(w x),
    # g = 1/2 + (2/pi) sin(w x).
    (sg.SquarewaveFourierSeries(), 0.0, 0.5, 0.5),
    (sg.SquarewaveFourierSeries(), 2.0, 0.5 * math.cos(math.pi / 2), 0.5 + 2 / math.pi),
    (
        sg.SquarewaveFourierSeries(),
        -1.0,
        0.5 * math.cos(math.pi / 4),
        0.5 - 2 / math.pi * math.sin(math.pi / 4),
    ),
    # n = 3 adds the 3rd harmonic: g'(1) = 0.5 (cos(pi/4) + cos(3pi/4)) = 0,
    # g(1) = 1/2 + (2/pi)(sin(pi/4) + sin(3pi/4)/3).
    (sg.SquarewaveFourierSeries(n=3), 0.0, 1.0, 0.5),
    # n = 1 keeps no harmonic: g' = 0, g = 1/2.
    (sg.SquarewaveFourierSeries(n=1), 0.7, 0.0, 0.5),
    (sg.SquarewaveFourierSeries(n=3), 1.0, 0.0, 0.5 + 2 / math.pi * (1 + 1 / 3) * math.sqrt(0.5)),
    # S2NN, a = 4, b = 1: g' = a sig(a x)(1 - sig(a x)) (x < 0), b / (x + 1) (x >= 0);
    # g = sig(a x) (x < 0), b ln(x + 1 + 1e-5) + 1/2 (x >= 0; the reference's constant).
    (sg.S2NN(), 0.0, 1.0, math.log(1 + 1e-5) + 0.5),
    (sg.S2NN(), 1.0, 0.5, math.log(2 + 1e-5) + 0.5),
    (sg.S2NN(), -0.5, 4 * _sig(-2) * (1 - _sig(-2)), _sig(-2)),
    (sg.S2NN(beta=2.0), 3.0, 0.5, 2 * math.log(4 + 1e-5) + 0.5),
    # QPseudoSpike, a = 2: g' = (1 + 2|x|)^{-2}; g = 1 - (1 + 2x)^{-1}/2 (x >= 0).
    (sg.QPseudoSpike(), 0.0, 1.0, 0.5),
    (sg.QPseudoSpike(), 0.5, 0.25, 0.75),
    (sg.QPseudoSpike(), -0.5, 0.25, 0.25),
    # a = 3: g'(1) = (1 + 1)^{-3}, g(1) = 1 - (1 + 1)^{-2} / 2, g(-1) = (1 + 1)^{-2} / 2.
    (sg.QPseudoSpike(alpha=3.0), 1.0, 0.125, 0.875),
    (sg.QPseudoSpike(alpha=3.0), -1.0, 0.125, 0.125),
    # LeakyKReLU: g' = k (x >= 0), leak (x < 0); g = k x, leak x.
    (sg.LeakyKReLU(), 0.0, 1.0, 0.0),
    (sg.LeakyKReLU(), -1.0, 0.0, 0.0),
    (sg.LeakyKReLU(), 2.0, 1.0, 2.0),
    (sg.LeakyKReLU(leak=0.1, k=2.0), -1.0, 0.1, -0.1),
    (sg.LeakyKReLU(leak=0.1, k=2.0), 2.0, 2.0, 4.0),
    # FakeNumericalGradient, a = 0.3: g' = min(1/|x|, a); g = a x on |x| <= 1/a,
    # sign(x)(1 + ln(a |x|)) beyond.
    (sg.FakeNumericalGradient(), 0.0, 0.3, 0.0),
    (sg.FakeNumericalGradient(), 1.0, 0.3, 0.3),
    (sg.FakeNumericalGradient(), 5.0, 0.2, 1 + math.log(1.5)),
    (sg.FakeNumericalGradient(), -10.0, 0.1, -(1 + math.log(3.0))),
    # LogTailedReLU, a = 0: g' = a (x <= 0), 1 (0 < x <= 1), 1/x (x > 1); g = a x, x, ln x + 1.
    (sg.LogTailedReLU(), -1.0, 0.0, 0.0),
    (sg.LogTailedReLU(), 0.0, 0.0, 0.0),
    (sg.LogTailedReLU(), 0.5, 1.0, 0.5),
    (sg.LogTailedReLU(), 1.0, 1.0, 1.0),
    (sg.LogTailedReLU(), 4.0, 0.25, 1 + math.log(4)),
    (sg.LogTailedReLU(alpha=0.1), -2.0, 0.1, -0.2),
    # DeterministicPass / PoissonPass: g = x, g' = 1.
    (sg.DeterministicPass(), -3.0, 1.0, -3.0),
    (sg.DeterministicPass(), 0.0, 1.0, 0.0),
    (sg.PoissonPass(), 0.25, 1.0, 0.25),
    # Rect, a = 1: g' = a on |x| < 1/(2a), 0 otherwise (also at |x| = 1/(2a)); g = clip(a x + 1/2).
    (sg.Rect(), 0.0, 1.0, 0.5),
    (sg.Rect(), 0.25, 1.0, 0.75),
    (sg.Rect(), 0.5, 0.0, 1.0),
    (sg.Rect(), -0.5, 0.0, 0.0),
    (sg.Rect(), 1.0, 0.0, 1.0),
    (sg.Rect(alpha=2.0), -0.125, 2.0, 0.25),
]


@pytest.mark.parametrize(
    ("surrogate", "x", "grad", "value"),
    [pytest.param(*v, id=f"{v[0]!r}-x={v[1]}") for v in _VALUES],
)
def test_closed_form_values(
    surrogate: sg.SurrogateFunctionBase, x: float, grad: float, value: float
) -> None:
    t = torch.tensor([x], dtype=torch.float64)
    torch.testing.assert_close(surrogate.derivative(t).item(), grad, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(surrogate.primitive(t).item(), value, rtol=1e-12, atol=1e-15)
    # The same number reaches x.grad through the spiking forward.
    leaf = t.clone().requires_grad_(True)
    surrogate(leaf).sum().backward()
    torch.testing.assert_close(leaf.grad.item(), grad, rtol=1e-12, atol=1e-15)


def test_every_surrogate_has_closed_form_values() -> None:
    covered = {type(v[0]).__name__ for v in _VALUES}
    assert covered == set(sg.SURROGATES)
