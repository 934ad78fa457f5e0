"""Core neurons (seed 003): defaults, the equations by hand-computed cases, state handling,
module plumbing (``.to``, ``state_dict``, pickling), dtypes and clear errors."""

from __future__ import annotations

import copy
import math
import pickle

import pytest
import torch
from core_neuron_refs import fused_settings, run_multi_step, run_single_steps, uses_fused_path
from snn_core.surrogate import ATan, Sigmoid
from snn_neurons import (
    BackendUnavailableError,
    BaseNode,
    IFNode,
    LIFNode,
    NonSpikingIFNode,
    NonSpikingLIFNode,
    ParametricLIFNode,
    SimpleIFNode,
    SimpleLIFNode,
)


@pytest.fixture(autouse=True)
def _eager_fused():
    with fused_settings(enabled=True, compile=False, recompute=False):
        yield


def _steps(node, xs):
    """Single-step outputs and potentials for a list of scalar inputs."""
    node.reset()
    node.step_mode = "s"
    spikes, vs = [], []
    for x in xs:
        spikes.append(node(torch.tensor([x], dtype=torch.float64)).item())
        vs.append(node.v.item())
    return spikes, vs


# --------------------------------------------------------------------------- defaults
def test_defaults_follow_the_reference():
    node = LIFNode()
    assert (node.tau, node.decay_input, node.v_threshold, node.v_reset) == (2.0, True, 1.0, 0.0)
    assert (node.detach_reset, node.step_mode, node.backend, node.store_v_seq) == (
        False,
        "s",
        "torch",
        False,
    )
    assert isinstance(node.surrogate_function, Sigmoid) and node.surrogate_function.alpha == 4.0
    plif = ParametricLIFNode()
    assert plif.w.item() == 0.0 and plif.w.requires_grad  # -log(init_tau - 1), init_tau = 2
    plif3 = ParametricLIFNode(init_tau=3.0)
    assert plif3.w.sigmoid().item() == pytest.approx(1 / 3)
    assert NonSpikingLIFNode().tau == 2.0 and NonSpikingLIFNode().decode is None
    assert "tau=2.0" in repr(node) and "decay_input=True" in repr(node)
    assert isinstance(IFNode(), BaseNode)


# --------------------------------------------------------------------------- equations
def test_if_hard_and_soft_reset_by_hand():
    # H = V + X; fire when H >= 1; hard reset to 0 or soft reset H - 1.
    assert _steps(IFNode().double(), [0.6, 0.6, 0.3]) == ([0, 1, 0], pytest.approx([0.6, 0, 0.3]))
    spikes, vs = _steps(IFNode(v_reset=None).double(), [0.6, 0.6, 0.3])
    assert spikes == [0, 1, 0] and vs == pytest.approx([0.6, 0.2, 0.5])


def test_lif_decay_input_by_hand():
    # H = V + (X - (V - V_reset)) / tau with tau = 2, V_reset = 0.
    spikes, vs = _steps(LIFNode().double(), [1.5, 1.5, 0.4])
    assert spikes == [0, 1, 0]
    assert vs == pytest.approx([0.75, 0.0, 0.2])


def test_lif_without_decay_input_and_negative_reset_by_hand():
    # H = V - (V - V_reset) / tau + X with tau = 4, V_reset = -0.1.
    node = LIFNode(tau=4.0, decay_input=False, v_reset=-0.1).double()
    h1 = -0.1 - 0.0 / 4 + 0.7  # v starts at v_reset
    h2 = h1 - (h1 + 0.1) / 4 + 0.7
    spikes, vs = _steps(node, [0.7, 0.7])
    assert spikes == [0, 1] and vs == pytest.approx([h1, -0.1])
    assert h2 >= 1.0


def test_lif_soft_reset_leaks_towards_zero():
    node = LIFNode(tau=2.0, v_reset=None).double()
    spikes, vs = _steps(node, [2.4, 0.0])
    assert spikes == [1, 0] and vs == pytest.approx([0.2, 0.1])


def test_plif_is_lif_with_learnable_decay():
    x = torch.rand(5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 1.5
    for decay_input in (True, False):
        plif = ParametricLIFNode(init_tau=3.0, decay_input=decay_input, v_reset=-0.1).double()
        lif = LIFNode(tau=3.0, decay_input=decay_input, v_reset=-0.1).double()
        a, b = run_multi_step(plif, x), run_multi_step(lif, x)
        assert torch.equal(a[0], b[0])
        torch.testing.assert_close(a[1], b[1])


def test_plif_w_gradient_matches_finite_differences_of_the_potential():
    # With no spike, V[T-1] is smooth in w: compare d V / d w with a central difference.
    x = torch.full((4, 3), 0.2, dtype=torch.float64)

    def last_v(w: float) -> torch.Tensor:
        node = ParametricLIFNode(v_threshold=10.0).double()
        with torch.no_grad():
            node.w.fill_(w)
        node.step_mode = "m"
        node(x)
        return node.v.sum()

    node = ParametricLIFNode(v_threshold=10.0).double()
    with torch.no_grad():
        node.w.fill_(0.3)
    node.step_mode = "m"
    node(x)
    node.v.sum().backward()
    eps = 1e-6
    numeric = (last_v(0.3 + eps) - last_v(0.3 - eps)) / (2 * eps)
    assert node.w.grad.item() == pytest.approx(numeric.item(), rel=1e-6)


def test_store_v_seq_keeps_every_step():
    x = torch.rand(6, 2, 3, dtype=torch.float64)
    node = LIFNode(store_v_seq=True, step_mode="m").double()
    node(x)
    assert node.v_seq.shape == (6, 2, 3)
    torch.testing.assert_close(node.v_seq[-1], node.v)
    _, _, v_seq, _ = run_single_steps(copy.deepcopy(node), x)
    torch.testing.assert_close(node.v_seq, v_seq)
    plain = LIFNode(step_mode="m").double()
    plain(x)
    assert plain.v_seq is None


def test_multi_step_without_grad_equals_single_steps():
    x = torch.rand(5, 4, dtype=torch.float64) * 1.2
    node = ParametricLIFNode(store_v_seq=True).double()
    with torch.no_grad():
        multi = run_multi_step(node, x)
    single = run_single_steps(copy.deepcopy(node), x)
    assert multi[0].grad_fn is None
    assert torch.equal(multi[0], single[0])
    torch.testing.assert_close(multi[2], single[2].detach())


def test_inference_mode():
    x = torch.rand(4, 3, dtype=torch.float64) * 2
    ref = run_single_steps(LIFNode(store_v_seq=True).double(), x)
    node = LIFNode(step_mode="m", store_v_seq=True).double()
    with torch.inference_mode():
        assert torch.equal(node(x), ref[0])
    torch.testing.assert_close(node.v_seq, ref[2].detach())


def test_simple_nodes_match_the_full_nodes():
    x = torch.rand(5, 8, dtype=torch.float64) * 1.3
    pairs = [
        (SimpleIFNode(v_reset=None), IFNode(v_reset=None)),
        (SimpleLIFNode(tau=3.0, decay_input=False), LIFNode(tau=3.0, decay_input=False)),
    ]
    for simple, full in pairs:
        a = run_single_steps(simple.double(), x)
        b = run_single_steps(full.double(), x)
        assert torch.equal(a[0], b[0])
        simple.reset()
        simple.step_mode = "m"
        assert torch.equal(simple(x), a[0])


# --------------------------------------------------------------------------- non-spiking
def test_non_spiking_if_and_lif_integrate_the_input():
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(NonSpikingIFNode()(x), x.cumsum(0))
    v, expected = torch.zeros(3, dtype=torch.float64), []
    for t in range(5):
        v = v + (x[t] - v) / 4.0
        expected.append(v)
    torch.testing.assert_close(NonSpikingLIFNode(tau=4.0)(x), torch.stack(expected))


@pytest.mark.parametrize("decode", ["max-mem", "max-abs-mem", "mean-mem", "last_mem", "last-mem"])
def test_non_spiking_decode_modes(decode):
    x = torch.tensor([[1.0, -3.0], [-2.0, 1.0], [0.5, 0.5]], dtype=torch.float64)
    v_seq = x.cumsum(0)  # [[1, -3], [-1, -2], [-0.5, -1.5]]
    expected = {
        "max-mem": torch.tensor([1.0, -1.5]),
        "max-abs-mem": torch.tensor([1.0, -3.0]),  # |1| = |-1|: the first one
        "mean-mem": v_seq.mean(0),
        "last_mem": v_seq[-1],
        "last-mem": v_seq[-1],
    }[decode]
    torch.testing.assert_close(NonSpikingIFNode(decode=decode)(x), expected.to(torch.float64))


def test_non_spiking_bad_decode_and_input():
    with pytest.raises(ValueError, match="decode"):
        NonSpikingIFNode(decode="max")
    with pytest.raises(ValueError, match=r"\[T, N, \*\]"):
        NonSpikingLIFNode()(torch.zeros(4))


# --------------------------------------------------------------------------- plumbing
def test_to_float64_moves_state_and_parameters():
    node = ParametricLIFNode(step_mode="m").to(torch.float64)
    assert node.w.dtype == torch.float64
    x = torch.rand(3, 4, dtype=torch.float64) * 2
    out = node(x)
    assert out.dtype == node.v.dtype == torch.float64
    assert uses_fused_path(node, x)


def test_state_dict_holds_parameters_but_not_the_potential():
    node = ParametricLIFNode(init_tau=4.0, step_mode="m")
    node(torch.rand(3, 5))
    assert list(node.state_dict()) == ["w"]
    assert list(LIFNode().state_dict()) == []
    other = ParametricLIFNode()
    other.load_state_dict(node.state_dict())
    assert other.w.item() == pytest.approx(-math.log(3.0))


def test_pickling_round_trip():
    node = ParametricLIFNode(init_tau=3.0, v_reset=None, surrogate_function=ATan(), step_mode="m")
    with torch.no_grad():
        node(torch.rand(2, 4))
    clone = pickle.loads(pickle.dumps(node))
    assert clone.surrogate_function.alpha == 2.0 and clone.v_reset is None
    torch.testing.assert_close(clone.v, node.v)
    x = torch.rand(3, 4)
    node.reset()
    clone.reset()
    assert torch.equal(node(x), clone(x))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("cls", [IFNode, LIFNode, ParametricLIFNode])
def test_half_precision_inputs(cls, dtype):
    g = torch.Generator().manual_seed(0)
    x32 = (torch.rand(6, 64, generator=g) * 1.5).to(dtype).float()  # representable in dtype
    node = cls(step_mode="m").to(dtype)
    x = x32.to(dtype).requires_grad_()
    out = node(x)
    assert out.dtype == node.v.dtype == dtype
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    out.float().sum().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()
    ref = cls(step_mode="m")
    x_ref = x32.clone().requires_grad_()
    ref_out = ref(x_ref)
    ref_out.sum().backward()
    # Rounding may flip a spike right at the threshold; compare the neurons whose spike
    # trains agree with the float32 run.
    same = (out.float() == ref_out).all(0)
    assert same.float().mean() > 0.9
    tol = 0.05 if dtype == torch.bfloat16 else 0.01
    torch.testing.assert_close(node.v.float()[same], ref.v[same], atol=tol, rtol=tol)
    torch.testing.assert_close(x.grad.float()[:, same], x_ref.grad[:, same], atol=tol, rtol=tol)
    # single-step mode with half inputs too
    node.reset()
    node.step_mode = "s"
    assert node(x[0]).dtype == dtype


# --------------------------------------------------------------------------- errors
def test_bad_step_mode():
    with pytest.raises(ValueError, match="step_mode"):
        LIFNode(step_mode="multi")
    node = IFNode()
    with pytest.raises(ValueError, match="'s'"):
        node.step_mode = "x"


def test_one_dimensional_input_in_multi_step_mode():
    with pytest.raises(ValueError, match=r"\[T, N, \*\]"):
        LIFNode(step_mode="m")(torch.rand(5))


def test_batch_of_another_shape_needs_a_reset():
    node = LIFNode(step_mode="m")
    node(torch.rand(3, 4, 2))
    with pytest.raises(ValueError, match="reset"):
        node(torch.rand(3, 5, 2))
    node.reset()
    assert node(torch.rand(3, 5, 2)).shape == (3, 5, 2)
    single = IFNode()
    single(torch.rand(4))
    with pytest.raises(ValueError, match="reset"):
        single(torch.rand(3))


def test_unknown_and_unavailable_backends():
    with pytest.raises(ValueError, match="backend must be one of"):
        LIFNode(backend="cuda")
    node = LIFNode(step_mode="m")
    assert "torch" in node.supported_backends
    assert LIFNode(step_mode="s").supported_backends == ("torch",)
    for name in ("triton", "cupy"):
        if name in node.supported_backends:
            continue
        node.backend = name
        with pytest.raises(BackendUnavailableError, match=name) as info:
            node(torch.rand(2, 3))
        assert "Supported here" in str(info.value)


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: LIFNode(tau=1.0), ValueError, "tau"),
        (lambda: ParametricLIFNode(init_tau=0.5), ValueError, "init_tau"),
        (lambda: IFNode(v_threshold="1"), TypeError, "v_threshold"),
        (lambda: IFNode(v_reset="none"), TypeError, "v_reset"),
        (lambda: IFNode(surrogate_function=torch.sigmoid), TypeError, "surrogate_function"),
        (lambda: IFNode(detach_reset=1), TypeError, "detach_reset"),
        (lambda: IFNode(store_v_seq="yes"), TypeError, "store_v_seq"),
        (lambda: LIFNode(decay_input=None), TypeError, "decay_input"),
    ],
)
def test_bad_constructor_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()
