"""``snn-zoo profile``: per-layer firing rates, operations and energy of a zoo model on
real samples, in the papers' convention (:func:`snn_core.op_counter.estimate_paper_energy`).

The counts of all batches are pooled, so a layer's firing rate is its spike count over its
input size across the samples, and energies are per sample. Writes ``<model>_profile.csv``,
``.json`` and ``.png`` (energy and firing rate per layer) into the output directory.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import torch
from snn_core.op_counter import PaperEnergyCounter, PaperEnergyReport
from torch import nn

from snn_zoo.data import time_first

__all__ = ["profile_model", "write_profile"]

_CSV_FIELDS = (
    "name",
    "op",
    "kind",
    "flops",
    "dense_ops",
    "firing_rate",
    "ops",
    "energy_pj",
    "calls",
)


def profile_model(
    model: nn.Module,
    batches: Any,
    *,
    samples: int | None = None,
    time_steps: int = 1,
    cost: str = "fp32",
    multi_spike: bool = False,
) -> PaperEnergyReport:
    """Pool the paper-convention counts of ``model`` over ``batches`` (an iterable of
    ``(x, y)`` or ``x``) until ``samples`` samples (all if ``None``); per-sample report."""
    if samples is not None and (
        isinstance(samples, bool) or not isinstance(samples, int) or samples < 1
    ):
        raise ValueError(f"samples must be a positive int or None, got {samples!r}")
    counter = PaperEnergyCounter(cost, model=model, multi_spike=multi_spike)
    seen = 0
    model.eval()
    with torch.no_grad(), counter:
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if samples is not None:
                x = x[: samples - seen]
            model(time_first(x))
            seen += int(x.shape[0])
            if samples is not None and seen >= samples:
                break
    if seen == 0:
        raise ValueError("no samples to profile: the data set split is empty")
    return counter.report(batch_size=seen, time_steps=time_steps)


def _plot(report: PaperEnergyReport, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.name.split('.', 1)[-1]} {r.op}" for r in report.layers]
    xs = range(len(labels))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6.0, 0.45 * len(labels) + 2), 7), sharex=True)
    colors = ["tab:red" if r.kind == "MAC" else "tab:blue" for r in report.layers]
    ax1.bar(xs, [r.energy_pj * 1e-6 for r in report.layers], color=colors)
    ax1.set(
        ylabel="energy per sample (uJ)",
        title=f"{title}: {report.energy_total_mj:.4g} mJ per sample",
    )
    ax2.bar(xs, [r.firing_rate or 0.0 for r in report.layers], color=colors)
    ax2.set(ylabel="input firing rate")
    ax2.set_xticks(list(xs), labels, rotation=75, ha="right", fontsize=7)
    ax1.legend(
        handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:red", "tab:blue")],
        labels=["MAC (real input)", "AC (spike input)"],
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_profile(
    report: PaperEnergyReport, out_dir: str | Path, name: str, meta: dict[str, Any]
) -> dict[str, Path]:
    """Write ``<name>_profile.csv`` / ``.json`` / ``.png`` into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {ext: out / f"{name}_profile.{ext}" for ext in ("csv", "json", "png")}
    with paths["csv"].open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_CSV_FIELDS)
        writer.writeheader()
        for row in report.to_dict()["layers"]:
            writer.writerow({k: row[k] for k in _CSV_FIELDS})
    paths["json"].write_text(json.dumps({**meta, **report.to_dict()}, indent=2))
    _plot(report, paths["png"], name)
    return paths
