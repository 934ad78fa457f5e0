"""Generated kernels equal the single-step reference for IF / LIF / PLIF x every surrogate.

Two generated paths run on the CPU here: the Triton kernels under Triton's interpreter (the
``triton`` backend itself) and the CUDA C kernels compiled for the host by ``g++`` (the same
per-neuron code CuPy launches, driven through the same autograd function). Spikes must be
equal; potentials and gradients (input, initial potential, PLIF's ``w``) equal to float
tolerance. Sizes are odd so the last block is partial.
"""

from __future__ import annotations

import copy
import itertools

import kernel_test_utils as ktu
import pytest
import torch
from snn_core.surrogate import SURROGATES, PoissonPass
from snn_neurons import IFNode, LIFNode, ParametricLIFNode
from snn_neurons.kernels import StepProgram
from snn_neurons.kernels.host_cuda import HostCudaCompiler, host_compiler_available
from snn_neurons.kernels.runner import neuron_graph, run_program

pytestmark = pytest.mark.kernels

triton = pytest.importorskip("triton")

T, SHAPE = 4, (3, 67)  # N = 201: not a multiple of the Triton block (128)
NEURONS = {"IF": IFNode, "LIF": LIFNode, "PLIF": ParametricLIFNode}
OPTIONS = list(
    itertools.product([False, True], [0.0, None], [True, False])
)  # detach, v_reset, decay_input


def _make(kind: str, surrogate, detach_reset: bool, v_reset, decay_input: bool, **kw):
    args = dict(surrogate_function=surrogate, detach_reset=detach_reset, v_reset=v_reset, **kw)
    if kind == "LIF":
        args.update(tau=1.7, decay_input=decay_input)
    elif kind == "PLIF":
        args.update(init_tau=1.7, decay_input=decay_input)
    return NEURONS[kind](step_mode="m", **args)


def _run(path: str, node, x, v0, need_v_seq=True):
    """(spikes, v_last, v_seq) of ``node`` on ``path``: 'triton' or 'cupy-host'."""
    if path == "triton" and x.shape[0] > 0:
        node.backend = "triton"
        node.store_v_seq = need_v_seq
        node.v = v0
        spikes = node(x)
        return spikes, node.v, node.v_seq
    if path == "triton":  # T == 0 (BaseNode.multi_step_forward indexes x_seq[0])
        return run_program(None, node, x, v0, need_v_seq)
    if not host_compiler_available():
        pytest.skip("no g++ for the host CUDA harness")
    prog = StepProgram(neuron_graph(node), HostCudaCompiler())
    return run_program(prog, node, x, v0, need_v_seq)


def _check(path: str, node, dtype=torch.float32, v0_grad=False, seed=0, x_scale=2.5):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, *SHAPE, generator=gen) * x_scale - 0.3).to(dtype).requires_grad_()
    v0 = (torch.rand(*SHAPE, generator=gen) * 0.5).to(dtype).requires_grad_(v0_grad)
    w_s, w_v = torch.randn(T, *SHAPE, generator=gen), torch.randn(T, *SHAPE, generator=gen)
    ref_node = copy.deepcopy(node)
    spikes, v_last, v_seq = _run(path, node, x, v0)
    # reference: float32 arithmetic on the same (possibly half) values
    x_ref = x.detach().float().requires_grad_()
    v0_ref = v0.detach().float().requires_grad_(v0_grad)
    r_spikes, r_vseq = ktu.reference_steps(ref_node, x_ref, v0_ref)
    assert spikes.dtype == dtype and v_seq.dtype == dtype
    tol = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}[dtype]
    if node.surrogate_function.spiking:
        assert torch.equal(spikes, r_spikes.to(dtype)), "spikes differ"
    else:  # the primitive g(H - V_th): float values
        ktu.close(spikes.float(), r_spikes.to(dtype).float(), rtol=tol, atol=tol)
    ktu.close(v_seq.float(), r_vseq.to(dtype).float(), rtol=tol, atol=tol)
    ktu.close(v_last, v_seq[-1])
    params = list(node.parameters())
    ins = [x, *([v0] if v0_grad else []), *params]
    ref_params = list(ref_node.parameters())
    ref_ins = [x_ref, *([v0_ref] if v0_grad else []), *ref_params]
    got = ktu.grads_of([spikes, v_seq], ins, [w_s.to(dtype), w_v.to(dtype)])
    # the reference sees the same half-rounded incoming gradients
    exp = ktu.grads_of([r_spikes, r_vseq], ref_ins, [w_s.to(dtype).float(), w_v.to(dtype).float()])
    for g, e in zip(got, exp):
        assert g is not None and e is not None
        ktu.close(g.float(), e.to(g.dtype).float(), rtol=max(tol, 1e-4), atol=max(tol, 1e-4))


PATHS = ["triton", "cupy-host"]


# PoissonPass spikes are random: test_poisson_pass_samples_from_the_uniforms covers it
DETERMINISTIC = [n for n in sorted(SURROGATES) if n != "PoissonPass"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", DETERMINISTIC)
@pytest.mark.parametrize("kind", sorted(NEURONS))
def test_every_neuron_and_surrogate(path: str, kind: str, name: str) -> None:
    i = sorted(SURROGATES).index(name) + sorted(NEURONS).index(kind)
    detach, v_reset, decay_input = OPTIONS[i % len(OPTIONS)]
    _check(path, _make(kind, SURROGATES[name](), detach, v_reset, decay_input), seed=i)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: repr(o))
@pytest.mark.parametrize("kind", sorted(NEURONS))
def test_every_option(path: str, kind: str, options) -> None:
    detach, v_reset, decay_input = options
    node = _make(kind, SURROGATES["Sigmoid"](), detach, v_reset, decay_input)
    _check(path, node, v0_grad=True)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_non_spiking_surrogates(path: str, name: str) -> None:
    # spiking=False: the neuron emits the primitive g(H - V_th) and autograd differentiates it
    node = _make("LIF", SURROGATES[name](spiking=False), False, 0.0, True)
    _check(path, node, x_scale=1.0)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", ["LIF", "PLIF"])
def test_half_storage_float32_arithmetic(path: str, kind: str, dtype: torch.dtype) -> None:
    node = _make(kind, SURROGATES["ATan"](), False, 0.0, True)
    _check(path, node, dtype=dtype, v0_grad=True)


@pytest.mark.parametrize("path", PATHS)
def test_poisson_pass_samples_from_the_uniforms(path: str) -> None:
    # p = H - V_th stays in [0, 0.5]: V_th = 0, LIF with tau = 2 and X in [0, 0.5]
    node = LIFNode(tau=2.0, v_threshold=0.0, surrogate_function=PoissonPass(), step_mode="m")
    x = (torch.rand(T, *SHAPE) * 0.5).requires_grad_()
    v0 = torch.zeros(SHAPE)
    torch.manual_seed(7)
    spikes, _, v_seq = _run(path, copy.deepcopy(node), x, v0)
    torch.manual_seed(7)
    u = torch.rand(T, SHAPE[0] * SHAPE[1]).view(T, *SHAPE)  # what the kernel drew

    def spike_fn(t, h):
        p = h - node.v_threshold
        return p + ((u[t] < p).float() - p).detach()  # the sample, straight-through gradient

    r_spikes, r_vseq = ktu.reference_steps(node, x, v0, spike_fn)
    assert torch.equal(spikes, r_spikes)
    assert 0.05 < spikes.mean().item() < 0.5  # Bernoulli(p) with p in [0, 0.5]
    ktu.close(v_seq, r_vseq)
    (g,) = ktu.grads_of([spikes, v_seq], [x], [torch.ones_like(x), torch.ones_like(x)])
    (e,) = ktu.grads_of([r_spikes, r_vseq], [x], [torch.ones_like(x), torch.ones_like(x)])
    ktu.close(g, e)


def test_v_init_gradient_across_two_calls_without_detach() -> None:
    # the second call starts from the first call's v: gradients flow through v_init
    node = _make("PLIF", SURROGATES["Erf"](), False, 0.0, True)
    node.backend = "triton"
    ref = copy.deepcopy(node)
    x = (torch.rand(2 * T, *SHAPE) * 2).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    out = torch.cat([node(x[:T]), node(x[T:])])
    s1, v1 = ktu.reference_steps(ref, x_ref[:T], torch.zeros(SHAPE))
    s2, _ = ktu.reference_steps(ref, x_ref[T:], v1[-1])
    out_ref = torch.cat([s1, s2])
    assert torch.equal(out, out_ref)
    w = torch.randn_like(out)
    (g, gw) = ktu.grads_of([out], [x, node.w], [w])
    (e, ew) = ktu.grads_of([out_ref], [x_ref, ref.w], [w])
    ktu.close(g, e)
    ktu.close(gw, ew, rtol=1e-4, atol=1e-4)


def test_store_v_seq_false_returns_last_v_only() -> None:
    node = _make("LIF", SURROGATES["Sigmoid"](), False, 0.0, True)
    x = torch.rand(T, *SHAPE) * 2
    spikes, v_last, v_seq = _run("triton", node, x, torch.zeros(SHAPE), need_v_seq=False)
    assert v_seq is None
    r_spikes, r_vseq = ktu.reference_steps(node, x, torch.zeros(SHAPE))
    assert torch.equal(spikes, r_spikes)
    ktu.close(v_last, r_vseq[-1])


def test_empty_sequence() -> None:
    node = _make("LIF", SURROGATES["Sigmoid"](), False, 0.0, True)
    v0 = torch.rand(SHAPE)
    spikes, v_last, v_seq = _run("triton", node, torch.rand(0, *SHAPE), v0)
    assert spikes.shape == (0, *SHAPE) and v_seq.shape == (0, *SHAPE)
    assert v_last is v0


def test_supported_backends_and_reasons() -> None:
    from snn_neurons import IzhikevichNode, backends

    assert "triton" in _make("LIF", SURROGATES["Sigmoid"](), False, 0.0, True).supported_backends
    izh = IzhikevichNode(step_mode="m")
    assert "triton" not in izh.supported_backends
    izh.backend = "triton"
    with pytest.raises(backends.BackendUnavailableError, match="triton"):
        izh(torch.rand(2, 5))
    lif = LIFNode(step_mode="m", backend="cupy")
    with pytest.raises(backends.BackendUnavailableError, match="cupy"):
        lif(torch.rand(2, 5))
    lif64 = LIFNode(step_mode="m", backend="triton")
    with pytest.raises(backends.BackendUnavailableError, match="float64"):
        lif64(torch.rand(2, 5, dtype=torch.float64))


def test_learning_w_needs_no_new_kernel() -> None:
    from snn_neurons.kernels import runner

    node = _make("PLIF", SURROGATES["Sigmoid"](), False, 0.0, True)
    prog = runner.neuron_program("triton", node)
    x = torch.rand(T, *SHAPE) * 2
    node.backend = "triton"
    node(x)
    with torch.no_grad():
        node.w += 0.5
    node.reset()
    spikes = node(x)
    assert runner.neuron_program("triton", node) is prog
    r_spikes, _ = ktu.reference_steps(node, x, torch.zeros(SHAPE))
    assert torch.equal(spikes, r_spikes)
