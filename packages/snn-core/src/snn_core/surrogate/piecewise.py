r"""Surrogates defined piecewise: windows, leaky ramps, exponential and logarithmic tails.

Every class here emits ``heaviside(x)`` forward with ``spiking=True`` and backpropagates
``derivative(x)``; ``spiking=False`` makes forward the primitive ``g(x)``. ``primitive`` and
``derivative`` are plain elementwise torch expressions of ``x`` (hyper-parameters are Python
numbers), so the kernel generator can trace them with ``torch.fx``.

Piecewise forms use ``torch.where`` with the same comparison in ``primitive`` and
``derivative``, so autograd of ``g`` equals ``g'`` at the break points too (the side a break
point belongs to is the reference's). Constant pieces use ``torch.full_like(x, c)`` (keeps
``x``'s dtype), a saturated piece uses ``0.5 + 0.5 * sign(x)`` (the step, gradient 0), and
branches that could overflow or leave ``log``'s domain read ``x`` limited to one side of 0
(``_pieces.py``) or ``clamp``-ed away from the break point.
"""

from __future__ import annotations

import torch

from snn_core.surrogate._params import _positive, _real
from snn_core.surrogate._pieces import _nonnegative, _nonpositive
from snn_core.surrogate.base import SurrogateFunctionBase

__all__ = [
    "PiecewiseQuadratic",
    "PiecewiseExp",
    "PiecewiseLeakyReLU",
    "S2NN",
    "LeakyKReLU",
    "FakeNumericalGradient",
    "LogTailedReLU",
    "Rect",
]


def _step(x: torch.Tensor) -> torch.Tensor:
    """``0`` for ``x < 0``, ``1`` for ``x > 0`` (``1/2`` at 0), in ``x``'s dtype, gradient 0."""
    return 0.5 + 0.5 * torch.sign(x)


class PiecewiseQuadratic(SurrogateFunctionBase):
    r"""Piecewise quadratic primitive; triangular derivative.

    .. math::
        g'(x) = \begin{cases} 0, & |x| > \frac{1}{\alpha} \\
            -\alpha^2 |x| + \alpha, & |x| \le \frac{1}{\alpha} \end{cases}, \qquad
        g(x) = \begin{cases} 0, & x < -\frac{1}{\alpha} \\
            -\frac{1}{2}\alpha^2 |x| x + \alpha x + \frac{1}{2}, & |x| \le \frac{1}{\alpha} \\
            1, & x > \frac{1}{\alpha} \end{cases}

    Used in Esser et al. (PNAS 2016), STBP (Wu et al., 2018), LSNN (Bellec et al., 2018),
    Neftci et al. (2019) and Panda et al. (2020).

    Args:
        alpha: ``> 0``; the window is ``|x| <= 1/alpha`` and ``g'(0) = alpha``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        inside = (-0.5 * a * a) * torch.abs(x) * x + a * x + 0.5
        return torch.where(torch.abs(x) <= 1.0 / a, inside, _step(x))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        return torch.clamp(a - (a * a) * torch.abs(x), min=0.0)


class PiecewiseExp(SurrogateFunctionBase):
    r"""Piecewise exponential primitive; Laplace-shaped derivative.

    .. math::
        g'(x) = \frac{\alpha}{2} e^{-\alpha |x|}, \qquad
        g(x) = \begin{cases} \frac{1}{2} e^{\alpha x}, & x < 0 \\
            1 - \frac{1}{2} e^{-\alpha x}, & x \ge 0 \end{cases}

    Used in SLAYER (Shrestha & Orchard, NeurIPS 2018) and Neftci et al. (2019).

    Args:
        alpha: decay rate, ``> 0``; ``g'(0) = alpha / 2``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        negative = 0.5 * torch.exp(self.alpha * _nonpositive(x))
        nonnegative = 1.0 - 0.5 * torch.exp(-self.alpha * _nonnegative(x))
        return torch.where(x < 0, negative, nonnegative)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return (self.alpha / 2.0) * torch.exp(-self.alpha * torch.abs(x))


class PiecewiseLeakyReLU(SurrogateFunctionBase):
    r"""Piecewise linear primitive with leaky tails.

    .. math::
        g'(x) = \begin{cases} \frac{1}{2w}, & |x| < w \\ c, & |x| \ge w \end{cases}, \qquad
        g(x) = \begin{cases} cx + cw, & x < -w \\ \frac{1}{2w}x + \frac{1}{2}, & |x| < w \\
            cx - cw + 1, & x \ge w \end{cases}

    As in the reference, the spiking backward :meth:`derivative` gives the break points
    ``|x| = w`` the tail slope ``c``, while the primitive ``g`` counts them in the window, so
    autograd of ``g`` (``spiking=False``) gives ``1/(2w)`` there (``g`` is continuous). Used in
    Yin et al. (2017), STBP (Wu et al., 2018), Huh & Sejnowski (2018), Wu et al. (2019),
    STCA (Gu et al., 2019), Roy et al. (2019), LISNN (Cheng et al., 2020) and DECOLLE
    (Kaiser et al., 2020).

    Args:
        w: half width of the window, ``> 0``; inside it ``g'(x) = 1 / (2 w)``.
        c: slope outside the window (any finite number).
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("w", "c")

    def __init__(self, w: float = 1.0, c: float = 0.01, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        owner = type(self).__name__
        self.w = _positive(owner, "w", w)
        self.c = _real(owner, "c", c)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        w, c = self.w, self.c
        tails = torch.where(x < 0, c * x + c * w, c * x + (1.0 - c * w))
        return torch.where(torch.abs(x) <= w, x / (2.0 * w) + 0.5, tails)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(torch.abs(x) < self.w, torch.full_like(x, 0.5 / self.w), self.c)


class S2NN(SurrogateFunctionBase):
    r"""S2NN surrogate: sigmoid derivative for ``x < 0``, a slow ``1/(x+1)`` decay for ``x >= 0``.

    .. math::
        g'(x) = \begin{cases} \alpha\,\mathrm{sigmoid}(\alpha x)(1 - \mathrm{sigmoid}(\alpha x)),
            & x < 0 \\ \frac{\beta}{x + 1}, & x \ge 0 \end{cases}, \qquad
        g(x) = \begin{cases} \mathrm{sigmoid}(\alpha x), & x < 0 \\
            \beta \ln(x + 1 + 10^{-5}) + \frac{1}{2}, & x \ge 0 \end{cases}

    Suetake et al., "S2NN: Time step reduction of spiking surrogate gradients for training
    energy efficient single-step neural networks" (arXiv:2201.10879). ``g`` is the one the
    reference's code computes (its docs write ``+1`` for ``+1/2``), constant ``10^{-5}``
    included, so autograd of ``g`` (``spiking=False``) gives ``beta / (x + 1 + 10^{-5})`` for
    ``x >= 0``, within a relative ``10^{-5}`` of the spiking backward ``g'``.

    Args:
        alpha: steepness of the ``x < 0`` sigmoid piece, ``> 0``.
        beta: scale of the ``x >= 0`` piece, ``> 0``; ``g'(0) = beta``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha", "beta")

    def __init__(self, alpha: float = 4.0, beta: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        owner = type(self).__name__
        self.alpha = _positive(owner, "alpha", alpha)
        self.beta = _positive(owner, "beta", beta)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        tail = self.beta * torch.log((_nonnegative(x) + 1.0) + 1e-5) + 0.5
        return torch.where(x < 0, torch.sigmoid(self.alpha * x), tail)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.alpha * x)
        tail = self.beta / (_nonnegative(x) + 1.0)
        return torch.where(x < 0, self.alpha * s * (1.0 - s), tail)


class LeakyKReLU(SurrogateFunctionBase):
    r"""Leaky ReLU primitive with slope ``k`` for ``x >= 0`` and ``leak`` for ``x < 0``.

    .. math::
        g'(x) = \begin{cases} k, & x \ge 0 \\ \mathrm{leak}, & x < 0 \end{cases}, \qquad
        g(x) = \begin{cases} k x, & x \ge 0 \\ \mathrm{leak}\cdot x, & x < 0 \end{cases}

    Used in Yin et al. (2017), STBP (Wu et al., 2018) and SuperSpike (Zenke & Ganguli, 2018).

    Args:
        leak: gradient for ``x < 0`` (any finite number).
        k: gradient for ``x >= 0`` (any finite number).
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("leak", "k")

    def __init__(self, leak: float = 0.0, k: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        owner = type(self).__name__
        self.leak = _real(owner, "leak", leak)
        self.k = _real(owner, "k", k)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0, self.k * x, self.leak * x)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0, torch.full_like(x, self.k), self.leak)


class FakeNumericalGradient(SurrogateFunctionBase):
    r"""Emulated numerical gradient of the step: ``1/|x|``, clipped at ``alpha``.

    .. math::
        g'(x) = \min\left(\frac{\mathrm{NonzeroSign}(x)}{x}, \alpha\right)
              = \min\left(\frac{1}{|x|}, \alpha\right), \qquad
        g(x) = \begin{cases} \alpha x, & |x| \le \frac{1}{\alpha} \\
            \mathrm{sign}(x)\,(1 + \ln(\alpha |x|)), & |x| > \frac{1}{\alpha} \end{cases}

    The reference framework defines only ``g'`` (no primitive and no ``spiking`` argument);
    ``g`` here is the odd antiderivative of ``g'`` with ``g(0) = 0`` (unbounded, like
    :class:`NonzeroSignLogAbs`), so ``spiking=False`` is differentiable to exactly ``g'``.
    At ``x = -0.0`` we return ``alpha`` (the reference's ``1/x`` gives ``-inf`` there).

    Args:
        alpha: gradient clip, ``> 0``; ``g'(x) = alpha`` for ``|x| <= 1/alpha``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 0.3, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        ax = a * torch.abs(x)
        tail = torch.sign(x) * (1.0 + torch.log(torch.clamp(ax, min=1.0)))
        return torch.where(ax <= 1.0, a * x, tail)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        return a / torch.clamp(a * torch.abs(x), min=1.0)


class LogTailedReLU(SurrogateFunctionBase):
    r"""Log-tailed ReLU: leaky for ``x <= 0``, identity on ``(0, 1]``, logarithmic beyond.

    .. math::
        g'(x) = \begin{cases} \alpha, & x \le 0 \\ 1, & 0 < x \le 1 \\
            \frac{1}{x}, & x > 1 \end{cases}, \qquad
        g(x) = \begin{cases} \alpha x, & x \le 0 \\ x, & 0 < x \le 1 \\
            \ln x + 1, & x > 1 \end{cases}

    Cai et al., "Deep learning with low precision by half-wave Gaussian quantization"
    (CVPR 2017, arXiv:1702.00953). The reference's docs write ``log(x)`` for ``x > 1``; its
    code (and we) use ``ln x + 1``, which is continuous at 1 and has derivative ``1/x``.

    Args:
        alpha: slope for ``x <= 0`` (any finite number).
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 0.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _real(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        positive = torch.where(x > 1.0, torch.log(torch.clamp(x, min=1.0)) + 1.0, x)
        return torch.where(x <= 0, self.alpha * x, positive)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x <= 0, torch.full_like(x, self.alpha), 1.0 / torch.clamp(x, min=1.0))


class Rect(SurrogateFunctionBase):
    r"""Rectangular-window derivative; clipped linear primitive.

    .. math::
        g'(x) = \begin{cases} \alpha, & |x| < \frac{1}{2\alpha} \\
            0, & |x| \ge \frac{1}{2\alpha} \end{cases}, \qquad
        g(x) = \mathrm{clip}\left(\alpha x + \frac{1}{2}, 0, 1\right)

    The rectangular surrogate of STBP (Wu et al., Frontiers in Neuroscience 2018). As the
    reference's clamp does in the torch releases it was written for, autograd of ``g``
    (``spiking=False``) gives ``alpha`` at the window edges ``|x| = 1/(2 alpha)`` too, where
    :meth:`derivative` gives 0.

    Args:
        alpha: height of the window, ``> 0``; its width is ``1 / alpha`` (area 1).
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        inside = torch.abs(x) <= 0.5 / self.alpha
        return torch.where(inside, self.alpha * x + 0.5, _step(x))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        inside = torch.abs(x) < 0.5 / self.alpha
        return torch.where(inside, torch.full_like(x, self.alpha), 0.0)
