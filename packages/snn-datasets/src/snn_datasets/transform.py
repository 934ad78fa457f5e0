"""Transforms of frame sequences (names and behaviour of ``spikingjelly.datasets.transform``)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["random_temporal_delete", "RandomTemporalDelete"]


def random_temporal_delete(
    x_seq: torch.Tensor | np.ndarray, T_remain: int, batch_first: bool
) -> torch.Tensor | np.ndarray:
    """Keep ``T_remain`` time steps of ``x_seq``, drawn without replacement by
    ``np.random.choice`` and kept in their original order (temporal random deletion,
    Fang et al., 2021, "Deep residual learning in spiking neural networks").

    ``x_seq`` is ``[T, ...]``, or ``[N, T, ...]`` when ``batch_first``; the result has the
    same type and layout with ``T`` replaced by ``T_remain``.
    """
    T = x_seq.shape[1] if batch_first else x_seq.shape[0]
    if isinstance(T_remain, bool) or not isinstance(T_remain, (int, np.integer)):
        raise TypeError(f"T_remain must be an int, got {T_remain!r}")
    if not 0 <= T_remain <= T:
        raise ValueError(f"T_remain must be in [0, T={T}], got {T_remain}")
    sec_list = np.random.choice(T, T_remain, replace=False)  # noqa: NPY002 (reference RNG)
    sec_list.sort()
    return x_seq[:, sec_list] if batch_first else x_seq[sec_list]


class RandomTemporalDelete(torch.nn.Module):
    """Module form of :func:`random_temporal_delete`.

    Args:
        T_remain: number of time steps kept.
        batch_first: whether the input is ``[N, T, ...]`` (else ``[T, ...]``).
    """

    def __init__(self, T_remain: int, batch_first: bool):
        super().__init__()
        self.T_remain = T_remain
        self.batch_first = batch_first

    def forward(self, x_seq: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        return random_temporal_delete(x_seq, self.T_remain, self.batch_first)

    def extra_repr(self) -> str:
        return f"T_remain={self.T_remain}, batch_first={self.batch_first}"
