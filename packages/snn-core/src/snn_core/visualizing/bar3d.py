"""``plot_2d_bar_in_3d``: a ``[T, N]`` array as rows of 3D bars, one row per neuron."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from snn_core.visualizing._utils import _check_ndim, _matplotlib, _to_numpy

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_2d_bar_in_3d"]


def plot_2d_bar_in_3d(
    array: np.ndarray | torch.Tensor,
    title: str,
    xlabel: str,
    ylabel: str,
    zlabel: str,
    int_x_ticks: bool = True,
    int_y_ticks: bool = True,
    int_z_ticks: bool = False,
    dpi: int = 200,
) -> tuple[Figure, Axes]:
    """Draw ``array[t, n]`` as 3D bars: bar ``(x=n, y=t)`` has height ``array[t, n]``.

    Typical use: the firing rates of ``N`` output neurons over ``T`` epochs. Neuron ``n``
    is one row of ``T`` bars in the plane ``x = n``, coloured by the ``tab10`` colour
    ``n % 10`` with alpha 0.8. Needs ``snn-core[plot]``.

    Args:
        array: values of shape ``[T, N]`` (``np.ndarray`` or ``torch.Tensor``).
        title: title of the axes.
        xlabel: label of the x axis (neuron index).
        ylabel: label of the y axis (the ``T`` dimension).
        zlabel: label of the z axis (the values).
        int_x_ticks: only integer ticks on the x axis.
        int_y_ticks: only integer ticks on the y axis.
        int_z_ticks: only integer ticks on the z axis.
        dpi: figure resolution.

    Returns:
        ``(fig, ax)``: the figure and its 3D axes.

    Raises:
        ValueError: ``array`` is not 2-dimensional.
        ImportError: matplotlib is not installed.
    """
    import numpy as np

    caller = "plot_2d_bar_in_3d"
    mpl, plt = _matplotlib(caller)
    array = _to_numpy(array, "array", caller)
    _check_ndim(array, 2, "array", caller, "[T, N]")

    fig = plt.figure(dpi=dpi)
    ax = fig.add_subplot(111, projection="3d")
    ax.set_title(title)
    colors = plt.get_cmap("tab10")
    steps = np.arange(array.shape[0])
    for n in range(array.shape[1]):
        ax.bar(steps, array[:, n], n, zdir="x", color=colors(n % 10), alpha=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_zlabel(zlabel)
    for axis, integer in (
        (ax.xaxis, int_x_ticks),
        (ax.yaxis, int_y_ticks),
        (ax.zaxis, int_z_ticks),
    ):
        axis.set_major_locator(mpl.ticker.MaxNLocator(integer=integer))
    return fig, ax
