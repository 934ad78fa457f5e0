"""ThresholdResetLIFNode: MA-SNN's official cell (reset to threshold, then decay).

References are written from the cell's equations (Yao et al., TPAMI 2023 code):
``U = V + X``, ``S = (U - V_th >= 0)``, ``V = alpha * (S V_th + (1 - S) U) + beta``, ``V0 = 0``.
"""

from __future__ import annotations

import copy

import pytest
import torch
from snn_core import surrogate
from snn_neurons import LIFNode, ThresholdResetLIFNode


def official_cell(x_seq: torch.Tensor, alpha: float, beta: float, v_th: float):
    """The cell as its equations read, one step at a time; returns (spikes, V after each step)."""
    v = torch.zeros_like(x_seq[0])
    spikes, vs = [], []
    for t in range(x_seq.shape[0]):
        u = v + x_seq[t]
        s = (u - v_th >= 0).to(x_seq.dtype)
        v = (s * v_th + (1 - s) * u) * alpha + beta
        spikes.append(s)
        vs.append(v)
    return torch.stack(spikes), torch.stack(vs)


def test_hand_computed_sequence():
    # alpha 0.5, V_th 1: x = 0.6, 0.8, 0.2, 1.5
    # t0: U = 0.6, no spike, V = 0.3;      t1: U = 1.1, spike, V = 0.5 * 1 = 0.5
    # t2: U = 0.7, no spike, V = 0.35;     t3: U = 1.85, spike, V = 0.5
    node = ThresholdResetLIFNode(alpha=0.5, v_threshold=1.0, step_mode="m", store_v_seq=True)
    x = torch.tensor([0.6, 0.8, 0.2, 1.5], dtype=torch.float64).reshape(4, 1)
    s = node(x)
    assert s.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    torch.testing.assert_close(
        node.v_seq.flatten(), torch.tensor([0.3, 0.5, 0.35, 0.5], dtype=torch.float64)
    )


def test_a_spike_resets_to_threshold_not_to_zero():
    # t0 fires; t1 starts from alpha * V_th = 0.09, so U[1] = 0.305 fires again. A LIF that
    # keeps 30% of its potential but resets to 0 starts t1 from 0 and stays silent.
    x = torch.tensor([[1.0], [0.215]])
    assert ThresholdResetLIFNode(step_mode="m")(x).flatten().tolist() == [1.0, 1.0]
    zero_reset = LIFNode(tau=10 / 7, decay_input=False, v_threshold=0.3, step_mode="m")
    assert zero_reset(x).flatten().tolist() == [1.0, 0.0]


@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_multi_step_equals_the_official_cell_and_the_single_step_loop(beta):
    torch.manual_seed(0)
    x = torch.rand(12, 3, 7, dtype=torch.float64) * 0.6 - 0.1
    spikes, vs = official_cell(x, 0.3, beta, 0.3)
    assert 0.1 < spikes.mean() < 0.9  # both branches of the reset are exercised
    multi = ThresholdResetLIFNode(beta=beta, step_mode="m", store_v_seq=True)
    torch.testing.assert_close(multi(x), spikes, rtol=0, atol=0)
    torch.testing.assert_close(multi.v_seq, vs)
    single = ThresholdResetLIFNode(beta=beta)
    out = torch.stack([single(x[t]) for t in range(x.shape[0])])
    torch.testing.assert_close(out, spikes, rtol=0, atol=0)
    torch.testing.assert_close(single.v, vs[-1])


def _official_cell_autograd(x, alpha, v_th, width, detach):
    """Float64 loop with a straight autograd spike: forward Heaviside, backward a
    rectangle of height 1/width on |U - V_th| < width / 2 (the code's ActFun, lens = a / 2)."""

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return (z >= 0).to(z.dtype)

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            return g * (z.abs() < width / 2).to(g.dtype) / width

    v, out = torch.zeros_like(x[0]), []
    for t in range(x.shape[0]):
        u = v + x[t]
        s = Spike.apply(u - v_th)
        sr = s.detach() if detach else s
        v = (sr * v_th + (1 - sr) * u) * alpha
        out.append(s)
    return torch.stack(out)


@pytest.mark.parametrize("detach_reset", [False, True])
def test_gradients_equal_the_official_autograd(detach_reset):
    torch.manual_seed(1)
    x = (torch.rand(10, 4, 9, dtype=torch.float64) * 0.6 - 0.1).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    g = torch.randn(10, 4, 9, dtype=torch.float64)
    node = ThresholdResetLIFNode(detach_reset=detach_reset, step_mode="m")
    (node(x) * g).sum().backward()
    (_official_cell_autograd(x_ref, 0.3, 0.3, 0.5, detach_reset) * g).sum().backward()
    assert x_ref.grad.abs().sum() > 0
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_the_reset_path_carries_gradient_unless_detached():
    torch.manual_seed(2)
    x = torch.rand(8, 50, dtype=torch.float64) * 0.6 - 0.1
    grads = []
    for detach in (False, True):
        xi = x.clone().requires_grad_()
        ThresholdResetLIFNode(detach_reset=detach, step_mode="m")(xi).sum().backward()
        grads.append(xi.grad)
    assert not torch.allclose(grads[0], grads[1])


def test_state_and_repr():
    node = ThresholdResetLIFNode(alpha=0.25, beta=0.1, v_threshold=0.5, step_mode="m")
    node(torch.ones(3, 2))
    assert node.v.shape == (2,)
    node.reset()
    assert node.v == 0.0
    assert "alpha=0.25" in repr(node) and "beta=0.1" in repr(node)
    assert isinstance(ThresholdResetLIFNode().surrogate_function, surrogate.Rect)


def test_deepcopy_keeps_the_dynamics():
    node = ThresholdResetLIFNode(alpha=0.4, step_mode="m")
    x = torch.rand(5, 6)
    torch.testing.assert_close(copy.deepcopy(node)(x), node(x))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(alpha=1.5), ValueError, "alpha must be in \\[0, 1\\], got 1.5"),
        (dict(alpha="0.3"), TypeError, "alpha must be a float, got '0.3'"),
        (dict(beta=True), TypeError, "beta must be a float, got True"),
        (dict(v_threshold=None), TypeError, "v_threshold must be a float"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        ThresholdResetLIFNode(**kwargs)


@pytest.mark.kernels
@pytest.mark.parametrize("backend", ["triton", "cupy"])
def test_generated_backends_equal_torch(backend):
    reference = ThresholdResetLIFNode(beta=0.02, step_mode="m")
    if backend not in reference.supported_backends:
        pytest.skip(f"backend {backend!r} cannot run here")
    node = copy.deepcopy(reference)
    node.backend = backend
    torch.manual_seed(3)
    x = (torch.rand(6, 3, 5) * 0.6 - 0.1).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    out, out_ref = node(x), reference(x_ref)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(node.v, reference.v)
    g = torch.randn_like(out)
    (out * g).sum().backward()
    (out_ref * g).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


@pytest.mark.kernels
@pytest.mark.parametrize("detach_reset", [False, True])
def test_generated_cuda_c_kernel_equals_torch_on_the_host(detach_reset):
    # the CUDA C source CuPy would launch, compiled for the host by g++
    from snn_neurons.kernels import StepProgram
    from snn_neurons.kernels.host_cuda import HostCudaCompiler, host_compiler_available
    from snn_neurons.kernels.runner import neuron_graph, run_program

    if not host_compiler_available():
        pytest.skip("no g++ for the host CUDA harness")
    node = ThresholdResetLIFNode(beta=0.02, detach_reset=detach_reset, step_mode="m")
    torch.manual_seed(4)
    x = (torch.rand(6, 3, 67) * 0.6 - 0.1).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    prog = StepProgram(neuron_graph(node), HostCudaCompiler())
    spikes, v_last, v_seq = run_program(prog, node, x, torch.zeros(3, 67), True)
    ref = ThresholdResetLIFNode(beta=0.02, detach_reset=detach_reset, step_mode="m")
    ref.store_v_seq = True
    ref_spikes = ref(x_ref)
    assert torch.equal(spikes, ref_spikes)
    torch.testing.assert_close(v_seq, ref.v_seq)
    g = torch.randn_like(spikes)
    (spikes * g).sum().backward()
    (ref_spikes * g).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-5)
