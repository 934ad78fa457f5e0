"""Names, defaults, repr and hyper-parameter validation of the surrogate classes."""

from __future__ import annotations

import inspect
import re

import pytest
import torch
from snn_core import surrogate as sg

# Signatures of the reference framework (keyword ``spiking=True`` last).
_DEFAULTS = {
    "Sigmoid": {"alpha": 4.0},
    "ATan": {"alpha": 2.0},
    "PiecewiseQuadratic": {"alpha": 1.0},
    "PiecewiseExp": {"alpha": 1.0},
    "SoftSign": {"alpha": 2.0},
    "SuperSpike": {"alpha": 1.0},
    "NonzeroSignLogAbs": {"alpha": 1.0},
    "Erf": {"alpha": 2.0},
    "PiecewiseLeakyReLU": {"w": 1.0, "c": 0.01},
    "SquarewaveFourierSeries": {"n": 2, "T_period": 8},
    "S2NN": {"alpha": 4.0, "beta": 1.0},
    "QPseudoSpike": {"alpha": 2.0},
    "LeakyKReLU": {"leak": 0.0, "k": 1.0},
    "FakeNumericalGradient": {"alpha": 0.3},
    "LogTailedReLU": {"alpha": 0.0},
    "DeterministicPass": {},
    "Rect": {"alpha": 1.0},
    "PoissonPass": {},
}

_REPRS = {
    "Sigmoid": "Sigmoid(alpha=4.0, spiking=True)",
    "ATan": "ATan(alpha=2.0, spiking=True)",
    "PiecewiseQuadratic": "PiecewiseQuadratic(alpha=1.0, spiking=True)",
    "PiecewiseExp": "PiecewiseExp(alpha=1.0, spiking=True)",
    "SoftSign": "SoftSign(alpha=2.0, spiking=True)",
    "SuperSpike": "SuperSpike(alpha=1.0, spiking=True)",
    "NonzeroSignLogAbs": "NonzeroSignLogAbs(alpha=1.0, spiking=True)",
    "Erf": "Erf(alpha=2.0, spiking=True)",
    "PiecewiseLeakyReLU": "PiecewiseLeakyReLU(w=1.0, c=0.01, spiking=True)",
    "SquarewaveFourierSeries": "SquarewaveFourierSeries(n=2, T_period=8.0, spiking=True)",
    "S2NN": "S2NN(alpha=4.0, beta=1.0, spiking=True)",
    "QPseudoSpike": "QPseudoSpike(alpha=2.0, spiking=True)",
    "LeakyKReLU": "LeakyKReLU(leak=0.0, k=1.0, spiking=True)",
    "FakeNumericalGradient": "FakeNumericalGradient(alpha=0.3, spiking=True)",
    "LogTailedReLU": "LogTailedReLU(alpha=0.0, spiking=True)",
    "DeterministicPass": "DeterministicPass(spiking=True)",
    "Rect": "Rect(alpha=1.0, spiking=True)",
    "PoissonPass": "PoissonPass(spiking=True)",
}


def test_registry_holds_the_eighteen_reference_surrogates() -> None:
    assert list(sg.SURROGATES) == list(_DEFAULTS)
    for name, cls in sg.SURROGATES.items():
        assert cls.__name__ == name
        assert issubclass(cls, sg.SurrogateFunctionBase)
        assert getattr(sg, name) is cls
        assert name in sg.__all__


@pytest.mark.parametrize("name", list(_DEFAULTS))
def test_signature_and_defaults_follow_the_reference(name: str) -> None:
    params = inspect.signature(sg.SURROGATES[name]).parameters
    assert list(params) == [*_DEFAULTS[name], "spiking"]
    assert {k: p.default for k, p in params.items()} == {**_DEFAULTS[name], "spiking": True}


@pytest.mark.parametrize("name", list(_REPRS))
def test_repr_shows_parameters(name: str) -> None:
    surrogate = sg.SURROGATES[name]()
    assert repr(surrogate) == _REPRS[name]
    assert tuple(surrogate.params()) == surrogate._param_names
    assert list(surrogate.params()) == list(_DEFAULTS[name])


def test_repr_and_params_reflect_given_values() -> None:
    assert repr(sg.Sigmoid(alpha=2.5, spiking=False)) == "Sigmoid(alpha=2.5, spiking=False)"
    assert sg.S2NN(3, 0.5).params() == {"alpha": 3.0, "beta": 0.5}
    assert repr(sg.PiecewiseLeakyReLU(0.5, 0.1, False)) == (
        "PiecewiseLeakyReLU(w=0.5, c=0.1, spiking=False)"
    )


def test_hyper_parameters_are_python_numbers() -> None:
    s = sg.Sigmoid(alpha=4)
    assert type(s.alpha) is float and s.alpha == 4.0
    f = sg.SquarewaveFourierSeries(n=3, T_period=8)
    assert type(f.n) is int and type(f.T_period) is float


def test_positional_spiking_flag_like_the_reference() -> None:
    assert sg.Sigmoid(4.0, False).spiking is False
    assert sg.DeterministicPass(False).spiking is False
    assert sg.LeakyKReLU(0.1, 2.0, False).params() == {"leak": 0.1, "k": 2.0}


def test_cache_key_tells_settings_apart() -> None:
    assert sg.Sigmoid(alpha=4.0).cache_key() == sg.Sigmoid(alpha=4).cache_key()
    assert sg.Sigmoid(alpha=4.0).cache_key() != sg.Sigmoid(alpha=2.0).cache_key()
    assert sg.Sigmoid().cache_key() != sg.ATan(alpha=4.0).cache_key()


_BAD = [
    (sg.Sigmoid, {"alpha": 0.0}, ValueError, "alpha must be a positive number, got 0.0"),
    (sg.Sigmoid, {"alpha": -1.0}, ValueError, "alpha must be a positive number"),
    (sg.Sigmoid, {"alpha": "4"}, TypeError, "alpha must be a real Python number, got '4'"),
    (sg.Sigmoid, {"alpha": True}, TypeError, "alpha must be a real Python number"),
    (sg.Sigmoid, {"alpha": torch.tensor(4.0)}, TypeError, "alpha must be a real Python number"),
    (sg.Sigmoid, {"alpha": float("nan")}, ValueError, "alpha must be finite"),
    (sg.ATan, {"alpha": float("inf")}, ValueError, "alpha must be finite"),
    (sg.ATan, {"alpha": 0}, ValueError, "alpha must be a positive number"),
    (sg.PiecewiseQuadratic, {"alpha": -2.0}, ValueError, "alpha must be a positive number"),
    (sg.PiecewiseExp, {"alpha": 0.0}, ValueError, "alpha must be a positive number"),
    (sg.SoftSign, {"alpha": 0.0}, ValueError, "alpha must be a positive number"),
    (sg.SuperSpike, {"alpha": -1.0}, ValueError, "alpha must be a positive number"),
    (sg.NonzeroSignLogAbs, {"alpha": 0.0}, ValueError, "alpha must be a positive number"),
    (sg.Erf, {"alpha": -0.5}, ValueError, "alpha must be a positive number"),
    (sg.PiecewiseLeakyReLU, {"w": 0.0}, ValueError, "w must be a positive number"),
    (sg.PiecewiseLeakyReLU, {"c": None}, TypeError, "c must be a real Python number"),
    (sg.SquarewaveFourierSeries, {"n": 0}, ValueError, "n must be an int >= 1, got 0"),
    (sg.SquarewaveFourierSeries, {"n": 2.0}, TypeError, "n must be an int, got 2.0"),
    (sg.SquarewaveFourierSeries, {"T_period": 0}, ValueError, "T_period must be a positive"),
    (sg.S2NN, {"alpha": 0.0}, ValueError, "alpha must be a positive number"),
    (sg.S2NN, {"beta": -1.0}, ValueError, "beta must be a positive number"),
    (sg.QPseudoSpike, {"alpha": 1.0}, ValueError, "alpha must be a number greater than 1"),
    (sg.QPseudoSpike, {"alpha": 0.5}, ValueError, "alpha must be a number greater than 1"),
    (sg.LeakyKReLU, {"leak": "0"}, TypeError, "leak must be a real Python number"),
    (sg.LeakyKReLU, {"k": float("nan")}, ValueError, "k must be finite"),
    (sg.FakeNumericalGradient, {"alpha": 0.0}, ValueError, "alpha must be a positive number"),
    (sg.LogTailedReLU, {"alpha": [0.1]}, TypeError, "alpha must be a real Python number"),
    (sg.Rect, {"alpha": 0.0}, ValueError, "alpha must be a positive number"),
    (sg.Sigmoid, {"spiking": 1}, TypeError, "spiking must be a bool"),
    (sg.PoissonPass, {"spiking": "yes"}, TypeError, "spiking must be a bool"),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "message"),
    [pytest.param(*b, id=f"{b[0].__name__}-{b[1]}") for b in _BAD],
)
def test_bad_hyper_parameters_raise(cls: type, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)) as info:
        cls(**kwargs)
    if "spiking" not in kwargs:
        assert str(info.value).startswith(f"{cls.__name__}: ")


def test_every_surrogate_with_hyper_parameters_rejects_a_bad_one() -> None:
    with_params = {n for n, d in _DEFAULTS.items() if d}
    assert {b[0].__name__ for b in _BAD} >= with_params
