"""Convert a small CNN trained on scikit-learn's digits to a spiking network.

Trains a two-convolution ReLU network on the 8x8 digits (1437 training / 360 test images,
a few seconds on a CPU), converts it with ``RateCodingRecipe`` in the ``'max'`` and
``'99.9%'`` modes, runs the SNN for up to 128 time-steps and prints the test accuracy
after T = 8, 16, 32, 64 and 128 steps (the output is averaged over the first T steps).
With ``--plot PATH`` it draws the accuracy-vs-T curves (needs matplotlib).

Run:  python docs/examples/ann2snn_digits.py --plot docs/_assets/ann2snn/accuracy_vs_T.png
"""

from __future__ import annotations

import argparse

import torch
from snn_core import functional
from snn_layers.ann2snn import Converter, RateCodingRecipe
from torch import nn

T_VALUES = (8, 16, 32, 64, 128)


def load_digits_split(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """``(x_train, y_train, x_test, y_test)``; images ``[N, 1, 8, 8]`` scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return x_tr, y_tr, x_te, y_te


def make_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
    )  # fmt: skip


def train_cnn(x: torch.Tensor, y: torch.Tensor, epochs: int = 40, seed: int = 0) -> nn.Module:
    """Adam, batch 64, cross-entropy; returns the network in eval mode."""
    torch.manual_seed(seed)
    net = make_cnn()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def snn_accuracy_vs_t(
    snn: nn.Module, x: torch.Tensor, y: torch.Tensor, t_values=T_VALUES, chunk: int = 90
) -> dict[int, float]:
    """Accuracy (%) of the mean output over the first T steps, for each T in ``t_values``
    (one simulation of ``max(t_values)`` steps, multi-step mode)."""
    functional.set_step_mode(snn, "m")
    t_max = max(t_values)
    correct = dict.fromkeys(t_values, 0)
    for i in range(0, len(x), chunk):
        xb = x[i : i + chunk]
        functional.reset_net(snn)
        out = snn(xb.unsqueeze(0).expand(t_max, *xb.shape))  # [T, N, 10]
        cum = out.cumsum(0)
        for t in t_values:
            correct[t] += (cum[t - 1].argmax(1) == y[i : i + chunk]).sum().item()
    return {t: 100.0 * correct[t] / len(x) for t in t_values}


def convert(net: nn.Module, x_train: torch.Tensor, mode: str, batch: int = 128) -> nn.Module:
    """Rate-coding conversion calibrated on the training images."""
    loader = [x_train[i : i + batch] for i in range(0, len(x_train), batch)]
    return Converter(RateCodingRecipe(loader, mode=mode)).convert(net)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plot", help="write the accuracy-vs-T figure here")
    args = parser.parse_args()
    x_tr, y_tr, x_te, y_te = load_digits_split()
    net = train_cnn(x_tr, y_tr)
    with torch.no_grad():
        ann_acc = 100.0 * (net(x_te).argmax(1) == y_te).float().mean().item()
    print(f"ANN test accuracy: {ann_acc:.2f} %")
    results = {}
    for mode in ("max", "99.9%"):
        results[mode] = snn_accuracy_vs_t(convert(net, x_tr, mode), x_te, y_te)
        row = "  ".join(f"T={t}: {a:.2f}" for t, a in results[mode].items())
        print(f"SNN mode={mode!r}: {row}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for mode, acc in results.items():
            ax.plot(list(acc), list(acc.values()), marker="o", label=f"SNN, mode='{mode}'")
        ax.axhline(ann_acc, color="k", ls="--", lw=1, label="ANN")
        ax.set_xscale("log", base=2)
        ax.set_xticks(T_VALUES, [str(t) for t in T_VALUES])
        ax.set_xlabel("time-steps T")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("digits CNN converted with RateCodingRecipe")
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
