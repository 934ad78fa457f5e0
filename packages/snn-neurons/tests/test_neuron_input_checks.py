"""Neurons refuse settings and inputs that would fail deep in torch or silently:
threshold at or below the reset potential, bool spikes; anomaly mode names the first
non-finite step on every path; set_backend says why a backend cannot run."""

import pytest
import snn_neurons.fused
import torch
from snn_core import anomaly, functional
from snn_core.surrogate import PoissonPass
from snn_neurons import IFNode, LIFNode
from torch import nn


@pytest.fixture(autouse=True, scope="module")
def _eager_fused_path():
    # The fused path runs its traced steps eagerly here: compiling them is checked elsewhere
    # and would dominate this file's time.
    flag = snn_neurons.fused.settings.compile
    snn_neurons.fused.settings.compile = False
    yield
    snn_neurons.fused.settings.compile = flag


@pytest.mark.parametrize("cls", [IFNode, LIFNode])
@pytest.mark.parametrize(("v_threshold", "v_reset"), [(0.0, 0.0), (-0.5, 0.0), (0.2, 0.5)])
def test_threshold_at_or_below_reset_is_rejected(cls, v_threshold, v_reset):
    expected = f"{cls.__name__}: v_threshold must be > v_reset .*got v_threshold={v_threshold}"
    with pytest.raises(ValueError, match=expected):
        cls(v_threshold=v_threshold, v_reset=v_reset)


def test_soft_reset_threshold_must_be_above_zero():
    with pytest.raises(ValueError, match="v_threshold must be > 0 with the soft reset"):
        IFNode(v_threshold=0.0, v_reset=None)
    IFNode(v_threshold=0.1, v_reset=None)  # fine


def test_why_it_is_rejected_zero_input_would_fire():
    # What the check prevents: with V_th = V_reset every step of zero input is a spike.
    node = IFNode(v_threshold=1.0, v_reset=0.0)
    node.v_threshold = 0.0  # bypassing the constructor
    assert node(torch.zeros(3)).tolist() == [1.0, 1.0, 1.0]


def test_stochastic_spike_may_use_threshold_zero():
    node = LIFNode(v_threshold=0.0, surrogate_function=PoissonPass())
    assert node(torch.zeros(4)).sum() == 0  # p = H - V_th = 0: no spike


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_bool_spikes_are_a_type_error_naming_the_dtype(step_mode):
    node = LIFNode(step_mode=step_mode)
    x = torch.rand(4, 3) > 0.5
    with pytest.raises(TypeError, match=r"dtype torch.bool.*x\.float\(\)"):
        node(x)
    out = node(x.float())  # the documented cast works
    assert out.dtype == torch.float32


def _nan_at(t, T=6, n=4):
    x = torch.rand(T, 2, n)
    x[t, 1, 2] = float("nan")
    return x


@pytest.mark.parametrize("store_v_seq", [False, True])
def test_anomaly_names_module_and_step_on_the_fused_multi_step_path(store_v_seq):
    net = nn.Sequential(nn.Identity(), LIFNode(step_mode="m", store_v_seq=store_v_seq))
    with anomaly.detect_anomaly(net), pytest.raises(anomaly.NonFiniteStateError) as exc:
        net(_nan_at(3))
    msg = str(exc.value)
    assert "LIFNode '1'" in msg and "x_seq[3]" in msg and "time step 3" in msg


def test_without_anomaly_mode_nan_input_poisons_v_silently():
    node = LIFNode(step_mode="m")
    out = node(_nan_at(1))
    assert torch.isnan(node.v).any() and out[1:, 1, 2].sum() == 0


def test_anomaly_locates_state_overflow_from_finite_input():
    # Soft-reset IF: V[t] = V[t-1] + x - V_th S. With x = 3e38, H overflows float32 at t = 1.
    node = IFNode(v_reset=None, step_mode="m")
    x = torch.full((4, 3), 3e38)
    with anomaly.detect_anomaly(), pytest.raises(anomaly.NonFiniteStateError) as exc:
        node(x)
    msg = str(exc.value)
    assert "state 'v' became non-finite" in msg and "at time step 1 (of 4" in msg


def test_anomaly_counts_single_steps_from_the_last_reset():
    node = LIFNode()
    with anomaly.detect_anomaly():
        node(torch.ones(3))
        node(torch.ones(3))
        with pytest.raises(anomaly.NonFiniteStateError, match="at time step 2"):
            node(torch.tensor([0.0, float("-inf"), 0.0]))
        node.reset()
        with pytest.raises(anomaly.NonFiniteStateError, match="at time step 0"):
            node(torch.tensor([float("nan")] * 3))


def test_anomaly_mode_gives_the_same_results_when_finite():
    x = torch.rand(5, 2, 3) * 2
    plain = LIFNode(step_mode="m")(x)
    with anomaly.detect_anomaly():
        checked = LIFNode(step_mode="m")(x)
    assert torch.equal(plain, checked)


def test_set_backend_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match=r"\('torch', 'triton', 'cupy'\), got 'nonsense'"):
        functional.set_backend(nn.Sequential(LIFNode(step_mode="m")), "nonsense")


def test_set_backend_unusable_backend_warning_says_why_and_what_to_install():
    node = LIFNode(step_mode="m")
    reason = node.backend_unavailable_reason("cupy")
    if reason is None:
        pytest.skip("cupy runs here")
    with pytest.warns(UserWarning) as rec:
        functional.set_backend(nn.Sequential(node), "cupy")
    msg = str(rec[0].message)
    assert reason in msg and ("pip install" in msg or "CUDA" in msg)
    assert node.backend == "torch"


def test_single_step_backend_refusal_says_to_switch_step_mode():
    with pytest.warns(UserWarning, match="set step_mode='m'"):
        functional.set_backend(nn.Sequential(LIFNode()), "triton")
