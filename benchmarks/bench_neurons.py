"""Neuron benchmark: time per neuron-step and bytes kept for backward, fused vs unfused.

For IF / LIF / PLIF (``detach_reset=True``; LIF and PLIF with ``tau = 2``), float32,
``torch.set_num_threads(2)`` by default, it measures on the ``torch`` backend:

- ``loop``: the unfused single-step autograd loop (``loop_multi_step``: T copies of the
  single-step graph, as the reference framework's torch backend does);
- ``fused``: the fused multi-step autograd function (:mod:`snn_neurons.fused`);
- ``fused+recompute``: the same, recomputing the forward in backward.

Columns: ns per neuron-step (median over repeats, and the fastest) for ``fwd`` (inference,
no graph) and ``fwd+bwd`` (forward, then backward of a random gradient of the spikes);
bytes kept for backward (unique storages packed by ``saved_tensors_hooks``) relative to
the input size, split into storages that alias the input and the rest; and the latency of
the first fused call (which includes tracing and compiling the step; inductor's on-disk
cache makes it shorter in later processes).

Run ``python benchmarks/bench_neurons.py`` (``--quick`` for a small smoke run).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import torch
from snn_neurons import IFNode, LIFNode, ParametricLIFNode, fused

NEURONS: dict[str, Callable[[], torch.nn.Module]] = {
    "IF": lambda: IFNode(detach_reset=True, step_mode="m"),
    "LIF": lambda: LIFNode(tau=2.0, detach_reset=True, step_mode="m"),
    "PLIF": lambda: ParametricLIFNode(init_tau=2.0, detach_reset=True, step_mode="m"),
}
METHODS = ("loop", "fused", "fused+recompute")


def _configure(method: str) -> None:
    fused.settings.enabled = method != "loop"
    fused.settings.recompute = method == "fused+recompute"


def _fwd(node: torch.nn.Module, x: torch.Tensor, g: torch.Tensor) -> None:
    node.reset()
    with torch.no_grad():
        node(x)


def _fwd_bwd(node: torch.nn.Module, x: torch.Tensor, g: torch.Tensor) -> None:
    node.reset()
    x.grad = None
    for p in node.parameters():
        p.grad = None
    node(x).backward(g)


def _time(fn: Callable[[], None], repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def saved_bytes(node: torch.nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """Bytes of unique storages saved for backward: ``(aliasing the input, the rest)``."""
    storages: dict[int, tuple[int, bool]] = {}
    x_ptr = x.untyped_storage().data_ptr()

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        storages[st.data_ptr()] = (st.nbytes(), st.data_ptr() == x_ptr)
        return t

    node.reset()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = node(x)
    del out
    node.reset()
    alias = sum(n for n, is_x in storages.values() if is_x)
    rest = sum(n for n, is_x in storages.values() if not is_x)
    return alias, rest


def _first_call_subprocess(cold: bool) -> float | None:
    """First fused LIF fwd+bwd in a fresh process (import excluded), in seconds."""
    code = (
        "import time, torch; torch.set_num_threads(2)\n"
        "from snn_neurons import LIFNode\n"
        "n = LIFNode(tau=2.0, detach_reset=True, step_mode='m')\n"
        "x = torch.randn(16, 4096, requires_grad=True)\n"
        "t0 = time.perf_counter(); n(x).sum().backward(); print(time.perf_counter() - t0)\n"
    )
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:
            env["TORCHINDUCTOR_CACHE_DIR"] = tmp
        try:
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
            )
            return float(out.stdout.strip().splitlines()[-1])
        except (subprocess.SubprocessError, ValueError, IndexError):
            return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, few repeats (smoke run)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--neurons", nargs="+", default=list(NEURONS), choices=list(NEURONS))
    parser.add_argument(
        "--subprocess-first-call",
        action="store_true",
        help="also time the first LIF call in fresh processes (cold and warm inductor cache)",
    )
    args = parser.parse_args(argv)
    # blocking compile: the fused rows time the compiled steps from their first call (the
    # default, "deferred", runs the loop until they are ready; see bench_first_call.py)
    fused.settings.compile = True
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    steps = (4, 16)
    sizes = (2**10, 2**12) if args.quick else (2**16, 2**20)
    repeats = args.repeats or (3 if args.quick else 7)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"torch {torch.__version__}, {args.threads} threads, float32, "
        f"load average at start {load:.2f}, compile={fused.settings.compile}\n"
    )
    print(
        "| neuron | T | N | method | fwd ns/step (median / min) | fwd+bwd ns/step "
        "(median / min) | saved / input: alias + other | first call s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in args.neurons:
        first_done = set()
        for T in steps:
            for N in sizes:
                x = torch.randn(T, N) * 0.8 + 0.6
                g = torch.randn(T, N)
                xg = x.clone().requires_grad_()
                for method in METHODS:
                    _configure(method)
                    node = NEURONS[name]()
                    first = ""
                    if method != "loop" and "fused" not in first_done:
                        t0 = time.perf_counter()
                        _fwd_bwd(node, xg, g)
                        first = f"{time.perf_counter() - t0:.2f}"
                        first_done.add("fused")
                    row = []
                    for fn, inp in ((_fwd, x), (_fwd_bwd, xg)):
                        fn(node, inp, g)  # warm-up
                        med, best = _time(functools.partial(fn, node, inp, g), repeats)
                        row.append(f"{med / (T * N) * 1e9:.2f} / {best / (T * N) * 1e9:.2f}")
                    alias, rest = saved_bytes(node, xg)
                    nbytes = x.numel() * x.element_size()
                    mem = f"{alias / nbytes:.2f} + {rest / nbytes:.2f}"
                    cells = [name, T, N, method, row[0], row[1], mem, first]
                    print("| " + " | ".join(str(c) for c in cells) + " |")
                    sys.stdout.flush()
    _configure("fused")
    if args.subprocess_first_call:
        cold = _first_call_subprocess(cold=True)
        warm = _first_call_subprocess(cold=False)
        fmt = lambda s: "failed" if s is None else f"{s:.2f} s"  # noqa: E731
        print(
            f"\nFirst fused LIF fwd+bwd in a fresh process (import excluded): "
            f"cold inductor cache {fmt(cold)}, warm cache {fmt(warm)}"
        )


if __name__ == "__main__":
    main()
