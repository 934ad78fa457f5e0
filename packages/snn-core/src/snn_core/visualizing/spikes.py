"""Spike plots: ``plot_1d_spikes`` (a raster of ``N`` neurons, with their firing rates) and
``plot_one_neuron_v_s`` (one neuron's membrane potential above its spikes)."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import torch

from snn_core.visualizing._utils import _check_binary, _check_ndim, _matplotlib, _to_numpy

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_1d_spikes", "plot_one_neuron_v_s"]


def _draw_firing_rates(ax: Axes, rates: np.ndarray, title: str, mpl: ModuleType) -> None:
    """A one-column ``magma`` image of ``rates`` ([N, 1]) with each rate written on it."""
    ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax.yaxis.set_minor_locator(mpl.ticker.NullLocator())
    ax.imshow(rates, cmap="magma", aspect="auto")
    high, low = rates.max(), rates.min()
    for n, rate in enumerate(rates[:, 0]):
        # dark text only on the bright (top 30 %) cells of a non-constant map
        color = "w" if rate < 0.7 * high or low == high else "black"
        ax.text(0, n, f"{rate:.2f}", ha="center", va="center", color=color)
    ax.get_xaxis().set_visible(False)
    ax.set_title(title)


def plot_1d_spikes(
    spikes: np.ndarray | torch.Tensor,
    title: str,
    xlabel: str,
    ylabel: str,
    int_x_ticks: bool = True,
    int_y_ticks: bool = True,
    plot_firing_rate: bool = True,
    firing_rate_map_title: str = "firing rate",
    figsize: tuple[float, float] = (12, 8),
    dpi: int = 200,
) -> tuple[Figure, Axes]:
    """Raster of ``spikes[t, n]``: neuron ``n`` is row ``n`` (top to bottom), a tick at ``t``
    for each spike; beside it, optionally, each neuron's firing rate
    ``r_n = (1 / T) * sum_t spikes[t, n]`` as a one-column heatmap.

    Row ``n`` is one ``eventplot`` at ``lineoffsets=n`` in the ``tab10`` colour ``n % 10``.
    Needs ``snn-core[plot]``.

    Args:
        spikes: spikes of shape ``[T, N]``, values 0 or 1 (``np.ndarray`` or
            ``torch.Tensor``).
        title: title of the raster.
        xlabel: label of the x axis (time step).
        ylabel: label of the y axis (neuron index).
        int_x_ticks: only integer ticks on the x axis.
        int_y_ticks: only integer ticks on the y axis.
        plot_firing_rate: add the firing-rate column (the raster then takes 4/5 of the width).
        firing_rate_map_title: title of the firing-rate column.
        figsize: figure size in inches.
        dpi: figure resolution.

    Returns:
        ``(fig, ax)``: the figure and the axes of the raster.

    Raises:
        ValueError: ``spikes`` is not 2-dimensional or holds values other than 0 and 1.
        ImportError: matplotlib is not installed.
    """
    import numpy as np

    caller = "plot_1d_spikes"
    mpl, plt = _matplotlib(caller)
    spikes = _to_numpy(spikes, "spikes", caller)
    _check_ndim(spikes, 2, "spikes", caller, "[T, N]")
    _check_binary(spikes, "spikes", caller)
    steps, neurons = spikes.shape

    if plot_firing_rate:
        fig = plt.figure(tight_layout=True, figsize=figsize, dpi=dpi)
        grid = mpl.gridspec.GridSpec(1, 5)
        ax = fig.add_subplot(grid[0, 0:4])
        rate_ax = fig.add_subplot(grid[0, 4])
    else:
        fig, ax = plt.subplots(figsize=figsize, dpi=dpi)

    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for axis, integer in ((ax.xaxis, int_x_ticks), (ax.yaxis, int_y_ticks)):
        axis.set_major_locator(mpl.ticker.MaxNLocator(integer=integer))
        axis.set_minor_locator(mpl.ticker.NullLocator())
    ax.set_xlim(-0.5, steps - 0.5)
    ax.set_ylim(-0.5, neurons - 0.5)
    ax.invert_yaxis()

    colors = plt.get_cmap("tab10")
    times = np.arange(steps, dtype=float)
    for n in range(neurons):
        ax.eventplot(times[spikes[:, n] == 1], lineoffsets=n, colors=colors(n % 10))

    if plot_firing_rate:
        rates = spikes.mean(axis=0).reshape(neurons, 1)
        _draw_firing_rates(rate_ax, rates, firing_rate_map_title, mpl)
    return fig, ax


def plot_one_neuron_v_s(
    v: np.ndarray | torch.Tensor,
    s: np.ndarray | torch.Tensor,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    title: str = "$V[t]$ and $S[t]$ of the neuron",
    figsize: tuple[float, float] = (12, 8),
    dpi: int = 200,
) -> tuple[Figure, Axes, Axes]:
    """One neuron over ``T`` steps: ``V[t]`` as a line (top 2/3) and ``S[t]`` as red ticks
    (bottom 1/3), sharing the step axis ``t = 0 .. T-1``.

    Dash-dotted lines mark ``v_threshold`` (red) and ``v_reset`` (green, omitted when
    ``None``, i.e. a soft-reset neuron), with a legend. Needs ``snn-core[plot]``.

    Args:
        v: membrane potential of shape ``[T]`` (``np.ndarray`` or ``torch.Tensor``).
        s: spikes of shape ``[T]``, values 0 or 1.
        v_threshold: threshold potential to mark.
        v_reset: reset potential to mark, or ``None``.
        title: title of the voltage axes.
        figsize: figure size in inches.
        dpi: figure resolution.

    Returns:
        ``(fig, ax_v, ax_s)``: the figure, the voltage axes and the spike axes.

    Raises:
        ValueError: ``v`` or ``s`` is not 1-dimensional, their lengths differ, or ``s``
            holds values other than 0 and 1.
        ImportError: matplotlib is not installed.
    """
    import numpy as np

    caller = "plot_one_neuron_v_s"
    mpl, plt = _matplotlib(caller)
    v = _to_numpy(v, "v", caller)
    s = _to_numpy(s, "s", caller)
    _check_ndim(v, 1, "v", caller, "[T]")
    _check_ndim(s, 1, "s", caller, "[T]")
    if v.shape != s.shape:
        raise ValueError(
            f"{caller}: `v` and `s` must have the same length T, got v of shape "
            f"{tuple(v.shape)} and s of shape {tuple(s.shape)}"
        )
    _check_binary(s, "s", caller)

    steps = s.shape[0]
    times = np.arange(steps)
    fig = plt.figure(figsize=figsize, dpi=dpi)
    grid = mpl.gridspec.GridSpec(3, 1, figure=fig)
    ax_v = fig.add_subplot(grid[0:2, 0])
    ax_v.set_title(title)
    ax_v.plot(times, v)
    ax_v.set_xlim(-0.5, steps - 0.5)
    ax_v.set_ylabel("voltage")
    ax_v.axhline(v_threshold, label="$V_{threshold}$", linestyle="-.", c="r")
    if v_reset is not None:
        ax_v.axhline(v_reset, label="$V_{reset}$", linestyle="-.", c="g")
    ax_v.legend(frameon=True)

    ax_s = fig.add_subplot(grid[2, 0])
    ax_s.eventplot(times[s == 1].astype(float), lineoffsets=0, colors="r")
    ax_s.set_xlim(-0.5, steps - 0.5)
    ax_s.set_xlabel("simulating step")
    ax_s.set_ylabel("spike")
    ax_s.set_yticks([])
    ax_s.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    return fig, ax_v, ax_s
