"""The reference framework's torchvision-style classics in ``snn_zoo.models``
(``sew_resnet``, ``spiking_resnet``, ``spiking_vgg``) against numbers of the reference itself.

``COUNTS``, ``LAYOUTS``, ``SEED_INIT`` and ``EXPECTED`` were produced by
``zoo/tests/_ref_gen/classic.py`` with spikingjelly 2.0.0 (CPU, float32): every builder's
parameter count and state-dict layout (hash of the ``key shape`` lines in state-dict order),
a few entries of the random init after ``torch.manual_seed(0)``, and for each case of
``CASES`` the reference model with every floating state-dict entry set by :func:`det_init`,
run on :func:`det_input` in the case's step mode and train / eval mode: the output's shape,
sum, absolute sum and first entries, and (train) the absolute gradient sum of the first conv.
Neurons are the reference's classes of the same names (here ``snn_neurons``').
"""

from __future__ import annotations

import hashlib
import math

import pytest
import snn_neurons
import torch
from snn_core import functional
from snn_zoo.models import sew_resnet, spiking_resnet, spiking_vgg

MODULES = {"sew_resnet": sew_resnet, "spiking_resnet": spiking_resnet, "spiking_vgg": spiking_vgg}
BUILDERS = [(m, n) for m, mod in MODULES.items() for n in mod.__all__ if not n[0].isupper()]

# (name, submodule, class or builder, block, kwargs, neuron, neuron kwargs, step mode, train,
#  input shape [T, B, C, H, W]): as the generator
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

# --- produced by zoo/tests/_ref_gen/classic.py (spikingjelly 2.0.0) ---------------------------
COUNTS = {
    "sew_resnet18": 11689512,
    "sew_resnet34": 21797672,
    "sew_resnet50": 25557032,
    "sew_resnet101": 44549160,
    "sew_resnet152": 60192808,
    "sew_resnext50_32x4d": 25028904,
    "sew_resnext101_32x8d": 88791336,
    "sew_wide_resnet50_2": 68883240,
    "sew_wide_resnet101_2": 126886696,
    "spiking_resnet18": 11689512,
    "spiking_resnet34": 21797672,
    "spiking_resnet50": 25557032,
    "spiking_resnet101": 44549160,
    "spiking_resnet152": 60192808,
    "spiking_resnext50_32x4d": 25028904,
    "spiking_resnext101_32x8d": 88791336,
    "spiking_wide_resnet50_2": 68883240,
    "spiking_wide_resnet101_2": 126886696,
    "spiking_vgg11": 132863336,
    "spiking_vgg11_bn": 132868840,
    "spiking_vgg13": 133047848,
    "spiking_vgg13_bn": 133053736,
    "spiking_vgg16": 138357544,
    "spiking_vgg16_bn": 138365992,
    "spiking_vgg19": 143667240,
    "spiking_vgg19_bn": 143678248,
}
LAYOUTS = {
    "sew_resnet18": (122, "84fb10d9c6905a1c"),
    "sew_resnet34": (218, "28f9096d51307499"),
    "sew_resnet50": (320, "d7e4f8bb0a536344"),
    "sew_resnet101": (626, "02c0f34f4842751f"),
    "sew_resnet152": (932, "685c66205bc823aa"),
    "sew_resnext50_32x4d": (320, "e3bad165c034e60f"),
    "sew_resnext101_32x8d": (626, "da7dd7525807e2ee"),
    "sew_wide_resnet50_2": (320, "41203d1d536c02ed"),
    "sew_wide_resnet101_2": (626, "4f088c0a152b8f5c"),
    "spiking_resnet18": (122, "84fb10d9c6905a1c"),
    "spiking_resnet34": (218, "28f9096d51307499"),
    "spiking_resnet50": (320, "d7e4f8bb0a536344"),
    "spiking_resnet101": (626, "02c0f34f4842751f"),
    "spiking_resnet152": (932, "685c66205bc823aa"),
    "spiking_resnext50_32x4d": (320, "e3bad165c034e60f"),
    "spiking_resnext101_32x8d": (626, "da7dd7525807e2ee"),
    "spiking_wide_resnet50_2": (320, "41203d1d536c02ed"),
    "spiking_wide_resnet101_2": (626, "4f088c0a152b8f5c"),
    "spiking_vgg11": (22, "cb3dc23f2a13e182"),
    "spiking_vgg11_bn": (62, "8b6717e727c0ecf9"),
    "spiking_vgg13": (26, "67c1dc8b57fde74b"),
    "spiking_vgg13_bn": (76, "f6b0597d18a7e4d2"),
    "spiking_vgg16": (32, "35c4623e0cd4a39d"),
    "spiking_vgg16_bn": (97, "347371586a8ea365"),
    "spiking_vgg19": (38, "4723255af8f6c485"),
    "spiking_vgg19_bn": (118, "fc3ff6fab2b5cc09"),
}
SEED_INIT = {
    "sew_resnet18": {
        "conv1.weight": [0.0241097, 0.0075288, 0.0466584],
        "layer4.1.conv2.weight": [0.0288655, 0.0117323, -0.0145874],
        "fc.bias": [-0.0173277, -0.0431646, 0.0086844],
    },
    "spiking_resnet50": {
        "layer1.0.downsample.0.weight": [-0.0059396, 0.1445745, -0.0526584],
        "fc.weight": [-0.0077491, -0.0086244, -0.0156279],
        "fc.bias": [-0.013495, 0.0190061, -0.0150167],
    },
}
EXPECTED = {
    "plain_basic_m_eval": {
        "shape": (2, 2, 10),
        "sum": 34.908676,
        "abs": 39.897675,
        "first": [1.303029, 0.249057, 0.285873, 0.920819, 2.335473, 1.39632],
    },
    "plain_basic_s_train": {
        "shape": (2, 1, 10),
        "sum": 18.200817,
        "abs": 18.528551,
        "first": [1.318086, -0.163867, 0.650577, 1.087183, 1.729397, 2.199381],
        "grad": 137.194595,
    },
    "plain_bottleneck_dilated": {
        "shape": (2, 2, 10),
        "sum": 26.531017,
        "abs": 66.962006,
        "first": [1.700206, -1.88105, -0.49635, 5.533881, -0.228953, -2.317551],
    },
    "sew_basic_add": {
        "shape": (2, 2, 10),
        "sum": 25.239248,
        "abs": 119.839058,
        "first": [2.201554, -0.912962, -2.64964, 4.880711, -2.826598, 9.674383],
    },
    "sew_basic_and": {
        "shape": (2, 2, 10),
        "sum": 33.769623,
        "abs": 55.058281,
        "first": [0.775681, 0.663131, -0.597617, 1.438031, 1.784761, 2.36113],
    },
    "sew_basic_iand": {
        "shape": (2, 2, 10),
        "sum": 29.949722,
        "abs": 72.849068,
        "first": [0.65542, 1.232264, 1.349828, -0.288283, 1.896039, -1.890271],
    },
    "sew_bottleneck_iand_m_train": {
        "shape": (2, 2, 10),
        "sum": 40.590294,
        "abs": 81.193893,
        "first": [0.127767, 1.157142, 2.875435, 0.197197, -0.495726, 1.452207],
        "grad": 74.930138,
    },
    "sew_bottleneck_and_s_eval": {
        "shape": (2, 1, 10),
        "sum": 17.708723,
        "abs": 18.872553,
        "first": [1.025428, 0.747091, 0.928033, 1.534876, 0.4528, 0.404102],
    },
    "builder_spiking_resnet18": {
        "shape": (2, 2, 10),
        "sum": 32.044655,
        "abs": 50.551575,
        "first": [0.144522, 2.540883, -1.492666, 3.281534, -0.752016, 2.562905],
    },
    "builder_sew_resnet18_iand": {
        "shape": (2, 2, 10),
        "sum": 36.336761,
        "abs": 56.428997,
        "first": [1.148876, 1.105266, -1.005102, 3.395883, -1.240521, 3.767941],
        "grad": 209.417816,
    },
    "vgg_bn_m_train": {
        "shape": (2, 2, 10),
        "sum": 39.141636,
        "abs": 56.362812,
        "first": [4.830467, -1.126489, 4.257417, -2.69954, 3.684366, -2.298311],
        "grad": 10.024549,
    },
    "vgg_s_eval": {
        "shape": (2, 1, 10),
        "sum": 19.172882,
        "abs": 22.841747,
        "first": [2.335074, 0.160227, 2.019153, -0.668555, 0.810143, 0.558132],
    },
}
# -----------------------------------------------------------------------------------------------


def det_pattern(n: int, k: int) -> torch.Tensor:
    """``n`` float64 values in ``[-0.5, 0.5)``: ``frac(i * golden + k / pi) - 0.5``."""
    v = torch.arange(n, dtype=torch.float64)  # in place: the VGG classifier has 10^8 entries
    return v.mul_(0.6180339887498949).add_(k * 0.3183098861837907).remainder_(1.0).sub_(0.5)


@torch.no_grad()
def det_init(model: torch.nn.Module) -> None:
    """As the generator: every floating state-dict entry (sorted keys) from ``det_pattern``."""
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


def build(case: tuple) -> torch.nn.Module:
    """The case's model with uninitialised storage (``det_init`` then sets every float)."""
    _, mod, obj, block, kwargs, nrn, nkw, *_ = case
    module = MODULES[mod]
    kwargs = dict(kwargs)
    neuron = getattr(snn_neurons, nrn)
    with torch.device("meta"):  # skips the random init: 10^8 draws for the VGG classifier
        if block is not None:
            layers = kwargs.pop("layers")
            model = getattr(module, obj)(
                getattr(module, block), layers, spiking_neuron=neuron, **kwargs, **nkw
            )
        else:
            model = getattr(module, obj)(spiking_neuron=neuron, **kwargs, **nkw)
    model = model.to_empty(device="cpu")
    for buf in model.buffers():
        if not buf.is_floating_point():
            buf.zero_()  # BN's num_batches_tracked
    return model


def run_case(model: torch.nn.Module, case: tuple) -> torch.Tensor:
    *_, step_mode, train, shape = case
    functional.set_step_mode(model, step_mode)
    model.train(train)
    functional.reset_net(model)
    x = det_input(shape)
    torch.manual_seed(0)
    if step_mode == "m":
        return model(x)
    return torch.stack([model(x[t]) for t in range(shape[0])])


def _meta_builder(mod: str, name: str) -> torch.nn.Module:
    extra = {"cnf": "ADD"} if mod == "sew_resnet" else {}
    with torch.device("meta"):
        return getattr(MODULES[mod], name)(spiking_neuron=snn_neurons.IFNode, **extra)


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("mod,name", BUILDERS, ids=[n for _, n in BUILDERS])
def test_builder_parameter_count_and_key_layout_equal_the_reference(mod, name):
    model = _meta_builder(mod, name)
    assert sum(p.numel() for p in model.parameters()) == COUNTS[name]
    assert layout(model) == LAYOUTS[name]


def test_every_reference_builder_is_here():
    assert sorted(n for _, n in BUILDERS) == sorted(COUNTS)
    assert "SEWResNet34Config" not in sew_resnet.__all__  # the distributed planner's; not ported


@pytest.mark.parametrize("builder", ["sew_resnet18", "spiking_resnet50"])
def test_seeded_random_init_equals_the_reference(builder):
    """Layers are created in the reference's order, so one seed gives the same weights."""
    module = sew_resnet if builder.startswith("sew") else spiking_resnet
    extra = {"cnf": "ADD"} if builder.startswith("sew") else {}
    torch.manual_seed(0)
    model = getattr(module, builder)(spiking_neuron=snn_neurons.IFNode, **extra)
    sd = model.state_dict()
    for key, values in SEED_INIT[builder].items():
        torch.testing.assert_close(
            sd[key].flatten()[:3], torch.tensor(values), atol=1e-6, rtol=0, msg=key
        )


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_forward_equals_the_reference_on_shared_weights(case):
    model = build(case)
    det_init(model)
    y = run_case(model, case)
    exp = EXPECTED[case[0]]
    out = y.detach()
    assert tuple(out.shape) == exp["shape"]
    assert float(out.sum()) == pytest.approx(exp["sum"], abs=1e-4, rel=1e-5)
    assert float(out.abs().sum()) == pytest.approx(exp["abs"], abs=1e-4, rel=1e-5)
    torch.testing.assert_close(out.flatten()[:6], torch.tensor(exp["first"]), atol=1e-5, rtol=1e-5)
    if "grad" in exp:
        y.sum().backward()
        first_conv = model.conv1 if hasattr(model, "conv1") else model.features[0]
        grad = float(first_conv.weight.grad.abs().sum())
        assert grad == pytest.approx(exp["grad"], rel=1e-4)


def test_single_step_loop_equals_multi_step():
    model = sew_resnet.SEWResNet(
        sew_resnet.Bottleneck, [1, 1, 1, 1], num_classes=4, cnf="IAND",
        spiking_neuron=snn_neurons.LIFNode, tau=2.0,
    ).eval()  # fmt: skip
    det_init(model)
    x = det_input((3, 2, 3, 32, 32))
    y_s = torch.stack([model(x[t]) for t in range(3)])
    functional.reset_net(model)
    functional.set_step_mode(model, "m")
    torch.testing.assert_close(model(x), y_s, atol=1e-5, rtol=1e-5)


def test_state_dict_loads_strictly_between_sew_and_plain_of_the_same_depth():
    """torchvision's names: the plain ResNet's keys are the SEW one's (neurons hold none)."""
    sew = sew_resnet.sew_resnet18(cnf="ADD", spiking_neuron=snn_neurons.IFNode, num_classes=3)
    plain = spiking_resnet.spiking_resnet18(spiking_neuron=snn_neurons.IFNode, num_classes=3)
    plain.load_state_dict(sew.state_dict(), strict=True)
    torch.testing.assert_close(
        plain.layer3[0].downsample[0].weight, sew.layer3[0].downsample[0].weight
    )


def test_neuron_kwargs_reach_every_neuron_as_copies():
    surrogate = snn_neurons.LIFNode().surrogate_function
    model = spiking_resnet.spiking_resnet18(
        spiking_neuron=snn_neurons.LIFNode, tau=3.0, detach_reset=True, step_mode="m",
        surrogate_function=surrogate, num_classes=2,
    )  # fmt: skip
    neurons = [m for m in model.modules() if isinstance(m, snn_neurons.LIFNode)]
    assert len(neurons) == 1 + 2 * 8  # the stem and two per basic block
    assert all(n.tau == 3.0 and n.detach_reset and n.step_mode == "m" for n in neurons)
    assert len({id(n.surrogate_function) for n in neurons}) == len(neurons)
    assert model.conv1.step_mode == "s"  # as the reference: only the neurons get the kwargs


def test_sew_shortcut_neurons_only_where_the_shortcut_downsamples():
    model = _meta_builder("sew_resnet", "sew_resnet50")
    with_sn = [n for n, m in model.named_modules() if hasattr(m, "downsample_sn")]
    assert with_sn == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    plain = _meta_builder("spiking_resnet", "spiking_resnet50")
    assert not any(hasattr(m, "downsample_sn") for m in plain.modules())


def test_zero_init_residual_zeroes_the_last_bn_of_every_block():
    model = sew_resnet.sew_resnet50(
        cnf="AND", spiking_neuron=snn_neurons.IFNode, zero_init_residual=True
    )
    for block in (model.layer1[0], model.layer4[2]):
        assert torch.count_nonzero(block.bn3.weight) == 0
        assert torch.count_nonzero(block.bn2.weight) == block.bn2.weight.numel()


# --------------------------------------------------------------------------- pretrained
def test_pretrained_loads_torchvision_ann_weights_from_the_hub_cache(tmp_path, monkeypatch):
    """``pretrained=True`` reads torchvision's file through torch.hub's cache (no download
    when the file is there) and loads it strictly."""
    source = spiking_resnet.spiking_resnet18(spiking_neuron=snn_neurons.IFNode)
    det_init(source)
    (tmp_path / "checkpoints").mkdir()
    torch.save(source.state_dict(), tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    for model in (
        spiking_resnet.spiking_resnet18(pretrained=True, spiking_neuron=snn_neurons.IFNode),
        sew_resnet.sew_resnet18(pretrained=True, cnf="ADD", spiking_neuron=snn_neurons.IFNode),
    ):
        for (k, a), b in zip(model.state_dict().items(), source.state_dict().values()):
            assert torch.equal(a, b), k


def test_pretrained_vgg_asks_for_the_torchvision_url_and_skips_the_random_init(monkeypatch):
    calls, inits = [], []
    with torch.device("meta"):
        model = spiking_vgg.spiking_vgg11_bn(spiking_neuron=snn_neurons.IFNode)
        entries = {k: (v.shape, v.dtype) for k, v in model.state_dict().items()}

    def fake_loader(url, progress=True, weights_only=False, **kwargs):
        calls.append((url, progress, weights_only))
        return {k: torch.full(shape, 0.25).to(dtype) for k, (shape, dtype) in entries.items()}

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_loader)
    monkeypatch.setattr(spiking_vgg.SpikingVGG, "_initialize_weights", lambda m: inits.append(m))
    model = spiking_vgg.spiking_vgg11_bn(
        pretrained=True, progress=False, spiking_neuron=snn_neurons.IFNode
    )
    assert calls == [("https://download.pytorch.org/models/vgg11_bn-6002323d.pth", False, True)]
    assert inits == []
    floats = [v for v in model.state_dict().values() if v.is_floating_point()]
    assert len(floats) == 54 and all(bool((v == 0.25).all()) for v in floats)


# --------------------------------------------------------------------------- errors
def test_missing_or_wrong_spiking_neuron_is_a_clear_error():
    with pytest.raises(TypeError, match="spiking_neuron is required"):
        sew_resnet.sew_resnet18(cnf="ADD")
    with pytest.raises(TypeError, match="spiking_neuron must be a neuron class"):
        spiking_vgg.spiking_vgg11(spiking_neuron="LIFNode")
    with pytest.raises(TypeError, match="rejected the keyword arguments.*num_clases"):
        spiking_resnet.spiking_resnet18(spiking_neuron=snn_neurons.IFNode, num_clases=3)


def test_bad_cnf_is_a_clear_error():
    with pytest.raises(ValueError, match=r"cnf must be one of \('ADD', 'AND', 'IAND'\), got 'OR'"):
        sew_resnet.sew_resnet18(cnf="OR", spiking_neuron=snn_neurons.IFNode)
    model = sew_resnet.sew_resnet18(spiking_neuron=snn_neurons.IFNode)  # builds, as the reference
    with pytest.raises(ValueError, match="cnf must be one of .* got None"):
        model(torch.zeros(1, 3, 32, 32))
    with pytest.raises(NotImplementedError):  # the reference's exception type
        model(torch.zeros(1, 3, 32, 32))


def test_wrong_input_rank_or_channels_is_a_clear_error():
    model = spiking_resnet.spiking_resnet18(spiking_neuron=snn_neurons.IFNode, num_classes=2)
    with pytest.raises(ValueError, match=r"step_mode='s' takes x of shape \[N, C, H, W\]"):
        model(torch.zeros(2, 1, 3, 32, 32))
    functional.set_step_mode(model, "m")
    with pytest.raises(ValueError, match=r"step_mode='m' takes x of shape \[T, N, C, H, W\]"):
        model(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="takes 3-channel images"):
        model(torch.zeros(1, 1, 2, 32, 32))


def test_basic_block_rejects_resnext_widths():
    with pytest.raises(ValueError, match="groups=1 and base_width=64.*groups=32"):
        spiking_resnet.SpikingResNet(
            spiking_resnet.BasicBlock, [1, 1, 1, 1], groups=32, width_per_group=4,
            spiking_neuron=snn_neurons.IFNode,
        )  # fmt: skip
    with pytest.raises(ValueError, match="cfg entries must be positive channel counts"):
        spiking_vgg.SpikingVGG(cfg=[8, "X"], spiking_neuron=snn_neurons.IFNode)
