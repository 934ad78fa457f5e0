"""Linear, flatten and normalization layers with a step mode.

Each class is the torch layer of the same name plus ``step_mode``: ``'s'`` takes ``[N, *]``,
``'m'`` takes ``[T, N, *]`` and folds ``T`` into the batch (one call of the torch layer).
In ``'m'`` mode the batch-norm wrappers therefore normalise over all ``T*N`` samples.
The convolution, pooling and weight-standardized wrappers live in :mod:`snn_layers.conv`,
:mod:`snn_layers.pooling` and :mod:`snn_layers.weight_standardization`.
"""

from __future__ import annotations

from torch import nn

from snn_layers._fold import SeqFoldWrapper

__all__ = ["Linear", "Flatten", "GroupNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class Linear(SeqFoldWrapper, nn.Linear):
    """:class:`torch.nn.Linear` with ``step_mode`` (``'m'``: input ``[T, N, *, in_features]``)."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, step_mode: str = "s"
    ) -> None:
        super().__init__(in_features, out_features, bias)
        self.step_mode = step_mode


class Flatten(SeqFoldWrapper, nn.Flatten):
    """:class:`torch.nn.Flatten` with ``step_mode``.

    ``start_dim`` / ``end_dim`` count the dimensions of one step ``[N, *]``; in ``'m'`` mode
    ``Flatten()`` maps ``[T, N, C, H, W]`` to ``[T, N, C*H*W]``.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1, step_mode: str = "s") -> None:
        super().__init__(start_dim, end_dim)
        self.step_mode = step_mode


class GroupNorm(SeqFoldWrapper, nn.GroupNorm):
    """:class:`torch.nn.GroupNorm` with ``step_mode`` (``'m'``: input ``[T, N, C, *]``).

    Group norm normalises each sample on its own, so ``'m'`` equals the loop over steps.
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        step_mode: str = "s",
    ) -> None:
        super().__init__(num_groups, num_channels, eps, affine)
        self.step_mode = step_mode


class BatchNorm1d(SeqFoldWrapper, nn.BatchNorm1d):
    """:class:`torch.nn.BatchNorm1d` with ``step_mode``.

    ``'m'`` takes ``[T, N, C]`` or ``[T, N, C, L]``; statistics are taken over all ``T*N``
    samples (and ``L``), i.e. the same statistics at every time-step.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        step_mode: str = "s",
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.step_mode = step_mode


class BatchNorm2d(SeqFoldWrapper, nn.BatchNorm2d):
    """:class:`torch.nn.BatchNorm2d` with ``step_mode``.

    ``'m'`` takes ``[T, N, C, H, W]``; statistics are taken over all ``T*N*H*W`` positions.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        step_mode: str = "s",
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.step_mode = step_mode


class BatchNorm3d(SeqFoldWrapper, nn.BatchNorm3d):
    """:class:`torch.nn.BatchNorm3d` with ``step_mode``.

    ``'m'`` takes ``[T, N, C, D, H, W]``; statistics are taken over all ``T*N*D*H*W`` positions.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        step_mode: str = "s",
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.step_mode = step_mode
