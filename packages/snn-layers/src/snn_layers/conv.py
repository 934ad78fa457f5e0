"""Convolution and transposed-convolution layers with a step mode.

Each class is the torch layer of the same name plus ``step_mode``: ``'s'`` takes
``[N, C, *spatial]``, ``'m'`` takes ``[T, N, C, *spatial]`` and folds ``T`` into the batch.
Parameter names are torch's, so a ``torch.nn.Conv2d`` state dict loads into
:class:`Conv2d` unchanged.
"""

from __future__ import annotations

from torch import nn
from torch.nn.common_types import _size_1_t, _size_2_t, _size_3_t

from snn_layers._fold import SeqFoldWrapper

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
]


class Conv1d(SeqFoldWrapper, nn.Conv1d):
    """:class:`torch.nn.Conv1d` with ``step_mode`` (``'m'``: input ``[T, N, C, L]``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _size_1_t,
        stride: _size_1_t = 1,
        padding: str | _size_1_t = 0,
        dilation: _size_1_t = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        step_mode: str = "s",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
        )
        self.step_mode = step_mode


class Conv2d(SeqFoldWrapper, nn.Conv2d):
    """:class:`torch.nn.Conv2d` with ``step_mode`` (``'m'``: input ``[T, N, C, H, W]``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _size_2_t,
        stride: _size_2_t = 1,
        padding: str | _size_2_t = 0,
        dilation: _size_2_t = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        step_mode: str = "s",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
        )
        self.step_mode = step_mode


class Conv3d(SeqFoldWrapper, nn.Conv3d):
    """:class:`torch.nn.Conv3d` with ``step_mode`` (``'m'``: input ``[T, N, C, D, H, W]``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _size_3_t,
        stride: _size_3_t = 1,
        padding: str | _size_3_t = 0,
        dilation: _size_3_t = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        step_mode: str = "s",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
        )
        self.step_mode = step_mode


class ConvTranspose1d(SeqFoldWrapper, nn.ConvTranspose1d):
    """:class:`torch.nn.ConvTranspose1d` with ``step_mode`` (``'m'``: input ``[T, N, C, L]``).

    ``forward(x, output_size=None)``: ``output_size`` is the spatial size, as in torch.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _size_1_t,
        stride: _size_1_t = 1,
        padding: _size_1_t = 0,
        output_padding: _size_1_t = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: _size_1_t = 1,
        padding_mode: str = "zeros",
        step_mode: str = "s",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            bias,
            dilation,
            padding_mode,
        )
        self.step_mode = step_mode


class ConvTranspose2d(SeqFoldWrapper, nn.ConvTranspose2d):
    """:class:`torch.nn.ConvTranspose2d` with ``step_mode`` (``'m'``: input ``[T, N, C, H, W]``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _size_2_t,
        stride: _size_2_t = 1,
        padding: _size_2_t = 0,
        output_padding: _size_2_t = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int = 1,
        padding_mode: str = "zeros",
        step_mode: str = "s",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            bias,
            dilation,
            padding_mode,
        )
        self.step_mode = step_mode


class ConvTranspose3d(SeqFoldWrapper, nn.ConvTranspose3d):
    """:class:`torch.nn.ConvTranspose3d` with ``step_mode`` (``'m'``: ``[T, N, C, D, H, W]``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _size_3_t,
        stride: _size_3_t = 1,
        padding: _size_3_t = 0,
        output_padding: _size_3_t = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: _size_3_t = 1,
        padding_mode: str = "zeros",
        step_mode: str = "s",
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            bias,
            dilation,
            padding_mode,
        )
        self.step_mode = step_mode
