r"""Local threshold balancing (Bu, Li and Yu, "Inference-Scale Complexity in ANN-SNN
Conversion for High-Performance and Low-Power Applications", CVPR 2025).

A training-free, channel-wise variant of rate coding. During calibration each ReLU output
(after its max pooling, if a ``MaxPool2d`` follows) passes a
:class:`LocalThresholdBalancingHook`, which moves each channel's threshold ``θ_c`` up by
twice the mean overflow of the batch and clips the activation to it:

.. math::
    θ_c \leftarrow \max\!\Big(θ_c + 2\,\mathrm{mean}_{n, *}\big[(\mathrm{relu}(x) - θ_c)^+\big],
    ε\Big), \qquad y = \min(\mathrm{relu}(x), θ_c)

so later layers calibrate on clipped inputs. The ReLU is then replaced by
``ChannelVoltageScaler(1/θ) -> HalfThresholdIFNode() -> ChannelVoltageScaler(θ)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from torch import fx, nn

from snn_layers.ann2snn.recipes.rate_coding import RateCodingRecipe

if TYPE_CHECKING:  # pragma: no cover
    from snn_layers.ann2snn.converter import FXConverter

__all__ = ["LocalThresholdBalancingRecipe", "LocalThresholdBalancingHook"]


class LocalThresholdBalancingHook(nn.Module):
    """Per-channel threshold balancing of one activation (see the module doc).

    Args:
        channel_dim: channel dimension of ``[N, *]`` inputs (at least 2-D).
        eps: lower bound of a threshold.
    """

    def __init__(self, channel_dim: int = 1, eps: float = 1e-6) -> None:
        super().__init__()
        self.channel_dim = channel_dim
        self.eps = float(eps)
        self.register_buffer("threshold", torch.empty(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError(
                "LocalThresholdBalancingRecipe requires activation tensors with at least 2 "
                f"dimensions, got shape {tuple(x.shape)}."
            )
        dim = self.channel_dim + x.dim() if self.channel_dim < 0 else self.channel_dim
        if not 0 <= dim < x.dim():
            raise ValueError(
                f"channel_dim={self.channel_dim} is out of range for {tuple(x.shape)}."
            )
        positive = torch.clamp(x, min=0)
        stat = positive.detach()
        if stat.dtype in (torch.float16, torch.bfloat16):
            stat = stat.float()
        if self.threshold.numel() == 0:
            self.threshold = torch.zeros(x.shape[dim], device=stat.device, dtype=stat.dtype)
        shape = [1] * x.dim()
        shape[dim] = x.shape[dim]
        theta = self.threshold.to(device=stat.device, dtype=stat.dtype)
        others = tuple(d for d in range(x.dim()) if d != dim)
        overflow = torch.clamp(stat - theta.reshape(shape), min=0).mean(dim=others)
        theta = torch.clamp(theta + 2.0 * overflow, min=self.eps)
        self.threshold = theta.detach()
        return torch.minimum(positive, theta.to(device=x.device, dtype=x.dtype).reshape(shape))

    def compute_threshold(self) -> torch.Tensor:
        """The balanced thresholds (an error before any calibration batch)."""
        if self.threshold.numel() == 0:
            raise ValueError("No calibration activations have been recorded.")
        if not torch.isfinite(self.threshold).all() or (self.threshold <= 0).any():
            raise ValueError("Balanced thresholds must be finite positive values.")
        return self.threshold.detach()


class LocalThresholdBalancingRecipe(RateCodingRecipe):
    """Training-free conversion with per-channel balanced thresholds and half-threshold
    IF neurons (see the module doc); max pooling after a ReLU runs before the neurons.

    Args:
        dataloader: calibration batches (as for :class:`RateCodingRecipe`).
        channel_dim: channel dimension of the activations.
        fuse_flag: fold BatchNorm into the preceding convolution.
        eps: lower bound of a threshold.
    """

    _channel_hook_leaf = "ltb_hook_"
    _channel_spike_leaf = "ltb_spiking_"
    _channel_hook_type = LocalThresholdBalancingHook

    def __init__(
        self, dataloader: Iterable, channel_dim: int = 1, fuse_flag: bool = True,
        eps: float = 1e-6,
    ) -> None:  # fmt: skip
        super().__init__(
            dataloader, fuse_flag=fuse_flag, channel_wise=True, channel_dim=channel_dim,
            pre_spike_maxpool=True, half_threshold=True, eps=eps,
        )  # fmt: skip

    def validate(self, converter: FXConverter | None) -> None:
        if self.dataloader is None:
            raise ValueError("LocalThresholdBalancingRecipe requires a dataloader.")
        if isinstance(self.channel_dim, bool) or not isinstance(self.channel_dim, int):
            raise ValueError(f"channel_dim must be int, got {self.channel_dim!r}.")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or self.eps <= 0:
            raise ValueError(f"eps must be positive, got {self.eps!r}.")

    def _new_channel_hook(self) -> nn.Module:
        return LocalThresholdBalancingHook(channel_dim=self.channel_dim, eps=self.eps)

    def insert_observers(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        return self._set_voltagehook(fx_model).to(converter.device)
