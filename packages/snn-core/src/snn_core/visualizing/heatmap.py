"""``plot_2d_heatmap``: a ``[T, N]`` array as an image, time along x and neurons along y."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from snn_core.visualizing._utils import _check_ndim, _matplotlib, _to_numpy

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_2d_heatmap"]


def plot_2d_heatmap(
    array: np.ndarray | torch.Tensor,
    title: str,
    xlabel: str,
    ylabel: str,
    int_x_ticks: bool = True,
    int_y_ticks: bool = True,
    plot_colorbar: bool = True,
    colorbar_y_label: str = "magnitude",
    x_max: float | None = None,
    figsize: tuple[float, float] = (12, 8),
    dpi: int = 200,
) -> tuple[Figure, Axes]:
    """Draw ``array[t, n]`` as a heatmap: column ``t`` (x axis), row ``n`` (y axis).

    Typical use: the membrane potentials of ``N`` neurons over ``T`` steps. The image is
    ``array.T`` shown with ``imshow(aspect="auto")``; with ``x_max`` its extent is
    ``[-0.5, x_max, N - 0.5, -0.5]`` (as in SpikingJelly). Needs ``snn-core[plot]``.

    Args:
        array: values of shape ``[T, N]`` (``np.ndarray`` or ``torch.Tensor``).
        title: title of the axes.
        xlabel: label of the x axis (time).
        ylabel: label of the y axis (neuron index).
        int_x_ticks: only integer ticks on the x axis.
        int_y_ticks: only integer ticks on the y axis.
        plot_colorbar: add a colorbar beside the image.
        colorbar_y_label: label of the colorbar.
        x_max: right end of the x extent; ``None`` keeps the pixel extent ``T - 0.5``.
        figsize: figure size in inches.
        dpi: figure resolution.

    Returns:
        ``(fig, ax)``: the figure and the axes holding the image.

    Raises:
        ValueError: ``array`` is not 2-dimensional.
        ImportError: matplotlib is not installed.
    """
    caller = "plot_2d_heatmap"
    mpl, plt = _matplotlib(caller)
    array = _to_numpy(array, "array", caller)
    _check_ndim(array, 2, "array", caller, "[T, N]")

    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    n = array.shape[1]
    extent = None if x_max is None else [-0.5, x_max, n - 0.5, -0.5]
    image = ax.imshow(array.T, aspect="auto", extent=extent)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for axis, integer in ((ax.xaxis, int_x_ticks), (ax.yaxis, int_y_ticks)):
        axis.set_major_locator(mpl.ticker.MaxNLocator(integer=integer))
        axis.set_minor_locator(mpl.ticker.NullLocator())

    if plot_colorbar:
        colorbar = fig.colorbar(image, ax=ax)
        colorbar.ax.set_ylabel(colorbar_y_label, rotation=90, va="top")
        colorbar.ax.yaxis.set_minor_locator(mpl.ticker.NullLocator())
    return fig, ax
