"""Generate the literals of ``zoo/tests/test_models_cnn.py`` from the reference framework.

Run with spikingjelly 2.0.0 installed (CPU, float32):
``python zoo/tests/_ref_gen/cnn.py``; it prints ``EXPECTED`` and ``BUILDERS``. Each case builds
the reference model, sets every floating state-dict entry by :func:`det_init` (keys in sorted
order), and records: a hash of the sorted ``key shape`` lines, the parameter count, the
eval-mode output on :func:`det_input` (sum, first entries), the eval output of the first
sample alone (batch 1), the train-mode output sum after one forward, the sum of the BN
running means that forward left, and the summed absolute gradient of ``output.sum()``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch
from spikingjelly.activation_based import functional, neuron

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # zoo/tests
# the cases and the deterministic weights and inputs are the test's own
from test_models_cnn import CASES, det_init, det_input, key_hash

BUILDERS = [
    ("ms_resnet", "ms_resnet18"),
    ("ms_resnet", "ms_resnet34"),
    ("ms_resnet", "max_resnet18"),
    ("masnn", "masnn_dvs128_gesture"),
    ("masnn", "att_ms_resnet18"),
    ("maxformer", "maxformer_10_384"),
    ("maxformer", "maxformer_cifar"),
]


def run_case(submodule: str, cls: str, kwargs: dict, neuron_name: str | None, shape: tuple) -> dict:
    mod = importlib.import_module(f"spikingjelly.activation_based.model.{submodule}")
    sn = getattr(neuron, neuron_name) if neuron_name else None
    model = getattr(mod, cls)(**kwargs, spiking_neuron=sn)
    det_init(model)
    x = det_input(shape)
    model.eval()
    with torch.no_grad():
        y = model(x)
        functional.reset_net(model)
        y1 = model(x[:, :1] if len(shape) == 5 else x[:1])
    functional.reset_net(model)
    model.train()
    y_train = model(x)
    y_train.sum().backward()
    bn_mean = sum(
        float(v.sum()) for k, v in model.state_dict().items() if k.endswith("running_mean")
    )
    grad = sum(float(p.grad.abs().sum()) for p in model.parameters() if p.grad is not None)
    return dict(
        keys=key_hash(model),
        n_keys=len(model.state_dict()),
        params=sum(p.numel() for p in model.parameters()),
        shape=tuple(y.shape),
        eval_sum=round(float(y.sum()), 6),
        eval_first=[round(float(v), 6) for v in y.flatten()[:4]],
        b1_sum=round(float(y1.sum()), 6),
        train_sum=round(float(y_train.detach().sum()), 6),
        bn_mean_sum=round(bn_mean, 6),
        grad_abs_sum=round(grad, 4),
    )


def main() -> None:
    print("EXPECTED = {")
    for name, submodule, cls, kwargs, neuron_name, shape in CASES:
        print(
            f'"{name}": dict('
            + ", ".join(
                f"{k}={v!r}"
                for k, v in run_case(submodule, cls, kwargs, neuron_name, shape).items()
            )
            + "),"
        )
    print("}  # fmt: skip\n\nBUILDERS = {")
    for submodule, builder in BUILDERS:
        model = getattr(
            importlib.import_module(f"spikingjelly.activation_based.model.{submodule}"), builder
        )()
        params = sum(p.numel() for p in model.parameters())
        print(f'    "{builder}": ({submodule}, {params}, "{key_hash(model)}"),')
    print("}")


if __name__ == "__main__":
    main()
