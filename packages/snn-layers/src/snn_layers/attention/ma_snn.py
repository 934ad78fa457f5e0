r"""Multi-dimensional (temporal-channel-spatial) attention of MA-SNN.

Yao et al., "Attention Spiking Neural Networks", IEEE TPAMI 2023 (TCSA, Eq. 8-13). For the
membrane input ``U`` ``[T, N, C, H, W]`` of a spiking layer, attention is applied along time,
then channels, then space, and the result is rectified:

.. math::
    f_t = \sigma(\mathrm{MLP}_t(\mathrm{Avg}_{C,H,W} U) + \mathrm{MLP}_t(\mathrm{Max}_{C,H,W} U))
    \in \mathbb{R}^{N \times T},\quad U_1 = f_t \odot U

    f_c = \sigma(\mathrm{MLP}_c(\mathrm{Avg}_{T,H,W} U_1)
    + \mathrm{MLP}_c(\mathrm{Max}_{T,H,W} U_1)) \in \mathbb{R}^{N \times C},
    \quad U_2 = f_c \odot U_1

    f_s = \sigma(\mathrm{conv}_k([\mathrm{Avg}_{T,C} U_2; \mathrm{Max}_{T,C} U_2]))
    \in \mathbb{R}^{N \times H \times W},\quad \mathrm{out} = \mathrm{ReLU}(f_s \odot U_2)

with ``MLP_t: T -> T / r_t -> T`` and ``MLP_c: C -> C / r_c -> C`` (ReLU between, no biases).
Place it after a convolution (and BN) and before the spiking neurons.
"""

from __future__ import annotations

import torch
from snn_core.base import MultiStepModule
from torch import nn

from snn_layers.attention._gates import PooledMLPGate, SpatialGate, avg_max, check_reduction

__all__ = ["MultiDimensionalAttention"]


class MultiDimensionalAttention(nn.Module, MultiStepModule):
    """MA-SNN's temporal-channel-spatial attention (multi-step only, ``[T, N, C, H, W]``).

    Args:
        T: number of time steps (the temporal MLP has ``T`` inputs).
        C: number of channels.
        reduction_t: temporal reduction ratio ``r_t`` (``<= T``).
        reduction_c: channel reduction ratio ``r_c`` (``<= C``).
        kernel_size: odd kernel size of the spatial attention convolution (3 or 7 in the paper).
        use_temporal: ``False`` drops the temporal stage (MA-SNN's CSA, used with ``T = 1``
            in Att-MS-ResNet); ``T`` and ``reduction_t`` are then not used.

    Parameters: ``ta.sharedMLP.{0,2}.weight``, ``ca.sharedMLP.{0,2}.weight`` (1x1x1 ``Conv3d``)
    and ``sa.conv.weight``, as in the MA-SNN code and the reference framework.
    """

    def __init__(
        self,
        T: int,
        C: int,
        reduction_t: int = 16,
        reduction_c: int = 16,
        kernel_size: int = 3,
        *,
        use_temporal: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(use_temporal, bool):
            raise TypeError(f"{name}: use_temporal must be a bool, got {use_temporal!r}")
        if use_temporal:
            check_reduction(name, "reduction_t", "T", T, reduction_t)
        check_reduction(name, "reduction_c", "C", C, reduction_c)
        if (
            isinstance(kernel_size, bool)
            or not isinstance(kernel_size, int)
            or kernel_size < 1
            or kernel_size % 2 == 0
        ):
            raise ValueError(
                f"{name}: kernel_size must be an odd positive int, got {kernel_size!r}"
            )
        self.step_mode = "m"
        self.T, self.C = T, C
        self.reduction_t, self.reduction_c = reduction_t, reduction_c
        self.kernel_size = kernel_size
        self.use_temporal = use_temporal
        if use_temporal:
            self.ta = PooledMLPGate(T, reduction_t)
        self.ca = PooledMLPGate(C, reduction_c)
        self.sa = SpatialGate(kernel_size)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        name = type(self).__name__
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() != 5:
            shape = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq)
            raise ValueError(f"{name}: x_seq must have shape [T, N, C, H, W], got {shape}")
        T, N, C, H, W = x_seq.shape
        if C != self.C:
            raise ValueError(
                f"{name}: x_seq has C={C} channels, the layer was built with C={self.C}"
            )
        if self.use_temporal and T != self.T:
            raise ValueError(
                f"{name}: x_seq has T={T} time steps, the layer was built with T={self.T}"
            )
        x = x_seq.transpose(0, 1)  # [N, T, C, H, W]
        if self.use_temporal:
            x = self.ta(*avg_max(x))[:, :, None, None, None] * x
        x = self.ca(*avg_max(x.transpose(1, 2)))[:, None, :, None, None] * x
        x = self.sa(x.reshape(N, T * C, H, W))[:, None] * x
        return torch.relu(x).transpose(0, 1)

    def extra_repr(self) -> str:
        return (
            f"T={self.T}, C={self.C}, reduction_t={self.reduction_t}, "
            f"reduction_c={self.reduction_c}, kernel_size={self.kernel_size}, "
            f"use_temporal={self.use_temporal}, step_mode=m"
        )
