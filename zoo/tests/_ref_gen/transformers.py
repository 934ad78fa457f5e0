"""Generate the literals of ``zoo/tests/test_models_transformers.py`` from the reference.

Run with the reference framework installed (spikingjelly 2.0.0):
``python zoo/tests/_ref_gen/transformers.py``. For every case it builds the reference's
model, sets the weights by :func:`det_init` (the same formula as in the test), feeds
:func:`det_input` and prints the state-dict key hash, the parameter count, the eval-mode
output (batch 2: sum and the first entries) and the train-mode output sum and BN running-mean
sum after one step. Neurons are the reference's classes of the same names.
"""

from __future__ import annotations

import hashlib
import importlib
import math

import torch
from spikingjelly.activation_based import functional, neuron

# (name, submodule, builder, kwargs, neuron class name, input shape, (weight gain, weight shift));
# the gains keep every layer firing at a moderate rate. Keep in sync with the test.
CASES = [
    ("sf_p4", "spikformer", "Spikformer",
     dict(T=2, img_size_h=16, img_size_w=16, patch_size=4, num_classes=5, embed_dims=32,
          num_heads=4, depths=2), None, (2, 3, 16, 16), (4.5, 0.0)),
    ("sf_p16_seq", "spikformer", "Spikformer",
     dict(T=2, img_size_h=32, img_size_w=32, patch_size=16, num_classes=5, embed_dims=32,
          num_heads=2, depths=1, tau=3.0, detach_reset=False, v_threshold=0.7), None,
     (2, 2, 3, 32, 32), (4.0, 0.05)),
    ("sf_if", "spikformer", "Spikformer",
     dict(T=2, img_size_h=16, img_size_w=16, patch_size=4, num_classes=5, embed_dims=32,
          num_heads=4, depths=1, v_threshold=0.6), "IFNode", (2, 3, 16, 16), (2.5, 0.0)),
    ("sf_plif", "spikformer", "Spikformer",
     dict(T=3, img_size_h=16, img_size_w=16, patch_size=4, num_classes=4, embed_dims=16,
          num_heads=2, depths=1, init_tau=3.0), "ParametricLIFNode", (2, 3, 16, 16), (3.5, 0.1)),
    ("qk_tok", "qkformer", "QKFormer",
     dict(T=2, in_channels=3, num_classes=5, embed_dims=32, num_heads=(2, 2, 4),
          depths=(1, 1, 1)), None, (2, 3, 32, 32), (6.0, 0.1)),
    ("qk_ch", "qkformer", "QKFormer",
     dict(T=2, in_channels=2, num_classes=5, embed_dims=32, num_heads=(1, 2, 2),
          depths=(1, 2, 1), qka_type="channel", tau=2.5, detach_reset=True), None,
     (2, 2, 2, 32, 32), (6.0, 0.1)),
    ("qk_if", "qkformer", "QKFormer",
     dict(T=2, num_classes=3, embed_dims=16, num_heads=(1, 1, 2), depths=(1, 1, 1),
          v_threshold=0.5), "IFNode", (2, 3, 16, 16), (2.5, 0.0)),
    ("sdt", "spike_driven_transformer", "SpikeDrivenTransformer",
     dict(T=2, num_classes=5, embed_dims=32, num_heads=4, depths=2), None, (2, 3, 32, 32),
     (3.5, 0.1)),
    ("sdt_pool", "spike_driven_transformer", "SpikeDrivenTransformer",
     dict(T=2, in_channels=2, num_classes=5, embed_dims=32, num_heads=2, depths=1,
          mlp_ratio=1.0, pooling_stat="0101", tau=1.5), None, (2, 2, 2, 16, 16), (4.5, 0.0)),
    ("sdt_plif", "spike_driven_transformer", "SpikeDrivenTransformer",
     dict(T=2, num_classes=3, embed_dims=16, num_heads=2, depths=1, pooling_stat="1100"),
     "ParametricLIFNode", (2, 3, 16, 16), (3.5, 0.1)),
]  # fmt: skip

# full-size builders at their defaults: parameter counts only
BUILDERS = [
    ("spikformer", "spikformer_ti"),
    ("spikformer", "spikformer_s"),
    ("spikformer", "spikformer_cifar10"),
    ("qkformer", "qkformer_10_384"),
    ("spike_driven_transformer", "sdt_8_384"),
]


def det_init(model: torch.nn.Module, gain: float, shift: float) -> None:
    """Weights by formula: a sine pattern per parameter (index ``i`` in the sorted order of
    the parameters' state-dict keys); weights of rank > 1 ``(sin + shift) * gain /
    sqrt(fan_in)``; 1-d weights ``1 + 0.3 sin``, biases ``0.1 + 0.2 sin``; neuron parameters
    (PLIF's ``w``) keep their init."""
    with torch.no_grad():
        state = model.state_dict(keep_vars=True)  # the reference's names
        params = sorted((k, v) for k, v in state.items() if isinstance(v, torch.nn.Parameter))
        for i, (name, p) in enumerate(params):
            v = torch.sin(torch.arange(p.numel(), dtype=torch.float64) * 0.37 + i)
            v = v.to(p.dtype).reshape(p.shape)
            if p.dim() > 1:
                p.copy_((v + shift) * gain / math.sqrt(p[0].numel()))
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.3 * v)
            elif name.endswith("bias"):
                p.copy_(0.2 * v + 0.1)


def det_input(shape: tuple[int, ...]) -> torch.Tensor:
    n = math.prod(shape)
    x = torch.cos(torch.arange(n, dtype=torch.float64) * 0.11) * 1.5 + 0.3
    return x.float().reshape(shape)


def key_hash(model: torch.nn.Module) -> str:
    text = ";".join(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
