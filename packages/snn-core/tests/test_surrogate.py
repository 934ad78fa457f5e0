"""Shared behaviour of every surrogate: spikes forward, ``derivative`` backward, ``g`` otherwise.

Each surrogate runs with its defaults and with one other setting of its hyper-parameters.
References: autograd of the primitive in float64 (exact, including break points), central
finite differences of the primitive, and the Heaviside step written out here.
"""

from __future__ import annotations

import pytest
import torch
from snn_core.surrogate import (
    S2NN,
    SURROGATES,
    DeterministicPass,
    PiecewiseLeakyReLU,
    PoissonPass,
    Rect,
    SurrogateFunctionBase,
)

# A non-default setting for each surrogate; break points land on the grid points below.
_OTHER_SETTINGS: dict[str, dict] = {
    "Sigmoid": {"alpha": 2.5},
    "ATan": {"alpha": 5.0},
    "PiecewiseQuadratic": {"alpha": 2.0},
    "PiecewiseExp": {"alpha": 3.0},
    "SoftSign": {"alpha": 0.5},
    "SuperSpike": {"alpha": 2.0},
    "NonzeroSignLogAbs": {"alpha": 3.0},
    "Erf": {"alpha": 0.7},
    "PiecewiseLeakyReLU": {"w": 0.5, "c": 0.1},
    "SquarewaveFourierSeries": {"n": 4, "T_period": 3.0},
    "S2NN": {"alpha": 2.0, "beta": 0.5},
    "QPseudoSpike": {"alpha": 3.5},
    "LeakyKReLU": {"leak": 0.2, "k": 1.5},
    "FakeNumericalGradient": {"alpha": 0.6},
    "LogTailedReLU": {"alpha": 0.1},
    "DeterministicPass": {},
    "Rect": {"alpha": 2.0},
    "PoissonPass": {},
}

_CASES = [
    pytest.param(name, settings, id=f"{name}-{label}")
    for name in SURROGATES
    for label, settings in (("default", {}), ("other", _OTHER_SETTINGS[name]))
]

# Grid with every break point of the settings above (0, ±0.25, ±0.5, ±1, ±1/0.6, ±1/0.3).
_SPECIAL = [0.0, -0.0, 0.25, -0.25, 0.5, -0.5, 1.0, -1.0, 1 / 0.6, -1 / 0.6, 1 / 0.3, -1 / 0.3]


def _grid(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    dense = torch.linspace(-5.0, 5.0, 81, dtype=torch.float64)
    return torch.cat([dense, torch.tensor(_SPECIAL, dtype=torch.float64)]).to(dtype)


def _inputs(name: str, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Inputs valid for the surrogate: PoissonPass takes probabilities in [0, 1]."""
    if name == "PoissonPass":
        return torch.linspace(0.0, 1.0, 41, dtype=dtype)
    return _grid(dtype)


def _make(name: str, settings: dict, spiking: bool = True) -> SurrogateFunctionBase:
    return SURROGATES[name](**settings, spiking=spiking)


def _heaviside_reference(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor([1.0 if v >= 0 else 0.0 for v in x.tolist()], dtype=x.dtype)


def _primitive_grad_reference(sg: SurrogateFunctionBase, x: torch.Tensor) -> torch.Tensor:
    """Closed form of ``g'`` as the reference framework's primitive gives it.

    Equal to ``derivative`` except where the reference's primitive differs from its spiking
    backward: PiecewiseLeakyReLU counts ``|x| = w`` in the window (slope ``1/(2w)``), Rect is a
    clamp (slope ``alpha`` at its edges), S2NN's ``x >= 0`` piece is ``b ln(x + 1 + 1e-5)``.
    """
    d = sg.derivative(x)
    if isinstance(sg, PiecewiseLeakyReLU):
        return torch.where(x.abs() == sg.w, torch.full_like(x, 0.5 / sg.w), d)
    if isinstance(sg, Rect):
        y = sg.alpha * x + 0.5
        return torch.where((y >= 0) & (y <= 1), torch.full_like(x, sg.alpha), 0.0)
    if isinstance(sg, S2NN):
        return torch.where(x >= 0, sg.beta / (x + 1.0 + 1e-5), d)
    return d


@pytest.mark.parametrize(("name", "settings"), _CASES)
def test_derivative_equals_autograd_of_primitive(name: str, settings: dict) -> None:
    sg = _make(name, settings)
    x = _inputs(name).requires_grad_(True)
    (autograd,) = torch.autograd.grad(sg.primitive(x).sum(), x)
    expected = _primitive_grad_reference(sg, x.detach())
    torch.testing.assert_close(expected, autograd, rtol=1e-12, atol=1e-14)
    if not isinstance(sg, (PiecewiseLeakyReLU, Rect, S2NN)):
        torch.testing.assert_close(sg.derivative(x.detach()), autograd, rtol=1e-12, atol=1e-14)


def test_s2nn_primitive_gradient_is_within_1e_5_of_derivative() -> None:
    sg = S2NN(alpha=3.0, beta=2.0, spiking=False)
    x = _grid().requires_grad_(True)
    (grad,) = torch.autograd.grad(sg(x).sum(), x)
    torch.testing.assert_close(grad, sg.derivative(x.detach()), rtol=2e-5, atol=0)


@pytest.mark.parametrize(("name", "settings"), _CASES)
def test_derivative_equals_finite_difference_of_primitive(name: str, settings: dict) -> None:
    sg = _make(name, settings)
    gen = torch.Generator().manual_seed(1234)
    if name == "PoissonPass":
        x = torch.rand(64, generator=gen, dtype=torch.float64)
    else:
        x = torch.rand(64, generator=gen, dtype=torch.float64) * 8.0 - 4.0
    h = 1e-6
    numeric = (sg.primitive(x + h) - sg.primitive(x - h)) / (2 * h)
    torch.testing.assert_close(_primitive_grad_reference(sg, x), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("name", "settings"), _CASES)
def test_primitive_passes_gradcheck(name: str, settings: dict) -> None:
    sg = _make(name, settings, spiking=False)
    # Points away from every break point, so finite differences are valid.
    x = torch.tensor([-2.9, -1.3, -0.7, -0.4, -0.1, 0.15, 0.35, 0.8, 1.2, 2.3, 4.1])
    if name == "PoissonPass":
        x = torch.tensor([0.05, 0.4, 0.9])
    x = x.to(torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(sg, (x,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize(("name", "settings"), _CASES)
def test_spiking_backward_is_grad_output_times_derivative(name: str, settings: dict) -> None:
    sg = _make(name, settings)
    x = _inputs(name).requires_grad_(True)
    grad_out = torch.randn(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(0))
    sg(x).backward(grad_out)
    torch.testing.assert_close(x.grad, grad_out * sg.derivative(x.detach()), rtol=0, atol=0)


@pytest.mark.parametrize(("name", "settings"), [c for c in _CASES if c.values[0] != "PoissonPass"])
def test_spiking_forward_is_heaviside_with_one_at_zero(name: str, settings: dict) -> None:
    sg = _make(name, settings)
    x = _grid()
    out = sg(x)
    assert out.dtype == x.dtype
    torch.testing.assert_close(out, _heaviside_reference(x), rtol=0, atol=0)
    assert sg(torch.tensor([0.0, -0.0, -1e-30, 1e-30])).tolist() == [1.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize(("name", "settings"), _CASES)
def test_non_spiking_forward_is_primitive(name: str, settings: dict) -> None:
    x = _inputs(name).requires_grad_(True)
    sg = _make(name, settings, spiking=False)
    out = sg(x)
    torch.testing.assert_close(out, sg.primitive(x), rtol=0, atol=0)
    (grad,) = torch.autograd.grad(out.sum(), x)
    expected = _primitive_grad_reference(sg, x.detach())
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(SURROGATES))
def test_set_spiking_mode_switches_forward(name: str) -> None:
    sg = SURROGATES[name]()
    x = _inputs(name)
    sg.set_spiking_mode(False)
    torch.testing.assert_close(sg(x), sg.primitive(x), rtol=0, atol=0)
    sg.set_spiking_mode(True)
    assert set(sg(x).unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("name", list(SURROGATES))
def test_derivative_keeps_shape_dtype_and_is_finite(name: str) -> None:
    sg = SURROGATES[name]()
    x = _inputs(name).reshape(-1, 1).repeat(1, 3)
    for out in (sg.derivative(x), sg.primitive(x)):
        assert out.shape == x.shape and out.dtype == x.dtype
        assert torch.isfinite(out).all()


_LOW_PRECISION = [
    pytest.param(torch.float16, 1e-2, id="float16"),
    pytest.param(torch.bfloat16, 4e-2, id="bfloat16"),
]


@pytest.mark.parametrize(("dtype", "tol"), _LOW_PRECISION)
@pytest.mark.parametrize("name", list(SURROGATES))
def test_low_precision_inputs(name: str, dtype: torch.dtype, tol: float) -> None:
    sg = SURROGATES[name]()
    x = _inputs(name, dtype).requires_grad_(True)
    x64 = x.detach().to(torch.float64)  # the same (rounded) inputs, in float64
    spikes = sg(x)
    assert spikes.dtype == dtype
    if name != "PoissonPass":
        assert torch.equal(spikes, _heaviside_reference(x64).to(dtype))
    spikes.sum().backward()
    assert x.grad.dtype == dtype
    torch.testing.assert_close(x.grad.double(), sg.derivative(x64), rtol=tol, atol=tol)
    smooth = SURROGATES[name](spiking=False)(x.detach())
    assert smooth.dtype == dtype
    torch.testing.assert_close(smooth.double(), sg.primitive(x64), rtol=tol, atol=tol)


def test_poisson_pass_samples_bernoulli_and_passes_gradient_straight_through() -> None:
    torch.manual_seed(0)
    sg = PoissonPass()
    p = torch.tensor([0.0, 1.0, 0.3]).repeat(20000, 1).requires_grad_(True)
    spikes = sg(p)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert spikes[:, 0].sum() == 0 and spikes[:, 1].sum() == 20000
    std = (0.3 * 0.7 / 20000) ** 0.5
    assert abs(spikes[:, 2].mean().item() - 0.3) < 5 * std
    grad_out = torch.randn(p.shape)
    spikes.backward(grad_out)
    torch.testing.assert_close(p.grad, grad_out, rtol=0, atol=0)


def test_poisson_pass_is_reproducible_under_a_seed() -> None:
    p = torch.full((100,), 0.5)
    torch.manual_seed(7)
    first = PoissonPass()(p)
    torch.manual_seed(7)
    assert torch.equal(first, PoissonPass()(p))


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_poisson_pass_rejects_non_probabilities(bad: float) -> None:
    with pytest.raises(ValueError, match=r"PoissonPass.*\[0, 1\]"):
        PoissonPass()(torch.tensor([0.2, bad]))


def test_straight_through_surrogates_are_siblings_as_in_the_reference() -> None:
    # SpikingJelly 2.0.0: both derive from SurrogateFunctionBase, neither from the other, so
    # code that dispatches on isinstance(sg, DeterministicPass) sees the same classes.
    assert not issubclass(PoissonPass, DeterministicPass)
    assert not issubclass(DeterministicPass, PoissonPass)
    assert issubclass(PoissonPass, SurrogateFunctionBase)
    assert issubclass(DeterministicPass, SurrogateFunctionBase)


def test_straight_through_surrogates_are_identity_when_not_spiking() -> None:
    x = torch.tensor([-2.0, 0.0, 3.0])
    assert PoissonPass(spiking=False)(x) is x
    assert DeterministicPass(spiking=False)(x) is x


def test_torch_func_grad_and_vmap_work_through_the_spike() -> None:
    from snn_core.surrogate import ATan

    sg = ATan()
    x = torch.linspace(-2.0, 2.0, 9, dtype=torch.float64)
    grad = torch.func.grad(lambda x: sg(x).sum())(x)
    torch.testing.assert_close(grad, sg.derivative(x))
    batch = torch.stack([x, -x])
    torch.testing.assert_close(torch.func.vmap(sg)(batch), (batch >= 0).to(batch.dtype))
