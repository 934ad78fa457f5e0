r"""The modules that rate-coding conversion inserts: calibration hooks and current scalers.

Rate coding (Diehl et al., "Fast-classifying, high-accuracy spiking deep networks through
weight and threshold balancing", IJCNN 2015; Rueckauer et al., "Conversion of
continuous-valued deep networks to efficient event-driven networks for image
classification", Front. Neurosci. 2017): a ReLU whose activations are at most ``λ`` is
replaced by ``λ · IF(x / λ)``, an IF neuron with threshold 1 and soft reset between two
scalers, whose firing rate times ``λ`` approaches ``clamp(x, 0, λ)``.

:class:`VoltageHook` estimates ``λ`` from calibration batches, one statistic per batch,
averaged with momentum, so memory does not grow with the data set:

.. math::
    λ_1 = s_1, \qquad λ_k = (1 - m) λ_{k-1} + m s_k

with ``s_k`` the batch maximum (``mode='max'``), the batch ``p``-quantile (``mode='p%'``,
linear interpolation as in :func:`torch.quantile`) or ``mode * max`` for a float mode in
``(0, 1]``.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.base import StepModule
from snn_core.functional import seq_to_ann_forward
from torch import nn

__all__ = ["VoltageHook", "VoltageScaler", "ChannelVoltageScaler"]

_MODE_ERROR = "You have used a non-defined VoltageScale Method."
_TORCH_QUANTILE_LIMIT = 1 << 24  # torch.quantile refuses larger inputs


def _safe_quantile(x: torch.Tensor, q: float, dim: int | None = None) -> torch.Tensor:
    """``torch.quantile(x, q, dim)`` (linear interpolation) for tensors of any size.

    :func:`torch.quantile` refuses inputs of more than 2**24 elements; above that this uses
    :func:`torch.kthvalue` on the two neighbouring order statistics, the same value
    ``x_(lo) + (x_(hi) - x_(lo)) * (pos - lo)`` with ``pos = q (n - 1)``.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"_safe_quantile: q must be in [0, 1], got {q!r}")
    if 0 < x.numel() <= _TORCH_QUANTILE_LIMIT:  # torch's own result, bit for bit
        return torch.quantile(x, q) if dim is None else torch.quantile(x, q, dim=dim)
    values = x.reshape(-1) if dim is None else x
    d = 0 if dim is None else dim
    n = values.shape[d]
    if n == 0:
        raise ValueError("quantile input must not be empty.")
    pos = q * (n - 1)
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    low = torch.kthvalue(values, lo + 1, dim=d).values
    if hi == lo:
        return low
    high = torch.kthvalue(values, hi + 1, dim=d).values
    return torch.lerp(low, high, torch.tensor(pos - lo, dtype=low.dtype, device=low.device))


def parse_mode(mode: Any) -> tuple[str, float]:
    """Check a calibration ``mode`` and return ``('max', 1.0)``, ``('quantile', q)`` or
    ``('fraction', f)``; anything else raises ``NotImplementedError`` (as the reference)."""
    if isinstance(mode, str):
        if not mode:
            raise NotImplementedError(_MODE_ERROR + f" Got mode={mode!r}; allowed: 'max', 'p%'")
        if mode[-1] == "%":
            try:
                q = float(mode[:-1]) / 100.0
            except ValueError as exc:
                raise NotImplementedError(
                    _MODE_ERROR + f" Got mode={mode!r}: the percentile is not a number"
                ) from exc
            if not 0.0 <= q <= 1.0:
                raise NotImplementedError(
                    _MODE_ERROR + f" Got mode={mode!r}: the percentile must be in [0, 100]"
                )
            return "quantile", q
        if mode.lower() == "max":
            return "max", 1.0
        raise NotImplementedError(
            _MODE_ERROR + f" Got mode={mode!r}; allowed: 'max', 'p%' (e.g. '99.9%') or a "
            "float in (0, 1]"
        )
    if isinstance(mode, (int, float)) and not isinstance(mode, bool) and 0 < mode <= 1:
        return "fraction", float(mode)
    raise NotImplementedError(
        _MODE_ERROR + f" Got mode={mode!r}; allowed: 'max', 'p%' or a float in (0, 1]"
    )


class VoltageHook(nn.Module):
    r"""Identity that records the activation scale ``λ`` of the tensor passing through it.

    While in training mode, each call computes the batch statistic ``s`` selected by
    ``mode`` (see the module doc) and updates ``scale`` to ``s`` on the first batch and to
    ``(1 - momentum) * scale + momentum * s`` afterwards; ``num_batches_tracked`` counts the
    samples seen. In evaluation mode it is the identity and records nothing.

    Args:
        scale: initial value of the ``scale`` buffer.
        momentum: weight ``m`` of a new batch's statistic.
        mode: ``'Max'`` (case-insensitive), a percentile string such as ``'99.9%'`` or a
            float in ``(0, 1]`` multiplying the batch maximum.
    """

    def __init__(self, scale: float = 1.0, momentum: float = 0.1, mode: str | float = "Max"):
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale))
        self.mode = mode
        self.num_batches_tracked = 0
        self.momentum = momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        kind, value = parse_mode(self.mode)
        xd = x.detach()
        if kind == "quantile":
            if xd.numel() == 0:
                raise ValueError("VoltageHook: quantile input must not be empty.")
            stat_in = xd.float() if xd.dtype in (torch.float16, torch.bfloat16) else xd
            s = _safe_quantile(stat_in, value).to(x.dtype)
        else:
            s = xd.max() * value if kind == "fraction" else xd.max()
        if self.num_batches_tracked == 0:
            self.scale = s
        else:
            self.scale = (1 - self.momentum) * self.scale + self.momentum * s
        self.num_batches_tracked += x.shape[0] if x.dim() > 0 else 1
        return x

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, momentum={self.momentum}"


class VoltageScaler(nn.Module, StepModule):
    """Multiply the input current by a constant ``scale``: ``y = x * scale``.

    Args:
        scale: the factor (stored as a buffer).
        step_mode: ``'s'`` (``[N, *]``) or ``'m'`` (``[T, N, *]``); the result is the same.
    """

    def __init__(self, scale: float = 1.0, step_mode: str = "s"):
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale))
        self.step_mode = step_mode

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self._forward(x)
        return seq_to_ann_forward(x, self._forward)

    def extra_repr(self) -> str:
        return f"{self.scale.item():f}, step_mode={self.step_mode}"


class ChannelVoltageScaler(nn.Module, StepModule):
    """Multiply the input by a per-channel factor: ``y[:, c] = x[:, c] * scale[c]``.

    Args:
        scale: a finite positive number or 1-D tensor of finite positive factors, one per
            channel along ``channel_dim`` (a buffer, so it is in the ``state_dict``).
        channel_dim: the channel dimension of a single-step input ``[N, *]``.
        step_mode: ``'s'`` or ``'m'`` (``[T, N, *]``, folded to ``[T*N, *]``).
    """

    def __init__(
        self, scale: float | torch.Tensor = 1.0, channel_dim: int = 1, step_mode: str = "s"
    ):
        super().__init__()
        if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
            raise ValueError(f"channel_dim must be int, got {channel_dim!r}.")
        scale_tensor = torch.as_tensor(scale).detach().clone()
        if scale_tensor.dim() > 1:
            raise ValueError(
                f"scale must be a scalar or a 1D tensor, got shape {tuple(scale_tensor.shape)}."
            )
        if scale_tensor.numel() == 0:
            raise ValueError("scale must not be empty.")
        if not torch.isfinite(scale_tensor).all() or (scale_tensor <= 0).any():
            raise ValueError("scale must contain finite positive values.")
        self.register_buffer("scale", scale_tensor)
        self.channel_dim = channel_dim
        self.step_mode = step_mode

    def _view_scale(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale.dim() == 0:
            return self.scale
        dim = self.channel_dim + x.dim() if self.channel_dim < 0 else self.channel_dim
        if not 0 <= dim < x.dim():
            raise ValueError(
                f"channel_dim={self.channel_dim} is out of range for input with shape "
                f"{tuple(x.shape)}."
            )
        if x.shape[dim] != self.scale.numel():
            raise ValueError(
                "Input channel dimension does not match scale length: "
                f"got {x.shape[dim]} and {self.scale.numel()}."
            )
        shape = [1] * x.dim()
        shape[dim] = self.scale.numel()
        return self.scale.reshape(shape)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self._view_scale(x).to(dtype=x.dtype, device=x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self._forward(x)
        return seq_to_ann_forward(x, self._forward)

    def extra_repr(self) -> str:
        return (
            f"scale_shape={tuple(self.scale.shape)}, channel_dim={self.channel_dim}, "
            f"step_mode={self.step_mode}"
        )
