"""Generated sources compile for the GPU without a GPU, and their helpers are exact.

- Every CUDA source (forward with saves, backward) compiles with NVRTC, as CuPy would.
- The CUDA half / bfloat16 conversions equal torch's, bit for bit, over all 65,536 half
  values and random floats (run on the host through the same source).
- Triton sources compile to a GPU binary (``triton.compile`` for an sm_90 target) in a
  process without the interpreter.
- With a GPU (``@pytest.mark.gpu``): the ``triton`` and ``cupy`` backends equal the
  reference loop on CUDA tensors.
"""

from __future__ import annotations

import copy
import ctypes
import json
import os
import subprocess
import sys
import textwrap

import kernel_test_utils as ktu
import pytest
import torch
from snn_core.surrogate import SURROGATES, Sigmoid
from snn_neurons import FlexSN, IFNode, LIFNode, ParametricLIFNode
from snn_neurons.kernels.compilers import CupyCompiler, nvrtc_compile
from snn_neurons.kernels.cuda_codegen import _PRELUDE
from snn_neurons.kernels.host_cuda import host_compiler_available
from snn_neurons.kernels.layout import backward_layout, forward_layout
from snn_neurons.kernels.partition import make_plan
from snn_neurons.kernels.runner import neuron_graph
from snn_neurons.kernels.trace import trace_step
from snn_neurons.kernels.triton_codegen import triton_source

pytestmark = pytest.mark.kernels


def _nvrtc_available() -> bool:
    try:
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
    except Exception:  # any failure means: no usable NVRTC here
        return False
    return True


needs_nvrtc = pytest.mark.skipif(
    not _nvrtc_available(),
    reason="NVRTC not found (pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12)",
)


def _layouts(graph, grad_slots):
    slots = [*grad_slots, *[("state", j) for j in range(graph.num_states)]]
    plan = make_plan(graph, slots)
    seq = (True,) * graph.num_states
    tangents = (True,) * (graph.num_outputs + graph.num_states)
    return [forward_layout(plan, seq, save=True), backward_layout(plan, seq, tangents)]


def _dtypes(layout, dtype):
    keep32 = ("sav", "gpar", "par", "rnd")
    return {a.name: torch.float32 if a.role in keep32 else dtype for a in layout.args}


def _plif_layouts(surrogate):
    node = ParametricLIFNode(surrogate_function=surrogate, detach_reset=False)
    return _layouts(neuron_graph(node), [("seq", 0), ("param", 0)])


@needs_nvrtc
@pytest.mark.parametrize("spiking", [True, False])
@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_cuda_sources_compile_with_nvrtc(name: str, spiking: bool) -> None:
    for layout in _plif_layouts(SURROGATES[name](spiking=spiking)):
        source = CupyCompiler().source(layout, _dtypes(layout, torch.float32))
        ptx = nvrtc_compile(source)
        assert ".visible .entry snn_kernel" in ptx


@needs_nvrtc
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", [IFNode, LIFNode])
def test_half_storage_cuda_sources_compile(kind, dtype: torch.dtype) -> None:
    node = kind(surrogate_function=Sigmoid(), v_reset=None, detach_reset=True)
    for layout in _layouts(neuron_graph(node), [("seq", 0)]):
        nvrtc_compile(CupyCompiler().source(layout, _dtypes(layout, dtype)), arch="compute_90")


def _izhikevich(i, v, u):
    v2 = v + 0.5 * (0.04 * v * v + 5.0 * v + 140.0 - u + i)
    s = Sigmoid()((v2 - 30.0) / 30.0)
    return s, v2 * (1.0 - s) - 65.0 * s, u + 0.02 * (0.2 * v2 - u) + 8.0 * s


@needs_nvrtc
def test_two_state_flexsn_core_compiles_with_nvrtc() -> None:
    graph = trace_step(_izhikevich, 1, 2, 0, 1)
    for layout in _layouts(graph, [("seq", 0)]):
        nvrtc_compile(CupyCompiler().source(layout, _dtypes(layout, torch.float32)))


_CONVERT = r"""
extern "C" void f2h(const float* x, unsigned short* y, long long n) {
    for (long long i = 0; i < n; ++i) y[i] = snn_f2h(x[i]); }
extern "C" void h2f(const unsigned short* x, float* y, long long n) {
    for (long long i = 0; i < n; ++i) y[i] = snn_h2f(x[i]); }
extern "C" void f2b(const float* x, unsigned short* y, long long n) {
    for (long long i = 0; i < n; ++i) y[i] = snn_f2b(x[i]); }
"""


@pytest.mark.skipif(not host_compiler_available(), reason="no g++")
def test_half_and_bfloat16_conversions_are_bit_exact(tmp_path) -> None:
    src = tmp_path / "convert.cpp"
    src.write_text(_PRELUDE + _CONVERT)
    lib_path = tmp_path / "convert.so"
    subprocess.run(["g++", "-O1", "-shared", "-fPIC", str(src), "-o", str(lib_path)], check=True)
    lib = ctypes.CDLL(str(lib_path))

    def call(fn, x, out_dtype):
        y = torch.empty(x.numel(), dtype=out_dtype)
        p = ctypes.c_void_p
        getattr(lib, fn)(p(x.data_ptr()), p(y.data_ptr()), ctypes.c_longlong(x.numel()))
        return y

    every_half = torch.arange(65536, dtype=torch.int32).to(torch.int16).view(torch.float16)
    got = call("h2f", every_half.view(torch.int16).contiguous(), torch.float32)
    expected = every_half.float()
    same = (got == expected) | (got.isnan() & expected.isnan())
    assert bool(same.all())
    gen = torch.Generator().manual_seed(0)
    floats = torch.cat(
        [
            torch.randn(200_000, generator=gen)
            * 10.0 ** torch.randint(-9, 6, (200_000,), generator=gen),
            every_half.float(),  # exact halves and the midpoints between neighbours
            (every_half.float()[:-1] + every_half.float()[1:]) / 2,
            torch.tensor(
                [65504.0, 65519.9, 65520.0, 1e9, -1e9, float("inf"), 6e-8, 2.9e-8, 0.0, -0.0]
            ),
        ]
    )
    floats = floats[~floats.isnan()].contiguous()
    halves = call("f2h", floats, torch.int16).view(torch.float16)
    assert torch.equal(halves.view(torch.int16), floats.to(torch.float16).view(torch.int16))
    bf = call("f2b", floats, torch.int16).view(torch.bfloat16)
    assert torch.equal(bf.view(torch.int16), floats.to(torch.bfloat16).view(torch.int16))


_TRITON_AOT = textwrap.dedent(
    """
    import importlib.util, json, sys, time
    import triton
    from triton.backends.compiler import GPUTarget
    jobs = json.loads(sys.argv[1])
    times = []
    for job in jobs:
        spec = importlib.util.spec_from_file_location("k%d" % len(times), job["path"])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sig = dict(job["signature"], N="i32", T="i32", BLOCK="constexpr")
        src = triton.compiler.ASTSource(mod.snn_kernel, sig, constexprs={"BLOCK": 512})
        t0 = time.perf_counter()
        compiled = triton.compile(src, target=GPUTarget("cuda", 90, 32))
        times.append(time.perf_counter() - t0)
        assert "cubin" in compiled.asm, job["path"]
    print(json.dumps(times))
    """
)
_TRITON_PTR = {torch.float32: "*fp32", torch.float16: "*fp16", torch.bfloat16: "*bf16"}


def test_triton_sources_compile_for_a_gpu_target(tmp_path) -> None:
    pytest.importorskip("triton")
    jobs = []
    graphs = [
        (neuron_graph(ParametricLIFNode(surrogate_function=SURROGATES["ATan"]())), torch.float16),
        (
            neuron_graph(LIFNode(surrogate_function=SURROGATES["SquarewaveFourierSeries"]())),
            torch.float32,
        ),
        (trace_step(_izhikevich, 1, 2, 0, 1), torch.bfloat16),
    ]
    for graph, dtype in graphs:
        slots = [("seq", 0)] + [("param", p) for p in range(graph.num_params)]
        for k, layout in enumerate(_layouts(graph, slots)):
            path = tmp_path / f"k{len(jobs)}_{k}.py"
            path.write_text(triton_source(layout))
            dts = _dtypes(layout, dtype)
            sig = {f"{a.name}_ptr": _TRITON_PTR[dts[a.name]] for a in layout.args}
            jobs.append({"path": str(path), "signature": sig})
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run(
        [sys.executable, "-c", _TRITON_AOT, json.dumps(jobs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(times) == len(jobs)


# ----------------------------------------------------------------------------- real GPU
gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("backend", ["triton", "cupy"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("name", sorted(n for n in SURROGATES if n != "PoissonPass"))
def test_gpu_backends_equal_reference(backend: str, dtype: torch.dtype, name: str) -> None:
    node = ParametricLIFNode(surrogate_function=SURROGATES[name](), step_mode="m").cuda()
    if backend not in node.supported_backends:
        pytest.skip(f"{backend} cannot run here")
    ref = copy.deepcopy(node)
    node.backend, node.store_v_seq = backend, True
    x = (torch.rand(8, 1000, device="cuda") * 2).to(dtype).requires_grad_()
    spikes = node(x)
    x_ref = x.detach().float().requires_grad_()
    r_spikes, r_vseq = ktu.reference_steps(ref, x_ref, torch.zeros(1000, device="cuda"))
    assert torch.equal(spikes.float(), r_spikes)  # no FMA contraction: same float ops
    w = torch.randn_like(r_spikes)
    (g,) = ktu.grads_of([spikes], [x], [w.to(dtype)])
    (e,) = ktu.grads_of([r_spikes], [x_ref], [w.to(dtype).float()])
    tol = 1e-4 if dtype == torch.float32 else 1e-2
    torch.testing.assert_close(g.float(), e.to(dtype).float(), rtol=tol, atol=tol)


@pytest.mark.gpu
@gpu
def test_gpu_flexsn_two_state_core() -> None:
    m = FlexSN(_izhikevich, 1, 2, 1, backend="triton", store_state_seqs=True)
    ref = FlexSN(_izhikevich, 1, 2, 1, backend="torch", store_state_seqs=True)
    x = torch.rand(6, 513, device="cuda") * 20
    torch.testing.assert_close(m(x), ref(x), rtol=1e-4, atol=1e-4)
