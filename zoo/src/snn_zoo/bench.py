"""``snn-zoo bench``: speed, memory, firing rates, synaptic operations and energy.

Operations and energy are the papers' convention, counted by
:func:`snn_core.op_counter.estimate_paper_energy` (the same count as ``snn-zoo profile``):
MACs of layers fed by real values, ACs (``fr * FLOPs``) of layers fed by spikes, attention
products included, ``E = E_MAC * MACs + E_AC * ACs``.

What is measured is stated with the numbers: the weights (random unless given) and the
input batch (digits test images or N(0, 1) noise). Firing rates, SOPs and energy of random
weights on noise describe an untrained network, not a model's real cost.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import torch
from snn_core.op_counter import estimate_paper_energy

from snn_zoo.monitor import SpikeMonitor

__all__ = ["bench_model", "bench_inputs"]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_inputs(
    kind: str, input_shape: tuple[int, ...], batch_size: int
) -> tuple[torch.Tensor | None, str]:
    """The input batch for ``kind`` (``'digits'``, ``'random'`` or ``'auto'``) and its
    description; ``None`` means N(0, 1) noise drawn by :func:`bench_model`."""
    if kind not in ("auto", "digits", "random"):
        raise ValueError(f"input must be 'auto', 'digits' or 'random', got {kind!r}")
    is_digits = tuple(input_shape) == (1, 8, 8)
    if kind == "auto":
        kind = "digits" if is_digits else "random"
    if kind == "random":
        return None, "random N(0, 1) noise"
    if not is_digits:
        raise ValueError(
            f"input='digits' needs a model taking 1x8x8 images, this one takes "
            f"{'x'.join(map(str, input_shape))}; use --input random"
        )
    from snn_zoo.data import load_dataset

    test = load_dataset("digits").test
    n = min(batch_size, len(test))
    x = torch.stack([test[i][0] for i in range(n)])
    if n < batch_size:
        x = x.repeat((batch_size + n - 1) // n, 1, 1, 1)[:batch_size]
    return x, f"the first {n} images of the digits test split"


def bench_model(
    model: torch.nn.Module,
    input_shape: tuple[int, ...],
    batch_size: int = 8,
    steps: int = 5,
    train: bool = False,
    device: str = "cpu",
    inputs: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Measure images/s (inference, or training step with ``train=True``), peak memory,
    firing rates, SOPs and the energy estimate for one batch: ``inputs`` if given, else
    N(0, 1) noise of ``input_shape``."""
    if batch_size < 1 or steps < 1:
        raise ValueError(f"batch_size and steps must be >= 1, got {batch_size}, {steps}")
    dev = torch.device(device)
    model = model.to(dev)
    if inputs is None:
        x = torch.randn(batch_size, *input_shape, device=dev)
    else:
        x = inputs.to(dev)
        batch_size = x.shape[0]
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
    with SpikeMonitor(model) as mon:  # rates from the counted forward itself
        energy = estimate_paper_energy(model, x, batch_size=batch_size)
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else _peak_rss_mb()
    return {
        "images_per_s": batch_size * steps / elapsed,
        "mode": "train" if train else "inference",
        "peak_memory_mb": peak,
        "peak_memory_kind": "cuda max allocated" if dev.type == "cuda" else "process peak RSS",
        "firing_rates": mon.rates(),
        "mac_ops": energy.mac_ops,
        "ac_ops": energy.ac_ops,
        "energy_uJ": energy.energy_total_mj * 1e3,
        "energy_constants_pJ": {"E_MAC": energy.e_mac_pj, "E_AC": energy.e_ac_pj},
        "energy_warnings": energy.warnings,
    }
