r"""Temporal-wise attention of TA-SNN.

Yao et al., "Temporal-Wise Attention Spiking Neural Networks for Event Streams
Classification", ICCV 2021, Eq. 4-6. For ``X`` ``[T, N, *]`` (the output of a convolution or
linear layer, before the spiking neurons), each time step gets a score from its statistics:

.. math::
    s = \sigma(\mathrm{MLP}(\mathrm{Avg}(X)) + \mathrm{MLP}(\mathrm{Max}(X))) \in
    \mathbb{R}^{N \times T}, \qquad Y_t = s_t X_t

with averages and maxima over all non-(T, N) dims and ``MLP = W_2 \mathrm{ReLU}(W_1 \cdot)``,
``W_1: T -> T / r``, ``W_2: T / r -> T``, no biases.
"""

from __future__ import annotations

import torch
from snn_core.base import MultiStepModule
from torch import nn

from snn_layers.attention._gates import avg_max, check_reduction

__all__ = ["TemporalWiseAttention"]


class TemporalWiseAttention(nn.Module, MultiStepModule):
    """TA-SNN's temporal-wise attention (multi-step only).

    Place it after a convolution and before the spiking neurons:
    ``Conv2d -> TemporalWiseAttention -> LIF``.

    Args:
        T: number of time steps of the input.
        reduction: reduction ratio ``r`` (``<= T``).
        dimension: 4 for inputs ``[T, N, C, H, W]``, 2 for inputs ``[T, N, L]``.

    Parameters: ``sharedMLP.0.weight`` ``[T // r, T]`` and ``sharedMLP.2.weight``
    ``[T, T // r]`` (``nn.Linear``), as in the reference framework.
    """

    def __init__(self, T: int, reduction: int = 16, dimension: int = 4) -> None:
        super().__init__()
        name = type(self).__name__
        if dimension not in (2, 4) or isinstance(dimension, bool):
            raise ValueError(
                f"{name}: dimension must be 4 (input [T, N, C, H, W]) or 2 (input [T, N, L]), "
                f"got {dimension!r}"
            )
        check_reduction(name, "reduction", "T", T, reduction)
        self.step_mode = "m"
        self.T, self.reduction, self.dimension = T, reduction, dimension
        self.sharedMLP = nn.Sequential(
            nn.Linear(T, T // reduction, bias=False),
            nn.ReLU(),
            nn.Linear(T // reduction, T, bias=False),
        )

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        name = type(self).__name__
        want = self.dimension + 1
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() != want:
            shape = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq)
            layout = "[T, N, C, H, W]" if self.dimension == 4 else "[T, N, L]"
            raise ValueError(
                f"{name}: with dimension={self.dimension} x_seq must have shape {layout}, "
                f"got {shape}"
            )
        if x_seq.shape[0] != self.T:
            raise ValueError(
                f"{name}: x_seq has T={x_seq.shape[0]} time steps, the layer was built with "
                f"T={self.T}"
            )
        x = x_seq.transpose(0, 1)  # [N, T, *]
        avg, mx = avg_max(x)
        scores = torch.sigmoid(self.sharedMLP(avg) + self.sharedMLP(mx))  # [N, T]
        y = x * scores.reshape(*scores.shape, *([1] * (x.dim() - 2)))
        return y.transpose(0, 1)

    def extra_repr(self) -> str:
        return f"T={self.T}, reduction={self.reduction}, dimension={self.dimension}, step_mode=m"
