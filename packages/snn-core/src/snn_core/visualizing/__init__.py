"""Plots of spiking activity (SpikingJelly's ``spikingjelly.visualizing``).

Every function takes ``np.ndarray`` or ``torch.Tensor`` data and returns the matplotlib
figure with its axes, as the reference does:

- :func:`plot_2d_heatmap`: a ``[T, N]`` array (e.g. membrane potentials) as a heatmap;
- :func:`plot_2d_bar_in_3d`: a ``[T, N]`` array (e.g. firing rates per epoch) as 3D bars;
- :func:`plot_2d_feature_map`: ``[C, H, W]`` feature maps tiled in a grid;
- :func:`plot_1d_spikes`: a ``[T, N]`` spike raster with the firing rates;
- :func:`plot_one_neuron_v_s`: one neuron's ``V[t]`` and ``S[t]``.

matplotlib is an optional extra, ``pip install snn-core[plot]``: importing this module
never needs it; calling a plot without it raises an ImportError that says so.
"""

from snn_core.visualizing.bar3d import plot_2d_bar_in_3d
from snn_core.visualizing.feature_map import plot_2d_feature_map
from snn_core.visualizing.heatmap import plot_2d_heatmap
from snn_core.visualizing.spikes import plot_1d_spikes, plot_one_neuron_v_s

__all__ = [
    "plot_1d_spikes",
    "plot_2d_bar_in_3d",
    "plot_2d_feature_map",
    "plot_2d_heatmap",
    "plot_one_neuron_v_s",
]
