"""Functional surrogate forms (``surrogate.sigmoid``, ``sigmoid_backward``...) and their tools."""

from __future__ import annotations

import inspect

import pytest
import torch
from snn_core import surrogate

X = [-1.3, -0.4, 0.0, 0.3, 1.1]

# d heaviside / dx at X with grad_output = 1, float64, computed with the reference framework
# (spikingjelly 2.0.0, `surrogate.<name>.apply(x, *params)`), written here as constants.
REFERENCE_GRADS = [
    ("sigmoid", (4.0,), [0.0218247976953, 0.559055167732, 1, 0.711577762587, 0.0479253441964]),
    ("atan", (2.0,), [0.0565622650854, 0.387726636739, 1, 0.529586853444, 0.0772664888711]),
    ("soft_sign", (2.0,), [0.0771604938272, 0.308641975309, 1, 0.390625, 0.09765625]),
    ("super_spike", (1.5,), [0.283553875236, 0.765306122449, 1.5, 0.887573964497, 0.340136054422]),
    ("nonzero_sign_log_abs", (1.0,),
     [0.434782608696, 0.714285714286, 1, 0.769230769231, 0.47619047619]),
    ("erf", (2.0,),
     [0.00130805004972, 0.594985786257, 1.1283791671, 0.787243431714, 0.00892215506492]),
    ("q_pseudo_spike", (2.0,), [0.0771604938272, 0.308641975309, 1, 0.390625, 0.09765625]),
    ("squarewave_fourier_series", (3, 8.0),
     [-0.237209384509, 0.769420884294, 1, 0.866387942999, -0.101596058012]),
    ("piecewise_quadratic", (1.0,), [0, 0.6, 1, 0.7, 0]),
    ("piecewise_exp", (1.0,),
     [0.136265896517, 0.335160023018, 0.5, 0.370409110341, 0.166435541849]),
    ("piecewise_leaky_relu", (1.0, 0.01), [0.01, 0.5, 0.5, 0.5, 0.01]),
    ("s2nn", (4.0, 1.0), [0.0218247976953, 0.559055167732, 1, 0.769230769231, 0.47619047619]),
    ("leaky_k_relu", (0.1, 2.0), [0.1, 0.1, 2, 2, 2]),
    ("fake_numerical_gradient", (0.3,), [0.3, 0.3, 0.3, 0.3, 0.3]),
    ("log_tailed_relu", (0.1,), [0.1, 0.1, 0.1, 1, 0.909090909091]),
    ("rect", (1.0,), [0, 1, 1, 1, 0]),
    ("deterministic_pass", (), [1, 1, 1, 1, 1]),
]  # fmt: skip

WITH_BACKWARD = {
    "sigmoid", "atan", "soft_sign", "super_spike", "nonzero_sign_log_abs", "erf",
    "piecewise_quadratic", "piecewise_exp", "piecewise_leaky_relu", "leaky_k_relu",
    "fake_numerical_gradient", "log_tailed_relu", "rect",
}  # fmt: skip

CLASS_OF = {
    "sigmoid": surrogate.Sigmoid, "atan": surrogate.ATan, "soft_sign": surrogate.SoftSign,
    "super_spike": surrogate.SuperSpike, "nonzero_sign_log_abs": surrogate.NonzeroSignLogAbs,
    "erf": surrogate.Erf, "q_pseudo_spike": surrogate.QPseudoSpike,
    "squarewave_fourier_series": surrogate.SquarewaveFourierSeries,
    "piecewise_quadratic": surrogate.PiecewiseQuadratic, "piecewise_exp": surrogate.PiecewiseExp,
    "piecewise_leaky_relu": surrogate.PiecewiseLeakyReLU, "s2nn": surrogate.S2NN,
    "leaky_k_relu": surrogate.LeakyKReLU,
    "fake_numerical_gradient": surrogate.FakeNumericalGradient,
    "log_tailed_relu": surrogate.LogTailedReLU, "rect": surrogate.Rect,
    "deterministic_pass": surrogate.DeterministicPass,
}  # fmt: skip


def _ids(case: tuple) -> str:
    return case[0]


@pytest.mark.parametrize("case", REFERENCE_GRADS, ids=_ids)
@pytest.mark.parametrize("style", ["call", "apply"])
def test_spike_function_matches_reference_values(case: tuple, style: str) -> None:
    name, params, expected = case
    fn = getattr(surrogate, name)
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = (fn.apply if style == "apply" else fn)(x, *params)
    y.sum().backward()
    torch.testing.assert_close(y.detach(), (x.detach() >= 0).double(), rtol=0, atol=0)
    torch.testing.assert_close(x.grad, torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("case", REFERENCE_GRADS, ids=_ids)
def test_spike_function_equals_class_in_spiking_mode(case: tuple) -> None:
    name, params, _ = case
    x1 = torch.linspace(-2, 2, 41, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    go = torch.linspace(0.5, 1.5, 41)
    getattr(surrogate, name)(x1, *params).backward(go)
    CLASS_OF[name](*params)(x2).backward(go)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=0, atol=0)


@pytest.mark.parametrize("case", [c for c in REFERENCE_GRADS if c[0] in WITH_BACKWARD], ids=_ids)
def test_backward_function_returns_grad_and_one_none_per_parameter(case: tuple) -> None:
    name, params, expected = case
    x = torch.tensor(X, dtype=torch.float64)
    go = torch.tensor([2.0, -1.0, 0.5, 3.0, 1.0], dtype=torch.float64)
    result = getattr(surrogate, f"{name}_backward")(go, x, *params)
    assert isinstance(result, tuple) and len(result) == 1 + len(params)
    assert all(r is None for r in result[1:])
    torch.testing.assert_close(result[0], go * torch.tensor(expected, dtype=torch.float64))


def test_reference_signatures() -> None:
    def names(fn: object) -> list[str]:
        return list(inspect.signature(fn).parameters)  # type: ignore[arg-type]

    assert names(surrogate.sigmoid) == ["x", "alpha"]
    assert names(surrogate.s2nn) == ["x", "alpha", "beta"]
    assert names(surrogate.leaky_k_relu) == ["x", "leak", "k"]
    assert names(surrogate.squarewave_fourier_series) == ["x", "n", "T_period"]
    assert names(surrogate.deterministic_pass) == names(surrogate.poisson_pass) == ["x"]
    assert names(surrogate.sigmoid_backward) == ["grad_output", "x", "alpha"]
    assert names(surrogate.piecewise_leaky_relu_backward) == ["grad_output", "x", "w", "c"]
    assert names(surrogate.leaky_k_relu_backward) == ["grad_output", "x", "leak", "k"]
    sig = inspect.signature(surrogate.piecewise_leaky_relu)
    assert (sig.parameters["w"].default, sig.parameters["c"].default) == (1, 0.01)


def test_piecewise_leaky_relu_defaults_are_w1_c001() -> None:
    x = torch.tensor([-2.0, 0.5], requires_grad=True)
    surrogate.piecewise_leaky_relu(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.01, 0.5]))


def test_poisson_pass_samples_bernoulli_and_passes_gradient() -> None:
    x = torch.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = surrogate.poisson_pass.apply(x)
    y.sum().backward()
    torch.testing.assert_close(y.detach(), torch.tensor([0.0, 1.0, 0.0, 1.0]))
    torch.testing.assert_close(x.grad, torch.ones(4))


def test_hyper_parameters_are_validated_like_the_classes() -> None:
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="alpha"):
        surrogate.sigmoid(x, -1.0)
    with pytest.raises(TypeError, match="alpha"):
        surrogate.atan(x, "2")
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        surrogate.erf([0.0, 1.0], 2.0)
    with pytest.raises(ValueError, match="alpha"):
        surrogate.rect_backward(torch.ones(3), x, 0.0)


def test_spike_functions_work_under_torch_func_and_compile() -> None:
    x = torch.linspace(-1, 1, 6)
    expected = surrogate.Sigmoid(4.0).derivative(x)
    grad = torch.func.grad(lambda v: surrogate.sigmoid(v, 4.0).sum())(x)
    torch.testing.assert_close(grad, expected)
    batched = torch.func.vmap(torch.func.grad(lambda v: surrogate.sigmoid(v, 4.0).sum()))
    torch.testing.assert_close(batched(x.reshape(2, 3)), expected.reshape(2, 3))
    compiled = torch.compile(lambda v: surrogate.sigmoid(v, 4.0) * 2.0, backend="eager")
    xr = x.clone().requires_grad_(True)
    compiled(xr).sum().backward()
    torch.testing.assert_close(xr.grad, 2.0 * expected)


def test_check_manual_grad_reports_the_largest_difference(capsys: pytest.CaptureFixture) -> None:
    def primitive(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return torch.sigmoid(alpha * x)

    assert surrogate.check_manual_grad(primitive, surrogate.sigmoid, alpha=4.0) < 1e-6
    assert "maximum error" in capsys.readouterr().out
    # atan's g'(0) = alpha / 2 = 2 against sigmoid's alpha / 4 = 1 at x = 0.
    assert surrogate.check_manual_grad(primitive, surrogate.atan, 4.0) == pytest.approx(1.0)


def test_plot_surrogate_function_saves_and_restores_mode(tmp_path: object) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    sg = surrogate.ATan(spiking=False)
    fig = surrogate.plot_surrogate_function(sg, save_dir=tmp_path, formats=("png",), show=False)
    assert (tmp_path / "ATan.png").is_file()  # type: ignore[operator]
    assert sg.spiking is False
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    x = torch.as_tensor(lines["Gradient"].get_xdata())
    torch.testing.assert_close(
        torch.as_tensor(lines["Gradient"].get_ydata()), sg.derivative(x), rtol=1e-5, atol=1e-6
    )
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_plot_surrogate_function_without_matplotlib_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        surrogate.plot_surrogate_function(surrogate.Sigmoid())


def test_class_level_functions_of_the_reference() -> None:
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    surrogate.Sigmoid.spiking_function(x, alpha=4.0).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor(REFERENCE_GRADS[0][2], dtype=torch.float64))
    xd = x.detach()
    torch.testing.assert_close(
        surrogate.S2NN.primitive_function(xd, 4.0, 1.0), surrogate.S2NN(4.0, 1.0, False)(xd)
    )
    go = torch.full_like(xd, 2.0)
    torch.testing.assert_close(
        surrogate.Rect.backward(go, xd, 1.0), 2.0 * xd.abs().lt(0.5).double()
    )
    assert surrogate.DeterministicPass.backward(go, xd, 1.0).equal(go)
    assert surrogate.LeakyKReLU(0.1, 2.0)._sg_params == {"leak": 0.1, "k": 2.0}


def test_multi_level_spike_count_class_functions_take_the_window_bounds() -> None:
    x = torch.tensor([-0.25, 4.25, 4.75], requires_grad=True)
    y = surrogate.MultiLevelSpikeCount.spiking_function(x, 4, -0.5, 4.5)
    y.sum().backward()
    torch.testing.assert_close(y.detach(), torch.tensor([0.0, 4.0, 4.0]))
    torch.testing.assert_close(x.grad, torch.tensor([1.0, 1.0, 0.0]))
    prim = surrogate.MultiLevelSpikeCount.primitive_function(x.detach(), 4, 0.0, 4.0)
    torch.testing.assert_close(prim, torch.tensor([0.0, 4.0, 4.0]))


def test_check_manual_grad_reference_example() -> None:
    # The reference's docstring example: S2NN's primitive carries a 1e-5 inside its log.
    error = surrogate.check_manual_grad(
        surrogate.S2NN.primitive_function, surrogate.s2nn.apply, alpha=4.0, beta=1.0
    )
    assert 0.0 < error < 2e-5
