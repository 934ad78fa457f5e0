"""GPU benchmark of the multi-step backends: ns per neuron-step and achieved bandwidth.

Needs a CUDA GPU (exits with a message otherwise). For IF / LIF / PLIF (Sigmoid surrogate,
``detach_reset=True``), FlexSN with an Izhikevich core (two states), float32 and float16,
and each backend that can run (``torch``, ``triton``, ``cupy``; FlexSN: ``torch``,
``triton``, ``hop``), it reports:

- ``ns/step``: wall time per neuron-step (median over repeats, CUDA-synchronised) of the
  inference forward (``fwd``) and of forward + backward (``train``);
- ``GB/s``: the minimal memory traffic divided by that time, and its share of the device's
  copy bandwidth (a ``torch`` device-to-device copy of 1 GiB, measured first). Minimal
  traffic: ``fwd`` reads X and writes S (2 values per neuron-step); ``train`` also saves and
  re-reads one value and reads dL/dS and writes dL/dX (6 values per neuron-step). It is the
  same count for every backend, so the columns compare; a backend that moves more bytes
  (the torch path launches several kernels per step) shows a lower share.

The first call of each configuration (trace, code generation, compilation) is excluded and
reported separately as ``first call``. Run ``python benchmarks/bench_kernels_gpu.py``
(``--quick`` for a smaller problem).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable

import torch
from snn_core.surrogate import Sigmoid
from snn_neurons import FlexSN, IFNode, LIFNode, ParametricLIFNode


def _izhikevich(i, v, u):
    v2 = v + 0.5 * (0.04 * v * v + 5.0 * v + 140.0 - u + i)
    s = Sigmoid()((v2 - 30.0) / 30.0)
    return s, v2 * (1.0 - s) - 65.0 * s, u + 0.01 * (0.2 * v2 - u) + 8.0 * s


class _Izhikevich(FlexSN):
    @staticmethod
    def init_states(num_states, step_mode, *args):
        ref = args[0][0]
        return [torch.full_like(ref, -65.0), torch.full_like(ref, -13.0)]


NEURONS: dict[str, Callable[[str], torch.nn.Module]] = {
    "IF": lambda b: IFNode(detach_reset=True, step_mode="m", backend=b),
    "LIF": lambda b: LIFNode(tau=2.0, detach_reset=True, step_mode="m", backend=b),
    "PLIF": lambda b: ParametricLIFNode(init_tau=2.0, detach_reset=True, step_mode="m", backend=b),
    "FlexSN-Izhikevich": lambda b: _Izhikevich(_izhikevich, 1, 2, 1, backend=b),
}
BACKENDS = {"FlexSN-Izhikevich": ("torch", "triton", "hop")}
DEFAULT_BACKENDS = ("torch", "triton", "cupy")


def _sync_time(fn: Callable[[], None], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def copy_bandwidth() -> float:
    """Device-to-device copy bandwidth in GB/s (read + write of 1 GiB)."""
    src = torch.empty(1 << 28, dtype=torch.float32, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    t = statistics.median(_sync_time(lambda: dst.copy_(src), 20))
    return 2 * src.numel() * src.element_size() / t / 1e9


def _runner(node: torch.nn.Module, x: torch.Tensor, train: bool) -> Callable[[], None]:
    g = torch.ones_like(x)

    def fwd() -> None:
        node.reset()
        with torch.no_grad():
            node(x)

    def fwd_bwd() -> None:
        node.reset()
        x.grad = None
        node(x).backward(g)

    return fwd_bwd if train else fwd


def bench(name: str, backend: str, dtype: torch.dtype, T: int, N: int, repeats: int) -> dict:
    node = NEURONS[name](backend).cuda()
    if hasattr(node, "supported_backends") and backend not in node.supported_backends:
        return {"skip": "not supported here"}
    x = (torch.rand(T, N, device="cuda") * 2).to(dtype)
    if name.startswith("FlexSN"):
        x = x * 10
    row = {}
    for train in (False, True):
        xx = x.detach().clone().requires_grad_(train)
        run = _runner(copy.deepcopy(node), xx, train)
        t0 = time.perf_counter()
        run()
        torch.cuda.synchronize()
        row["first call" if not train else "first call (train)"] = time.perf_counter() - t0
        t = statistics.median(_sync_time(run, repeats))
        values = 6 if train else 2
        key = "train" if train else "fwd"
        row[f"{key} ns/step"] = t / (T * N) * 1e9
        row[f"{key} GB/s"] = values * T * N * x.element_size() / t / 1e9
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problem, fewer repeats")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_kernels_gpu: no CUDA GPU here; nothing to measure")
        sys.exit(0)
    T, N, repeats = (8, 1 << 20, 5) if args.quick else (16, 1 << 22, 20)
    peak = copy_bandwidth()
    print(f"device: {torch.cuda.get_device_name()}  copy bandwidth: {peak:.0f} GB/s  T={T} N={N}")
    header = (
        f"{'neuron':<18} {'dtype':<9} {'backend':<8} {'fwd ns/step':>12} {'fwd GB/s':>9} "
        f"{'(%copy)':>8} {'train ns/step':>14} {'train GB/s':>11} {'(%copy)':>8} "
        f"{'first call':>11}"
    )
    print(header)
    print("-" * len(header))
    for name in NEURONS:
        for dtype in (torch.float32, torch.float16):
            for backend in BACKENDS.get(name, DEFAULT_BACKENDS):
                try:
                    row = bench(name, backend, dtype, T, N, repeats)
                except Exception as err:  # report and go on with the other rows
                    row = {"skip": f"{type(err).__name__}: {str(err)[:60]}"}
                dt = str(dtype).replace("torch.", "")
                if "skip" in row:
                    print(f"{name:<18} {dt:<9} {backend:<8} {row['skip']}")
                    continue
                print(
                    f"{name:<18} {dt:<9} {backend:<8} {row['fwd ns/step']:>12.3f} "
                    f"{row['fwd GB/s']:>9.0f} {100 * row['fwd GB/s'] / peak:>7.0f}% "
                    f"{row['train ns/step']:>14.3f} {row['train GB/s']:>11.0f} "
                    f"{100 * row['train GB/s'] / peak:>7.0f}% {row['first call']:>10.2f}s"
                )


if __name__ == "__main__":
    main()
