r"""Surrogates whose derivative is smooth (no kinks): sigmoid-like primitives and their kin.

Every class here emits ``heaviside(x)`` forward with ``spiking=True`` and backpropagates
``derivative(x)``; ``spiking=False`` makes forward the primitive ``g(x)``. ``primitive`` and
``derivative`` are plain elementwise torch expressions of ``x`` (hyper-parameters are Python
numbers), so the kernel generator can trace them with ``torch.fx``.

Branches of ``torch.where`` feed ``min(x, 0)`` / ``max(x, 0)`` (``_pieces.py``) instead of
``x`` where ``x`` of the other sign would overflow or leave the domain of ``log``/``pow``;
this keeps the unused branch finite (so autograd never meets ``0 * inf``) and makes autograd
of the primitive equal :meth:`derivative` at ``x = 0`` (their gradient at 0 is 1).
"""

from __future__ import annotations

import math

import torch

from snn_core.surrogate._params import _integer, _positive, _real
from snn_core.surrogate._pieces import _nonnegative, _nonpositive
from snn_core.surrogate.base import SurrogateFunctionBase

__all__ = [
    "Sigmoid",
    "ATan",
    "SoftSign",
    "SuperSpike",
    "NonzeroSignLogAbs",
    "Erf",
    "QPseudoSpike",
    "SquarewaveFourierSeries",
]


class Sigmoid(SurrogateFunctionBase):
    r"""Sigmoid surrogate.

    .. math::
        g(x) = \mathrm{sigmoid}(\alpha x) = \frac{1}{1 + e^{-\alpha x}}, \qquad
        g'(x) = \alpha\,\mathrm{sigmoid}(\alpha x)\,(1 - \mathrm{sigmoid}(\alpha x))

    Used in STBP (Wu et al., 2018), Roy et al. (2019) and SNU (Woźniak et al., 2020).

    Args:
        alpha: steepness, ``> 0``; ``g'(0) = alpha / 4``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 4.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.alpha * x)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.alpha * x)
        return self.alpha * s * (1.0 - s)


class ATan(SurrogateFunctionBase):
    r"""Arc-tangent surrogate.

    .. math::
        g(x) = \frac{1}{\pi}\arctan\left(\frac{\pi}{2}\alpha x\right) + \frac{1}{2}, \qquad
        g'(x) = \frac{\alpha}{2\left(1 + (\frac{\pi}{2}\alpha x)^2\right)}

    Used in Huh & Sejnowski, "Gradient descent for spiking neural networks" (NeurIPS 2018)
    and Fang et al., "Incorporating learnable membrane time constant..." (ICCV 2021).

    Args:
        alpha: steepness, ``> 0``; ``g'(0) = alpha / 2``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 2.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return torch.atan((math.pi / 2.0 * self.alpha) * x) / math.pi + 0.5

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        ax = (math.pi / 2.0 * self.alpha) * x
        return (self.alpha / 2.0) / (1.0 + ax * ax)


class SoftSign(SurrogateFunctionBase):
    r"""Soft-sign surrogate.

    .. math::
        g(x) = \frac{1}{2}\left(\frac{\alpha x}{1 + |\alpha x|} + 1\right), \qquad
        g'(x) = \frac{\alpha}{2(1 + |\alpha x|)^2} = \frac{1}{2\alpha(\frac{1}{\alpha} + |x|)^2}

    Used in SuperSpike (Zenke & Ganguli, Neural Computation 2018) and Neftci et al.,
    "Surrogate gradient learning in spiking neural networks" (IEEE SPM 2019).

    Args:
        alpha: steepness, ``> 0``; ``g'(0) = alpha / 2``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 2.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        ax = self.alpha * x
        return 0.5 * (ax / (1.0 + torch.abs(ax)) + 1.0)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return 1.0 / ((2.0 * self.alpha) * (1.0 / self.alpha + torch.abs(x)) ** 2)


class SuperSpike(SurrogateFunctionBase):
    r"""SuperSpike surrogate (fast-sigmoid derivative scaled by ``alpha``).

    .. math::
        g'(x) = \frac{\alpha}{(1 + |x|)^2}, \qquad
        g(x) = \frac{\alpha x}{1 + |x|} + \frac{1}{2}

    Zenke & Ganguli, "SuperSpike: Supervised learning in multilayer spiking neural networks",
    Neural Computation 2018 (arXiv:1705.11146). The reference framework defines only
    ``g'`` (its ``spiking=False`` raises); ``g`` here is the antiderivative of ``g'`` with
    ``g(0) = 1/2``, so ``spiking=False`` is differentiable to exactly ``g'``.

    Args:
        alpha: gradient scale, ``> 0``; ``g'(0) = alpha``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha * x / (1.0 + torch.abs(x)) + 0.5

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha / (torch.abs(x) + 1.0) ** 2


class NonzeroSignLogAbs(SurrogateFunctionBase):
    r"""Nonzero-sign log-abs surrogate; its backward is very cheap.

    .. math::
        g(x) = \mathrm{NonzeroSign}(x)\,\log(|\alpha x| + 1), \qquad
        g'(x) = \frac{\alpha}{1 + |\alpha x|} = \frac{1}{\frac{1}{\alpha} + |x|}

    with :math:`\mathrm{NonzeroSign}(x) = 1` for :math:`x \ge 0` and :math:`-1` otherwise.
    The primitive is not bounded to (0, 1). Used in Yin et al. (2017), STBP (Wu et al., 2018)
    and SuperSpike (Zenke & Ganguli, 2018).

    Args:
        alpha: steepness, ``> 0``; ``g'(0) = alpha``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        negative = -torch.log(1.0 - self.alpha * _nonpositive(x))
        nonnegative = torch.log(1.0 + self.alpha * _nonnegative(x))
        return torch.where(x < 0, negative, nonnegative)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return 1.0 / (1.0 / self.alpha + torch.abs(x))


class Erf(SurrogateFunctionBase):
    r"""Gaussian-error-function surrogate.

    .. math::
        g(x) = \frac{1}{2}\left(1 + \mathrm{erf}(\alpha x)\right)
             = \frac{1}{2}\mathrm{erfc}(-\alpha x), \qquad
        g'(x) = \frac{\alpha}{\sqrt{\pi}} e^{-\alpha^2 x^2}

    Used in Esser et al., "Backpropagation for energy-efficient neuromorphic computing"
    (NeurIPS 2015), STBP (Wu et al., 2018) and SRNN (Yin et al., 2021).

    Args:
        alpha: steepness, ``> 0``; ``g'(0) = alpha / sqrt(pi)``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 2.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (1.0 + torch.erf(self.alpha * x))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        ax = self.alpha * x
        return (self.alpha / math.sqrt(math.pi)) * torch.exp(-(ax * ax))


class QPseudoSpike(SurrogateFunctionBase):
    r""":math:`q`-PseudoSpike surrogate with a tunable tail fatness.

    .. math::
        g'(x) = \left(1 + \frac{2|x|}{\alpha - 1}\right)^{-\alpha}, \qquad
        g(x) = \begin{cases}
            \frac{1}{2}\left(1 - \frac{2x}{\alpha - 1}\right)^{1 - \alpha}, & x < 0 \\
            1 - \frac{1}{2}\left(1 + \frac{2x}{\alpha - 1}\right)^{1 - \alpha}, & x \ge 0
        \end{cases}

    Herranz-Celotti & Rouat, "Surrogate gradients design" (arXiv:2202.00282); ``alpha`` is
    the paper's :math:`q`.

    Args:
        alpha: tail fatness ``q``, ``> 1``; ``g'(0) = 1``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 2.0, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _real(type(self).__name__, "alpha", alpha, above=1.0)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        scale = 2.0 / (self.alpha - 1.0)
        power = 1.0 - self.alpha
        negative = 0.5 * (1.0 - scale * _nonpositive(x)) ** power
        nonnegative = 1.0 - 0.5 * (1.0 + scale * _nonnegative(x)) ** power
        return torch.where(x < 0, negative, nonnegative)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return (1.0 + (2.0 / (self.alpha - 1.0)) * torch.abs(x)) ** (-self.alpha)


class SquarewaveFourierSeries(SurrogateFunctionBase):
    r"""Truncated Fourier series of a square wave of period ``T_period``.

    .. math::
        g(x) = \frac{1}{2} + \frac{2}{\pi}\sum_{i=1}^{n-1}\frac{\sin((2i-1)\omega x)}{2i-1},
        \qquad g'(x) = \frac{4}{T}\sum_{i=1}^{n-1}\cos((2i-1)\omega x),
        \qquad \omega = \frac{2\pi}{T}

    The square wave equals the Heaviside step on :math:`(-T/2, T/2)`; ``n - 1`` odd
    harmonics are kept.

    Args:
        n: ``n - 1`` harmonics are summed; an int ``>= 1`` (``n = 1``, as in the reference,
            leaves no term: ``g = 1/2`` and a zero gradient).
        T_period: period ``T`` of the square wave, ``> 0``; ``g'(0) = 4 (n - 1) / T``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("n", "T_period")

    def __init__(self, n: int = 2, T_period: float = 8, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        owner = type(self).__name__
        self.n = _integer(owner, "n", n, minimum=1)
        self.T_period = _positive(owner, "T_period", T_period)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        omega = 2.0 * math.pi / self.T_period
        total = 0.0 * x
        for i in range(1, self.n):
            c = 2.0 * i - 1.0
            total = total + torch.sin((c * omega) * x) / c
        return 0.5 + (2.0 / math.pi) * total

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        omega = 2.0 * math.pi / self.T_period
        total = 0.0 * x
        for i in range(1, self.n):
            total = total + torch.cos(((2.0 * i - 1.0) * omega) * x)
        return (4.0 / self.T_period) * total
