"""The plots draw their inputs: each artist's data is checked against the array it came from.

Expected values are the inputs themselves (image arrays, bar heights, spike times, rates)
or small grids worked out by hand. The figures were also compared, pixel for pixel, with
SpikingJelly 2.0.0's on the same inputs (outside this suite, which must not import it).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullLocator  # noqa: E402
from snn_core import visualizing  # noqa: E402

TAB10 = plt.get_cmap("tab10")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _spikes(t: int = 12, n: int = 5, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((t, n)) > 0.6).astype(np.float32)


# --- plot_2d_heatmap -------------------------------------------------------------------


def test_heatmap_image_is_the_transposed_array_with_pixel_extent():
    array = np.random.default_rng(1).random((7, 4))
    fig, ax = visualizing.plot_2d_heatmap(array, "V", "step", "neuron", dpi=50)
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    (image,) = ax.images
    np.testing.assert_array_equal(image.get_array(), array.T)  # neuron n is row n
    assert image.get_extent() == [-0.5, 6.5, 3.5, -0.5]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("V", "step", "neuron")
    assert fig.get_size_inches().tolist() == [12, 8] and fig.dpi == 50


def test_heatmap_colorbar_and_its_label():
    array = torch.arange(6.0).reshape(3, 2)
    fig, ax = visualizing.plot_2d_heatmap(array, "t", "x", "y", colorbar_y_label="mV", dpi=50)
    colorbar_ax = next(a for a in fig.axes if a is not ax)
    assert len(fig.axes) == 2 and colorbar_ax.get_ylabel() == "mV"
    assert ax.images[0].get_clim() == (0.0, 5.0)
    fig, ax = visualizing.plot_2d_heatmap(array, "t", "x", "y", plot_colorbar=False, dpi=50)
    assert fig.axes == [ax]


def test_heatmap_x_max_sets_the_right_end_of_the_extent():
    fig, ax = visualizing.plot_2d_heatmap(np.zeros((5, 3)), "t", "x", "y", x_max=50, dpi=50)
    assert ax.images[0].get_extent() == [-0.5, 50, 2.5, -0.5]


def test_heatmap_integer_tick_options():
    _, ax = visualizing.plot_2d_heatmap(np.zeros((5, 3)), "t", "x", "y", int_y_ticks=False)
    assert ax.xaxis.get_major_locator()._integer is True
    assert ax.yaxis.get_major_locator()._integer is False
    assert isinstance(ax.xaxis.get_major_locator(), MaxNLocator)
    assert isinstance(ax.xaxis.get_minor_locator(), NullLocator)


def test_heatmap_accepts_tensors_that_require_grad():
    x = torch.rand(4, 3, requires_grad=True)
    _, ax = visualizing.plot_2d_heatmap(x * 2, "t", "x", "y", dpi=50)
    np.testing.assert_allclose(ax.images[0].get_array(), (x * 2).detach().numpy().T)


# --- plot_2d_bar_in_3d -----------------------------------------------------------------


def test_bar3d_one_row_of_bars_per_neuron_with_the_values_as_heights():
    array = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # T=2, N=3
    fig, ax = visualizing.plot_2d_bar_in_3d(array, "rates", "neuron", "epoch", "rate", dpi=50)
    assert isinstance(fig, Figure) and ax.name == "3d"
    assert len(ax.containers) == 3
    for n, bars in enumerate(ax.containers):
        np.testing.assert_array_equal(bars.datavalues, array[:, n])
        for t, patch in enumerate(bars):
            corners = np.asarray(patch._segment3d)  # the bar lies in the plane x = n
            np.testing.assert_array_equal(corners[:, 0], n)
            assert corners[:, 1].mean() == pytest.approx(t, abs=0.1)  # centred on y = t
            assert corners[:, 2].max() == array[t, n]
            assert patch.get_facecolor() == pytest.approx((*TAB10(n)[:3], 0.8))
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == (
        "rates",
        "neuron",
        "epoch",
        "rate",
    )
    assert ax.zaxis.get_major_locator()._integer is False


def test_bar3d_colours_cycle_through_tab10():
    _, ax = visualizing.plot_2d_bar_in_3d(torch.ones(1, 12), "t", "x", "y", "z", dpi=50)
    assert ax.containers[11][0].get_facecolor() == pytest.approx((*TAB10(1)[:3], 0.8))


# --- plot_2d_feature_map ---------------------------------------------------------------


def test_feature_map_tiles_maps_row_by_row_with_gaps_at_the_maximum():
    x3d = np.array([[[1, 2]], [[3, 4]], [[5, 6]], [[7, 0]]], dtype=float)  # C=4, H=1, W=2
    fig, ax = visualizing.plot_2d_feature_map(x3d, nrows=2, ncols=2, space=2, title="maps")
    # cells of (1 + 2) x (2 + 2) pixels, map at offset space // 2 = 1, gaps = max = 7
    expected = np.array(
        [
            [7, 7, 7, 7, 7, 7, 7, 7],
            [7, 1, 2, 7, 7, 3, 4, 7],
            [7, 7, 7, 7, 7, 7, 7, 7],
            [7, 7, 7, 7, 7, 7, 7, 7],
            [7, 5, 6, 7, 7, 7, 0, 7],
            [7, 7, 7, 7, 7, 7, 7, 7],
        ],
        dtype=float,
    )
    (image,) = ax.images
    np.testing.assert_array_equal(image.get_array(), expected)
    assert image.get_cmap().name == "gray"
    assert ax.get_title() == "maps"
    assert not ax.get_xaxis().get_visible() and not ax.get_yaxis().get_visible()
    assert isinstance(fig, Figure)


def test_feature_map_odd_and_zero_space():
    x3d = torch.tensor([[[0.0]], [[1.0]], [[3.0]]])
    _, ax = visualizing.plot_2d_feature_map(x3d, 1, 3, space=1, title="t", dpi=50)
    # 2 x 2 cells, map at offset 1 // 2 = 0, gaps = 3
    np.testing.assert_array_equal(ax.images[0].get_array(), [[0, 3, 1, 3, 3, 3], [3] * 6])
    _, ax = visualizing.plot_2d_feature_map(x3d, 3, 1, space=0, title="t", dpi=50)
    np.testing.assert_array_equal(ax.images[0].get_array(), [[0], [1], [3]])


# --- plot_1d_spikes --------------------------------------------------------------------


def test_spike_raster_has_one_event_row_per_neuron_at_the_spike_times():
    spikes = _spikes()
    fig, ax = visualizing.plot_1d_spikes(torch.from_numpy(spikes), "s", "step", "neuron")
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    rows = ax.collections
    assert len(rows) == spikes.shape[1]
    for n, row in enumerate(rows):
        np.testing.assert_array_equal(row.get_positions(), np.flatnonzero(spikes[:, n]))
        assert row.get_lineoffset() == n
        np.testing.assert_allclose(np.ravel(row.get_color()), TAB10(n % 10))
    assert ax.get_xlim() == (-0.5, 11.5)
    assert ax.get_ylim() == (4.5, -0.5)  # neuron 0 on top
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("s", "step", "neuron")


def test_spike_raster_firing_rate_column():
    spikes = np.array([[1, 0, 1], [1, 0, 0], [1, 0, 0], [0, 0, 1]], dtype=float)
    fig, ax = visualizing.plot_1d_spikes(spikes, "s", "x", "y", firing_rate_map_title="rate")
    (rate_ax,) = [a for a in fig.axes if a is not ax]
    np.testing.assert_array_equal(rate_ax.images[0].get_array(), [[0.75], [0.0], [0.5]])
    assert rate_ax.get_title() == "rate" and rate_ax.images[0].get_cmap().name == "magma"
    texts = [(t.get_text(), t.get_position(), t.get_color()) for t in rate_ax.texts]
    # dark text only where rate >= 0.7 * max rate
    assert texts == [("0.75", (0, 0), "black"), ("0.00", (0, 1), "w"), ("0.50", (0, 2), "w")]
    # the raster takes 4 of the 5 grid columns
    assert ax.get_subplotspec().colspan == range(0, 4)
    assert rate_ax.get_subplotspec().colspan == range(4, 5)


def test_spike_raster_constant_rates_have_white_text_and_no_column_without_rates():
    fig, ax = visualizing.plot_1d_spikes(np.ones((3, 2)), "s", "x", "y", dpi=50)
    assert [t.get_color() for t in fig.axes[1].texts] == ["w", "w"]
    fig, ax = visualizing.plot_1d_spikes(
        _spikes().astype(bool), "s", "x", "y", plot_firing_rate=False
    )
    assert fig.axes == [ax]
    np.testing.assert_array_equal(
        ax.collections[0].get_positions(), np.flatnonzero(_spikes()[:, 0])
    )


# --- plot_one_neuron_v_s ---------------------------------------------------------------


def test_one_neuron_voltage_line_thresholds_and_spike_ticks():
    v = np.array([0.2, 0.6, 1.1, 0.0, 0.5])
    s = np.array([0, 0, 1, 0, 0], dtype=float)
    fig, ax_v, ax_s = visualizing.plot_one_neuron_v_s(v, s, v_threshold=1.0, v_reset=0.0)
    assert isinstance(fig, Figure) and isinstance(ax_v, Axes) and isinstance(ax_s, Axes)
    trace, threshold, reset = ax_v.lines
    np.testing.assert_array_equal(trace.get_xdata(), np.arange(5))
    np.testing.assert_array_equal(trace.get_ydata(), v)
    assert list(threshold.get_ydata()) == [1.0, 1.0] and threshold.get_color() == "r"
    assert list(reset.get_ydata()) == [0.0, 0.0] and reset.get_color() == "g"
    assert [t.get_text() for t in ax_v.get_legend().get_texts()] == [
        "$V_{threshold}$",
        "$V_{reset}$",
    ]
    assert ax_v.get_title() == "$V[t]$ and $S[t]$ of the neuron"
    (ticks,) = ax_s.collections
    np.testing.assert_array_equal(ticks.get_positions(), [2.0])
    assert ax_v.get_xlim() == ax_s.get_xlim() == (-0.5, 4.5)
    assert (ax_s.get_xlabel(), ax_s.get_ylabel(), list(ax_s.get_yticks())) == (
        "simulating step",
        "spike",
        [],
    )
    # voltage on the top two thirds, spikes on the bottom third
    assert ax_v.get_subplotspec().rowspan == range(0, 2)
    assert ax_s.get_subplotspec().rowspan == range(2, 3)


def test_one_neuron_without_reset_line():
    v = torch.linspace(0, 1, 6)
    s = torch.tensor([0, 0, 0, 0, 0, 1.0])
    _, ax_v, _ = visualizing.plot_one_neuron_v_s(v, s, v_threshold=0.9, v_reset=None, dpi=50)
    assert len(ax_v.lines) == 2 and list(ax_v.lines[1].get_ydata()) == [0.9, 0.9]


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: visualizing.plot_2d_heatmap(np.zeros(4), "t", "x", "y"), r"`array`.*2D.*\(4,\)"),
        (
            lambda: visualizing.plot_2d_bar_in_3d(np.zeros((2, 2, 2)), "t", "x", "y", "z"),
            r"`array`.*2D.*got a 3D",
        ),
        (lambda: visualizing.plot_1d_spikes(np.zeros(4), "t", "x", "y"), r"`spikes`.*2D"),
        (
            lambda: visualizing.plot_2d_feature_map(np.zeros((4, 4)), 2, 2, 1, "t"),
            r"`x3d`.*3D.*\[C, H, W\]",
        ),
        (
            lambda: visualizing.plot_2d_feature_map(np.zeros((5, 2, 2)), 2, 2, 1, "t"),
            r"nrows \* ncols.*C = x3d.shape\[0\] = 5.*nrows=2, ncols=2",
        ),
        (
            lambda: visualizing.plot_2d_feature_map(np.zeros((4, 2, 2)), 2, 2, -1, "t"),
            r"`space` must be >= 0.*-1",
        ),
        (lambda: visualizing.plot_one_neuron_v_s(np.zeros((3, 2)), np.zeros(3)), r"`v`.*1D"),
        (lambda: visualizing.plot_one_neuron_v_s(np.zeros(3), np.zeros((3, 1))), r"`s`.*1D"),
        (
            lambda: visualizing.plot_one_neuron_v_s(np.zeros(4), np.zeros(3)),
            r"same length.*\(4,\).*\(3,\)",
        ),
        (
            lambda: visualizing.plot_1d_spikes(np.full((2, 2), 0.5), "t", "x", "y"),
            r"`spikes`.*only 0 and 1.*0\.5",
        ),
        (
            lambda: visualizing.plot_one_neuron_v_s(np.zeros(2), np.array([0.0, 2.0])),
            r"`s`.*only 0 and 1.*2\.0",
        ),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_list_is_a_type_error_naming_the_argument():
    with pytest.raises(TypeError, match=r"`v` must be a numpy.ndarray or a torch.Tensor.*list"):
        visualizing.plot_one_neuron_v_s([0.0, 1.0], np.zeros(2))


def test_reference_module_paths():
    from snn_core.visualizing import bar3d, feature_map, heatmap, spikes

    assert heatmap.plot_2d_heatmap is visualizing.plot_2d_heatmap
    assert bar3d.plot_2d_bar_in_3d is visualizing.plot_2d_bar_in_3d
    assert feature_map.plot_2d_feature_map is visualizing.plot_2d_feature_map
    assert spikes.plot_1d_spikes is visualizing.plot_1d_spikes
    assert spikes.plot_one_neuron_v_s is visualizing.plot_one_neuron_v_s
    assert sorted(visualizing.__all__) == [
        "plot_1d_spikes",
        "plot_2d_bar_in_3d",
        "plot_2d_feature_map",
        "plot_2d_heatmap",
        "plot_one_neuron_v_s",
    ]
