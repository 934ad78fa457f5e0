"""Generate the literals of ``zoo/tests/test_models_transformers.py`` from the reference.

Run with the reference framework installed (spikingjelly 2.0.0):
``python zoo/tests/_ref_gen/transformers.py``. For every case it builds the reference's
model, sets the weights by :func:`det_init` (the same formula as in the test), feeds
:func:`det_input` and prints the state-dict key hash, the parameter count, the eval-mode
output (batch 2: sum and the first entries) and the train-mode output sum and BN running-mean
sum after one step. Neurons are the reference's classes of the same names.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch
from spikingjelly.activation_based import functional, neuron

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # zoo/tests
# the cases and the deterministic weights and inputs are the test's own
from test_models_transformers import CASES, det_init, det_input, key_hash

# full-size builders at their defaults: parameter counts only
BUILDERS = [
    ("spikformer", "spikformer_ti"),
    ("spikformer", "spikformer_s"),
    ("spikformer", "spikformer_cifar10"),
    ("qkformer", "qkformer_10_384"),
    ("spike_driven_transformer", "sdt_8_384"),
]


def bn_mean_sum(model: torch.nn.Module) -> float:
    return float(sum(v.sum() for k, v in model.state_dict().items() if k.endswith("running_mean")))


def main() -> None:
    for name, mod, fn, kw, nrn, shape, (gain, shift) in CASES:
        m = importlib.import_module(f"spikingjelly.activation_based.model.{mod}")
        kw = dict(kw)
        if nrn:
            kw["spiking_neuron"] = getattr(neuron, nrn)
        model = getattr(m, fn)(**kw)
        det_init(model, gain, shift)
        x = det_input(shape)
        model.eval()
        functional.reset_net(model)
        with torch.no_grad():
            y = model(x)
        model.train()
        functional.reset_net(model)
        with torch.no_grad():
            y_train = model(x)
        functional.reset_net(model)
        first = [round(v, 6) for v in y.flatten()[:4].tolist()]
        print(
            f'"{name}": dict(keys="{key_hash(model)}", n_keys={len(model.state_dict())}, '
            f"params={sum(p.numel() for p in model.parameters())}, shape={tuple(y.shape)}, "
            f"eval_sum={float(y.sum()):.6f}, eval_first={first}, "
            f"train_sum={float(y_train.sum()):.6f}, bn_mean_sum={bn_mean_sum(model):.6f}),"
        )
    for mod, fn in BUILDERS:
        m = importlib.import_module(f"spikingjelly.activation_based.model.{mod}")
        model = getattr(m, fn)()
        print(f'"{fn}": ({sum(p.numel() for p in model.parameters())}, "{key_hash(model)}"),')


if __name__ == "__main__":
    main()
