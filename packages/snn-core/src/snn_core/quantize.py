r"""Quantizers with straight-through gradients (the reference's ``quantize`` namespace).

Also reachable as ``snn_core.surrogate.quantize`` (the same module object).

Each quantizer :math:`q` rounds forward and passes the gradient backward as if it were the
identity (Bengio et al., "Estimating or propagating gradients through stochastic neurons
for conditional computation", arXiv:1308.3432):

.. math::
    y = q(x), \qquad \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}

except :func:`clamp` and :func:`multi_level_spike_count`, whose gradient passes only inside
a window. All of them work under ``torch.func`` transforms and ``torch.compile``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import torch

from snn_core.surrogate.multilevel import MultiLevelSpikeCount

__all__ = [
    "round",
    "ceil",
    "floor",
    "clamp",
    "step_quantize",
    "multi_level_spike_count",
    "k_bit_quantize",
    "affine_k_bit_quantize",
    "clamp_by_linear",
]


class _StraightThrough(torch.autograd.Function):
    """Forward ``quantizer(x)``; backward passes ``grad_output`` unchanged."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, quantizer: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        return quantizer(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad_output, None


def _tensor(x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    return x


def round(x: torch.Tensor) -> torch.Tensor:
    """``torch.round(x)`` (half to even) forward, identity gradient backward."""
    return _StraightThrough.apply(_tensor(x), torch.round)


def ceil(x: torch.Tensor) -> torch.Tensor:
    """``torch.ceil(x)`` forward, identity gradient backward."""
    return _StraightThrough.apply(_tensor(x), torch.ceil)


def floor(x: torch.Tensor) -> torch.Tensor:
    """``torch.floor(x)`` forward, identity gradient backward."""
    return _StraightThrough.apply(_tensor(x), torch.floor)


def clamp(x: torch.Tensor, min_value: float, max_value: float) -> torch.Tensor:
    r"""``clip(x, min_value, max_value)``; the gradient passes where
    :math:`\mathrm{min\_value} \le x \le \mathrm{max\_value}` (bounds included) and is 0 elsewhere.
    """
    x = _tensor(x)
    inside = torch.logical_and(x >= min_value, x <= max_value)
    # Inside the window clip(x) == x, so this is clip(x) forward with gradient 1 there.
    return torch.where(inside, x, torch.clamp(x, min_value, max_value).detach())


def step_quantize(x: torch.Tensor, step: float = 1.0) -> torch.Tensor:
    r"""Round to the nearest multiple of ``step``: :math:`y = \mathrm{round}(x / s)\, s`,
    identity gradient backward."""
    return _StraightThrough.apply(_tensor(x), lambda v: torch.round(v / step) * step)


def multi_level_spike_count(
    x: torch.Tensor, max_spike_count: int, grad_window: tuple[float, float] | None = None
) -> torch.Tensor:
    """``round(clip(x, 0, max_spike_count))`` forward, gradient 1 inside ``grad_window``.

    The functional form of :class:`~snn_core.surrogate.MultiLevelSpikeCount` (same
    arguments; ``grad_window=None`` means ``(0, max_spike_count)``).
    """
    return MultiLevelSpikeCount(max_spike_count, grad_window=grad_window)(_tensor(x))


def k_bit_quantize(x: torch.Tensor, k: int) -> torch.Tensor:
    r"""Quantize ``x`` in ``[0, 1]`` to ``k`` bits, identity gradient backward.

    .. math::
        y = \frac{\mathrm{round}\left((2^k - 1)\,x\right)}{2^k - 1}

    From DoReFa-Net (Zhou et al., arXiv:1606.06160). ``k`` is an int ``>= 1``.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, but got {k!r}")
    levels = float(2 ** int(k) - 1)
    return _StraightThrough.apply(_tensor(x), lambda v: torch.round(v * levels) / levels)


def affine_k_bit_quantize(
    x: torch.Tensor, k: int, w: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    r"""Affine ``k``-bit quantization :math:`y = w\, q_k(x) + b` with :func:`k_bit_quantize`
    :math:`q_k`; ``w`` and ``b`` get their ordinary gradients."""
    return w * k_bit_quantize(x, k) + b


def clamp_by_linear(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    r"""Map ``x`` linearly into ``[0, 1)``.

    .. math::
        y = \frac{x - \min x}{\max x + \epsilon - \min x}

    Differentiable (through ``min`` and ``max`` too).
    """
    x = _tensor(x)
    x_min = torch.min(x)
    return (x - x_min) / (torch.max(x) + eps - x_min)
