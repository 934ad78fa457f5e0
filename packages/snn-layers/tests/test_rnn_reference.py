"""snn_layers.rnn computes what SpikingJelly 2.0.0's ``activation_based.rnn`` computes.

The expected values in ``data/rnn_reference.npz`` were produced by running the reference
(spikingjelly==2.0.0, torch 2.14.1, CPU) on the cases of ``data/rnn_reference_cases.py``:
``python packages/snn-layers/tests/data/rnn_reference_cases.py`` in an environment with
the reference installed. Weights and inputs are small dyadic rationals set by a formula,
so spikes are exact; outputs, final states and the gradients (w.r.t. the input, the initial
states and every parameter) of a weighted sum of both are compared to float32 rounding.
The two dropout cases run in training mode after ``torch.manual_seed(0)``: they also check
that the masks are drawn from torch's CPU generator in the reference's order and shapes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from snn_core import surrogate
from snn_layers import rnn

_spec = importlib.util.spec_from_file_location(
    "rnn_reference_cases", Path(__file__).parent / "data" / "rnn_reference_cases.py"
)
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)
EXPECTED = cases.load_expected()


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_outputs_states_and_gradients_match_the_reference(name):
    ours = cases.run_case(rnn, surrogate, name)
    expected = EXPECTED[name]
    assert sorted(ours) == sorted(expected)
    for key, value in expected.items():
        torch.testing.assert_close(
            torch.from_numpy(ours[key]),
            torch.from_numpy(value),
            atol=1e-6,
            rtol=0,
            msg=lambda m, key=key: f"{name}/{key}: {m}",
        )


def test_every_case_spikes_and_passes_gradient():
    # guards the fixture against degenerate cases (all zeros, no gradient)
    for name, values in EXPECTED.items():
        spikes = values["output"]
        assert "smooth" in name or (spikes.any() and not spikes.all()), name
        assert (values["grad_x"] != 0).mean() > 0.5, name
        assert (values["grad_params"] != 0).mean() > 0.25, name


@pytest.mark.parametrize("name", ["lstm_bi_sigmoid", "gru_bi_atan", "vanilla_bi_nobias_sigmoid"])
def test_state_dict_keys_are_the_reference_layout(name):
    model = cases.build(rnn, surrogate, name)
    keys = list(model.state_dict())
    layers = cases.LAYERS
    params = ["linear_ih.weight", "linear_hh.weight"]
    if cases.CASES[name][2]:
        params = ["linear_ih.weight", "linear_ih.bias", "linear_hh.weight", "linear_hh.bias"]
    expected = [
        f"{stack}.{i}.{p}"
        for stack in ("cells", "cells_reverse")
        for i in range(layers)
        for p in params
    ]
    assert keys == expected
    # a state dict of this layout loads strictly into a fresh model
    fresh = cases.build(rnn, surrogate, name)
    fresh.load_state_dict({k: torch.zeros_like(v) for k, v in model.state_dict().items()})
    assert all((p == 0).all() for p in fresh.parameters())


@pytest.mark.parametrize("name", ["gru_bi_dropout", "lstm_bi_invariant_dropout"])
def test_dropout_cases_do_drop(name, monkeypatch):
    # the same case without dropout (evaluation mode) computes something else
    monkeypatch.setitem(cases.CASES, "no_dropout", cases.CASES[name][:5])
    ours = cases.run_case(rnn, surrogate, "no_dropout")
    assert not (ours["grad_params"] == EXPECTED[name]["grad_params"]).all()
