"""``plot_2d_feature_map``: ``C`` feature maps of one layer tiled into a grey grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from snn_core.visualizing._utils import _check_ndim, _matplotlib, _to_numpy

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_2d_feature_map"]


def _tile(x3d: np.ndarray, nrows: int, ncols: int, space: int) -> np.ndarray:
    """The ``C`` maps of ``x3d`` ([C, H, W]) in row-major order on a grid, each cell of
    ``(H + space) x (W + space)`` pixels with the map at offset ``space // 2``; the gaps
    take the largest value of ``x3d``."""
    import numpy as np

    _, h, w = x3d.shape
    grid = np.full(((h + space) * nrows, (w + space) * ncols), x3d.max().item(), dtype=float)
    top = space // 2
    for c in range(nrows * ncols):
        i = top + (c // ncols) * (h + space)
        j = top + (c % ncols) * (w + space)
        grid[i : i + h, j : j + w] = x3d[c]
    return grid


def plot_2d_feature_map(
    x3d: np.ndarray | torch.Tensor,
    nrows: int,
    ncols: int,
    space: int,
    title: str,
    figsize: tuple[float, float] = (12, 8),
    dpi: int = 200,
) -> tuple[Figure, Axes]:
    """Tile the ``C`` maps of ``x3d`` (``[C, H, W]``) on ``nrows x ncols`` cells, in grey.

    Typical use: the spikes of a convolutional layer at one time step. Maps are placed row
    by row, ``space`` pixels apart; the gaps are drawn in the largest value of ``x3d``
    (white in the ``gray`` colour map). The axes have no ticks. Needs ``snn-core[plot]``.

    Args:
        x3d: maps of shape ``[C, H, W]`` (``np.ndarray`` or ``torch.Tensor``).
        nrows: rows of the grid.
        ncols: columns of the grid; ``nrows * ncols`` must equal ``C``.
        space: pixels between neighbouring maps (``>= 0``).
        title: title of the axes.
        figsize: figure size in inches.
        dpi: figure resolution.

    Returns:
        ``(fig, ax)``: the figure and the axes holding the tiled image.

    Raises:
        ValueError: ``x3d`` is not 3-dimensional, ``nrows * ncols != C``, or ``space < 0``.
        ImportError: matplotlib is not installed.
    """
    caller = "plot_2d_feature_map"
    _, plt = _matplotlib(caller)
    x3d = _to_numpy(x3d, "x3d", caller)
    _check_ndim(x3d, 3, "x3d", caller, "[C, H, W]")
    channels = x3d.shape[0]
    if nrows * ncols != channels:
        raise ValueError(
            f"{caller}: nrows * ncols must equal the number of maps C = x3d.shape[0] = "
            f"{channels}, got nrows={nrows}, ncols={ncols} ({nrows * ncols} cells)"
        )
    if space < 0:
        raise ValueError(f"{caller}: `space` must be >= 0 pixels, got {space}")

    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    ax.set_title(title)
    ax.imshow(_tile(x3d, nrows, ncols, space), cmap="gray")
    ax.get_xaxis().set_visible(False)
    ax.get_yaxis().set_visible(False)
    return fig, ax
