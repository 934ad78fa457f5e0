"""PNG plots of a training run (matplotlib, headless)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

__all__ = ["plot_curves", "plot_raster", "plot_firing_rates"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict[str, float]], path: Path) -> None:
    """Loss and accuracy per epoch, train and test."""
    plt = _plt()
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax1.plot(epochs, [h["test_loss"] for h in history], label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax1.legend()
    ax2.plot(epochs, [100 * h["train_acc"] for h in history], label="train")
    ax2.plot(epochs, [100 * h["test_acc"] for h in history], label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_raster(raster: dict[str, torch.Tensor], path: Path, title: str = "") -> None:
    """Spikes of one sample: one panel per spiking layer, neurons x time steps."""
    plt = _plt()
    names = list(raster)
    if not names:
        return
    ncols = min(4, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        spikes = raster[name]  # [T, neurons]
        t_idx, n_idx = torch.nonzero(spikes > 0, as_tuple=True)
        ax.scatter(t_idx.numpy(), n_idx.numpy(), s=30, marker="|", color="black", linewidths=0.8)
        ax.set(xlabel="time step", ylabel="neuron", xlim=(-0.5, spikes.shape[0] - 0.5))
        ax.set_xticks(range(spikes.shape[0]))
        ax.set_title(name, fontsize=8)
    fig.suptitle(title or "Spike raster of one test sample")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_firing_rates(rates: dict[str, float], path: Path) -> None:
    """Mean firing rate per spiking layer: one horizontal bar per layer, its full name
    written beside it at a readable size (the figure grows with the number of layers)."""
    plt = _plt()
    names = list(rates)
    values = [rates[n] for n in names]
    width = 4.0 + 0.075 * max((len(n) for n in names), default=10)
    fig, ax = plt.subplots(figsize=(width, 1.2 + 0.32 * max(len(names), 1)))
    ax.barh(range(len(names)), values, color="tab:blue")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=9)
    ax.invert_yaxis()  # network order, top to bottom
    top = max(values, default=0.0)
    for i, v in enumerate(values):
        ax.text(v + 0.01 * max(top, 1e-3), i, f"{v:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, max(top * 1.18, 1e-3))
    ax.set(xlabel="firing rate (spikes / neuron / step)", title="Per-layer firing rates")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
