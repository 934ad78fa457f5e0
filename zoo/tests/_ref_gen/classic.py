"""Generate the literals of ``zoo/tests/test_models_classic.py`` from the reference framework.

Run with spikingjelly 2.0.0 installed (CPU, float32):
``python zoo/tests/_ref_gen/classic.py``; it prints ``COUNTS``, ``LAYOUTS``, ``SEED_INIT``
and ``EXPECTED``.

- ``COUNTS`` / ``LAYOUTS``: for every builder (on the meta device, ``spiking_neuron=IFNode``,
  ``cnf='ADD'`` for SEW), the parameter count and ``(number of keys, sha256 of the
  state-dict's ``key shape`` lines in state-dict order)``.
- ``SEED_INIT``: a few parameter entries of ``sew_resnet18`` / ``spiking_resnet50`` built right
  after ``torch.manual_seed(0)`` (same construction order => same random init).
- ``EXPECTED``: per case of ``CASES``, the model is built, every floating state-dict entry set
  by :func:`det_init` (keys in sorted order), the step mode and train / eval set, and the
  input :func:`det_input` run (``'m'``: at once; ``'s'``: step by step, outputs stacked) after
  ``torch.manual_seed(0)`` (dropout masks); recorded: output shape, sum, sum of absolute
  values, its first 6 entries, and (train cases) the sum of ``|grad|`` of ``conv1`` /
  the first feature conv after ``output.sum().backward()``.
"""

from __future__ import annotations

import hashlib
import math

import torch
from spikingjelly.activation_based import functional, neuron
from spikingjelly.activation_based.model import sew_resnet, spiking_resnet, spiking_vgg

MODULES = {"sew_resnet": sew_resnet, "spiking_resnet": spiking_resnet, "spiking_vgg": spiking_vgg}

# (name, submodule, class or builder, block, kwargs, neuron, neuron kwargs, step mode,
#  train, input shape [T, B, C, H, W]): copied to the test
CASES = [
    ("plain_basic_m_eval", "spiking_resnet", "SpikingResNet", "BasicBlock",
     dict(layers=[1, 1, 1, 1], num_classes=10), "LIFNode", dict(tau=2.0, detach_reset=True),
     "m", False, (2, 2, 3, 48, 48)),
    ("plain_basic_s_train", "spiking_resnet", "SpikingResNet", "BasicBlock",
     dict(layers=[1, 1, 1, 1], num_classes=10), "LIFNode", dict(tau=2.0, detach_reset=True),
     "s", True, (2, 1, 3, 48, 48)),
    ("plain_bottleneck_dilated", "spiking_resnet", "SpikingResNet", "Bottleneck",
     dict(layers=[1, 1, 1, 1], num_classes=10, replace_stride_with_dilation=[False, False, True]),
     "ParametricLIFNode", dict(detach_reset=True), "m", False, (2, 2, 3, 32, 32)),
    ("sew_basic_add", "sew_resnet", "SEWResNet", "BasicBlock",
     dict(layers=[1, 1, 1, 1], num_classes=10, cnf="ADD"), "IFNode", {}, "m", False,
     (2, 2, 3, 32, 32)),
    ("sew_basic_and", "sew_resnet", "SEWResNet", "BasicBlock",
     dict(layers=[1, 1, 1, 1], num_classes=10, cnf="AND"), "IFNode", {}, "m", False,
     (2, 2, 3, 32, 32)),
    ("sew_basic_iand", "sew_resnet", "SEWResNet", "BasicBlock",
     dict(layers=[1, 2, 1, 1], num_classes=10, cnf="IAND"), "LIFNode", dict(tau=2.0),
     "s", False, (2, 2, 3, 32, 32)),
    ("sew_bottleneck_iand_m_train", "sew_resnet", "SEWResNet", "Bottleneck",
     dict(layers=[1, 1, 1, 1], num_classes=10, cnf="IAND", groups=2, width_per_group=32),
     "LIFNode", dict(tau=2.0, detach_reset=True), "m", True, (2, 2, 3, 32, 32)),
    ("sew_bottleneck_and_s_eval", "sew_resnet", "SEWResNet", "Bottleneck",
     dict(layers=[1, 1, 1, 1], num_classes=10, cnf="AND"), "IFNode", {}, "s", False,
     (2, 1, 3, 32, 32)),
    ("builder_spiking_resnet18", "spiking_resnet", "spiking_resnet18", None,
     dict(num_classes=10), "IFNode", {}, "m", False, (2, 2, 3, 32, 32)),
    ("builder_sew_resnet18_iand", "sew_resnet", "sew_resnet18", None,
     dict(num_classes=10, cnf="IAND"), "LIFNode", dict(tau=2.0, detach_reset=True), "m", True,
     (2, 2, 3, 32, 32)),
    ("vgg_bn_m_train", "spiking_vgg", "SpikingVGG", None,
     dict(cfg=[8, "M", 512, "M"], batch_norm=True, num_classes=10), "LIFNode",
     dict(tau=2.0, detach_reset=True), "m", True, (2, 2, 3, 16, 16)),
    ("vgg_s_eval", "spiking_vgg", "SpikingVGG", None,
     dict(cfg=[8, "M", 512, "M"], num_classes=10), "IFNode", dict(v_threshold=0.5), "s", False,
     (2, 1, 3, 16, 16)),
]  # fmt: skip


def det_pattern(n: int, k: int) -> torch.Tensor:
    """``n`` float64 values in ``[-0.5, 0.5)``: ``frac(i * golden + k / pi) - 0.5``."""
    v = torch.arange(n, dtype=torch.float64)  # in place: the VGG classifier has 10^8 entries
    return v.mul_(0.6180339887498949).add_(k * 0.3183098861837907).remainder_(1.0).sub_(0.5)


@torch.no_grad()
def det_init(model: torch.nn.Module) -> None:
    """Set every floating state-dict entry (sorted keys, index ``k``) from ``det_pattern``:
    BN running var in [0.5, 1), running mean 0.1 v, 1-d weights 1 + 0.4 v, biases 1 + v,
    matrices / kernels uniform with std 1.5 / sqrt(fan_in), other 1-d entries 0.5 v."""
    for k, (name, t) in enumerate(sorted(model.state_dict().items())):
        if not t.is_floating_point():
            continue
        v = det_pattern(t.numel(), k).reshape(t.shape)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var":
            v = 0.5 + 0.5 * (v + 0.5)
        elif leaf == "running_mean":
            v = 0.1 * v
        elif leaf == "weight" and t.dim() == 1:
            v = 1.0 + 0.4 * v
        elif leaf == "bias":
            v = 1.0 + v
        elif t.dim() >= 2:  # v * 2 * sqrt(3) * 1.5 / sqrt(fan_in), in place
            v.mul_(2).mul_(math.sqrt(3.0)).mul_(1.5).div_(math.sqrt(t[0].numel()))
        else:
            v = 0.5 * v
        t.copy_(v)


def det_input(shape: tuple[int, ...]) -> torch.Tensor:
    return (2.0 * det_pattern(math.prod(shape), 7)).reshape(shape).float()


def layout(model: torch.nn.Module) -> tuple[int, str]:
    sd = model.state_dict()
    text = "\n".join(f"{k} {tuple(v.shape)}" for k, v in sd.items())
    return len(sd), hashlib.sha256(text.encode()).hexdigest()[:16]


def build(case):
    _, mod, obj, block, kwargs, nrn, nkw, *_ = case
    module = MODULES[mod]
    kwargs = dict(kwargs)
    if block is not None:
        return getattr(module, obj)(
            getattr(module, block), kwargs.pop("layers"), spiking_neuron=getattr(neuron, nrn),
            **kwargs, **nkw,
        )  # fmt: skip
    return getattr(module, obj)(spiking_neuron=getattr(neuron, nrn), **kwargs, **nkw)


def run(case) -> dict:
    name, *_, step_mode, train, shape = case
    model = build(case)
    det_init(model)
    functional.set_step_mode(model, step_mode)
    model.train(train)
    functional.reset_net(model)
    x = det_input(shape)
    torch.manual_seed(0)
    y = model(x) if step_mode == "m" else torch.stack([model(x[t]) for t in range(shape[0])])
    out = dict(
        shape=tuple(y.shape),
        sum=round(float(y.sum()), 6),
        abs=round(float(y.abs().sum()), 6),
        first=[round(float(v), 6) for v in y.flatten()[:6]],
    )
    if train:
        y.sum().backward()
        first_conv = model.conv1 if hasattr(model, "conv1") else model.features[0]
        out["grad"] = round(float(first_conv.weight.grad.abs().sum()), 6)
    return out


def main() -> None:
    torch.set_num_threads(1)
    counts, layouts = {}, {}
    with torch.device("meta"):
        for mod_name, module in MODULES.items():
            for name in module.__all__:
                if name[0].isupper():
                    continue
                extra = {"cnf": "ADD"} if mod_name == "sew_resnet" else {}
                model = getattr(module, name)(spiking_neuron=neuron.IFNode, **extra)
                counts[name] = sum(p.numel() for p in model.parameters())
                layouts[name] = layout(model)
    print("COUNTS =", counts)
    print("LAYOUTS =", layouts)
    seed = {}
    for builder, extra, keys in [
        (sew_resnet.sew_resnet18, {"cnf": "ADD"}, ("conv1.weight", "layer4.1.conv2.weight")),
        (spiking_resnet.spiking_resnet50, {}, ("layer1.0.downsample.0.weight", "fc.weight")),
    ]:
        torch.manual_seed(0)
        model = builder(spiking_neuron=neuron.IFNode, **extra)
        sd = model.state_dict()
        seed[builder.__name__] = {
            k: [round(float(v), 7) for v in sd[k].flatten()[:3]] for k in keys
        }
        seed[builder.__name__]["fc.bias"] = [round(float(v), 7) for v in sd["fc.bias"][:3]]
    print("SEED_INIT =", seed)
    print("EXPECTED = {")
    for case in CASES:
        print(f"    {case[0]!r}: {run(case)!r},")
    print("}")


if __name__ == "__main__":
    main()
