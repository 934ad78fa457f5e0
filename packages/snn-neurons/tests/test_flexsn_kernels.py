"""FlexSN / FlexSNKernel with generated Triton kernels (interpreter on CPU) vs the torch loop.

Three cores: a LIF neuron, an Izhikevich neuron (two states, custom ``init_states``) and a
two-input core with two outputs. Every backend ('triton', 'inductor', 'hop', 'torch') must
give the same outputs, states, state sequences and input gradients; sizes are odd so the
last Triton block is partial.
"""

from __future__ import annotations

import kernel_test_utils as ktu
import pytest
import torch
from snn_core.surrogate import ATan, Sigmoid
from snn_neurons import FlexSN, FlexSNKernel
from snn_neurons.kernels import KernelGenerationError

pytestmark = pytest.mark.kernels

triton = pytest.importorskip("triton")

T, N = 4, 139


def lif_core(x, v):
    h = v + (x - v) / 2.0
    s = Sigmoid()(h - 1.0)
    return s, h * (1.0 - s)


def izhikevich_core(i, v, u):
    """Izhikevich (2003) with a = 0.02, b = 0.2, c = -65, d = 8 and a 0.5 ms Euler step."""
    v2 = v + 0.5 * (0.04 * v * v + 5.0 * v + 140.0 - u + i)
    s = ATan()((v2 - 30.0) / 30.0)
    v3 = v2 * (1.0 - s) - 65.0 * s
    u2 = u + 0.5 * 0.02 * (0.2 * v3 - u) + 8.0 * s
    return s, v3, u2


def two_input_core(x, y, v):
    h = 0.7 * v + x - 0.3 * torch.sigmoid(y)
    s = Sigmoid(alpha=3.0)(h - 0.5)
    return s, h, h - 0.5 * s.detach()


class Izhikevich(FlexSN):
    @staticmethod
    def init_states(num_states, step_mode, *args):
        ref = args[0][0] if step_mode == "m" else args[0]
        return [torch.full_like(ref, -65.0), torch.full_like(ref, -13.0)]


CORES = {
    "lif": (FlexSN, lif_core, 1, 1, 1, 2.0),
    "izhikevich": (Izhikevich, izhikevich_core, 1, 2, 1, 30.0),
    "two_input": (FlexSN, two_input_core, 2, 1, 2, 2.0),
}


def _inputs(n_in, scale, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.rand(T, N, generator=gen) * scale).requires_grad_() for _ in range(n_in)]


def _forward(cls, core, n_in, n_st, n_out, backend, xs):
    m = cls(core, n_in, n_st, n_out, backend=backend, store_state_seqs=True)
    out = m(*xs)
    outs = [out] if n_out == 1 else list(out)
    return m, outs


@pytest.mark.parametrize("backend", ["triton", "inductor", "hop"])
@pytest.mark.parametrize("name", sorted(CORES))
def test_backends_equal_torch_loop(name: str, backend: str) -> None:
    cls, core, n_in, n_st, n_out, scale = CORES[name]
    xs = _inputs(n_in, scale)
    xs_ref = [x.detach().clone().requires_grad_() for x in xs]
    m, outs = _forward(cls, core, n_in, n_st, n_out, backend, xs)
    ref, ref_outs = _forward(cls, core, n_in, n_st, n_out, "torch", xs_ref)
    assert torch.equal(outs[0], ref_outs[0])  # spikes
    for a, b in zip(outs[1:], ref_outs[1:]):
        ktu.close(a, b)
    for a, b in zip(m.state_seqs, ref.state_seqs):
        assert a.shape == (T, N)
        ktu.close(a, b, rtol=1e-5, atol=1e-4)
    for a, b in zip(m.states, ref.states):
        ktu.close(a, b, rtol=1e-5, atol=1e-4)
    weights = [torch.randn(T, N) for _ in range(len(outs) + n_st)]
    got = ktu.grads_of([*outs, *m.state_seqs], xs, weights)
    exp = ktu.grads_of([*ref_outs, *ref.state_seqs], xs_ref, weights)
    for g, e in zip(got, exp):
        ktu.close(g, e, rtol=1e-4, atol=1e-4)


def test_triton_and_inductor_share_one_kernel_path() -> None:
    m = FlexSN(lif_core, 1, 1, 1, backend="inductor")
    assert m.backend == "inductor" and isinstance(m.kernel, FlexSNKernel)
    m.backend = "torch"
    assert m.kernel is None


def test_flexsn_kernel_call_convention_and_requires_grad() -> None:
    kernel = FlexSNKernel(lif_core, 1, 1, 1)
    x = (torch.rand(T, 3, 37) * 2).requires_grad_()
    v0 = (torch.rand(3, 37) * 0.5).requires_grad_()
    spikes, v_seq = kernel(x, v0)
    assert spikes.shape == v_seq.shape == (T, 3, 37)
    ref_s, ref_v, v = [], [], v0
    for t in range(T):
        s, v = lif_core(x[t], v)
        ref_s.append(s)
        ref_v.append(v)
    assert torch.equal(spikes, torch.stack(ref_s))
    ktu.close(v_seq, torch.stack(ref_v))
    g = ktu.grads_of([spikes, v_seq], [x, v0], [torch.ones_like(x)] * 2)
    e = ktu.grads_of([torch.stack(ref_s), torch.stack(ref_v)], [x, v0], [torch.ones_like(x)] * 2)
    ktu.close(g[0], e[0])
    ktu.close(g[1], e[1])
    frozen = FlexSNKernel(lif_core, 1, 1, 1, requires_grad=(True, False))
    spikes, v_seq = frozen(x, v0)
    gx, gv = ktu.grads_of([spikes, v_seq], [x, v0], [torch.ones_like(x)] * 2)
    ktu.close(gx, e[0])
    assert gv is None  # the state is treated as a constant


def test_empty_sequence_on_every_backend() -> None:
    template = (torch.zeros(1),)
    for backend in ["triton", "inductor", "hop", "torch"]:
        m = FlexSN(lif_core, 1, 1, 1, backend=backend, example_outputs=template)
        m.states = [torch.rand(N)]
        out = m(torch.rand(0, N))
        expected = (0, 1) if backend in ("hop", "torch") else (0, N)
        assert out.shape == expected, backend
    with pytest.raises(ValueError, match="example_inputs\\[0\\]"):
        FlexSN(lif_core, 1, 1, 1, backend="triton", example_outputs=(torch.zeros(2, 3),))
    m = FlexSN(
        lif_core, 1, 1, 1, backend="hop", example_outputs=(torch.zeros(2, 3, dtype=torch.float16),)
    )
    out = m(torch.rand(0, N))
    assert out.shape == (0, 2, 3) and out.dtype == torch.float16


def test_unmappable_op_in_core_is_named_at_construction() -> None:
    def core(x, v):
        h = v + torch.cumprod(x, 0)
        return (h > 1).float(), h

    with pytest.raises(KernelGenerationError, match="aten.cumprod"):
        FlexSN(core, 1, 1, 1, backend="triton")
    FlexSN(core, 1, 1, 1, backend="torch")  # the torch loop does not need kernels


def test_half_inputs_keep_their_dtype() -> None:
    m = FlexSN(lif_core, 1, 1, 1, backend="triton", store_state_seqs=True)
    x = (torch.rand(T, N) * 2).to(torch.bfloat16)
    out = m(x)
    assert out.dtype == torch.bfloat16 and m.state_seqs[0].dtype == torch.bfloat16
    ref = FlexSN(lif_core, 1, 1, 1, backend="torch")
    assert torch.equal(out.float(), ref(x.float()))
