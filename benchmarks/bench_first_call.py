"""First-call latency of a multi-step LIF neuron in a fresh process, ours beside the reference.

Each run is a new Python process that builds ``LIFNode(step_mode='m')`` and times its first
three forward + backward calls on ``[T, N] = [16, 65536]`` float32 (2 threads), then the
steady-state call (median of 5, after ``snn_neurons.fused.wait_for_compile()``):

- ``cold``: an empty inductor cache (``TORCHINDUCTOR_CACHE_DIR``) and an empty temporary
  directory (``TMPDIR``: inductor keeps its precompiled C++ header there), as on a new
  machine;
- ``warm``: a second process on the same cache, as every later run;
- ``reference``: SpikingJelly 2.0.0's ``LIFNode(step_mode='m')`` (its ``torch`` backend),
  when ``spikingjelly`` is importable by ``--reference-python``;
- ``ours, compile=True``: the blocking compile of earlier versions, for comparison.

``ready`` is when our compiled steps were in place (seconds after the process started;
by default the first call made ``settings.compile_after`` seconds after the first one
compiles them, the child keeps calling until then), ``pause`` the longest single call
(the one that compiled), and ``import`` is ``import torch`` plus the package. Runs are
interleaved (reference, ours cold, ours warm, ...) and repeated; the table shows medians.
Run ``python benchmarks/bench_first_call.py [--repeats 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

_CHILD = textwrap.dedent(
    r"""
    import json, sys, time
    t0 = time.perf_counter()
    import torch
    impl, mode = sys.argv[1], sys.argv[2]
    if impl == "reference":
        from spikingjelly.activation_based import neuron
        node = neuron.LIFNode(step_mode="m")
    else:
        from snn_neurons import LIFNode, fused
        fused.settings.compile = True if mode == "sync" else "deferred"
        node = LIFNode(step_mode="m")
    t_import = time.perf_counter() - t0
    torch.set_num_threads(2)
    torch.manual_seed(0)
    x = torch.randn(16, 65536, requires_grad=True)

    def call():
        a = time.perf_counter()
        node.reset()
        node(x).sum().backward()
        return time.perf_counter() - a

    calls = [call() for _ in range(3)]
    heavy = "torch._inductor" in sys.modules
    ready = pause = None
    if impl == "ours":
        # keep calling, as a training loop would, until the deferred tier has compiled
        more = []
        while not any(p is not None for p in fused._PLANS.values()) and len(more) < 10000:
            more.append(call())
        ready = time.perf_counter() - t0
        pause = max(calls + more)
    steady = sorted(call() for _ in range(5))[2]
    print("RESULT " + json.dumps(dict(
        import_s=t_import, calls=calls, steady=steady, ready=ready, pause=pause,
        inductor_after_3=heavy,
    )))
    """
)


def _run(python: str, impl: str, mode: str, cache: str) -> dict | None:
    # TMPDIR too: inductor's precompiled C++ header lives under the temporary directory
    env = dict(os.environ, OMP_NUM_THREADS="2", TORCHINDUCTOR_CACHE_DIR=cache, TMPDIR=cache)
    proc = subprocess.run(
        [python, "-c", _CHILD, impl, mode], capture_output=True, text=True, env=env
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"{impl} {mode} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return None


def _has_reference(python: str) -> bool:
    probe = "import spikingjelly.activation_based.neuron"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="one repeat, no compile=True rows")
    p.add_argument("--reference-python", default=sys.executable, help="python with spikingjelly")
    args = p.parse_args()
    repeats = 1 if args.quick else args.repeats
    rows: dict[str, list[dict]] = {}
    runs = [("reference", "-"), ("ours", "deferred")]
    if not args.quick:
        runs.append(("ours", "sync"))
    ref = _has_reference(args.reference_python)
    for _ in range(repeats):
        for impl, mode in runs:
            if impl == "reference" and not ref:
                continue
            python = args.reference_python if impl == "reference" else sys.executable
            with tempfile.TemporaryDirectory() as cache:
                for temp in ("cold", "warm"):
                    if impl == "reference" and temp == "warm":
                        continue  # the reference compiles nothing: one row
                    r = _run(python, impl, mode, cache)
                    if r is not None:
                        name = impl if impl == "reference" else f"ours {temp}"
                        if mode == "sync":
                            name += ", compile=True"
                        rows.setdefault(name, []).append(r)
    if not ref:
        print("(reference: spikingjelly is not importable; its row is left out)")
    print(
        f"LIF [16, 65536] fwd+bwd in a fresh process, 2 threads, median of {repeats} (s)\n"
        f"{'run':26s} {'import':>7s} {'call 1':>7s} {'call 2':>7s} {'call 3':>7s} "
        f"{'steady':>7s} {'ready':>7s} {'pause':>7s}"
    )
    for name, rs in rows.items():
        med = lambda f, rs=rs: statistics.median(f(r) for r in rs)  # noqa: E731
        ready = "-" if rs[0]["ready"] is None else f"{med(lambda r: r['ready']):7.2f}"
        pause = "-" if rs[0].get("pause") is None else f"{med(lambda r: r['pause']):7.2f}"
        print(
            f"{name:26s} {med(lambda r: r['import_s']):7.2f} "
            + " ".join(f"{med(lambda r, i=i: r['calls'][i]):7.3f}" for i in range(3))
            + f" {med(lambda r: r['steady']):7.3f} {ready:>7s} {pause:>7s}"
        )


if __name__ == "__main__":
    main()
