"""Generate the reference literals of ``zoo/tests/test_models_research.py``.

Run with the reference installed (SpikingJelly 2.0.0, e.g. ``/work/venv-ref/bin/python
zoo/tests/_ref_gen/research.py``); it prints the ``EXPECTED`` dict pasted into the test.
Every model is built by the reference, its state dict filled by :func:`fill` (a formula,
no file), fed :func:`inp` and summarised by :func:`stats`; the test rebuilds the same cases
with ``snn_zoo.models`` and the same three functions. Not collected by pytest.
"""

from __future__ import annotations

import hashlib
import warnings
from argparse import Namespace

import numpy as np
import torch
from spikingjelly.activation_based import functional, neuron, surrogate
from spikingjelly.activation_based.model import parametric_lif_net as plif
from spikingjelly.activation_based.model import snas_net, spike_dhs
from spikingjelly.activation_based.model import spiking_vggws_ottt as ottt

warnings.filterwarnings("ignore")
torch.set_num_threads(1)


def fill(model: torch.nn.Module) -> None:
    """Deterministic weights: ``2 cos(0.7 i + k)`` for the k-th state tensor (``i`` the
    flat index), running variances ``0.5 + 0.5 sin(0.3 i + k)^2``."""
    with torch.no_grad():
        for k, (name, t) in enumerate(model.state_dict().items()):
            if not t.is_floating_point():
                continue
            i = torch.arange(t.numel(), dtype=torch.float64)
            if name.endswith("running_var"):
                v = 0.5 + 0.5 * torch.sin(0.3 * i + k) ** 2
            else:
                v = 2.0 * torch.cos(0.7 * i + k)
            t.copy_(v.reshape(t.shape).to(t.dtype))


def inp(shape: tuple[int, ...], scale: float = 2.0) -> torch.Tensor:
    n = int(np.prod(shape))
    return (scale * torch.sin(0.37 * torch.arange(n, dtype=torch.float64))).reshape(shape).float()


def key_hash(model: torch.nn.Module) -> list:
    sd = model.state_dict()
    text = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in sorted(sd.items()))
    params = sum(p.numel() for p in model.parameters())
    return [len(sd), params, hashlib.sha256(text.encode()).hexdigest()[:16]]


def stats(y: torch.Tensor) -> list:
    y = y.detach().double()
    flat = y.flatten()
    picks = [flat[j].item() for j in (0, flat.numel() // 3, flat.numel() - 1)]
    return [list(y.shape), y.sum().item(), y.abs().sum().item(), *picks]


def run(model, x, mode="eval", seed=0, pre=None):
    model.train(mode == "train")
    functional.reset_net(model)
    if pre is not None:
        pre(model)
    torch.manual_seed(seed)
    return model(*x) if isinstance(x, tuple) else model(x)


EXPECTED: dict = {}


def record(name, model, runs):
    fill(model)
    EXPECTED[name] = {"keys": key_hash(model)}
    for tag, x, mode, pre in runs:
        y = run(model, x, mode, pre=pre)
        EXPECTED[name][tag] = stats(y[0] if isinstance(y, tuple) else y)


def main() -> None:
    # ---- OTTT VGG
    for name in ottt.__all__[1:]:
        with torch.device("meta"):
            EXPECTED[name] = {"keys": key_hash(getattr(ottt, name)())}
    x = inp((2, 3, 8, 8), 4.0)
    m = ottt.OTTTSpikingVGG([8, "M", 512], num_classes=7, spiking_neuron=neuron.OTTTLIFNode)
    record("vgg_ws", m, [("eval", x, "eval", None), ("train", x, "train", None)])
    m = ottt.OTTTSpikingVGG(
        [8, "M", 512], False, 3, True, neuron.LIFNode, True, 0.25,
        tau=1.5, surrogate_function=surrogate.ATan(), detach_reset=True,
    )  # fmt: skip
    record("vgg_lif_drop", m, [("eval", x, "eval", None), ("train", x, "train", None)])
    m = ottt.OTTTSpikingVGG([16, "A", 512], False, 4, True, neuron.OTTTLIFNode, False)
    EXPECTED["vgg_heavy_head"] = {"keys": key_hash(m)}
    m = ottt.ottt_spiking_vggws(num_classes=5)
    x16 = inp((2, 3, 16, 16), 4.0)
    record("vggws", m, [("eval", x16, "eval", None), ("train", x16, "train", None)])

    # ---- PLIF nets
    for name in plif.__all__:
        with torch.device("meta"):
            EXPECTED[name] = {"keys": key_hash(getattr(plif, name)(spiking_neuron=neuron.LIFNode))}
    shapes = {
        "MNISTNet": (1, 28),
        "FashionMNISTNet": (1, 28),
        "NMNISTNet": (2, 34),
        "CIFAR10Net": (3, 32),
        "CIFAR10DVSNet": (2, 128),
        "DVSGestureNet": (2, 128),
    }
    for name, (c, hw) in shapes.items():
        m = getattr(plif, name)(
            4, neuron.LIFNode, surrogate_function=surrogate.ATan(), detach_reset=True
        )
        x = inp((2, c, hw, hw))
        record(f"{name}_s", m, [("eval", x, "eval", None), ("train", x, "train", None)])
    m = plif.CIFAR10DVSNet(
        3, neuron.ParametricLIFNode, init_tau=2.0, surrogate_function=surrogate.ATan(),
        detach_reset=True, step_mode="m",
    )  # fmt: skip
    functional.set_step_mode(m, "m")
    x = inp((2, 2, 2, 128, 128))
    record("CIFAR10DVSNet_plif_m", m, [("eval", x, "eval", None), ("train", x, "train", None)])

    # ---- SpikeDHS parts (multi-step, T=2, B=2)
    def multi(mod):
        functional.set_step_mode(mod, "m")
        return mod

    def dgs(mod):
        mod.dgs_init_stage()

    x = inp((2, 2, 3, 6, 6))
    record("SpikingConv2d", multi(spike_dhs.SpikingConv2d(3, 4)), [("train", x, "train", None)])
    m = multi(spike_dhs.SpikingConv2d(3, 4, 1, 2, 0, spiking=False))
    record("SpikingConv2d_analog", m, [("eval", x, "eval", None)])
    m = multi(spike_dhs.SearchSpikingConv2d_stem(3, 4))
    record("stem", m, [("eval", x, "eval", None), ("dgs", x, "train", dgs)])
    x2 = (x, inp((2, 2, 5, 6, 6), 1.5))
    m = multi(spike_dhs.SearchSpikingConv2d_cell([[3, 4, "snn_b3"], [5, 4, "skip_connect"]]))
    record("cell", m, [("eval", x2, "eval", None), ("dgs", x2, "train", dgs)])
    EXPECTED["cell"]["v_before_spike"] = m.spike_m.v_before_spike.item()
    xl = inp((2, 2, 6))
    m = multi(spike_dhs.SpikingLinear(6, 4))
    record("SpikingLinear", m, [("train", xl, "train", None)])
    xp = inp((2, 2, 3, 11, 11))
    m = multi(spike_dhs.SpikingAvgPool2d(3, 2, 1))
    record("SpikingAvgPool2d", m, [("eval", xp, "eval", None)])
    m = multi(spike_dhs.SpikingAdaptiveAvgPool2d(2))
    record(
        "SpikingAdaptiveAvgPool2d", m, [("eval", inp((2, 2, 3, 11, 11), 1.0) + 0.45, "eval", None)]
    )
    with torch.device("meta"):
        args = Namespace(
            fea_step=3, fea_num_layers=8, fea_block_multiplier=3, fea_filter_multiplier=48
        )
        EXPECTED["SpikeDHS"] = {"keys": key_hash(spike_dhs.SpikeDHS(3, args))}
    args = Namespace(fea_step=3, fea_num_layers=4, fea_block_multiplier=3, fea_filter_multiplier=4)
    arch = spike_dhs.network_layer_to_space(np.array([0, 1, 1, 0]))
    cells = np.array([[1, 1], [0, 1], [3, 2], [2, 1], [7, 1], [8, 1]])
    m = multi(spike_dhs.newFeature(3, arch, cells, args=args))
    record("newFeature", m, [("eval", inp((2, 1, 3, 8, 8)), "eval", None)])
    xs = torch.linspace(-1, 1, 41, requires_grad=True)
    (spike_dhs.DSpike(0.7)(xs) * torch.cos(torch.arange(41.0))).sum().backward()
    EXPECTED["dspike_grad_0.7"] = [round(v, 7) for v in xs.grad.tolist()]
    node = spike_dhs.save_v_LIFNode(
        tau=2.5, decay_input=False, store_v_seq=True, step_mode="m",
        surrogate_function=surrogate.Sigmoid(),
    )  # fmt: skip
    out = node(inp((3, 2, 4), 1.5))
    EXPECTED["save_v"] = {"out": stats(out), "v_seq": node.v_seq.tolist()}

    # ---- SNASNet (cifar100 layout, second_avgpooling 4, T = 2)
    mats = {
        "forward": np.array([[0, 2, 3, 1], [0, 0, 4, 3], [0, 0, 0, 1], [0, 0, 0, 0]]),
        "backward": np.array([[0, 1, 2, 0], [3, 0, 4, 1], [2, 1, 0, 3], [0, 4, 1, 0]]),
    }
    x = inp((1, 3, 32, 32))
    for celltype, mat in mats.items():
        args = Namespace(
            dataset="cifar100", celltype=celltype, timestep=2, second_avgpooling=4,
            threshold=1.0, tau=4 / 3,
        )  # fmt: skip
        record(f"snas_{celltype}", snas_net.SNASNet(args, mat), [("eval", x, "eval", None)])
    args = Namespace(
        dataset="cifar10", celltype="forward", timestep=1, second_avgpooling=2,
        threshold=1.0, tau=4 / 3,
    )  # fmt: skip
    with torch.device("meta"):
        EXPECTED["snas_cifar10_keys"] = key_hash(snas_net.SNASNet(args, mats["forward"]))
    args.dataset = "tinyimagenet"
    with torch.device("meta"):
        EXPECTED["snas_tiny_keys"] = key_hash(snas_net.SNASNet(args, mats["backward"]))

    print("EXPECTED = {")
    for k, v in EXPECTED.items():
        print(f"    {k!r}: {v!r},")
    print("}")


if __name__ == "__main__":
    main()
