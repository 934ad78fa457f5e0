r"""Straight-through surrogates: the gradient passes unchanged (``g'(x) = 1``, ``g(x) = x``).

Bengio, Léonard & Courville, "Estimating or propagating gradients through stochastic neurons
for conditional computation" (arXiv:1308.3432) introduce the straight-through estimator.
"""

from __future__ import annotations

from typing import Any

import torch

from snn_core.surrogate.base import SurrogateFunctionBase

__all__ = ["DeterministicPass", "PoissonPass"]


class _StraightThrough(SurrogateFunctionBase):
    """``g(x) = x``, ``g'(x) = 1``: what both straight-through surrogates share. Private, so
    that, as in the reference, neither is a subclass of the other."""

    def __init__(self, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, 1.0)

    @classmethod
    def backward(  # type: ignore[override]
        cls, grad_output: torch.Tensor, x: torch.Tensor, *ignored: Any, **named: Any
    ) -> torch.Tensor:
        """``grad_output`` unchanged; extra arguments (the reference passes an unused
        ``alpha``) are ignored."""
        return grad_output * cls._instance().derivative(x)


class DeterministicPass(_StraightThrough):
    r"""Straight-through estimator for the Heaviside step.

    Forward (``spiking=True``) is ``heaviside(x)``; backward passes the gradient unchanged:

    .. math::
        g(x) = x, \qquad g'(x) = 1

    With ``spiking=False`` forward returns ``x`` itself, as the reference does.

    Args:
        spiking: ``True``: heaviside forward, gradient 1 backward; ``False``: identity.
    """


class PoissonPass(_StraightThrough):
    r"""Stochastic (Bernoulli / Poisson-rate) spikes with a straight-through gradient.

    Forward (``spiking=True``) samples :math:`s \sim \mathrm{Bernoulli}(x)` elementwise, so
    ``x`` must hold firing probabilities in ``[0, 1]``; :math:`\mathbb{E}[s] = x`, hence

    .. math::
        g(x) = x, \qquad g'(x) = 1

    and backward passes the gradient unchanged. With ``spiking=False`` forward returns ``x``.
    Spikes keep ``x``'s dtype (the reference casts them to float32). Sampling uses torch's
    global generator, so ``torch.manual_seed`` makes it reproducible.

    Args:
        spiking: ``True``: Bernoulli spikes forward, gradient 1 backward; ``False``: identity.
    """

    def spike_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Bernoulli spikes with probability ``x`` (must lie in ``[0, 1]``)."""
        try:
            return torch.bernoulli(x)
        except RuntimeError as err:
            if "p_in" not in str(err):
                raise
            raise ValueError(
                "PoissonPass: the input holds firing probabilities and must lie in [0, 1] "
                f"(no NaN); got values from {x.min().item()} to {x.max().item()}"
            ) from err
