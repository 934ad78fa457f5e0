"""Pooling and upsampling layers with a step mode.

Each class is the torch layer of the same name plus ``step_mode``: ``'s'`` takes
``[N, C, *spatial]``, ``'m'`` takes ``[T, N, C, *spatial]`` and folds ``T`` into the batch.
The max-unpooling layers take the values and the indices of a max pooling with
``return_indices=True``, both ``[T, N, C, *spatial]`` in ``'m'``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.common_types import _ratio_any_t, _size_1_t, _size_2_t, _size_3_t, _size_any_t

from snn_layers._fold import SeqFoldWrapper

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "Upsample",
]


class MaxPool1d(SeqFoldWrapper, nn.MaxPool1d):
    """:class:`torch.nn.MaxPool1d` with ``step_mode`` (``'m'``: input ``[T, N, C, L]``)."""

    def __init__(
        self,
        kernel_size: _size_1_t,
        stride: _size_1_t | None = None,
        padding: _size_1_t = 0,
        dilation: _size_1_t = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)
        self.step_mode = step_mode


class MaxPool2d(SeqFoldWrapper, nn.MaxPool2d):
    """:class:`torch.nn.MaxPool2d` with ``step_mode`` (``'m'``: input ``[T, N, C, H, W]``)."""

    def __init__(
        self,
        kernel_size: _size_2_t,
        stride: _size_2_t | None = None,
        padding: _size_2_t = 0,
        dilation: _size_2_t = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)
        self.step_mode = step_mode


class MaxPool3d(SeqFoldWrapper, nn.MaxPool3d):
    """:class:`torch.nn.MaxPool3d` with ``step_mode`` (``'m'``: input ``[T, N, C, D, H, W]``)."""

    def __init__(
        self,
        kernel_size: _size_3_t,
        stride: _size_3_t | None = None,
        padding: _size_3_t = 0,
        dilation: _size_3_t = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)
        self.step_mode = step_mode


class _MaxUnpoolWrapper(SeqFoldWrapper):
    """Multi-step path of the max-unpooling layers: ``x`` and ``indices`` are folded together."""

    _nd = 2

    def forward(
        self,
        x: torch.Tensor,
        indices: torch.Tensor,
        output_size: Sequence[int] | None = None,
    ) -> torch.Tensor:
        if self.step_mode == "s":
            return self._step_forward(x, indices, output_size)
        self._check_seq_input(x)
        if not isinstance(indices, torch.Tensor) or indices.shape != x.shape:
            got = list(indices.shape) if isinstance(indices, torch.Tensor) else type(indices)
            raise ValueError(
                f"{type(self).__name__} in step_mode='m' expected indices with the same shape "
                f"as x {list(x.shape)} (the indices of a MaxPool{self._nd}d with "
                f"return_indices=True), got {got}"
            )
        if output_size is not None and len(output_size) == self._nd + 3:
            output_size = tuple(output_size)[3:]  # [T, N, C, *spatial]: keep the spatial size
        T, N = x.shape[0], x.shape[1]
        y = self._step_forward(x.flatten(0, 1), indices.flatten(0, 1), output_size)
        return y.unflatten(0, (T, N))


class MaxUnpool1d(_MaxUnpoolWrapper, nn.MaxUnpool1d):
    """:class:`torch.nn.MaxUnpool1d` with ``step_mode``: the inverse of a max pooling, zeros
    where the maximum was not taken.

    ``forward(x, indices, output_size=None)``; in ``'m'``, ``x`` and ``indices`` are
    ``[T, N, C, L]`` and ``output_size`` is the spatial size ``(L_out,)`` or the full size
    (``[T*N, C, L_out]`` as torch sees it, or ``[T, N, C, L_out]``).
    """

    _nd = 1

    def __init__(
        self,
        kernel_size: _size_1_t,
        stride: _size_1_t | None = None,
        padding: _size_1_t = 0,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self.step_mode = step_mode


class MaxUnpool2d(_MaxUnpoolWrapper, nn.MaxUnpool2d):
    """:class:`torch.nn.MaxUnpool2d` with ``step_mode``: the inverse of a max pooling, zeros
    where the maximum was not taken.

    ``forward(x, indices, output_size=None)``; in ``'m'``, ``x`` and ``indices`` are
    ``[T, N, C, H, W]`` and ``output_size`` is the spatial size ``(H_out, W_out)`` or the
    full size (``[T*N, C, H_out, W_out]`` as torch sees it, or ``[T, N, C, H_out, W_out]``).
    """

    _nd = 2

    def __init__(
        self,
        kernel_size: _size_2_t,
        stride: _size_2_t | None = None,
        padding: _size_2_t = 0,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self.step_mode = step_mode


class MaxUnpool3d(_MaxUnpoolWrapper, nn.MaxUnpool3d):
    """:class:`torch.nn.MaxUnpool3d` with ``step_mode``: the inverse of a max pooling, zeros
    where the maximum was not taken.

    ``forward(x, indices, output_size=None)``; in ``'m'``, ``x`` and ``indices`` are
    ``[T, N, C, D, H, W]`` and ``output_size`` is the spatial size ``(D_out, H_out, W_out)``
    or the full size (as torch sees it, ``[T*N, C, ...]``, or ``[T, N, C, ...]``).
    """

    _nd = 3

    def __init__(
        self,
        kernel_size: _size_3_t,
        stride: _size_3_t | None = None,
        padding: _size_3_t = 0,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self.step_mode = step_mode


class AvgPool1d(SeqFoldWrapper, nn.AvgPool1d):
    """:class:`torch.nn.AvgPool1d` with ``step_mode`` (``'m'``: input ``[T, N, C, L]``)."""

    def __init__(
        self,
        kernel_size: _size_1_t,
        stride: _size_1_t | None = None,
        padding: _size_1_t = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.step_mode = step_mode


class AvgPool2d(SeqFoldWrapper, nn.AvgPool2d):
    """:class:`torch.nn.AvgPool2d` with ``step_mode`` (``'m'``: input ``[T, N, C, H, W]``)."""

    def __init__(
        self,
        kernel_size: _size_2_t,
        stride: _size_2_t | None = None,
        padding: _size_2_t = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
        step_mode: str = "s",
    ) -> None:
        super().__init__(
            kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        )
        self.step_mode = step_mode


class AvgPool3d(SeqFoldWrapper, nn.AvgPool3d):
    """:class:`torch.nn.AvgPool3d` with ``step_mode`` (``'m'``: input ``[T, N, C, D, H, W]``)."""

    def __init__(
        self,
        kernel_size: _size_3_t,
        stride: _size_3_t | None = None,
        padding: _size_3_t = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
        step_mode: str = "s",
    ) -> None:
        super().__init__(
            kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        )
        self.step_mode = step_mode


class AdaptiveAvgPool1d(SeqFoldWrapper, nn.AdaptiveAvgPool1d):
    """:class:`torch.nn.AdaptiveAvgPool1d` with ``step_mode`` (``'m'``: input ``[T, N, C, L]``)."""

    def __init__(self, output_size: _size_1_t, step_mode: str = "s") -> None:
        super().__init__(output_size)
        self.step_mode = step_mode


class AdaptiveAvgPool2d(SeqFoldWrapper, nn.AdaptiveAvgPool2d):
    """:class:`torch.nn.AdaptiveAvgPool2d` with ``step_mode`` (``'m'``: ``[T, N, C, H, W]``)."""

    def __init__(self, output_size: _size_2_t | None, step_mode: str = "s") -> None:
        super().__init__(output_size)
        self.step_mode = step_mode


class AdaptiveAvgPool3d(SeqFoldWrapper, nn.AdaptiveAvgPool3d):
    """:class:`torch.nn.AdaptiveAvgPool3d` with ``step_mode`` (``'m'``: ``[T, N, C, D, H, W]``)."""

    def __init__(self, output_size: _size_3_t | None, step_mode: str = "s") -> None:
        super().__init__(output_size)
        self.step_mode = step_mode


class Upsample(SeqFoldWrapper, nn.Upsample):
    """:class:`torch.nn.Upsample` with ``step_mode``.

    ``'m'`` takes ``[T, N, C, L]``, ``[T, N, C, H, W]`` or ``[T, N, C, D, H, W]``.
    """

    def __init__(
        self,
        size: _size_any_t | None = None,
        scale_factor: _ratio_any_t | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
        step_mode: str = "s",
    ) -> None:
        super().__init__(size, scale_factor, mode, align_corners, recompute_scale_factor)
        self.step_mode = step_mode
