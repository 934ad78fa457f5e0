"""MS-ResNet against the official code (Ariande1/MS-ResNet, ``models/MS_ResNet.py``).

- A functional re-statement of the official forward, reading the weights by their official
  names (float64, batch norms in eval mode on randomised statistics): the image repeated
  over T, the stem (``conv7x7/2 -> tdBN``, or for 104 three biased ``conv3x3`` then tdBN),
  blocks ``BN(conv(LIF(BN(conv(LIF(x)))))) + shortcut(x)`` on membrane potentials, a last
  ``mem_update``, spatial average, mean over T, ``fc``. Neuron (``mem_update``):
  ``H = 0.25 V + X``, spike where ``H > 0.5``, ``V = H (1 - S)``.
- Logits of the official code itself, stored as literals (``OFFICIAL_LOGITS``).
- The official key layout, written out by hand; parameter counts.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import snn_zoo
import torch
import torch.nn.functional as F
from snn_zoo.families import AttMSResNet, MSResNet

DT = torch.float64


def _sew_tests():
    path = Path(__file__).with_name("test_sew_resnet.py")
    spec = importlib.util.spec_from_file_location("_zoo_sew_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mem_update(x: torch.Tensor) -> torch.Tensor:
    v, out = torch.zeros_like(x[0]), []
    for t in range(x.shape[0]):
        h = 0.25 * v + x[t]
        s = (h > 0.5).to(x.dtype)
        v = h * (1 - s)
        out.append(s)
    return torch.stack(out)


def fold(fn, x):
    y = fn(x.flatten(0, 1))
    return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])


def conv(w, name, x, stride=1):
    k = w[f"{name}.weight"]
    return fold(lambda z: F.conv2d(z, k, w.get(f"{name}.bias"), stride, k.shape[-1] // 2), x)


def tdbn(w, name, x):
    p = f"{name}.bn"
    return fold(
        lambda z: F.batch_norm(
            z, w[f"{p}.running_mean"], w[f"{p}.running_var"], w[f"{p}.weight"], w[f"{p}.bias"]
        ),
        x,
    )


def official_forward(w, x, T, layers, deep_stem):
    h = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
    if deep_stem:
        h = tdbn(w, "conv1.3", conv(w, "conv1.2", conv(w, "conv1.1", conv(w, "conv1.0", h, 2))))
    else:
        h = tdbn(w, "conv1.1", conv(w, "conv1.0", h, 2))
    for s, n in enumerate(layers):
        for b in range(n):
            p = f"conv{s + 2}_x.{b}"
            stride = 2 if b == 0 else 1
            r = conv(w, f"{p}.residual_function.1", mem_update(h), stride)
            r = tdbn(w, f"{p}.residual_function.2", r)
            r = conv(w, f"{p}.residual_function.4", mem_update(r))
            r = tdbn(w, f"{p}.residual_function.5", r)
            if f"{p}.shortcut.0.weight" in w:  # 18/34: strided conv1x1 -> tdBN
                sc = tdbn(w, f"{p}.shortcut.1", conv(w, f"{p}.shortcut.0", h, stride))
            elif f"{p}.shortcut.1.weight" in w:  # 104: avgpool -> conv1x1 -> tdBN
                sc = fold(lambda z, k=stride: F.avg_pool2d(z, k, k), h)
                sc = tdbn(w, f"{p}.shortcut.2", conv(w, f"{p}.shortcut.1", sc))
            else:
                sc = h
            h = r + sc
    feats = mem_update(h).mean((3, 4)).mean(0)
    return F.linear(feats, w["fc.weight"], w["fc.bias"]), feats


def randomize_bn(model, seed):
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.empty(n, dtype=DT).uniform_(0.5, 2.0, generator=gen))
                m.bias.copy_(torch.empty(n, dtype=DT).uniform_(-0.2, 0.6, generator=gen))
                m.running_mean.copy_(torch.randn(n, generator=gen, dtype=DT) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen, dtype=DT) * 0.5 + 0.5)


@pytest.mark.parametrize(
    "name,layers,deep",
    [("ms_resnet18", (1, 2, 1, 1), False), ("ms_resnet104", (1, 2, 1, 1), True)],
)
def test_forward_matches_the_official_op_order(name, layers, deep):
    torch.manual_seed(0)
    model = snn_zoo.create_model(name, layers=layers, T=3, num_classes=5).double()
    randomize_bn(model, 1)
    model.eval()
    x = torch.randn(2, 3, 32, 32, dtype=DT, generator=torch.Generator().manual_seed(2))
    expected, feats = official_forward(dict(model.state_dict()), x, 3, layers, deep)
    torch.testing.assert_close(model(x), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model(x[:1]), expected[:1], rtol=1e-10, atol=1e-12)
    assert 0 < feats.mean() < 1  # the head sees spikes, not all or nothing


# Logits of the official code (models/MS_ResNet.py at commit 7c5f006, time_window = 2):
# `ResNet_origin_18(BasicBlock_18, [2, 2, 2, 2], num_classes=4)` and
# `ResNet_104(BasicBlock_104, [1, 1, 1, 1], num_classes=4)`, weights from
# test_sew_resnet's `_official_weights(model, 7)`, eval mode,
# input `torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))`.
OFFICIAL_LOGITS = {
    ("ms_resnet18", (2, 2, 2, 2)): [
        [-0.65951, 0.38791, 3.734159, -0.764165],
        [1.785531, 1.098557, 0.683478, 0.058931],
    ],
    ("ms_resnet104", (1, 1, 1, 1)): [
        [-1.983256, 2.114093, 0.431454, -2.100183],
        [-2.068356, 2.582937, 0.237881, -2.064519],
    ],
}


@pytest.mark.parametrize("name,layers", sorted(OFFICIAL_LOGITS))
def test_logits_equal_the_official_codes(name, layers):
    model = snn_zoo.create_model(name, layers=layers, T=2, num_classes=4).eval()
    _sew_tests()._official_weights(model, 7)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y, y1 = model(x), model(x[:1])
    expected = torch.tensor(OFFICIAL_LOGITS[(name, layers)])
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(y1, expected[:1], rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- keys
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(name: str) -> list[str]:
    return [f"{name}.bn.{p}" for p in BN]


def _official_keys(layers, deep_stem: bool) -> list[str]:
    """Names of the official modules: ``residual_function = [mem_update, Snn_Conv2d,
    batch_norm_2d, mem_update, Snn_Conv2d, batch_norm_2d1]``; the shortcut ``[Snn_Conv2d,
    batch_norm_2d]`` (18/34) or ``[AvgPool3d, Snn_Conv2d, batch_norm_2d]`` (104)."""
    if deep_stem:
        keys = [f"conv1.{i}.{p}" for i in range(3) for p in ("weight", "bias")] + _bn("conv1.3")
    else:
        keys = ["conv1.0.weight", *_bn("conv1.1")]
    for s, n in enumerate(layers):
        for b in range(n):
            p = f"conv{s + 2}_x.{b}"
            keys += [f"{p}.residual_function.1.weight", *_bn(f"{p}.residual_function.2")]
            keys += [f"{p}.residual_function.4.weight", *_bn(f"{p}.residual_function.5")]
            if b == 0:
                i = 1 if deep_stem else 0
                keys += [f"{p}.shortcut.{i}.weight", *_bn(f"{p}.shortcut.{i + 1}")]
    return keys + ["fc.weight", "fc.bias"]


@pytest.mark.parametrize(
    "name,layers,deep",
    [
        ("ms_resnet18", (2, 2, 2, 2), False),
        ("ms_resnet34", (3, 4, 6, 3), False),
        ("ms_resnet104", (3, 8, 32, 8), True),
    ],
)
def test_state_dict_keys_follow_the_official_layout(name, layers, deep):
    with torch.device("meta"):
        model = snn_zoo.create_model(name)
    assert sorted(model.state_dict()) == sorted(_official_keys(layers, deep))


# --------------------------------------------------------------------------- counts
def _count(name: str, **overrides) -> int:
    with torch.device("meta"):
        model = snn_zoo.create_model(name, **overrides)
    return sum(p.numel() for p in model.parameters())


def _hand_count(layers, deep_stem: bool) -> int:
    if deep_stem:
        n = (3 * 9 * 64 + 64) + 2 * (64 * 9 * 64 + 64) + 2 * 64
    else:
        n = 3 * 49 * 64 + 2 * 64
    cin = 64
    for cout, blocks in zip((64, 128, 256, 512), layers):
        for b in range(blocks):
            n += 9 * cin * cout + 9 * cout * cout + 4 * cout
            if b == 0:
                n += cin * cout + 2 * cout
            cin = cout
    return n + 512 * 1000 + 1000


@pytest.mark.parametrize(
    "name,layers,deep,paper",
    [
        ("ms_resnet18", (2, 2, 2, 2), False, 11.69),
        ("ms_resnet34", (3, 4, 6, 3), False, 21.80),
        ("ms_resnet104", (3, 8, 32, 8), True, None),
    ],
)
def test_params_match_a_hand_count_and_the_paper(name, layers, deep, paper):
    n = _count(name)
    assert n == _hand_count(layers, deep)
    assert abs(snn_zoo.get_pretrained_cfg(name)["params_m"] - n / 1e6) <= 0.005
    if paper is not None:
        assert abs(n / 1e6 - paper) <= 0.02


def test_ms_resnet104_paper_count_is_that_of_a_7x7_stem():
    # The paper's 77.28 M is the 104-layer network with a single conv7x7 stem; the official
    # code's stem (three biased conv3x3) has 66,240 more parameters: 77.35 M.
    official = _count("ms_resnet104")
    seven = _count("ms_resnet104", stem="7x7")
    assert abs(seven / 1e6 - 77.28) <= 0.02
    assert official - seven == (3 * 9 * 64 + 64 + 2 * (64 * 9 * 64 + 64)) - 3 * 49 * 64


# --------------------------------------------------------------------------- shared blocks
def test_att_ms_resnet_is_ms_resnet_with_attention():
    att = snn_zoo.create_model("att_ms_resnet18", layers=(1, 1, 1, 1))
    plain = snn_zoo.create_model("ms_resnet18", layers=(1, 1, 1, 1))
    assert isinstance(att, AttMSResNet) and isinstance(att, MSResNet)
    assert type(att.conv2_x[0]) is type(plain.conv2_x[0])
    # the same blocks; Att-MS-ResNet appends CSA to the branch and pools in the shortcut
    extra = {k for k in set(att.state_dict()) - set(plain.state_dict()) if ".shortcut." not in k}
    assert extra and all(".residual_function.6.attention." in k for k in extra)
    # MS-ResNet starts every branch's last BN at 0, Att-MS-ResNet at 0.1
    assert plain.conv2_x[0].residual_function[5].bn.weight.abs().max() == 0
    assert torch.all(att.conv2_x[0].residual_function[5].bn.weight == 0.1)


def test_sequence_input_equals_the_repeated_image_and_bad_options_are_named():
    model = snn_zoo.create_model("ms_resnet18", layers=(1, 1, 1, 1), T=2, num_classes=3).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x.unsqueeze(0).repeat(2, 1, 1, 1, 1)), model(x))
    with pytest.raises(ValueError, match="stem must be one of"):
        snn_zoo.create_model("ms_resnet18", stem="5x5")
    with pytest.raises(ValueError, match="shortcut must be one of"):
        snn_zoo.create_model("ms_resnet18", shortcut="identity")


def test_digits_variant_builds_trains_and_checks_widths():
    torch.manual_seed(0)
    model = snn_zoo.create_model("ms_resnet_digits")
    assert [f["num_chs"] for f in model.feature_info] == [16, 16, 32, 32, 64]
    assert [f["reduction"] for f in model.feature_info] == [1, 2, 4, 8, 16]
    assert model.num_features == 64 and model.fc.in_features == 64
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = model(x)
    assert y.shape == (4, 10)
    F.cross_entropy(y, torch.tensor([0, 1, 2, 3])).backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    assert model.conv1[0].weight.grad.abs().sum() > 0  # through every neuron to the stem
    # the official stems keep their 64-channel layout: widths only change the channels
    assert snn_zoo.create_model("ms_resnet18").fc.in_features == 512
    with pytest.raises(ValueError, match="widths must give 4 stage widths"):
        MSResNet(widths=(8, 8))
    with pytest.raises(ValueError, match=r"widths\[i\]"):
        MSResNet(widths=(8, 8, 0, 8))
    with pytest.raises(ValueError, match="stem must be one of"):
        MSResNet(stem="5x5")
