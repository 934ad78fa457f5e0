"""``torch.compile`` of zoo models, and model training steps in float32 / bfloat16.

Each measurement runs in a fresh subprocess (its own empty inductor cache and temporary
directory, where inductor keeps its precompiled C++ header, so compile times are cold),
for our models and, when ``spikingjelly`` is importable, for the reference's Spikformer
(its ``model.spikformer`` is built from the same layers):

- ``compile``: ``torch.compile(model)``: the first fwd+bwd call (dynamo, AOTAutograd,
  inductor) minus an eager step; ``cold``: empty caches; ``warm``: a second process on the
  caches the first one left (what every later run of a script sees: inductor's FX graph
  and kernel caches persist in ``TORCHINDUCTOR_CACHE_DIR``, by default under the system's
  temporary directory);
- ``eager`` / ``compiled``: the median fwd+bwd step (``loss.backward()``, no optimizer),
  interleaved in the cold process; ``ratio``: compiled / eager in the cold and in the warm
  process (the two differ by up to 25 % on a 2-core VM: compare them, not single rows);
- ``max |diff|``: compiled against eager outputs on the same weights and batch;
- ``(no layout opt)`` rows: ``torch.compile(model, options={"layout_optimization": False})``,
  which keeps inductor from converting every convolution to channels-last (on CPU it always
  does), and with it the layout conversions around each neuron layer;
- ``(cpp wrapper)`` rows (``--cpp-wrapper``): ``torch.compile(model, options={"cpp_wrapper":
  True})``: inductor calls the graph's kernels from generated C++ instead of Python (one
  larger ``g++`` run per graph: a longer compile, less overhead per step);
- ``(unrolled)`` rows (``--unrolled``): the same with the fused path off, so that dynamo
  unrolls every neuron's loop over T (what ``torch.compile`` did before the operator;
  their ``eager`` column is then the single-step loop);
- ``fp32`` / ``bf16 autocast``: the eager step in float32 and under
  ``torch.autocast('cpu', torch.bfloat16)``.

Run ``python benchmarks/bench_zoo_compile.py [--quick]`` (``--quick``: the digits models
only, fewer repeats). Timings depend on the machine's load; pairs are interleaved.
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
    import json, os, statistics, sys, time
    import torch
    torch.manual_seed(0)
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    B, T = spec["batch"], spec["T"]
    if spec["impl"] == "ours":
        import snn_zoo
        from snn_neurons import fused
        kw = {} if spec["T"] is None else {"T": T}
        model = snn_zoo.create_model(spec["model"], **kw)
        shape = model.default_cfg["input_size"]
        fused.settings.compile = True  # steady state from the first step (timed apart)
        reset = lambda m: None  # zoo models reset their state in forward
    else:
        from spikingjelly.activation_based import functional
        from spikingjelly.activation_based.model import spikformer as sf
        model = getattr(sf, spec["model"])(T=T)
        shape = (3, 32, 32)
        reset = functional.reset_net
    model.train()
    x = torch.randn(B, *shape)
    amp = spec["amp"]

    def step(m):
        reset(m)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = m(x)
        out.float().sum().backward()
        return out.detach().float()

    def timed(m, n):
        ts = []
        for _ in range(n):
            a = time.perf_counter(); step(m); ts.append(time.perf_counter() - a)
        return statistics.median(ts)

    res = {}
    step(model)
    if spec["impl"] == "ours":
        fused.wait_for_compile()
    if spec["compile"]:
        import copy
        if spec.get("unrolled"):  # as before the fused operator: dynamo unrolls the T loop
            fused.settings.enabled = False
        cm = torch.compile(copy.deepcopy(model), options=spec.get("options"))
        res["eager"] = timed(model, 2)
        a = time.perf_counter(); step(cm); first = time.perf_counter() - a
        res["compile"] = first - res["eager"]
        eager, compiled = [], []
        for _ in range(spec["repeats"]):  # interleaved
            eager.append(timed(model, 3))
            compiled.append(timed(cm, 3))
        res["eager"], res["compiled"] = statistics.median(eager), statistics.median(compiled)
        cm._orig_mod.load_state_dict(model.state_dict())
        res["diff"] = float((step(cm) - step(model)).abs().max())
    else:
        res["eager"] = timed(model, spec["repeats"])
    print("RESULT " + json.dumps(res))
    """
)


def _child(spec: dict, python: str, env: dict) -> dict | None:
    proc = subprocess.run(
        [python, "-c", _CHILD, json.dumps(spec)], capture_output=True, text=True, env=env
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"  {spec['impl']} {spec['model']} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return None


def _run(spec: dict, python: str, warm: bool = False) -> tuple[dict | None, dict | None]:
    """The child's result with empty caches, and (``warm``) in a second process on the
    caches the first one left."""
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]))
    with tempfile.TemporaryDirectory() as cache:
        env["TORCHINDUCTOR_CACHE_DIR"] = cache
        env["TMPDIR"] = cache  # inductor's precompiled C++ header lives there: cold too
        cold = _child(spec, python, env)
        return cold, (_child(spec, python, env) if warm and cold else None)


def _has_reference(python: str) -> bool:
    probe = "import spikingjelly.activation_based.model.spikformer"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:9.1f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="digits models only, fewer repeats")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the step table")
    p.add_argument(
        "--unrolled",
        action="store_true",
        help="also compile with the fused path off (dynamo unrolls each neuron's T loop, as "
        "before the fused operator existed; slow)",
    )
    p.add_argument(
        "--cpp-wrapper",
        action="store_true",
        help="also compile with options={'cpp_wrapper': True} (C++ instead of Python calls "
        "the kernels; longer compile)",
    )
    p.add_argument("--reference-python", default=sys.executable, help="python with spikingjelly")
    args = p.parse_args()
    reps = 3 if args.quick else 5
    base = {"threads": args.threads, "repeats": reps}
    print(
        "torch.compile of zoo models (compile s: empty caches / warm caches; fwd+bwd step, ms, "
        "in the cold process; ratio compiled/eager: cold / warm process)"
    )
    head = ("model", "B", "compile s", "eager", "compiled", "ratio", "max|diff|")
    print(
        f"{head[0]:34s} {head[1]:>3s} {head[2]:>12s} "
        + " ".join(f"{h:>9s}" for h in head[3:5])
        + f" {head[5]:>11s} {head[6]:>9s}"
    )
    for name in ("spikformer_digits", "qkformer_digits"):
        variants = [("", {}), (" (no layout opt)", {"options": {"layout_optimization": False}})]
        if args.cpp_wrapper:
            variants.append((" (cpp wrapper)", {"options": {"cpp_wrapper": True}}))
        if args.unrolled:
            variants.append((" (unrolled)", {"unrolled": True}))
        for suffix, extra in variants:
            spec = dict(base, impl="ours", model=name, batch=32, T=None, amp=False, compile=True)
            r, w = _run(dict(spec, **extra), sys.executable, warm=True)
            if r:
                label = name + suffix
                ratios = [f"{x['compiled'] / x['eager']:.2f}" if x else "-" for x in (r, w)]
                compile_s = f"{r['compile']:.1f} / " + (f"{w['compile']:.1f}" if w else "-")
                print(
                    f"{label:34s} {32:3d} {compile_s:>12s} {_ms(r['eager'])} "
                    f"{_ms(r['compiled'])} {' / '.join(ratios):>11s} {r['diff']:9.2e}"
                )
    if args.quick:
        return
    ref = _has_reference(args.reference_python)
    print(
        "\nSpikformer-4-384 CIFAR-10 (ours: spikformer_4_384_cifar) fwd+bwd step, B=4, T=4 "
        f"(eager, ms; median over {args.rounds} processes of the median of {reps}); reference: "
        f"{'spikingjelly 2.0.0' if ref else 'not installed'}"
    )
    print(f"{'impl':10s} {'fp32':>9s} {'bf16 autocast':>14s}")
    results: dict[tuple[str, bool], list[float]] = {}
    for _ in range(args.rounds):  # ours and the reference interleaved, fresh processes
        for impl, model, python in (
            ("ours", "spikformer_4_384_cifar", sys.executable),
            ("reference", "spikformer_cifar10", args.reference_python),
        ):
            if impl == "reference" and not ref:
                continue
            for amp in (False, True):
                spec = dict(base, impl=impl, model=model, batch=4, T=4, amp=amp, compile=False)
                r, _ = _run(spec, python)
                if r:
                    results.setdefault((impl, amp), []).append(r["eager"])
    for impl in ("ours", "reference"):
        row = [results.get((impl, amp)) for amp in (False, True)]
        if any(row):
            med = [statistics.median(v) if v else None for v in row]
            print(f"{impl:10s} {_ms(med[0])} {_ms(med[1]):>14s}")


if __name__ == "__main__":
    main()
