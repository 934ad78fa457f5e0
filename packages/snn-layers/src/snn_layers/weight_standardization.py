r"""Scaled weight standardization (Qiao et al. 2019; Brock et al., ICLR 2021, NF-Nets).

The layer uses, instead of its raw weight :math:`W` (one row per output unit),

.. math::
    \hat W_i = g_i \, \frac{W_i - \mathrm{mean}(W_i)}{\sqrt{\mathrm{Var}(W_i)\, n_{in} + ε}}

where the mean and the (unbiased, as ``torch.var``) variance run over the ``n_in =
fan_in`` entries of row ``i`` and :math:`g_i` is a learnable gain (``gain=True``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.common_types import _size_2_t

from snn_layers.conv import Conv2d
from snn_layers.wrappers import Linear

__all__ = ["WSConv2d", "WSLinear"]


def _standardize(weight: torch.Tensor, gain: torch.Tensor | None, eps: float) -> torch.Tensor:
    dims = list(range(1, weight.dim()))
    fan_in = math.prod(weight.shape[1:])
    mean = weight.mean(dim=dims, keepdim=True)
    var = weight.var(dim=dims, keepdim=True)
    w = (weight - mean) / torch.sqrt(var * fan_in + eps)
    return w * gain if gain is not None else w


def _check_ws_args(gain: object, eps: object) -> None:
    if not isinstance(gain, bool):
        raise TypeError(f"gain must be a bool, got {gain!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ValueError(f"eps must be a number >= 0, got {eps!r}")


class WSConv2d(Conv2d):
    r""":class:`Conv2d` with scaled weight standardization (Qiao et al. 2019; Brock et al.,
    ICLR 2021): the convolution uses, instead of its weight :math:`W`,

    .. math::
        \hat W_i = g_i \, \frac{W_i - \mathrm{mean}(W_i)}{\sqrt{\mathrm{Var}(W_i)\, n_{in} + ε}}

    where the mean and the (unbiased) variance run over the ``n_in = fan_in`` entries of
    output channel :math:`i` (``in_channels / groups * kH * kW``).

    Args:
        gain: learn a per-output-channel gain ``g`` (parameter ``gain``, shape
            ``[out_channels, 1, 1, 1]``); ``False`` leaves ``g = 1``.
        eps: small number added under the square root.
        Other args as :class:`Conv2d`.
    """

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
        gain: bool = True,
        eps: float = 1e-4,
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
            step_mode,
        )
        _check_ws_args(gain, eps)
        if gain:
            self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1))
        else:
            self.register_parameter("gain", None)
        self.eps = float(eps)

    def get_weight(self) -> torch.Tensor:
        """The standardized weight :math:`\\hat W` used by the convolution."""
        return _standardize(self.weight, self.gain, self.eps)

    def _step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.get_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gain={self.gain is not None}, eps={self.eps}"


class WSLinear(Linear):
    r""":class:`Linear` with scaled weight standardization (Qiao et al. 2019; Brock et al.,
    ICLR 2021): the linear map uses, instead of its weight :math:`W`,

    .. math::
        \hat W_i = g_i \, \frac{W_i - \mathrm{mean}(W_i)}{\sqrt{\mathrm{Var}(W_i)\, n_{in} + ε}}

    where the mean and the (unbiased) variance run over the ``n_in = fan_in`` entries of
    output row :math:`i` (``in_features``).

    Args:
        gain: learn a per-output gain ``g`` (parameter ``gain``, shape ``[out_features, 1]``).
        eps: small number added under the square root.
        Other args as :class:`Linear`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        step_mode: str = "s",
        gain: bool = True,
        eps: float = 1e-4,
    ) -> None:
        super().__init__(in_features, out_features, bias, step_mode)
        _check_ws_args(gain, eps)
        if gain:
            self.gain = nn.Parameter(torch.ones(self.out_features, 1))
        else:
            self.register_parameter("gain", None)
        self.eps = float(eps)

    def get_weight(self) -> torch.Tensor:
        """The standardized weight :math:`\\hat W` used by the linear map."""
        return _standardize(self.weight, self.gain, self.eps)

    def _step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.get_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gain={self.gain is not None}, eps={self.eps}"
