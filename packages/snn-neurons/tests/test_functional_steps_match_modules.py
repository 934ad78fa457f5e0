"""The functional neuron steps of ``snn_core.functional`` give the neuron modules' outputs,
states and gradients (single- and multi-step), plus the ``v_seq`` and dtype behaviour of
the modules. Everything in float64; gradients are those of a fixed random weighted loss."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from core_neuron_refs import fused_settings
from snn_core import functional as F
from snn_core.surrogate import Sigmoid
from snn_neurons import (
    CUBALIFNode,
    EIFNode,
    GatedLIFNode,
    IFNode,
    IzhikevichNode,
    KLIFNode,
    LIAFNode,
    LIFNode,
    MaskedPSN,
    NoisyNonSpikingIFNode,
    ParametricLIFNode,
    QIFNode,
    SlidingPSN,
    fused,
)

D = torch.float64


@pytest.fixture(autouse=True)
def _eager_fused():
    with fused_settings(enabled=True, compile=False, recompute=False):
        yield


def _sg() -> Sigmoid:
    return Sigmoid(alpha=4.0)


def _loss(outputs: tuple[torch.Tensor, ...], seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return sum((o * torch.randn(o.shape, generator=g, dtype=D)).sum() for o in outputs)


def _grads(outputs, inputs):
    return torch.autograd.grad(_loss(outputs), inputs, allow_unused=True)


def _assert_same(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        if b is None:
            assert a is None
        else:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def _leaf(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone().requires_grad_()


# --------------------------------------------------------------------------- single step
# Each case: (module factory, names of extra states, functional step taking (x, *states, node)
# and returning the same tuple as the module: (output, *states after the step)).
SINGLE = {
    "IF-hard": (
        lambda: IFNode(v_threshold=0.7, surrogate_function=_sg()),
        (),
        lambda x, v, n: F.if_step(x, v, 0.7, 0.0, _sg()),
    ),
    "IF-soft-detach": (
        lambda: IFNode(v_threshold=0.7, v_reset=None, surrogate_function=_sg(), detach_reset=True),
        (),
        lambda x, v, n: F.if_step(x, v, 0.7, None, _sg(), True),
    ),
    "LIF": (
        lambda: LIFNode(tau=2.5, decay_input=False, v_threshold=0.8, surrogate_function=_sg()),
        (),
        lambda x, v, n: F.lif_step(x, v, 2.5, False, 0.8, 0.0, _sg()),
    ),
    "LIF-soft": (
        lambda: LIFNode(tau=3.0, v_threshold=0.8, v_reset=None, surrogate_function=_sg()),
        (),
        lambda x, v, n: F.lif_step(x, v, 3.0, True, 0.8, None, _sg()),
    ),
    "PLIF": (
        lambda: ParametricLIFNode(init_tau=2.5, v_threshold=0.8, surrogate_function=_sg()),
        (),
        lambda x, v, n: F.plif_step(x, v, n.w, True, 0.8, 0.0, _sg()),
    ),
    "KLIF": (
        lambda: KLIFNode(tau=2.5, v_threshold=0.8, surrogate_function=_sg()),
        (),
        lambda x, v, n: F.klif_step(x, v, n.k, 2.5, True, False, 0.8, 0.0, _sg()),
    ),
    "KLIF-scale-soft": (
        lambda: KLIFNode(True, tau=2.5, v_threshold=0.8, v_reset=None, surrogate_function=_sg()),
        (),
        lambda x, v, n: F.klif_step(x, v, n.k, 2.5, True, True, 0.8, None, _sg()),
    ),
    "QIF": (
        lambda: QIFNode(2.5, 0.4, 0.6, 0.9, -0.2, -0.3, surrogate_function=_sg()),
        (),
        lambda x, v, n: F.qif_step(x, v, 2.5, 0.6, -0.2, 0.4, 0.9, -0.3, _sg()),
    ),
    "EIF": (
        lambda: EIFNode(2.5, 0.7, 0.4, 0.9, -0.2, -0.3, surrogate_function=_sg()),
        (),
        lambda x, v, n: F.eif_step(x, v, 2.5, 0.7, 0.4, -0.2, 0.9, -0.3, _sg()),
    ),
    "Izhikevich": (
        lambda: IzhikevichNode(2.5, 0.4, 0.6, 0.9, -0.3, -0.2, 0.0, 3.0, 0.1, 0.2, _sg()),
        ("w",),
        lambda x, v, w, n: F.izhikevich_step(
            x, v, w, 2.5, 0.6, -0.2, 0.4, 3.0, 0.1, 0.2, 0.9, -0.3, _sg()
        ),
    ),
    "CUBA": (
        lambda: CUBALIFNode(0.4, 0.7, 0.8, None, surrogate_function=_sg()),
        ("c",),
        # the module's state order is (v, c); the function's is (current, v)
        lambda x, v, c, n: (lambda s, c_, v_: (s, v_, c_))(
            *F.cuba_lif_step(x, c, v, 0.4, 0.7, 0.8, None, _sg())
        ),
    ),
    "LIAF": (
        lambda: LIAFNode(torch.tanh, True, tau=2.5, v_reset=None, surrogate_function=_sg()),
        (),
        lambda x, v, n: F.liaf_step(x, v, 2.5, True, 1.0, None, torch.tanh, True, _sg()),
    ),
}


@pytest.mark.parametrize("name", list(SINGLE))
def test_single_step_function_equals_module(name):
    factory, extra, step = SINGLE[name]
    torch.manual_seed(0)
    node = factory().double()
    shape = (3, 4)
    x = torch.randn(shape, dtype=D)
    states = [torch.randn(shape, dtype=D) * 0.5 for _ in range(1 + len(extra))]
    params = list(node.parameters())

    # the module, from the given states
    xm, sm = _leaf(x), [_leaf(s) for s in states]
    node.v = sm[0]
    for state_name, value in zip(extra, sm[1:]):
        setattr(node, state_name, value)
    out = node(xm)
    module_outputs = (out, node.v, *(getattr(node, s) for s in extra))
    module_grads = _grads(module_outputs, [xm, *sm, *params])

    xf, sf = _leaf(x), [_leaf(s) for s in states]
    func_outputs = step(xf, *sf, node)
    func_grads = _grads(func_outputs, [xf, *sf, *params])

    _assert_same(func_outputs, module_outputs)
    _assert_same(func_grads, module_grads)


# --------------------------------------------------------------------------- multi step
MULTI = {
    "IF": (
        lambda: IFNode(v_threshold=0.7, v_reset=None, surrogate_function=_sg()),
        lambda x, v, n: F.if_multi_step(x, v, 0.7, None, _sg(), False, True),
    ),
    "LIF": (
        lambda: LIFNode(tau=2.5, v_threshold=0.8, detach_reset=True, surrogate_function=_sg()),
        lambda x, v, n: F.lif_multi_step(x, v, 2.5, True, 0.8, 0.0, _sg(), True, True),
    ),
    "PLIF": (
        lambda: ParametricLIFNode(3.0, False, 0.8, None, surrogate_function=_sg()),
        lambda x, v, n: F.plif_multi_step(x, v, n.w, False, 0.8, None, _sg(), False, True),
    ),
    "QIF": (
        lambda: QIFNode(2.5, 0.4, 0.6, 0.9, -0.2, -0.3, surrogate_function=_sg()),
        lambda x, v, n: F.qif_multi_step(x, v, 2.5, 0.9, -0.3, -0.2, 0.4, 0.6, False, _sg(), True),
    ),
    "EIF": (
        lambda: EIFNode(2.5, 0.7, 0.4, 0.9, -0.2, -0.3, surrogate_function=_sg()),
        lambda x, v, n: F.eif_multi_step(x, v, 2.5, 0.9, -0.3, -0.2, 0.4, 0.7, False, _sg(), True),
    ),
}


@pytest.mark.parametrize("name", list(MULTI))
def test_multi_step_function_equals_module(name):
    factory, multi_step = MULTI[name]
    torch.manual_seed(1)
    node = factory().double()
    node.step_mode, node.store_v_seq = "m", True
    x_seq = torch.rand(5, 3, 4, dtype=D) * 1.5 - 0.2
    v0 = torch.randn(3, 4, dtype=D) * 0.3
    params = list(node.parameters())

    xm, vm = _leaf(x_seq), _leaf(v0)
    node.v = vm
    module_outputs = (node(xm), node.v, node.v_seq)
    module_grads = _grads(module_outputs, [xm, vm, *params])

    xf, vf = _leaf(x_seq), _leaf(v0)
    func_outputs = multi_step(xf, vf, node)
    func_grads = _grads(func_outputs, [xf, vf, *params])

    _assert_same(func_outputs, module_outputs)
    _assert_same(func_grads, module_grads)


def test_multi_step_lif_module_uses_the_fused_path():
    # the comparison above then checks the fused forward/backward against the functional loop
    node = LIFNode(step_mode="m")
    assert fused.why_not_fused(node) is None


def test_izhikevich_multi_step_equals_module():
    torch.manual_seed(2)
    node = IzhikevichNode(2.5, 0.4, 0.6, 0.9, -0.3, -0.2, 0.0, 3.0, 0.1, 0.2, _sg()).double()
    node.step_mode, node.store_v_seq = "m", True
    x_seq = torch.rand(6, 5, dtype=D) * 2
    xm = _leaf(x_seq)
    module_outputs = (node(xm), node.v, node.w, node.v_seq)
    module_grads = _grads(module_outputs, [xm])
    xf = _leaf(x_seq)
    s, v, w, v_seq, _ = F.izhikevich_multi_step(
        xf, torch.full((5,), -0.3, dtype=D), torch.zeros(5, dtype=D),
        2.5, 0.9, -0.3, -0.2, 0.1, 0.2, 3.0, 0.4, 0.6, False, _sg(), True,
    )  # fmt: skip
    _assert_same((s, v, w, v_seq), module_outputs)
    _assert_same(_grads((s, v, w, v_seq), [xf]), module_grads)


def test_gated_lif_step_loop_equals_module():
    torch.manual_seed(3)
    node = GatedLIFNode(T=3, inplane=2).double()
    x_seq = torch.randn(3, 2, 2, 3, 3, dtype=D)
    params = list(node.parameters())
    xm = _leaf(x_seq)
    module_outputs = (node(xm), node.v)
    module_grads = _grads(module_outputs, [xm, *params])

    xf = _leaf(x_seq)
    p = {n: getattr(node, n).view(1, -1, 1, 1).sigmoid() for n in (
        "alpha", "beta", "gamma", "tau", "v_threshold", "linear_decay", "v_subreset")}  # fmt: skip
    v = torch.zeros_like(x_seq[0])
    spike, spikes = torch.zeros_like(v), []
    for t_ in range(3):
        spike, v = F.gated_lif_step(
            xf[t_], v, spike, p["alpha"], p["beta"], p["gamma"], p["tau"], p["v_threshold"],
            p["linear_decay"], p["v_subreset"], node.conduct[t_].view(1, -1, 1, 1).sigmoid(),
            node.surrogate_function,
        )  # fmt: skip
        spikes.append(spike)
    func_outputs = (torch.stack(spikes), v)
    _assert_same(func_outputs, module_outputs)
    _assert_same(_grads(func_outputs, [xf, *params]), module_grads)
    assert torch.equal(node.u, node.v)


def test_sliding_psn_steps_equal_module():
    torch.manual_seed(4)
    node = SlidingPSN(k=3, exp_init=False).double()
    x_seq = torch.randn(5, 2, 3, dtype=D)
    module_outputs = (torch.stack([node(x) for x in x_seq]),)
    queue: tuple[torch.Tensor, ...] = ()
    spikes = []
    for x in x_seq:
        s, queue = F.sliding_psn_step(x, queue, node.weight, node.bias, node.surrogate_function)
        spikes.append(s)
    func_outputs = (torch.stack(spikes),)
    params = [node.weight, node.bias]
    _assert_same(func_outputs, module_outputs)
    _assert_same(_grads(func_outputs, params), _grads(module_outputs, params))
    assert len(node.queue) == len(queue) == 3
    _assert_same(tuple(node.queue), queue)


def test_masked_psn_steps_equal_module_single_and_multi_step():
    torch.manual_seed(5)
    node = MaskedPSN(k=2, T=4, lambda_init=1.0).double()
    x_seq = torch.randn(4, 2, 3, dtype=D)
    module_seq = torch.stack([node(x) for x in x_seq])
    step, queue, spikes = 0, (), []
    for x in x_seq:
        s, step, queue = F.masked_psn_step(
            x, step, queue, node.masked_weight(), node.bias, node.k, node.surrogate_function
        )
        spikes.append(s)
    params = [node.weight, node.bias]
    _assert_same((torch.stack(spikes),), (module_seq,))
    _assert_same(_grads((torch.stack(spikes),), params), _grads((module_seq,), params))
    assert step == node.time_step == 4
    node.reset()
    node.step_mode = "m"
    torch.testing.assert_close(node(x_seq), module_seq)


def test_masked_psn_overflow_queues_the_input_first():
    node = MaskedPSN(k=2, T=1, lambda_init=1.0)
    node(torch.zeros(3))
    with pytest.raises(OverflowError, match="T=1"):
        node(torch.ones(3))
    assert node.time_step == 1 and torch.equal(node.queue[-1], torch.ones(3))


# --------------------------------------------------------------------------- functional_forward
FUNCTIONAL = {
    "IF": lambda: IFNode(v_reset=None),
    "LIF": lambda: LIFNode(tau=2.5, decay_input=False, detach_reset=True),
    "PLIF": lambda: ParametricLIFNode(init_tau=3.0),
    "KLIF": lambda: KLIFNode(scale_reset=True, v_reset=None),
    "QIF": lambda: QIFNode(),
    "CUBA": lambda: CUBALIFNode(),
    "Izhikevich": lambda: IzhikevichNode(a=0.1, b=0.2),
    "LIAF": lambda: LIAFNode(torch.relu, False, tau=2.5),
}


@pytest.mark.parametrize("step_mode", ["s", "m"])
@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_functional_forward_is_pure_and_equals_forward(name, step_mode):
    torch.manual_seed(6)
    node = FUNCTIONAL[name]().double()
    node.step_mode = step_mode
    x = torch.rand((4, 2, 3) if step_mode == "m" else (2, 3), dtype=D) * 2
    states = tuple(torch.rand(2, 3, dtype=D) * 0.5 for _ in node._memories)
    for memory, value in zip(list(node._memories), states):
        setattr(node, memory, value)
    outputs, new_states = node.functional_forward((x,), states)
    assert all(a is b for a, b in zip(node._memories.values(), states))  # untouched
    expected = node(x)
    _assert_same(outputs, (expected,))
    _assert_same(new_states, tuple(node._memories.values()))


def test_functional_forward_materializes_number_states():
    node = LIFNode(v_reset=-0.2)
    (spike,), (v,) = node.functional_forward((torch.zeros(2, 3),), (-0.2,))
    assert not spike.any()
    torch.testing.assert_close(v, torch.full((2, 3), -0.2))
    assert node.v == -0.2


def test_glif_and_psn_functional_forward_equal_forward():
    torch.manual_seed(7)
    glif = GatedLIFNode(T=3, inplane=2).double()
    x_seq = torch.randn(3, 2, 2, 3, 3, dtype=D)
    (spikes,), (v, u) = glif.functional_forward((x_seq,), (0.0, 0.0))
    _assert_same((spikes,), (glif(x_seq),))
    _assert_same((v, u), (glif.v, glif.u))

    sliding = SlidingPSN(k=2).double()
    x = torch.randn(2, 3, dtype=D)
    (s,), (queue,) = sliding.functional_forward((x,), ([],))
    assert sliding.queue == []
    _assert_same((s,), (sliding(x),))
    _assert_same(tuple(queue), tuple(sliding.queue))

    masked = MaskedPSN(k=2, T=3, lambda_init=1.0).double()
    (s,), (step, queue) = masked.functional_forward((x,), (0, []))
    assert masked.time_step == 0 and step == 1
    _assert_same((s,), (masked(x),))


def test_functional_forward_refuses_neurons_with_their_own_sequence_loop():
    from snn_neurons import NoisyCUBALIFNode

    node = NoisyCUBALIFNode(num_node=3, T=2)
    with pytest.raises(NotImplementedError):
        node.functional_forward((torch.zeros(2, 1, 3),), (0.0, 0.0))


# --------------------------------------------------------------------------- v_seq
def test_v_seq_is_an_observation_not_a_memory():
    node = LIFNode(step_mode="m", store_v_seq=True)
    assert [name for name, _ in node.named_memories()] == ["v"]
    node(torch.rand(4, 2, 3))
    assert node.v_seq.shape == (4, 2, 3)
    node.reset()
    assert node.v_seq is None


def test_setting_store_v_seq_clears_v_seq():
    node = IFNode(step_mode="m", store_v_seq=True)
    node(torch.rand(3, 2))
    node.store_v_seq = False
    assert node.v_seq is None
    node(torch.rand(3, 2))
    assert node.v_seq is None
    with pytest.raises(TypeError, match="store_v_seq"):
        node.store_v_seq = 1


def test_single_step_store_v_seq_appends_each_step():
    node = LIFNode(store_v_seq=True)
    vs = []
    for _ in range(3):
        node(torch.rand(2, 3) * 2)
        vs.append(node.v)
    torch.testing.assert_close(node.v_seq, torch.stack(vs))
    node.reset()
    node(torch.rand(5))
    assert node.v_seq.shape == (1, 5)  # a new sequence after reset (and on a new shape)


def test_detach_detaches_v_seq():
    node = LIFNode(store_v_seq=True)
    node(torch.rand(2, requires_grad=True) * 2)
    assert node.v_seq.requires_grad
    node.detach()
    assert not node.v_seq.requires_grad and not node.v.requires_grad


def test_stored_v_seq_keeps_the_fused_path():
    node = ParametricLIFNode(step_mode="m", store_v_seq=True)
    node(torch.rand(3, 2))
    assert fused.why_not_fused(node) is None


def test_deepcopy_keeps_v_seq_apart():
    node = LIFNode(step_mode="m", store_v_seq=True)
    node(torch.rand(3, 2))
    clone = copy.deepcopy(node)
    clone.reset()
    assert clone.v_seq is None and node.v_seq is not None


# --------------------------------------------------------------------------- dtypes
def test_glif_and_noisy_readout_parameters_are_float32():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        glif = GatedLIFNode(T=2, inplane=3)
        noisy = NoisyNonSpikingIFNode(num_node=4, T=2)
    finally:
        torch.set_default_dtype(old)
    assert {p.dtype for p in glif.parameters()} == {torch.float32}
    assert noisy.sigma.dtype == torch.float32
    assert noisy.sigma.detach().tolist() == pytest.approx([0.5 / math.sqrt(4)] * 4)
