r"""Multi-level spikes: an integer spike count per step instead of a binary spike.

:class:`MultiLevelSpikeCount` emits ``round(clamp(x, 0, M))`` forward (0, 1, ..., ``M``
spikes) and a rectangular straight-through gradient backward.
"""

from __future__ import annotations

import math
import numbers

import torch

from snn_core.surrogate._params import _describe, _integer
from snn_core.surrogate.base import SurrogateFunctionBase

__all__ = ["MultiLevelSpikeCount"]


def _window_bound(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: grad_window's {name} must be a real Python number, got {_describe(value)}"
        )
    number = float(value)
    if math.isnan(number):
        raise ValueError(f"{owner}: grad_window's {name} must not be NaN")
    return number


class MultiLevelSpikeCount(SurrogateFunctionBase):
    r"""Multi-level spike count with a rectangular straight-through gradient.

    Forward (``spiking=True``) emits the rounded, clipped input, a spike count in
    ``{0, 1, ..., M}``:

    .. math::
        S = \mathrm{round}\left(\mathrm{clip}(x, 0, M)\right), \qquad
        g(x) = \mathrm{clip}(x, 0, M), \qquad
        g'(x) = \begin{cases} 1, & x_{\min} \le x \le x_{\max} \\ 0, & \text{otherwise}
        \end{cases}

    where ``(x_min, x_max)`` is ``grad_window`` (default ``(0, M)``, where ``g'`` is the
    derivative of ``g``). With ``spiking=False`` forward is ``g``, differentiated by
    autograd. Used by integer-spike neurons such as I-LIF (Luo et al., "Integer-valued
    training and spike-driven inference spiking neural network", ECCV 2024).

    Args:
        max_spike_count: ``M``, the largest count a step can emit; an int ``>= 1``.
        spiking: ``True``: spike counts forward, ``g'`` backward; ``False``: forward is ``g``.
        grad_window: ``(x_min, x_max)`` with ``x_min <= x_max`` (infinite bounds allowed),
            where the gradient passes; ``None`` means ``(0, M)``.
    """

    _param_names = ("max_spike_count", "grad_min", "grad_max")

    def __init__(
        self,
        max_spike_count: int,
        spiking: bool = True,
        grad_window: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(spiking=spiking)
        owner = type(self).__name__
        self.max_spike_count = _integer(owner, "max_spike_count", max_spike_count, minimum=1)
        if grad_window is None:
            grad_min, grad_max = 0.0, float(self.max_spike_count)
        else:
            if not isinstance(grad_window, (tuple, list)) or len(grad_window) != 2:
                raise TypeError(
                    f"{owner}: grad_window must be a pair (grad_min, grad_max) of numbers or "
                    f"None, got {grad_window!r}"
                )
            grad_min = _window_bound(owner, "grad_min", grad_window[0])
            grad_max = _window_bound(owner, "grad_max", grad_window[1])
            if grad_min > grad_max:
                raise ValueError(
                    f"{owner}: grad_window must satisfy grad_min <= grad_max, got {grad_window!r}"
                )
        self.grad_min = grad_min
        self.grad_max = grad_max

    @classmethod
    def _from_params(  # type: ignore[override]
        cls, max_spike_count: int, grad_min: float | None = None, grad_max: float | None = None
    ) -> MultiLevelSpikeCount:
        """From ``(max_spike_count, grad_min, grad_max)``, the reference's parameter order."""
        window = None if grad_min is None and grad_max is None else (grad_min, grad_max)
        return cls(max_spike_count, grad_window=window)  # type: ignore[arg-type]

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        # clip(x, 0, M), written out so that its gradient is 1 at both bounds in every torch
        # release (``torch.clamp``'s gradient at a bound differs between releases).
        upper = float(self.max_spike_count)
        return torch.where(x < 0, 0.0, torch.where(x > upper, upper, x))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        inside = torch.logical_and(x >= self.grad_min, x <= self.grad_max)
        return torch.where(inside, torch.full_like(x, 1.0), 0.0)

    def spike_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The spike count ``round(clip(x, 0, M))`` (round half to even), in ``x``'s dtype."""
        return torch.round(self.primitive(x))
