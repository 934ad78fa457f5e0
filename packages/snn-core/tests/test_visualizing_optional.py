"""matplotlib is an optional extra: snn_core imports without it, and a plot without it says
which extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from snn_core import visualizing

PLOTS = [
    lambda: visualizing.plot_2d_heatmap(np.zeros((2, 2)), "t", "x", "y"),
    lambda: visualizing.plot_2d_bar_in_3d(np.zeros((2, 2)), "t", "x", "y", "z"),
    lambda: visualizing.plot_2d_feature_map(np.zeros((1, 2, 2)), 1, 1, 0, "t"),
    lambda: visualizing.plot_1d_spikes(np.zeros((2, 2)), "t", "x", "y"),
    lambda: visualizing.plot_one_neuron_v_s(np.zeros(2), np.zeros(2)),
]


@pytest.mark.parametrize("plot", PLOTS)
def test_plot_without_matplotlib_names_the_extra(monkeypatch, plot):
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.ticker", "matplotlib.gridspec"):
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install snn-core\[plot\]"):
        plot()


def test_snn_core_and_visualizing_import_without_matplotlib():
    script = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "matplotlib" or name.startswith("matplotlib."):
                    raise ImportError("blocked: " + name)

        sys.meta_path.insert(0, Block())
        import snn_core
        import snn_core.visualizing
        from snn_core.visualizing import plot_2d_heatmap

        assert "matplotlib" not in sys.modules
        try:
            plot_2d_heatmap(None, "t", "x", "y")
        except ImportError as err:
            assert "pip install snn-core[plot]" in str(err), err
        else:
            raise AssertionError("no ImportError")
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
