"""The fused multi-step path equals the single-step loop: spikes exactly, states and input /
parameter gradients to float tolerance (float64), for IF / LIF / PLIF over every option
combination and every surrogate. The steps run eagerly here (the same traced graphs that
are compiled elsewhere; see test_fused_compiled.py)."""

from __future__ import annotations

import itertools

import pytest
import torch
from core_neuron_refs import (
    compare_with_single_steps,
    fused_settings,
    loss_weights,
    run_multi_step,
    run_single_steps,
    uses_fused_path,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from snn_core.surrogate import SURROGATES, PoissonPass, Sigmoid
from snn_neurons import BaseNode, IFNode, LIFNode, ParametricLIFNode, fused
from torch import nn


@pytest.fixture(autouse=True)
def _eager_fused():
    with fused_settings(enabled=True, compile=False, recompute=False):
        yield


def _x(T: int = 5, shape: tuple[int, ...] = (3, 4), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn((T, *shape), generator=g, dtype=torch.float64) * 0.8 + 0.45


def _make(kind: str, **kw) -> BaseNode:
    if kind == "IF":
        kw.pop("decay_input", None)
        kw.pop("tau", None)
        return IFNode(**kw).double()
    if kind == "LIF":
        return LIFNode(**kw).double()
    tau = kw.pop("tau", 2.0)
    node = ParametricLIFNode(init_tau=tau, **kw).double()
    return node


def _option_grid():
    flags = (False, True)
    for v_reset, detach, store in itertools.product((None, 0.0, -0.1), flags, flags):
        base = dict(v_reset=v_reset, detach_reset=detach, store_v_seq=store)
        yield "IF", base
        for decay_input in (True, False):
            yield "LIF", dict(base, decay_input=decay_input, tau=2.0)
            yield "PLIF", dict(base, decay_input=decay_input, tau=3.0)


GRID = list(_option_grid())


@pytest.mark.parametrize(
    "kind,options", GRID, ids=[f"{k}-{'-'.join(f'{a}={b}' for a, b in o.items())}" for k, o in GRID]
)
def test_fused_equals_single_step_loop_for_every_option(kind, options):
    node = _make(kind, **options)
    x = _x()
    assert uses_fused_path(node, x)
    compare_with_single_steps(node, x)
    with fused_settings(recompute=True):
        compare_with_single_steps(node, x)


SURROGATE_NAMES = [name for name in SURROGATES if name != "PoissonPass"]


def test_every_surrogate_is_covered():
    assert len(SURROGATE_NAMES) + 1 == len(SURROGATES) >= 17


@pytest.mark.parametrize("kind", ["IF", "LIF", "PLIF"])
@pytest.mark.parametrize("name", SURROGATE_NAMES)
def test_fused_equals_single_step_loop_for_every_surrogate(kind, name):
    node = _make(kind, surrogate_function=SURROGATES[name](), v_reset=0.0, store_v_seq=True)
    x = _x(T=4, shape=(6,), seed=3)
    assert uses_fused_path(node, x)
    compare_with_single_steps(node, x)


def test_spike_exactly_at_threshold_fires_on_both_paths():
    x = torch.tensor([[0.5, 0.25], [0.5, 0.25], [1.0, 0.5]], dtype=torch.float64)
    node = IFNode(store_v_seq=True).double()
    multi = run_multi_step(node, x, loss_weights(3, (2,)))
    assert multi[0].tolist() == [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    compare_with_single_steps(node, x)


def test_poisson_pass_runs_the_loop_with_the_same_random_spikes():
    # Random spikes cannot be recomputed from H in backward: the fused path declines.
    node = LIFNode(v_threshold=0.0, surrogate_function=PoissonPass()).double()
    assert "spike_forward" in fused.why_not_fused(node)
    x = torch.rand(6, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    weights = loss_weights(6, (20,))
    torch.manual_seed(7)
    multi = run_multi_step(node, x, weights)
    torch.manual_seed(7)
    single = run_single_steps(node, x, weights)
    assert 0 < multi[0].sum() < multi[0].numel()
    torch.testing.assert_close(multi[0], single[0], atol=0, rtol=0)
    torch.testing.assert_close(multi[3][0], single[3][0])


def test_non_spiking_surrogate_runs_the_loop():
    node = LIFNode(surrogate_function=Sigmoid(spiking=False)).double()
    assert fused.why_not_fused(node) is not None
    compare_with_single_steps(node, _x())


def test_recompute_per_neuron_attribute():
    node = ParametricLIFNode(detach_reset=True).double()
    node.fused_recompute = True
    compare_with_single_steps(node, _x(seed=5))


def test_state_carried_across_calls_and_its_gradient():
    """A second call starts from the first call's v (not detached): grads flow into it."""
    torch.manual_seed(0)
    x1, x2 = _x(T=3, seed=1), _x(T=4, seed=2)

    def run(multi: bool):
        node = ParametricLIFNode(v_reset=None).double()
        node.step_mode = "m" if multi else "s"
        a, b = x1.clone().requires_grad_(), x2.clone().requires_grad_()
        if multi:
            out = torch.cat([node(a), node(b)])
        else:
            out = torch.stack([node(a[t]) for t in range(3)] + [node(b[t]) for t in range(4)])
        loss = (out * loss_weights(7, (3, 4))[0]).sum() + node.v.sum()
        return (out, *torch.autograd.grad(loss, [a, b, node.w]))

    for got, want in zip(run(True), run(False)):
        torch.testing.assert_close(got, want)


# --------------------------------------------------------------------------- property based
@settings(max_examples=15, deadline=None)
@given(
    kind=st.sampled_from(["IF", "LIF", "PLIF"]),
    T=st.integers(1, 6),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    tau=st.floats(1.1, 8.0),
    v_threshold=st.floats(0.2, 2.0),
    v_reset=st.one_of(st.none(), st.floats(-0.5, 0.5)),
    detach_reset=st.booleans(),
    decay_input=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fused_equals_loop_property(
    kind, T, shape, tau, v_threshold, v_reset, detach_reset, decay_input, seed
):
    assume(v_reset is None or v_threshold > v_reset)  # neurons reject V_th <= V_reset
    node = _make(
        kind,
        tau=tau,
        v_threshold=v_threshold,
        v_reset=v_reset,
        detach_reset=detach_reset,
        decay_input=decay_input,
        store_v_seq=True,
    )
    x = _x(T, shape, seed) * v_threshold
    compare_with_single_steps(node, x)


# --------------------------------------------------------------------------- other neurons
class _QuadraticIF(BaseNode):
    """A charge nonlinear in v: its backward needs the values of V (not only H)."""

    def charge(self, x, v):
        return v + x + 0.2 * v * v


class _ChannelLIF(BaseNode):
    """A per-channel learnable decay (input [N, C, L]): a non-scalar parameter."""

    def __init__(self, channels: int, **kw):
        super().__init__(**kw)
        self.w = nn.Parameter(torch.linspace(-1.0, 1.0, channels).unsqueeze(-1))

    def charge(self, x, v):
        return v + (x - v) * self.w.sigmoid()


class _ScaledReset(BaseNode):
    """A reset that reads a learnable parameter, as KLIF's scaled reset does."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.k = nn.Parameter(torch.tensor(1.5))

    def charge(self, x, v):
        return v + x

    def reset_potential(self, h, s):
        return (h - s * self.v_threshold) / self.k


class _AdaptiveThreshold(BaseNode):
    """Keeps a second state variable: the fused path must decline it."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.register_memory("theta", 0.0)

    def charge(self, x, v):
        return v + x


@pytest.mark.parametrize(
    "factory",
    [
        lambda: _QuadraticIF(v_reset=None),
        lambda: _QuadraticIF(detach_reset=True, store_v_seq=True),
        lambda: _ChannelLIF(3, v_reset=-0.1),
        lambda: _ChannelLIF(3, v_reset=None, store_v_seq=True),
        lambda: _ScaledReset(v_reset=None),
    ],
    ids=["quadratic-soft", "quadratic-detach", "channel-hard", "channel-soft", "scaled-reset"],
)
def test_any_elementwise_base_node_subclass_is_fused(factory):
    node = factory().double()
    x = _x(T=4, shape=(2, 3, 5), seed=11) * 0.7
    assert fused.why_not_fused(node) is None
    assert uses_fused_path(node, x)
    compare_with_single_steps(node, x)
    with fused_settings(recompute=True):
        compare_with_single_steps(node, x)


def test_extra_state_or_own_loop_declines_the_fused_path():
    node = _AdaptiveThreshold()
    assert "theta" in fused.why_not_fused(node)
    assert not uses_fused_path(node, _x().float())

    class OwnLoop(IFNode):
        def loop_multi_step(self, x_seq, v, need_v_seq):
            return super().loop_multi_step(x_seq, v, need_v_seq)

    assert "loop_multi_step" in fused.why_not_fused(OwnLoop())


def test_a_tensor_constant_in_charge_declines_with_a_warning():
    class ConstantTensor(BaseNode):
        def charge(self, x, v):
            return v + x * torch.tensor(0.5, dtype=x.dtype)

    node = ConstantTensor().double()
    with pytest.warns(RuntimeWarning, match="neither an input nor a parameter"):
        assert not uses_fused_path(node, _x())
    compare_with_single_steps(node, _x())


def test_disabled_setting_runs_the_loop():
    with fused_settings(enabled=False):
        node = LIFNode().double()
        assert "disabled" in fused.why_not_fused(node)
        assert not uses_fused_path(node, _x())
