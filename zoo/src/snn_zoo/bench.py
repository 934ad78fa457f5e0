"""``snn-zoo bench``: speed, memory, firing rates, synaptic operations and energy."""

from __future__ import annotations

import resource
import time
from typing import Any

import torch

from snn_zoo.monitor import E_AC_PJ, E_MAC_PJ, SpikeMonitor, SynapticOpCounter

__all__ = ["bench_model"]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_model(
    model: torch.nn.Module,
    input_shape: tuple[int, ...],
    batch_size: int = 8,
    steps: int = 5,
    train: bool = False,
    device: str = "cpu",
) -> dict[str, Any]:
    """Measure images/s (inference, or training step with ``train=True``), peak memory,
    firing rates, SOPs and the energy estimate for one batch of random inputs."""
    if batch_size < 1 or steps < 1:
        raise ValueError(f"batch_size and steps must be >= 1, got {batch_size}, {steps}")
    dev = torch.device(device)
    model = model.to(dev)
    x = torch.randn(batch_size, *input_shape, device=dev)
    model.train(train)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def step() -> None:
        if train:
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()
        else:
            with torch.no_grad():
                model(x)

    step()  # warm-up (and any compilation)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elapsed = time.perf_counter() - t0
    model.eval()
    with torch.no_grad(), SpikeMonitor(model) as mon, SynapticOpCounter(model) as ops:
        ops.samples = batch_size
        model(x)
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else _peak_rss_mb()
    return {
        "images_per_s": batch_size * steps / elapsed,
        "mode": "train" if train else "inference",
        "peak_memory_mb": peak,
        "peak_memory_kind": "cuda max allocated" if dev.type == "cuda" else "process peak RSS",
        "firing_rates": mon.rates(),
        **ops.per_sample(),
        "energy_constants_pJ": {"E_MAC": E_MAC_PJ, "E_AC": E_AC_PJ},
    }
