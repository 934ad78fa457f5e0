"""The reference's small research nets in ``snn_zoo.models``: OTTT VGG
(``spiking_vggws_ottt``), the PLIF paper's nets (``parametric_lif_net``), SpikeDHS blocks
(``spike_dhs``) and SNASNet (``snas_net``).

Expected values were produced by running SpikingJelly 2.0.0 on the same cases with
``zoo/tests/_ref_gen/research.py`` (weights from :func:`fill`, inputs from :func:`inp`):
state-dict layout (number of entries, parameter count, hash of the sorted ``key:shape``
list) and output statistics (shape, sum, sum of magnitudes, three entries).
"""

from __future__ import annotations

import hashlib
import math
from argparse import Namespace
from typing import Any

import numpy as np
import pytest
import snn_neurons as neuron
import torch
from snn_core import functional, surrogate
from snn_zoo.models import parametric_lif_net as plif
from snn_zoo.models import snas_net, spike_dhs
from snn_zoo.models import spiking_vggws_ottt as ottt

EXPECTED: dict[str, Any] = {
    "ottt_spiking_vgg11": {"keys": [22, 132863336, "dead01c52b61c82a"]},
    "ottt_spiking_vgg11_ws": {"keys": [32, 132874280, "d0ff7d4e62003c67"]},
    "ottt_spiking_vgg13": {"keys": [26, 133047848, "ad81dfce1eecfa86"]},
    "ottt_spiking_vgg13_ws": {"keys": [38, 133058984, "acfeec8ea6ec7f9f"]},
    "ottt_spiking_vgg16": {"keys": [32, 138357544, "d0357355c55feb5f"]},
    "ottt_spiking_vgg16_ws": {"keys": [47, 138369960, "6c1a08754ba4036d"]},
    "ottt_spiking_vgg19": {"keys": [38, 143667240, "d93dd9928ee99680"]},
    "ottt_spiking_vgg19_ws": {"keys": [56, 143680936, "eeca9bf1b791ecaf"]},
    "ottt_spiking_vggws": {"keys": [26, 9736232, "0ee1bb2a160701ba"]},
    "vgg_ws": {
        "keys": [8, 41711, "ebd35e7506bf8b86"],
        "eval": [
            [2, 7],
            -5676.019546508789,
            5676.019546508789,
            -252.40618896484375,
            -478.95916748046875,
            -412.32867431640625,
        ],
        "train": [
            [2, 7],
            -5676.019546508789,
            5676.019546508789,
            -252.40618896484375,
            -478.95916748046875,
            -412.32867431640625,
        ],
    },
    "vgg_lif_drop": {
        "keys": [6, 39139, "5b1c57660b75e68f"],
        "eval": [
            [2, 3],
            199.5769557952881,
            199.5769557952881,
            58.13741683959961,
            7.405287742614746,
            7.405287742614746,
        ],
        "train": [
            [2, 3],
            91.38455879688263,
            91.38455879688263,
            21.32765769958496,
            1.5617018938064575,
            6.445623397827148,
        ],
    },
    "vgg_heavy_head": {"keys": [10, 119636932, "72455e542577fc81"]},
    "vggws": {
        "keys": [26, 9225797, "1d2620c9460c3e82"],
        "eval": [
            [2, 5],
            -2954.354751586914,
            2954.354751586914,
            -224.56529235839844,
            -341.5263366699219,
            -319.5728454589844,
        ],
        "train": [
            [2, 5],
            -2954.354751586914,
            2954.354751586914,
            -224.56529235839844,
            -341.5263366699219,
            -319.5728454589844,
        ],
    },
    "MNISTNet": {"keys": [16, 13201124, "325f443d23ee2f88"]},
    "FashionMNISTNet": {"keys": [16, 13201124, "325f443d23ee2f88"]},
    "NMNISTNet": {"keys": [16, 17134436, "d79b048145bff9d6"]},
    "CIFAR10Net": {"keys": [40, 36720484, "2bf069b44e3ea5b1"]},
    "CIFAR10DVSNet": {"keys": [28, 4691812, "db3d51d3217d48ad"]},
    "DVSGestureNet": {"keys": [34, 1698926, "c8c5b669c576834d"]},
    "MNISTNet_s": {
        "keys": [16, 608552, "bc88e3c6a24ed771"],
        "eval": [[2, 10], 9.900000184774399, 9.900000184774399, 0.4000000059604645, 0.5, 0.5],
        "train": [[2, 10], 3.1000000834465027, 3.1000000834465027, 0.0, 0.0, 0.4000000059604645],
    },
    "FashionMNISTNet_s": {
        "keys": [16, 608552, "bc88e3c6a24ed771"],
        "eval": [[2, 10], 9.900000184774399, 9.900000184774399, 0.4000000059604645, 0.5, 0.5],
        "train": [[2, 10], 3.1000000834465027, 3.1000000834465027, 0.0, 0.0, 0.4000000059604645],
    },
    "NMNISTNet_s": {
        "keys": [16, 731468, "1cffea1f849f267c"],
        "eval": [[2, 10], 9.900000184774399, 9.900000184774399, 0.4000000059604645, 0.5, 0.5],
        "train": [
            [2, 10],
            9.800000190734863,
            9.800000190734863,
            0.4000000059604645,
            0.4000000059604645,
            0.5,
        ],
    },
    "CIFAR10Net_s": {
        "keys": [40, 732112, "548c3b24cb75c8bb"],
        "eval": [[2, 10], 9.800000190734863, 9.800000190734863, 0.4000000059604645, 0.5, 0.5],
        "train": [[2, 10], 9.700000196695328, 9.700000196695328, 0.4000000059604645, 0.5, 0.5],
    },
    "CIFAR10DVSNet_s": {
        "keys": [28, 183420, "3e11c591a912b9bf"],
        "eval": [
            [2, 10],
            9.700000017881393,
            9.700000017881393,
            0.20000000298023224,
            0.6000000238418579,
            1.0,
        ],
        "train": [[2, 10], 0.0, 0.0, 0.0, 0.0, 0.0],
    },
    "DVSGestureNet_s": {
        "keys": [34, 90398, "d5eda25ec2c9ed79"],
        "eval": [[2, 11], 10.000000074505806, 10.000000074505806, 0.20000000298023224, 0.5, 0.0],
        "train": [[2, 11], 0.0, 0.0, 0.0, 0.0, 0.0],
    },
    "CIFAR10DVSNet_plif_m": {
        "keys": [34, 150443, "69a690e2f15f32d4"],
        "eval": [[2, 2, 10], 18.700000137090683, 18.700000137090683, 0.0, 0.5, 0.6000000238418579],
        "train": [[2, 2, 10], 19.30000016093254, 19.30000016093254, 0.0, 0.5, 0.6000000238418579],
    },
    "SpikingConv2d": {
        "keys": [7, 120, "c23f5cac1d161d76"],
        "train": [[2, 2, 4, 6, 6], 135.0, 135.0, 0.0, 0.0, 1.0],
    },
    "SpikingConv2d_analog": {
        "keys": [7, 24, "11e5e64083679cb8"],
        "eval": [
            [2, 2, 4, 3, 3],
            262.10085509717464,
            1068.172318354249,
            -6.363586902618408,
            14.101228713989258,
            16.75769805908203,
        ],
    },
    "stem": {
        "keys": [22, 363, "01562853eaf3692d"],
        "eval": [[2, 2, 4, 6, 6], 273.0, 273.0, 0.0, 0.0, 1.0],
        "dgs": [[2, 2, 4, 6, 6], 74.0, 74.0, 0.0, 0.0, 0.0],
    },
    "cell": {
        "keys": [43, 939, "573b747d3e02da3a"],
        "eval": [[2, 2, 4, 6, 6], 288.0, 288.0, 0.0, 1.0, 1.0],
        "dgs": [[2, 2, 4, 6, 6], 131.0, 131.0, 0.0, 0.0, 1.0],
        "v_before_spike": -1.8280653953552246,
    },
    "SpikingLinear": {
        "keys": [7, 36, "1b82d5560fc80336"],
        "train": [[2, 2, 4], 5.0, 5.0, 0.0, 0.0, 1.0],
    },
    "SpikingAvgPool2d": {
        "keys": [0, 0, "e3b0c44298fc1c14"],
        "eval": [[2, 2, 3, 6, 6], 48.0, 48.0, 0.0, 1.0, 0.0],
    },
    "SpikingAdaptiveAvgPool2d": {
        "keys": [0, 0, "e3b0c44298fc1c14"],
        "eval": [[2, 2, 3, 2, 2], 17.0, 17.0, 1.0, 0.0, 1.0],
    },
    "SpikeDHS": {"keys": [1082, 43468611, "f04bf9bbeb5f6402"]},
    "newFeature": {
        "keys": [559, 599259, "f2b1f9eaa239497a"],
        "eval": [[2, 1, 12, 8, 8], 698.0, 698.0, 1.0, 0.0, 1.0],
    },
    "dspike_grad_0.7": [
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        -0.7742719,
        0.0041766,
        0.8126398,
        0.8897192,
        0.1361812,
        -0.766736,
        -0.9771702,
        -0.283175,
        0.6837065,
        1.0274916,
        0.4246109,
        -0.5692167,
        -1.0353814,
        -0.5483469,
        0.432821,
        1.0003989,
        0.6442886,
        -0.2864317,
        -0.9269991,
        -0.70596,
        0.142339,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ],
    "save_v": {
        "out": [[3, 2, 4], 5.0, 5.0, 0.0, 0.0, 0.0],
        "v_seq": [-0.023243531584739685, -1.811137080192566, -0.6718424558639526],
    },
    "snas_forward": {
        "keys": [61, 6565492, "1e6d7cc840b8b55e"],
        "eval": [
            [1, 100],
            -0.6763935685157776,
            230.173157453537,
            -0.039626479148864746,
            -0.7682350873947144,
            -2.4785003662109375,
        ],
    },
    "snas_backward": {
        "keys": [73, 6648180, "c622a1fc579edf4a"],
        "eval": [
            [1, 100],
            -0.3488150089979172,
            114.36217494308949,
            -2.039742946624756,
            2.5048165321350098,
            0.9464635848999023,
        ],
    },
    "snas_cifar10_keys": [61, 41077092, "b14f2840ff726356"],
    "snas_tiny_keys": [49, 72326504, "6415d244d15208cc"],
}


def fill(model: torch.nn.Module) -> None:
    """``2 cos(0.7 i + k)`` for the k-th state tensor, running variances
    ``0.5 + 0.5 sin(0.3 i + k)^2`` (as the generator)."""
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
    n = math.prod(shape)
    return (scale * torch.sin(0.37 * torch.arange(n, dtype=torch.float64))).reshape(shape).float()


def key_hash(model: torch.nn.Module) -> list[Any]:
    sd = model.state_dict()
    text = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in sorted(sd.items()))
    params = sum(p.numel() for p in model.parameters())
    return [len(sd), params, hashlib.sha256(text.encode()).hexdigest()[:16]]


def stats(y: torch.Tensor) -> list[Any]:
    y = y.detach().double()
    flat = y.flatten()
    picks = [flat[j].item() for j in (0, flat.numel() // 3, flat.numel() - 1)]
    return [list(y.shape), y.sum().item(), y.abs().sum().item(), *picks]


def run(model: torch.nn.Module, x: Any, mode: str = "eval", pre: Any = None) -> torch.Tensor:
    model.train(mode == "train")
    functional.reset_net(model)
    if pre is not None:
        pre(model)
    torch.manual_seed(0)
    return model(*x) if isinstance(x, tuple) else model(x)


def assert_stats(actual: list[Any], expected: list[Any]) -> None:
    assert actual[0] == expected[0]
    assert actual[1:] == pytest.approx(expected[1:], rel=1e-5, abs=1e-5)


def check(name: str, model: torch.nn.Module, runs: list[tuple[str, Any, str, Any]]) -> None:
    exp = EXPECTED[name]
    assert key_hash(model) == exp["keys"]
    fill(model)
    for tag, x, mode, pre in runs:
        y = run(model, x, mode, pre)
        assert_stats(stats(y[0] if isinstance(y, tuple) else y), exp[tag])


def multi(module: torch.nn.Module) -> torch.nn.Module:
    functional.set_step_mode(module, "m")
    return module


def dgs(module: torch.nn.Module) -> None:
    module.dgs_init_stage()


# ---------------------------------------------------------------- OTTT VGG


@pytest.mark.parametrize("name", ottt.__all__[1:])
def test_ottt_builders_key_layout_and_param_count(name: str) -> None:
    with torch.device("meta"):
        model = getattr(ottt, name)()
    assert key_hash(model) == EXPECTED[name]["keys"]
    assert all(
        isinstance(m, neuron.OTTTLIFNode) for m in model.features if m._get_name() == "OTTTLIFNode"
    )


def test_ottt_vgg_ws_matches_reference_in_eval_and_train() -> None:
    x = inp((2, 3, 8, 8), 4.0)
    model = ottt.OTTTSpikingVGG([8, "M", 512], num_classes=7, spiking_neuron=neuron.OTTTLIFNode)
    check("vgg_ws", model, [("eval", x, "eval", None), ("train", x, "train", None)])
    assert isinstance(model.features[2], ottt.Scale) and model.features[2].scale == 2.74


def test_ottt_vgg_forwards_neuron_kwargs_and_dropout() -> None:
    model = ottt.OTTTSpikingVGG(
        [8, "M", 512], False, 3, True, neuron.LIFNode, True, 0.25,
        tau=1.5, surrogate_function=surrogate.ATan(), detach_reset=True,
    )  # fmt: skip
    lif = [m for m in model.modules() if isinstance(m, neuron.LIFNode)]
    assert len(lif) == 2 and all(m.tau == 1.5 and m.detach_reset for m in lif)
    assert lif[0].surrogate_function is not lif[1].surrogate_function
    x = inp((2, 3, 8, 8), 4.0)
    check("vgg_lif_drop", model, [("eval", x, "eval", None), ("train", x, "train", None)])


def test_ottt_vgg_heavy_head_layout() -> None:
    with torch.device("meta"):
        model = ottt.OTTTSpikingVGG([16, "A", 512], False, 4, True, neuron.OTTTLIFNode, False)
    assert key_hash(model) == EXPECTED["vgg_heavy_head"]["keys"]


def test_ottt_vggws_matches_reference() -> None:
    x = inp((2, 3, 16, 16), 4.0)
    model = ottt.ottt_spiking_vggws(num_classes=5)
    check("vggws", model, [("eval", x, "eval", None), ("train", x, "train", None)])


def test_ottt_vgg_online_step_gives_weight_gradients() -> None:
    model = ottt.ottt_spiking_vggws(num_classes=5).train()
    model(torch.randn(1, 3, 16, 16)).sum().backward()
    assert model.features[0].weight.grad is not None
    assert model.features[0].weight.grad.abs().sum() > 0


def test_ottt_vgg_bad_arguments() -> None:
    with pytest.raises(TypeError, match="spiking_neuron"):
        ottt.OTTTSpikingVGG([8, "M", 512], spiking_neuron=None)
    with pytest.raises(ValueError, match="cfg"):
        ottt.OTTTSpikingVGG([8, "X"], spiking_neuron=neuron.OTTTLIFNode)
    with pytest.raises(TypeError, match="spiking_neuron"):
        ottt.ottt_spiking_vggws(not_a_neuron_argument=1)
    model = ottt.OTTTSpikingVGG([8, "M", 512], num_classes=2, spiking_neuron=neuron.OTTTLIFNode)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        model(torch.zeros(2, 2, 3, 8, 8))


# ---------------------------------------------------------------- PLIF nets

_PLIF_SHAPES = {
    "MNISTNet": (1, 28),
    "FashionMNISTNet": (1, 28),
    "NMNISTNet": (2, 34),
    "CIFAR10Net": (3, 32),
    "CIFAR10DVSNet": (2, 128),
    "DVSGestureNet": (2, 128),
}


@pytest.mark.parametrize("name", plif.__all__)
def test_plif_net_default_key_layout_and_param_count(name: str) -> None:
    with torch.device("meta"):
        model = getattr(plif, name)(spiking_neuron=neuron.LIFNode)
    assert key_hash(model) == EXPECTED[name]["keys"]


@pytest.mark.parametrize("name", list(_PLIF_SHAPES))
def test_plif_net_matches_reference_single_step(name: str) -> None:
    c, hw = _PLIF_SHAPES[name]
    model = getattr(plif, name)(
        4, neuron.LIFNode, surrogate_function=surrogate.ATan(), detach_reset=True
    )
    x = inp((2, c, hw, hw))
    check(f"{name}_s", model, [("eval", x, "eval", None), ("train", x, "train", None)])


def test_plif_net_matches_reference_multi_step_with_plif_neurons() -> None:
    model = plif.CIFAR10DVSNet(
        3, neuron.ParametricLIFNode, init_tau=2.0, surrogate_function=surrogate.ATan(),
        detach_reset=True, step_mode="m",
    )  # fmt: skip
    functional.set_step_mode(model, "m")
    x = inp((2, 2, 2, 128, 128))
    check("CIFAR10DVSNet_plif_m", model, [("eval", x, "eval", None), ("train", x, "train", None)])


def test_plif_net_bad_arguments() -> None:
    with pytest.raises(TypeError, match="spiking_neuron"):
        plif.MNISTNet()
    with pytest.raises(ValueError, match="channels"):
        plif.CIFAR10Net(0, neuron.IFNode)
    model = plif.MNISTNet(2, neuron.IFNode)
    with pytest.raises(ValueError, match="step_mode='s'"):
        model(torch.zeros(2, 2, 1, 28, 28))
    with pytest.raises(ValueError, match="1-channel"):
        model(torch.zeros(2, 3, 28, 28))


# ---------------------------------------------------------------- SpikeDHS blocks


def test_spiking_conv2d_matches_reference() -> None:
    x = inp((2, 2, 3, 6, 6))
    check("SpikingConv2d", multi(spike_dhs.SpikingConv2d(3, 4)), [("train", x, "train", None)])
    model = multi(spike_dhs.SpikingConv2d(3, 4, 1, 2, 0, spiking=False))
    check("SpikingConv2d_analog", model, [("eval", x, "eval", None)])


def test_spiking_conv2d_neuron_settings() -> None:
    node = spike_dhs.SpikingConv2d(3, 4, v_threshold=0.3).spike
    assert isinstance(node, neuron.LIFNode) and isinstance(
        node.surrogate_function, spike_dhs.DSpike
    )
    assert (node.tau, node.decay_input, node.v_threshold, node.v_reset) == (1.25, False, 0.3, 0.0)
    assert node.detach_reset and node.surrogate_function.alpha == 3.0


def test_search_stem_matches_reference_with_and_without_dgs() -> None:
    x = inp((2, 2, 3, 6, 6))
    model = multi(spike_dhs.SearchSpikingConv2d_stem(3, 4))
    check("stem", model, [("eval", x, "eval", None), ("dgs", x, "train", dgs)])


def test_search_cell_matches_reference_with_and_without_dgs() -> None:
    x = (inp((2, 2, 3, 6, 6)), inp((2, 2, 5, 6, 6), 1.5))
    model = multi(spike_dhs.SearchSpikingConv2d_cell([[3, 4, "snn_b3"], [5, 4, "skip_connect"]]))
    check("cell", model, [("eval", x, "eval", None), ("dgs", x, "train", dgs)])
    assert model.spike_m.v_before_spike.item() == pytest.approx(
        EXPECTED["cell"]["v_before_spike"], abs=1e-5
    )


def test_dgs_stages_move_the_surrogate_alpha() -> None:
    stem = spike_dhs.SearchSpikingConv2d_stem(3, 4)
    fill(stem)
    stem.dgs_init_stage()
    assert torch.equal(stem.conv_s.weight, stem.conv_m.weight)
    assert torch.equal(stem.bn_b.running_var, stem.bn_m.running_var)
    assert stem.spike_s.surrogate_function.alpha == pytest.approx(2.8)
    assert stem.spike_b.surrogate_function.alpha == pytest.approx(3.2)
    for direction in (0,) * 15:
        stem.dgs_finish_stage(direction)
    assert stem.spike_m.surrogate_function.alpha == 0.2 and not stem.is_DGS
    stem.dgs_finish_stage(2)
    assert stem.spike_m.surrogate_function.alpha == pytest.approx(0.4)
    with pytest.raises(ValueError, match="dgs_direction"):
        stem.dgs_finish_stage(3)
    with pytest.raises(ValueError, match="io_c"):
        spike_dhs.SearchSpikingConv2d_cell([3, 4])


def test_spiking_linear_and_pools_match_reference() -> None:
    check(
        "SpikingLinear",
        multi(spike_dhs.SpikingLinear(6, 4)),
        [("train", inp((2, 2, 6)), "train", None)],
    )
    xp = inp((2, 2, 3, 11, 11))
    check(
        "SpikingAvgPool2d", multi(spike_dhs.SpikingAvgPool2d(3, 2, 1)), [("eval", xp, "eval", None)]
    )
    xa = inp((2, 2, 3, 11, 11), 1.0) + 0.45
    model = multi(spike_dhs.SpikingAdaptiveAvgPool2d(2))
    check("SpikingAdaptiveAvgPool2d", model, [("eval", xa, "eval", None)])


def test_spike_dhs_network_layout_matches_reference() -> None:
    args = Namespace(fea_step=3, fea_num_layers=8, fea_block_multiplier=3, fea_filter_multiplier=48)
    with torch.device("meta"):
        model = spike_dhs.SpikeDHS(3, args)
    assert key_hash(model) == EXPECTED["SpikeDHS"]["keys"]
    assert [c.downup_sample for c in model.feature.cells] == [0, 0, -1, 0, 0, -1, 0, 0]


def test_spike_dhs_feature_network_matches_reference() -> None:
    args = Namespace(fea_step=3, fea_num_layers=4, fea_block_multiplier=3, fea_filter_multiplier=4)
    arch = spike_dhs.network_layer_to_space(np.array([0, 1, 1, 0]))
    assert arch.shape == (4, 4, 3) and arch[1, 1, 0] == 1 and arch[3, 0, 2] == 1
    cells = np.array([[1, 1], [0, 1], [3, 2], [2, 1], [7, 1], [8, 1]])
    model = multi(spike_dhs.newFeature(3, arch, cells, args=args))
    check("newFeature", model, [("eval", inp((2, 1, 3, 8, 8)), "eval", None)])
    with pytest.raises(ValueError, match="fea_num_layers"):
        spike_dhs.newFeature(3, arch, cells, args=Namespace(fea_step=3))


def test_dspike_gradient_matches_reference() -> None:
    x = torch.linspace(-1, 1, 41, requires_grad=True)
    (spike_dhs.DSpike(0.7)(x) * torch.cos(torch.arange(41.0))).sum().backward()
    assert x.grad.tolist() == pytest.approx(EXPECTED["dspike_grad_0.7"], abs=1e-6)


def test_dspike_derivative_is_the_primitive_gradient() -> None:
    sg = spike_dhs.DSpike(alpha=2.0, spiking=False)
    x = torch.linspace(-0.8, 0.8, 33, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(sg(x).sum(), x)
    torch.testing.assert_close(g, sg.derivative(x.detach()))
    assert sg(torch.tensor([-0.5, 0.0, 0.5], dtype=torch.float64)).tolist() == pytest.approx(
        [0.0, 0.5, 1.0]
    )
    with pytest.raises(ValueError, match="alpha"):
        spike_dhs.DSpike(alpha=0.0)


@pytest.mark.parametrize("spiking", [True, False])
def test_dspike_traces_into_the_kernel_graph(spiking: bool) -> None:
    # the Triton / CUDA kernels are generated from the traced step: its forward and
    # vector-Jacobian product must equal eager torch
    from snn_neurons.kernels import trace_step
    from snn_neurons.kernels.ir import evaluate

    sg = spike_dhs.DSpike(0.9, spiking=spiking)

    def step(x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = v - v / 1.25 + x
        s = sg(h - 0.5)
        return s, h * (1.0 - s.detach())

    graph = trace_step(step, 1, 1, 0, 1)
    x, v = torch.linspace(-1.5, 1.5, 61), torch.linspace(0.4, -0.3, 61)
    gs, gv = torch.cos(torch.arange(61.0)), torch.sin(torch.arange(61.0))
    env = {("seq", 0): x, ("state", 0): v, ("tangent", 0): gs, ("tangent", 1): gv}
    wanted = [*graph.outputs, *graph.new_states, graph.grads[("seq", 0)], graph.grads[("state", 0)]]
    s, v_new, gx, gvv = evaluate(graph, env, wanted)
    xx, vv = x.clone().requires_grad_(True), v.clone().requires_grad_(True)
    rs, rv = step(xx, vv)
    rgx, rgv = torch.autograd.grad([rs, rv], [xx, vv], [gs, gv])
    torch.testing.assert_close(s, rs)
    torch.testing.assert_close(v_new, rv)
    torch.testing.assert_close(gx, rgx, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gvv, rgv, rtol=1e-5, atol=1e-6)
    assert gx.abs().sum() > 0


def test_save_v_lif_node_records_the_mean_distance_to_threshold() -> None:
    node = spike_dhs.save_v_LIFNode(
        tau=2.5, decay_input=False, store_v_seq=True, step_mode="m",
        surrogate_function=surrogate.Sigmoid(),
    )  # fmt: skip
    x = inp((3, 2, 4), 1.5)
    states = tuple(node._memories.values())
    (out_f,), (v_f,) = node.functional_forward((x,), states)
    assert node.v_before_spike is None and tuple(node._memories) == ("v",)
    out = node(x)
    assert_stats(stats(out), EXPECTED["save_v"]["out"])
    torch.testing.assert_close(out, out_f)
    torch.testing.assert_close(node.v, v_f)
    assert node.v_seq.tolist() == pytest.approx(EXPECTED["save_v"]["v_seq"], abs=1e-6)
    assert node.v_before_spike.item() == pytest.approx(EXPECTED["save_v"]["v_seq"][-1], abs=1e-6)
    # single steps give the same spikes and observations
    single = spike_dhs.save_v_LIFNode(
        tau=2.5, decay_input=False, surrogate_function=surrogate.Sigmoid()
    )
    for t in range(3):
        torch.testing.assert_close(single(x[t]), out[t])
        assert single.v_before_spike.item() == pytest.approx(node.v_seq[t].item(), abs=1e-6)


# ---------------------------------------------------------------- SNASNet

_CON_MATS = {
    "forward": np.array([[0, 2, 3, 1], [0, 0, 4, 3], [0, 0, 0, 1], [0, 0, 0, 0]]),
    "backward": np.array([[0, 1, 2, 0], [3, 0, 4, 1], [2, 1, 0, 3], [0, 4, 1, 0]]),
}


def _snas_args(**changes: Any) -> Namespace:
    args = dict(
        dataset="cifar100", celltype="forward", timestep=2, second_avgpooling=4,
        threshold=1.0, tau=4 / 3,
    )  # fmt: skip
    args.update(changes)
    return Namespace(**args)


@pytest.mark.parametrize("celltype", ["forward", "backward"])
def test_snasnet_matches_reference(celltype: str) -> None:
    model = snas_net.SNASNet(_snas_args(celltype=celltype), _CON_MATS[celltype])
    check(f"snas_{celltype}", model, [("eval", inp((1, 3, 32, 32)), "eval", None)])


def test_snasnet_layouts_of_the_other_datasets() -> None:
    args = _snas_args(dataset="cifar10", timestep=1, second_avgpooling=2)
    with torch.device("meta"):
        assert (
            key_hash(snas_net.SNASNet(args, _CON_MATS["forward"])) == EXPECTED["snas_cifar10_keys"]
        )
        args.dataset = "tinyimagenet"
        assert key_hash(snas_net.SNASNet(args, _CON_MATS["backward"])) == EXPECTED["snas_tiny_keys"]


def test_snasnet_bad_arguments() -> None:
    with pytest.raises(ValueError, match="args.dataset"):
        snas_net.SNASNet(_snas_args(dataset="mnist"), _CON_MATS["forward"])
    with pytest.raises(ValueError, match="args.celltype"):
        snas_net.SNASNet(_snas_args(celltype="sideways"), _CON_MATS["forward"])
    with pytest.raises(ValueError, match="'timestep'"):
        snas_net.SNASNet(Namespace(dataset="cifar10", celltype="forward"), _CON_MATS["forward"])
    bad = _CON_MATS["forward"].copy()
    bad[0, 1] = 7
    with pytest.raises(ValueError, match=r"con_mat\[0, 1\]"):
        snas_net.SNASNet(_snas_args(), bad)
    with pytest.raises(ValueError, match="con_mat"):
        snas_net.SNASNet(_snas_args(), np.zeros((3, 3), dtype=int))
