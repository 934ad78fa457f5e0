"""The STDP example of docs/learning.md learns something real.

``docs/examples/stdp_digits.py`` trains a winner-take-all layer with
``snn_layers.learning.STDPLearner`` on scikit-learn's digits, without labels, and reads its
spike counts out with logistic regression. Measured (seed 0, 100 neurons, T = 20, one
epoch): test accuracy 0.900 after STDP against 0.722 for the same layer with its random
initial weights (seeds 1 and 2: 0.947 / 0.693 and 0.920 / 0.687; thresholds adapted but
weights frozen: 0.740). The test asks for a 10-point margin and at least 85 %.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "stdp_digits.py"


def _example():
    spec = importlib.util.spec_from_file_location("stdp_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_stdp_features_beat_untrained_layer_on_digits():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and deterministic
    try:
        result = _example().run(seed=0)
    finally:
        torch.set_num_threads(threads)
    assert result["stdp"] >= 0.85, result
    assert result["stdp"] - result["untrained"] >= 0.10, result
