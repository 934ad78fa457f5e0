"""Graphs built by hand with ``nir`` run as the forward-Euler steps of their ODEs.

Each reference is a float64 NumPy loop written from the node's ODE in NIR's docs
(``tau dv/dt = (v_leak - v) + r I`` etc.) with one Euler step of ``dt`` per time step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from snn_core import functional as F
from snn_neurons import CUBALIFNode, IFNode, LIFNode, NonSpikingIFNode, NonSpikingLIFNode

nir = pytest.importorskip("nir")
from snn_layers.nir import import_from_nir  # noqa: E402
from snn_layers.nir._nodes import NIRLIF  # noqa: E402

T, N = 12, 4
RNG = np.random.default_rng(0)


def _run(node: nir.NIRNode, x: np.ndarray, dt: float, mode: str = "s") -> np.ndarray:
    graph = node if isinstance(node, nir.NIRGraph) else nir.NIRGraph.from_list(node)
    net = import_from_nir(graph, dt=dt, step_mode=mode)
    F.reset_net(net)
    xt = torch.as_tensor(x, dtype=torch.float64)
    net = net.double()
    with torch.no_grad():
        y = net(xt) if mode == "m" else torch.stack([net(s) for s in xt])
    return y.numpy()


def _euler_spiking(x, dt, charge, v0, thr, v_reset, soft=False, extra=None):
    """``charge(v, x_t, state) -> h``; fire ``h >= thr``; hard or subtractive reset."""
    v = np.broadcast_to(v0, x.shape[1:]).astype(np.float64).copy()
    out = []
    for x_t in x:
        h = charge(v, x_t, extra)
        s = (h >= thr).astype(np.float64)
        v = h - thr * s if soft else np.where(s > 0, v_reset, h)
        out.append(s)
    return np.stack(out)


def test_lif_with_per_neuron_parameters_is_the_euler_step():
    dt = 0.5
    tau = np.array([1.5, 2.0, 4.0, 0.4])  # tau < dt too: Euler still defines a step
    r = np.array([1.0, 2.0, 0.5, 1.0])
    v_leak = np.array([0.0, 0.1, -0.2, 0.0])
    v_thr = np.array([1.0, 0.8, 1.2, 0.5])
    v_reset = np.array([0.0, -0.1, 0.2, 0.0])
    node = nir.LIF(tau=tau, r=r, v_leak=v_leak, v_threshold=v_thr, v_reset=v_reset)
    x = RNG.uniform(0, 3, (T, N, 4))
    expected = _euler_spiking(
        x, dt, lambda v, i, _: v + dt / tau * (v_leak - v + r * i), v_reset, v_thr, v_reset
    )
    for mode in ("s", "m"):
        np.testing.assert_array_equal(_run(node, x, dt, mode), expected)
    assert 0 < expected.mean() < 1


@pytest.mark.parametrize("r", [1.0, 3.0])
def test_uniform_lif_maps_onto_lifnode_and_matches_the_euler_step(r):
    dt, tau = 1e-3, 3e-3  # r = 1: decay_input; r = tau / dt: decay_input=False
    node = nir.LIF(
        tau=np.full(5, tau),
        r=np.full(5, r),
        v_leak=np.full(5, 0.1),
        v_threshold=np.full(5, 1.0),
        v_reset=np.full(5, 0.1),
    )
    net = import_from_nir(nir.NIRGraph.from_list(node), dt=dt)
    assert isinstance(net[0], LIFNode) and net[0].decay_input is (r == 1.0)
    assert net[0].tau == pytest.approx(3.0) and net[0].v_reset == 0.1
    x = RNG.uniform(0, 1.5, (T, N, 5))
    expected = _euler_spiking(
        x, dt, lambda v, i, _: v + dt / tau * (0.1 - v + r * i), 0.1, 1.0, 0.1
    )
    np.testing.assert_array_equal(_run(node, x, dt), expected)


def test_lif_whose_leak_differs_from_its_reset_uses_the_tensor_neuron():
    node = nir.LIF(
        tau=np.full(3, 2.0),
        r=np.ones(3),
        v_leak=np.full(3, 0.3),
        v_threshold=np.ones(3),
        v_reset=np.zeros(3),
    )
    net = import_from_nir(nir.NIRGraph.from_list(node))
    assert isinstance(net[0], NIRLIF)
    x = RNG.uniform(0, 2, (T, N, 3))
    expected = _euler_spiking(x, 1.0, lambda v, i, _: v + (0.3 - v + i) / 2.0, 0.0, 1.0, 0.0)
    np.testing.assert_array_equal(_run(node, x, 1.0), expected)


@pytest.mark.parametrize("uniform", [True, False])
def test_if_is_the_euler_step(uniform):
    dt = 0.25
    r = np.full(3, 4.0) if uniform else np.array([4.0, 2.0, 8.0])
    node = nir.IF(r=r, v_threshold=np.full(3, 1.0), v_reset=np.full(3, -0.5))
    if uniform:
        assert isinstance(import_from_nir(nir.NIRGraph.from_list(node), dt=dt)[0], IFNode)
    x = RNG.uniform(-0.2, 1, (T, N, 3))
    expected = _euler_spiking(x, dt, lambda v, i, _: v + dt * r * i, -0.5, 1.0, -0.5)
    np.testing.assert_array_equal(_run(node, x, dt), expected)


def _cuba_reference(x, dt, tau_syn, tau_mem, r, v_leak, w_in, thr, v_reset):
    i = np.zeros(x.shape[1:])
    v = np.broadcast_to(v_reset, x.shape[1:]).astype(np.float64).copy()
    out = []
    for x_t in x:  # the synaptic current first; the membrane uses the current of this step
        i = i + dt / tau_syn * (-i + w_in * x_t)
        h = v + dt / tau_mem * (v_leak - v + r * i)
        s = (h >= thr).astype(np.float64)
        v = np.where(s > 0, v_reset, h)
        out.append(s)
    return np.stack(out)


def test_cuba_lif_with_per_neuron_parameters_is_the_euler_step():
    dt = 1.0
    p = dict(
        tau_syn=np.array([2.0, 4.0, 1.5]),
        tau_mem=np.array([3.0, 2.0, 5.0]),
        r=np.array([1.0, 2.0, 3.0]),
        v_leak=np.array([0.0, 0.1, 0.0]),
        w_in=np.array([1.0, 2.0, 0.5]),
    )
    node = nir.CubaLIF(v_threshold=np.ones(3), v_reset=np.zeros(3), **p)
    x = RNG.uniform(0, 2, (T, N, 3))
    expected = _cuba_reference(x, dt, thr=1.0, v_reset=0.0, **p)
    np.testing.assert_array_equal(_run(node, x, dt), expected)
    assert 0 < expected.mean() < 1


def test_uniform_cuba_lif_written_like_snntorch_maps_onto_cubalifnode():
    dt, tau_syn, tau_mem = 1e-4, 5e-4, 1e-3  # alpha = 0.8, beta = 0.9
    node = nir.CubaLIF(
        tau_syn=np.full(2, tau_syn),
        tau_mem=np.full(2, tau_mem),
        r=np.full(2, tau_mem / dt),
        v_leak=np.zeros(2),
        v_threshold=np.ones(2),
        w_in=np.full(2, tau_syn / dt),
    )
    net = import_from_nir(nir.NIRGraph.from_list(node), dt=dt)
    assert isinstance(net[0], CUBALIFNode)
    assert (net[0].c_decay, net[0].v_decay) == pytest.approx((0.8, 0.9))
    x = RNG.uniform(0, 0.5, (T, N, 2))
    expected = _cuba_reference(x, dt, tau_syn, tau_mem, tau_mem / dt, 0.0, tau_syn / dt, 1.0, 0.0)
    np.testing.assert_array_equal(_run(node, x, dt), expected)


@pytest.mark.parametrize("mode", ["s", "m"])
def test_li_and_integrator_readouts_are_the_euler_step(mode):
    dt = 0.5
    tau, r, v_leak = np.array([2.0, 1.0, 4.0]), np.array([1.0, 2.0, 1.0]), np.array([0, 0.5, 0])
    x = RNG.uniform(-1, 1, (T, N, 3))
    v, ref = np.broadcast_to(v_leak, (N, 3)).astype(float), []
    for x_t in x:
        v = v + dt / tau * (v_leak - v + r * x_t)
        ref.append(v)
    np.testing.assert_allclose(_run(nir.LI(tau=tau, r=r, v_leak=v_leak), x, dt, mode), ref)
    ref_i = np.cumsum(dt * 2.0 * x, axis=0)
    np.testing.assert_allclose(_run(nir.I(r=np.full(3, 2.0)), x, dt, mode), ref_i)


def test_uniform_readouts_map_onto_the_non_spiking_neurons_in_multi_step_mode():
    dt = 0.5
    li = nir.LI(tau=np.full(3, 1.5), r=np.ones(3), v_leak=np.zeros(3))
    net = import_from_nir(nir.NIRGraph.from_list(li), dt=dt, step_mode="m")
    assert isinstance(net[0], NonSpikingLIFNode) and net[0].tau == pytest.approx(3.0)
    integ = nir.I(r=np.full(3, 2.0))
    net = import_from_nir(nir.NIRGraph.from_list(integ), dt=dt, step_mode="m")
    assert isinstance(net[0], NonSpikingIFNode)
    x = RNG.uniform(-1, 1, (T, N, 3))
    v, ref = np.zeros((N, 3)), []
    for x_t in x:
        v = v + dt / 1.5 * (-v + x_t)
        ref.append(v)
    np.testing.assert_allclose(_run(li, x, dt, "m"), ref, rtol=1e-12)
    np.testing.assert_allclose(_run(integ, x, dt, "m"), np.cumsum(x, axis=0), rtol=1e-12)


def test_cuba_li_is_the_euler_step():
    p = dict(tau_syn=np.full(2, 2.0), tau_mem=np.full(2, 4.0), r=np.ones(2), v_leak=np.zeros(2))
    x = RNG.uniform(0, 1, (T, N, 2))
    i, v, ref = np.zeros((N, 2)), np.zeros((N, 2)), []
    for x_t in x:
        i = i + (-i + x_t) / 2.0
        v = v + (-v + i) / 4.0
        ref.append(v)
    np.testing.assert_allclose(_run(nir.CubaLI(**p), x, 1.0), ref)


def test_delay_per_element_shifts_by_whole_steps():
    x = RNG.uniform(0, 1, (T, N, 3))
    steps = np.array([0, 1, 3])
    expected = np.zeros_like(x)
    for k, d in enumerate(steps):
        expected[d:, :, k] = x[: T - d, :, k]
    for mode in ("s", "m"):
        np.testing.assert_array_equal(_run(nir.Delay(delay=steps * 0.1), x, 0.1, mode), expected)


def test_scale_and_threshold_nodes():
    x = RNG.uniform(-1, 1, (T, N, 3))
    s = np.array([0.5, -2.0, 1.0])
    np.testing.assert_allclose(_run(nir.Scale(scale=s), x, 1.0), x * s)
    thr = np.array([0.0, 0.5, -0.5])
    np.testing.assert_array_equal(_run(nir.Threshold(threshold=thr), x, 1.0), x >= thr)


def test_a_fan_in_graph_sums_the_inputs_that_meet_at_a_node():
    w1, w2 = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([2])),
            "a": nir.Linear(weight=w1),
            "b": nir.Affine(weight=w2, bias=np.ones(3)),
            "if": nir.IF(r=np.ones(3), v_threshold=np.ones(3)),
            "output": nir.Output(np.array([3])),
        },
        edges=[("input", "a"), ("input", "b"), ("a", "if"), ("b", "if"), ("if", "output")],
    )
    net = import_from_nir(graph).double()
    x = RNG.uniform(0, 1, (T, N, 2))
    current = x @ w1.T + (x @ w2.T + 1.0)
    expected = _euler_spiking(current, 1.0, lambda v, i, _: v + i, 0.0, 1.0, 0.0)
    with torch.no_grad():
        got = torch.stack([net(torch.as_tensor(x_t)) for x_t in x]).numpy()
    np.testing.assert_array_equal(got, expected)


def test_a_cycle_feeds_back_the_previous_step_in_both_step_modes():
    # input -> lif <-> w_rec (NIR's recurrent LIF); w_rec delivers last step's spikes
    w_in, w_rec = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 3))
    tau = np.array([2.0, 3.0, 4.0])
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([2])),
            "fc": nir.Linear(weight=w_in),
            "lif": nir.LIF(tau=tau, r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)),
            "w_rec": nir.Linear(weight=w_rec),
            "output": nir.Output(np.array([3])),
        },
        edges=[
            ("input", "fc"),
            ("fc", "lif"),
            ("lif", "w_rec"),
            ("w_rec", "lif"),
            ("lif", "output"),
        ],
    )
    x = RNG.uniform(0, 2, (T, N, 2))
    v, s, ref = np.zeros((N, 3)), np.zeros((N, 3)), []
    for x_t in x:
        h = v + (-v + x_t @ w_in.T + s @ w_rec.T) / tau
        s = (h >= 1.0).astype(float)
        v = np.where(s > 0, 0.0, h)
        ref.append(s)
    for mode in ("s", "m"):
        got = _run(graph, x, 1.0, mode)
        np.testing.assert_array_equal(got, np.stack(ref))
    assert 0 < np.mean(ref) < 1


def test_a_nested_subgraph_runs_like_its_nodes_inlined():
    w = RNG.normal(size=(3, 2))
    inner = nir.NIRGraph.from_list(
        nir.Linear(weight=w), nir.IF(r=np.ones(3), v_threshold=np.ones(3))
    )
    nested = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([2])),
            "block": inner,
            "output": nir.Output(np.array([3])),
        },
        edges=[("input", "block"), ("block", "output")],
    )
    x = RNG.uniform(0, 2, (T, N, 2))
    expected = _euler_spiking(x @ w.T, 1.0, lambda v, i, _: v + i, 0.0, 1.0, 0.0)
    np.testing.assert_array_equal(_run(nested, x, 1.0), expected)
