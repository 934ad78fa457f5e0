"""Measured: a CNN trained on scikit-learn's digits keeps its accuracy after rate-coding
conversion (issue 25): within 2 points of the ANN at T=32, within 0.5 points at T=128.

Uses the functions of the documented example ``docs/examples/ann2snn_digits.py`` (which
also draws the docs' accuracy-vs-T plot), so the docs and this check cannot drift apart.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "ann2snn_digits.py"


def _example():
    spec = importlib.util.spec_from_file_location("ann2snn_digits_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained():
    """The example's ANN trained once for both modes, and its test accuracy (%)."""
    ex = _example()
    x_tr, y_tr, x_te, y_te = ex.load_digits_split()
    net = ex.train_cnn(x_tr, y_tr)
    with torch.no_grad():
        ann_acc = 100.0 * (net(x_te).argmax(1) == y_te).float().mean().item()
    return ex, net, ann_acc, (x_tr, y_tr, x_te, y_te)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["max", "99.9%"])
def test_digits_cnn_converted_keeps_accuracy(trained, mode):
    ex, net, ann_acc, (x_tr, _, x_te, y_te) = trained
    assert ann_acc > 95.0  # the ANN itself learned the task
    acc = ex.snn_accuracy_vs_t(ex.convert(net, x_tr, mode), x_te, y_te, t_values=(32, 128))
    assert acc[32] >= ann_acc - 2.0, (ann_acc, acc)
    assert acc[128] >= ann_acc - 0.5, (ann_acc, acc)
