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

import sys
from pathlib import Path

import torch
from spikingjelly.activation_based import functional, neuron
from spikingjelly.activation_based.model import sew_resnet, spiking_resnet, spiking_vgg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # zoo/tests
# the cases and the deterministic weights and inputs are the test's own
from test_models_classic import CASES, det_init, det_input, layout

MODULES = {"sew_resnet": sew_resnet, "spiking_resnet": spiking_resnet, "spiking_vgg": spiking_vgg}


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
