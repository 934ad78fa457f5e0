"""Unsupervised STDP features on scikit-learn's digits, read out by logistic regression.

A competitive layer of integrate-and-fire neurons (winner-take-all lateral inhibition and
adaptive thresholds, after Diehl & Cook, "Unsupervised learning of digit recognition using
spike-timing-dependent plasticity", Front. Comput. Neurosci. 2015) learns its input weights
with ``snn_layers.learning.STDPLearner`` from Poisson spike trains of the 8x8 images, with no
labels. A logistic regression on the layer's spike counts then classifies the digits; the
same readout on the same layer with its random initial weights is the baseline.

Run: ``python docs/examples/stdp_digits.py`` (needs scikit-learn; 10 to 30 s on 2 CPU cores).
"""

from __future__ import annotations

import time

import numpy as np
import snn_layers
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from snn_core import base, encoding, functional
from snn_layers import learning
from torch import nn


class WinnerTakeAllIF(base.MemoryModule):
    r"""Integrate-and-fire neurons with lateral inhibition and adaptive thresholds.

    Per sample and step, :math:`v \leftarrow v + I`; the neuron with the largest
    :math:`v - (v_{th} + \theta)` fires if that margin is :math:`\ge 0`, and its spike
    resets the potentials of the whole layer (inhibition), so at most one neuron fires per
    step. While training, each spike raises the winner's threshold :math:`\theta` by
    ``theta_plus`` and every :math:`\theta` decays by ``theta_decay`` per step
    (homeostasis: every neuron gets to win some inputs).
    """

    def __init__(self, n: int, v_threshold: float, theta_plus: float, theta_decay: float):
        super().__init__()
        self.v_threshold, self.theta_plus, self.theta_decay = v_threshold, theta_plus, theta_decay
        self.register_buffer("theta", torch.zeros(n))
        self.register_memory("v", 0.0)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.init_memory_like("v", x) + x
        margin = v - (self.v_threshold + self.theta)
        best, winner = margin.max(dim=1)
        fired = best >= 0
        spike = torch.zeros_like(v)
        spike[fired, winner[fired]] = 1.0
        self.v = v * (~fired).unsqueeze(1).to(v.dtype)  # inhibition: a spike resets the layer
        if self.training:
            self.theta.mul_(self.theta_decay).add_(self.theta_plus * spike.sum(0))
        return spike


def load(seed: int = 0):
    """Digits scaled to [0, 1], split 75 / 25, stratified."""
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    return train_test_split(x, torch.tensor(y), test_size=0.25, random_state=seed, stratify=y)


def normalize_(weight: torch.Tensor, total: float) -> None:
    """Rescale each neuron's input weights to sum to ``total`` (synaptic scaling)."""
    weight.clamp_(min=0.0)
    weight.mul_(total / weight.sum(dim=1, keepdim=True))


def build(n_neurons: int, seed: int, w_total: float = 8.0) -> nn.Sequential:
    torch.manual_seed(seed)
    fc = snn_layers.Linear(64, n_neurons, bias=False)
    with torch.no_grad():
        fc.weight.uniform_(0.0, 1.0)
        normalize_(fc.weight, w_total)
    return nn.Sequential(fc, WinnerTakeAllIF(n_neurons, 1.0, theta_plus=0.05, theta_decay=0.999))


def train_stdp(
    net: nn.Sequential,
    x: torch.Tensor,
    T: int,
    epochs: int,
    batch: int,
    lr: float,
    w_total: float = 8.0,
) -> None:
    """Unsupervised: the learner's update goes into ``weight.grad``, SGD applies it."""
    fc, wta = net[0], net[1]
    learner = learning.STDPLearner(
        "s",
        fc,
        wta,
        tau_pre=2.0,
        tau_post=2.0,
        f_pre=lambda w: 0.2 * w,  # weak, weight-dependent depression
        f_post=lambda w: 1.0 - w,  # soft-bounded potentiation
    )
    optimizer = torch.optim.SGD([fc.weight], lr=lr, foreach=False)
    encoder = encoding.PoissonEncoder()
    net.train()
    for _ in range(epochs):
        for start in range(0, len(x), batch):
            xb = x[start : start + batch]
            for _ in range(T):
                with torch.no_grad():
                    net(encoder(xb))
                optimizer.zero_grad()
                learner.step(on_grad=True)
                optimizer.step()
                with torch.no_grad():
                    normalize_(fc.weight, w_total)
            functional.reset_net(net)
            learner.reset()
    learner.close()


@torch.no_grad()
def spike_counts(net: nn.Sequential, x: torch.Tensor, T: int) -> np.ndarray:
    """Spike counts ``[N, neurons]`` over ``T`` Poisson steps (thresholds frozen)."""
    net.eval()
    encoder = encoding.PoissonEncoder()
    functional.reset_net(net)
    counts = sum(net(encoder(x)) for _ in range(T))
    functional.reset_net(net)
    return counts.numpy()


def readout_accuracy(net, x_train, y_train, x_test, y_test, T: int, seed: int) -> float:
    torch.manual_seed(seed + 1)  # the same Poisson draws for every network compared
    f_train, f_test = spike_counts(net, x_train, T), spike_counts(net, x_test, T)
    clf = LogisticRegression(max_iter=2000).fit(f_train / T, y_train.numpy())
    return float(clf.score(f_test / T, y_test.numpy()))


def run(
    n_neurons: int = 100,
    T: int = 20,
    epochs: int = 1,
    batch: int = 16,
    lr: float = 0.01,
    seed: int = 0,
) -> dict[str, float]:
    """Train with STDP and compare the readout with the untrained layer's."""
    x_train, x_test, y_train, y_test = load(seed)
    untrained = build(n_neurons, seed)
    trained = build(n_neurons, seed)  # same initial weights
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    train_stdp(trained, x_train, T, epochs, batch, lr)
    seconds = time.perf_counter() - t0
    data = (x_train, y_train, x_test, y_test)
    return {
        "stdp": readout_accuracy(trained, *data, T=T, seed=seed),
        "untrained": readout_accuracy(untrained, *data, T=T, seed=seed),
        "train_seconds": seconds,
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    result = run()
    print(
        f"test accuracy, logistic regression on spike counts: STDP-trained "
        f"{result['stdp']:.3f}, untrained (random weights) {result['untrained']:.3f} "
        f"(STDP training took {result['train_seconds']:.1f} s)"
    )
