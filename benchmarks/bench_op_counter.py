"""Op-counter overhead: a counted forward against an uncounted one.

Two models, multi-step (``[T, B, ...]``), float32, ``torch.no_grad``, on CPU with
``torch.set_num_threads(2)`` by default:

- ``conv-snn``: conv (real input) -> BN -> IF -> conv -> BN -> IF -> pool -> linear;
- ``spikformer-block``: a Spikformer-style block on spike tokens: Q/K/V linear + BN + LIF,
  spike-driven attention ``(Q K^T) V`` scaled, projection, and a two-layer MLP with LIF.

Columns (ms per forward, median / min over repeats run round-robin): ``plain``; ``paper``
(:func:`estimate_paper_energy`, which also snapshots and restores the model state);
``counters`` (FLOP + MAC + AC + SynOp counters in one :class:`DispatchCounterMode`); and the
ratios of the minima to ``plain`` (the minimum is the least disturbed by other processes).

Run ``python benchmarks/bench_op_counter.py`` (``--quick`` for a small smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from snn_core import functional
from snn_core import op_counter as oc
from snn_layers import BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d
from snn_neurons import IFNode, LIFNode
from torch import nn


def conv_snn() -> nn.Module:
    net = nn.Sequential(
        Conv2d(3, 32, 3, padding=1, bias=False), BatchNorm2d(32), IFNode(),
        Conv2d(32, 64, 3, padding=1, bias=False), BatchNorm2d(64), IFNode(),
        MaxPool2d(4), Flatten(), Linear(64 * 8 * 8, 10),
    )  # fmt: skip
    functional.set_step_mode(net, "m")
    return net


class SpikformerBlock(nn.Module):
    def __init__(self, dim: int = 128, heads: int = 8) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.ModuleList(
            nn.Sequential(Linear(dim, dim), LIFNode(tau=2.0)) for _ in range(3)
        )
        self.attn_lif = LIFNode(tau=2.0, v_threshold=0.5)
        self.proj = Linear(dim, dim)
        self.mlp = nn.Sequential(Linear(dim, 4 * dim), LIFNode(tau=2.0), Linear(4 * dim, dim))
        self.norm = BatchNorm1d(dim)
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [T, B, N, D] spikes
        t, b, n, d = x.shape
        q, k, v = (
            m(x).reshape(t, b, n, self.heads, d // self.heads).transpose(2, 3) for m in self.qkv
        )
        attn = (q @ k.transpose(-2, -1)) @ v * 0.125
        y = self.attn_lif(attn.transpose(2, 3).reshape(t, b, n, d))
        x = x + self.proj(y)
        return x + self.mlp(x)


def _interleaved_ms(fns: list[Callable[[], object]], repeats: int) -> list[tuple[float, float]]:
    """(median, min) ms of each function, run round-robin so that load from other processes
    hits all of them alike; one warm-up call each."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times):
            start = time.perf_counter()
            fn()
            bucket.append((time.perf_counter() - start) * 1e3)
    return [(statistics.median(t), min(t)) for t in times]


def _counters_forward(model: nn.Module, x: torch.Tensor) -> None:
    counters = [oc.FlopCounter(), oc.MACCounter(), oc.ACCounter(), oc.SynOpCounter()]
    with oc.DispatchCounterMode(counters):
        model(x)
    functional.reset_net(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, few repeats")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t, b = (2, 2) if args.quick else (4, 8)
    repeats = 3 if args.quick else 10
    cases = {
        "conv-snn": (conv_snn(), torch.rand(t, b, 3, 32, 32)),
        "spikformer-block": (SpikformerBlock(), (torch.rand(t, b, 64, 128) > 0.8).float()),
    }
    print(
        f"T={t} B={b} threads={args.threads} torch={torch.__version__} "
        f"(ms per forward: median / min of {repeats}, round-robin)"
    )
    print(f"{'model':<18} {'plain':>15} {'paper':>15} {'ratio':>6} {'counters':>15} {'ratio':>6}")
    for name, (model, x) in cases.items():
        model.eval()

        def plain(model=model, x=x) -> None:
            model(x)
            functional.reset_net(model)

        def paper(model=model, x=x) -> None:
            oc.estimate_paper_energy(model, x, batch_size=b)

        def counted(model=model, x=x) -> None:
            _counters_forward(model, x)

        with torch.no_grad():
            results = _interleaved_ms([plain, paper, counted], repeats)
        (base, base_min), (pap, pap_min), (cnt, cnt_min) = results
        cells = (
            f"{base:>7.1f}/{base_min:>7.1f}",
            f"{pap:>7.1f}/{pap_min:>7.1f} {pap_min / base_min:>6.2f}",
            f"{cnt:>7.1f}/{cnt_min:>7.1f} {cnt_min / base_min:>6.2f}",
        )
        print(f"{name:<18} " + " ".join(cells))


if __name__ == "__main__":
    main()
