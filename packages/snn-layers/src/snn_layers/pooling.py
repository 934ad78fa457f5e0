"""Pooling and upsampling layers with a step mode.

Each class is the torch layer of the same name plus ``step_mode``: ``'s'`` takes
``[N, C, *spatial]``, ``'m'`` takes ``[T, N, C, *spatial]`` and folds ``T`` into the batch.
"""

from __future__ import annotations

from torch import nn
from torch.nn.common_types import _ratio_any_t, _size_1_t, _size_2_t, _size_3_t, _size_any_t

from snn_layers._fold import SeqFoldWrapper

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "Upsample",
]

_L1, _L2, _L3 = "[T, N, C, L]", "[T, N, C, H, W]", "[T, N, C, D, H, W]"


class MaxPool1d(SeqFoldWrapper, nn.MaxPool1d):
    """:class:`torch.nn.MaxPool1d` with ``step_mode`` (``'m'``: input ``[T, N, C, L]``)."""

    seq_dims, seq_layout = (4,), _L1

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

    seq_dims, seq_layout = (5,), _L2

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

    seq_dims, seq_layout = (6,), _L3

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


class AvgPool1d(SeqFoldWrapper, nn.AvgPool1d):
    """:class:`torch.nn.AvgPool1d` with ``step_mode`` (``'m'``: input ``[T, N, C, L]``)."""

    seq_dims, seq_layout = (4,), _L1

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

    seq_dims, seq_layout = (5,), _L2

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

    seq_dims, seq_layout = (6,), _L3

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

    seq_dims, seq_layout = (4,), _L1

    def __init__(self, output_size: _size_1_t, step_mode: str = "s") -> None:
        super().__init__(output_size)
        self.step_mode = step_mode


class AdaptiveAvgPool2d(SeqFoldWrapper, nn.AdaptiveAvgPool2d):
    """:class:`torch.nn.AdaptiveAvgPool2d` with ``step_mode`` (``'m'``: ``[T, N, C, H, W]``)."""

    seq_dims, seq_layout = (5,), _L2

    def __init__(self, output_size: _size_2_t | None, step_mode: str = "s") -> None:
        super().__init__(output_size)
        self.step_mode = step_mode


class AdaptiveAvgPool3d(SeqFoldWrapper, nn.AdaptiveAvgPool3d):
    """:class:`torch.nn.AdaptiveAvgPool3d` with ``step_mode`` (``'m'``: ``[T, N, C, D, H, W]``)."""

    seq_dims, seq_layout = (6,), _L3

    def __init__(self, output_size: _size_3_t | None, step_mode: str = "s") -> None:
        super().__init__(output_size)
        self.step_mode = step_mode


class Upsample(SeqFoldWrapper, nn.Upsample):
    """:class:`torch.nn.Upsample` with ``step_mode``.

    ``'m'`` takes ``[T, N, C, L]``, ``[T, N, C, H, W]`` or ``[T, N, C, D, H, W]``.
    """

    seq_dims = (4, 5, 6)
    seq_layout = "[T, N, C, *spatial] (1 to 3 spatial dimensions)"

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
