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

import hashlib
import importlib
import math

import torch
from spikingjelly.activation_based import functional, neuron

# (name, submodule, class, kwargs, neuron, input shape): copied to the test
CASES = [
    ("ms_3stage", "ms_resnet", "MSResNet",
     dict(T=2, num_classes=5, layers=(1, 1, 1), base_channels=4, stem_kernel_size=3, stem_stride=1),
     None, (2, 3, 16, 16)),
    ("ms_4stage_pool_seq", "ms_resnet", "MSResNet",
     dict(T=2, num_classes=5, layers=(2, 1, 1, 1), base_channels=4, stem_pool=True, tau=1.5),
     None, (2, 2, 3, 32, 32)),
    ("ms_if", "ms_resnet", "MSResNet",
     dict(T=2, num_classes=4, layers=(1, 1, 1), base_channels=4, stem_kernel_size=3, stem_stride=1,
          v_threshold=0.5), "IFNode", (2, 3, 8, 8)),
    ("max", "ms_resnet", "MaxResNet",
     dict(T=2, num_classes=5, layers=(2, 1, 1), base_channels=4, stage_channels=(8, 8, 16),
          stem_kernel_size=3, stem_stride=1), None, (2, 3, 16, 16)),
    ("max_plif", "ms_resnet", "MaxResNet",
     dict(T=2, num_classes=3, layers=(1, 1, 1), base_channels=4, stem_kernel_size=3, stem_stride=1,
          init_tau=3.0), "ParametricLIFNode", (2, 3, 8, 8)),
    ("masnn", "masnn", "MASNN",
     dict(T=4, in_channels=2, num_classes=5, input_size=(8, 8), channels=(4, 8), pools=(1, 2),
          fc_hidden=12, reduction_t=2, reduction_c=2), None, (2, 2, 8, 8)),
    ("masnn_seq_lif", "masnn", "MASNN",
     dict(T=4, in_channels=2, num_classes=4, input_size=(8, 8), channels=(4,), pools=(2,),
          fc_hidden=8, reduction_t=2, reduction_c=2, tau=3.0, v_threshold=0.2), "LIFNode",
     (4, 2, 2, 8, 8)),
    ("att_ms", "masnn", "AttMSResNet",
     dict(T=2, num_classes=5, layers=(1, 1, 1), base_channels=8, stem_kernel_size=3, stem_stride=1,
          reduction_c=2, dropout=0.0), None, (2, 3, 15, 15)),
    ("att_ms_plif", "masnn", "AttMSResNet",
     dict(T=2, num_classes=3, layers=(1, 1, 1), base_channels=8, stem_kernel_size=3, stem_stride=1,
          reduction_c=4, dropout=0.0), "ParametricLIFNode", (2, 3, 8, 8)),
    ("maxformer", "maxformer", "MaxFormer",
     dict(T=2, num_classes=5, embed_dims=64, depths=(1, 1, 1), mlp_ratio=2.0), None,
     (2, 3, 32, 32)),
    ("maxformer_if_seq", "maxformer", "MaxFormer",
     dict(T=2, num_classes=4, embed_dims=128, depths=(0, 1, 1), mlp_ratio=1.0, v_threshold=0.8),
     "IFNode", (2, 2, 3, 16, 16)),
    ("maxformer_cifar", "maxformer", "MaxFormer",
     dict(T=2, num_classes=5, embed_dims=64, depths=(1, 1, 2), mlp_ratio=1.0, cifar=True), None,
     (2, 3, 16, 16)),
    ("maxformer_cifar_plif", "maxformer", "MaxFormer",
     dict(T=2, num_classes=3, embed_dims=32, depths=(1, 1, 1), mlp_ratio=1.0, cifar=True,
          init_tau=3.0), "ParametricLIFNode", (2, 3, 8, 8)),
]  # fmt: skip

BUILDERS = [
    ("ms_resnet", "ms_resnet18"),
    ("ms_resnet", "ms_resnet34"),
    ("ms_resnet", "max_resnet18"),
    ("masnn", "masnn_dvs128_gesture"),
    ("masnn", "att_ms_resnet18"),
    ("maxformer", "maxformer_10_384"),
    ("maxformer", "maxformer_cifar"),
]


def key_hash(model: torch.nn.Module) -> str:
    lines = [f"{k} {tuple(v.shape)}" for k, v in sorted(model.state_dict().items())]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def det_init(model: torch.nn.Module) -> None:
    """Entry ``k`` (sorted keys) of ``n`` values: ``0.5 sin(1.3 i + k)``; running variances
    ``|.| + 0.5``; integer entries kept."""
    state = model.state_dict()
    new = {}
    for k, (name, v) in enumerate(sorted(state.items())):
        if not v.is_floating_point():
            new[name] = v
            continue
        w = torch.sin(torch.arange(v.numel(), dtype=torch.float64) * 1.3 + k) * 0.5
        if name.endswith("running_var"):
            w = w.abs() + 0.5
        new[name] = w.reshape(v.shape).to(v.dtype)
    model.load_state_dict(new)


def det_input(shape: tuple[int, ...]) -> torch.Tensor:
    n = math.prod(shape)
    return (
        (torch.sin(torch.arange(n, dtype=torch.float64) * 0.37) * 1.5 + 0.5).reshape(shape).float()
    )


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
