"""Kernel generation and compile latency, measured on the CPU (no GPU needed).

For IF / LIF / PLIF (Sigmoid) and an Izhikevich FlexSN core it times, per neuron:

- ``trace``: tracing the step and its derived backward into the elementwise graph;
- ``codegen``: choosing the saved values and emitting the forward + backward sources
  (Triton and CUDA);
- ``nvrtc``: compiling both CUDA sources to PTX with NVRTC (what CuPy does on first use);
- ``triton sm90``: compiling both Triton sources to a GPU binary for an sm_90 target
  (``triton.compile``; what the first GPU launch does, minus loading the module);
- ``interp 1st call``: the first forward + backward through Triton's interpreter on a
  small CPU tensor (what a user testing a neuron without a GPU waits for).

Columns that need an optional package (Triton, CuPy with NVRTC) print ``n/a`` without it.
Run ``python benchmarks/bench_kernel_compile.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import torch
from snn_core.surrogate import Sigmoid
from snn_neurons import IFNode, LIFNode, ParametricLIFNode
from snn_neurons.kernels import CupyCompiler, trace_step
from snn_neurons.kernels.layout import backward_layout, forward_layout
from snn_neurons.kernels.partition import make_plan
from snn_neurons.kernels.runner import _neuron_step
from snn_neurons.kernels.triton_codegen import triton_source


def _izhikevich(i, v, u):
    v2 = v + 0.5 * (0.04 * v * v + 5.0 * v + 140.0 - u + i)
    s = Sigmoid()((v2 - 30.0) / 30.0)
    return s, v2 * (1.0 - s) - 65.0 * s, u + 0.01 * (0.2 * v2 - u) + 8.0 * s


def _neuron(cls, **kw):
    def build():
        step, n_params = _neuron_step(cls(surrogate_function=Sigmoid(), **kw))
        return trace_step(step, 1, 1, n_params, 1)

    return build


CASES = {
    "IF": _neuron(IFNode),
    "LIF": _neuron(LIFNode, tau=2.0),
    "PLIF": _neuron(ParametricLIFNode),
    "FlexSN-Izhikevich": lambda: trace_step(_izhikevich, 1, 2, 0, 1),
}

_TRITON_AOT = textwrap.dedent(
    """
    import importlib.util, json, sys, time
    import triton
    from triton.backends.compiler import GPUTarget
    out = []
    for i, job in enumerate(json.loads(sys.argv[1])):
        spec = importlib.util.spec_from_file_location("k%d" % i, job["path"])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sig = dict(job["signature"], N="i32", T="i32", BLOCK="constexpr")
        src = triton.compiler.ASTSource(mod.snn_kernel, sig, constexprs={"BLOCK": 512})
        t0 = time.perf_counter()
        triton.compile(src, target=GPUTarget("cuda", 90, 32))
        out.append(time.perf_counter() - t0)
    print(json.dumps(out))
    """
)


def _layouts(graph):
    slots = [("seq", 0)] + [("state", j) for j in range(graph.num_states)]
    slots += [("param", p) for p in range(graph.num_params)]
    plan = make_plan(graph, slots)
    seq = (True,) * graph.num_states
    return [
        forward_layout(plan, seq, save=True),
        backward_layout(plan, seq, (True,) * (graph.num_outputs + graph.num_states)),
    ]


def _nvrtc_seconds(sources: list[str]) -> str:
    try:
        from snn_neurons.kernels import nvrtc_compile

        t0 = time.perf_counter()
        for s in sources:
            nvrtc_compile(s)
        return f"{time.perf_counter() - t0:.2f}s"
    except Exception as err:  # NVRTC missing or failing: report, do not stop
        return f"n/a ({type(err).__name__})"


def _triton_seconds(layouts, folder: str) -> str:
    jobs = []
    for k, layout in enumerate(layouts):
        path = os.path.join(folder, f"k{k}_{id(layout)}.py")
        with open(path, "w") as f:
            f.write(triton_source(layout))
        jobs.append({"path": path, "signature": {f"{a.name}_ptr": "*fp32" for a in layout.args}})
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = os.path.join(folder, "triton-cache")  # cold: no cached binary
    proc = subprocess.run(
        [sys.executable, "-c", _TRITON_AOT, json.dumps(jobs)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        return "n/a"
    return f"{sum(json.loads(proc.stdout.strip().splitlines()[-1])):.2f}s"


_INTERP = textwrap.dedent(
    """
    import os, time
    os.environ["TRITON_INTERPRET"] = "1"
    import torch
    from snn_neurons import ParametricLIFNode
    node = ParametricLIFNode(step_mode="m", backend="triton")
    x = torch.rand(4, 1000, requires_grad=True)
    t0 = time.perf_counter()
    node(x).sum().backward()
    print(time.perf_counter() - t0)
    """
)


def main() -> None:
    trace_step(lambda x, v: (v + x, v), 1, 1, 0, 1)  # warm up torch's tracing machinery
    print(f"{'step':<18} {'trace':>7} {'codegen':>8} {'nvrtc':>10} {'triton sm90':>12}")
    with tempfile.TemporaryDirectory() as folder:
        for name, build in CASES.items():
            t0 = time.perf_counter()
            graph = build()
            t_trace = time.perf_counter() - t0
            t0 = time.perf_counter()
            layouts = _layouts(graph)
            cuda = [
                CupyCompiler().source(lay, {a.name: torch.float32 for a in lay.args})
                for lay in layouts
            ]
            for lay in layouts:
                triton_source(lay)
            t_gen = time.perf_counter() - t0
            print(
                f"{name:<18} {t_trace:>6.2f}s {t_gen:>7.3f}s {_nvrtc_seconds(cuda):>10} "
                f"{_triton_seconds(layouts, folder):>12}"
            )
    proc = subprocess.run([sys.executable, "-c", _INTERP], capture_output=True, text=True)
    first = f"{float(proc.stdout.strip()):.2f}s" if proc.returncode == 0 else "n/a"
    print(f"PLIF first forward+backward under TRITON_INTERPRET=1 (N=1000, T=4): {first}")


if __name__ == "__main__":
    main()
