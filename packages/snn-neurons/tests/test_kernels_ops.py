"""Every mapped elementwise op, emitted for Triton and for CUDA, equals torch (value and grad).

One step function returns one output per op (``y_k = op_k(x, v)``, state unchanged), so a
single pair of kernels per path covers the op table; each output is checked on its own so
a failure names the op. Inputs stay inside each op's domain.
"""

from __future__ import annotations

import kernel_test_utils as ktu
import pytest
import torch
from snn_neurons.kernels import StepProgram, TritonCompiler, trace_step
from snn_neurons.kernels.host_cuda import HostCudaCompiler, host_compiler_available

pytestmark = pytest.mark.kernels

OPS = {
    "tanh": lambda x, v: torch.tanh(x),
    "expm1": lambda x, v: torch.expm1(x),
    "log1p": lambda x, v: torch.log1p(v),
    "sinh": lambda x, v: torch.sinh(x),
    "cosh": lambda x, v: torch.cosh(x),
    "atan": lambda x, v: torch.atan(3.0 * x),
    "asin": lambda x, v: torch.asin(x / 2.5),
    "acos": lambda x, v: torch.acos(x / 2.5),
    "tan": lambda x, v: torch.tan(x / 2.0),
    "log10": lambda x, v: torch.log10(v),
    "log2": lambda x, v: torch.log2(v),
    "exp2": lambda x, v: torch.exp2(x),
    "rsqrt": lambda x, v: torch.rsqrt(v),
    "sqrt": lambda x, v: torch.sqrt(v),
    "reciprocal": lambda x, v: torch.reciprocal(v),
    "erf": lambda x, v: torch.erf(x),
    "atan2": lambda x, v: torch.atan2(x, v - 1.0),
    "round": lambda x, v: torch.round(4.0 * x),
    "trunc": lambda x, v: torch.trunc(3.0 * x),
    "floor_ceil": lambda x, v: torch.floor(3.0 * x) + torch.ceil(2.0 * x),
    "fmod": lambda x, v: torch.fmod(3.0 * x, v),
    "remainder": lambda x, v: torch.remainder(3.0 * x, v),
    "pow_tensor": lambda x, v: torch.pow(v, x),
    "pow_scalar_exp": lambda x, v: v**2.7 + x**3 + v**-0.5,
    "pow_scalar_base": lambda x, v: 2.0**x,
    "clamp": lambda x, v: torch.clamp(x, -0.5, 0.5) + torch.clamp(v, max=1.0),
    "relu_sign_abs": lambda x, v: torch.relu(x) + torch.sign(x) + torch.abs(x),
    "where_logic": lambda x, v: torch.where(((x > 0) & (v > 1)) | ~(x < -1), x, v),
    "max_min": lambda x, v: torch.maximum(x, v - 1.0) - torch.minimum(x, 0.5 * v),
    "heaviside": lambda x, v: torch.heaviside(x.detach(), v.detach()),  # no derivative
    "sigmoid_lerp": lambda x, v: torch.lerp(torch.sigmoid(x), v, 0.3),
    "half_rounding": lambda x, v: x.to(torch.float16).float() + v.to(torch.bfloat16).float(),
    "div_floor": lambda x, v: torch.div(3.0 * x, v, rounding_mode="floor"),
}
NAMES = list(OPS)


def _step(x, v):
    return (*(OPS[n](x, v) for n in NAMES), v)


@pytest.fixture(scope="module")
def graph():
    return trace_step(_step, 1, 1, 0, len(NAMES))


@pytest.mark.parametrize("path", ["triton", "cupy-host"])
def test_every_op_matches_torch(graph, path: str) -> None:
    if path == "triton":
        pytest.importorskip("triton")
        compiler = TritonCompiler()
    else:
        if not host_compiler_available():
            pytest.skip("no g++ for the host CUDA harness")
        compiler = HostCudaCompiler()
    prog = StepProgram(graph, compiler)
    gen = torch.Generator().manual_seed(0)
    T, N = 3, 157
    x = (torch.rand(T, N, generator=gen) * 4.0 - 2.0).requires_grad_()
    v0 = (torch.rand(N, generator=gen) * 1.9 + 0.1).requires_grad_()
    *outs, v_seq = prog.run([x], [v0], [], (True,))
    x_ref = x.detach().clone().requires_grad_()
    v_ref = v0.detach().clone().requires_grad_()
    ref = [torch.stack([OPS[n](x_ref[t], v_ref) for t in range(T)]) for n in NAMES]
    ktu.close(v_seq, v_ref.detach().expand(T, N))
    for name, got, exp in zip(NAMES, outs, ref):
        ktu.close(got, exp, rtol=2e-5, atol=2e-5, msg=lambda m, name=name: f"{name}: {m}")
    # one backward kernel for all ops: d/dx and d/dv0 of sum_k <w_k, y_k>
    weights = [torch.randn(T, N, generator=gen) for _ in NAMES]
    got = ktu.grads_of(outs, [x, v0], weights)
    exp = ktu.grads_of(ref, [x_ref, v_ref], weights)
    for g, e, what in zip(got, exp, ["x", "v0"]):
        ktu.close(g, e, rtol=1e-4, atol=1e-4, msg=lambda m, what=what: f"grad {what}: {m}")
