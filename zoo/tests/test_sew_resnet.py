"""SEW-ResNet and the plain spiking ResNet against the official code
(fangwei123456/Spike-Element-Wise-ResNet, ``imagenet/sew_resnet.py`` and
``imagenet/spiking_resnet.py``).

- A functional re-statement of the official forward, reading the weights by their official
  state-dict names (float64, batch norms in eval mode on randomised statistics): the
  stem's ``conv7x7/2 -> BN`` runs once on the image and is repeated over T, then
  ``IF -> maxpool``; SEW blocks join the branch spikes ``A`` and the shortcut spikes ``S``
  by ADD ``A + S``, AND ``A * S`` or IAND ``S * (1 - A)``; plain blocks fire once on
  ``BN(...) + S``; the head averages over space, then over time. IF neuron:
  ``H = V + X``, spike at ``H >= 1``, hard reset to 0.
- Logits of the official code itself, stored as literals (see ``OFFICIAL_LOGITS``).
- The official key layout, written out by hand, and the official snapshot container.
"""

from __future__ import annotations

import argparse

import pytest
import snn_zoo
import torch
import torch.nn.functional as F

DT = torch.float64


def if_neuron(x: torch.Tensor) -> torch.Tensor:
    v, out = torch.zeros_like(x[0]), []
    for t in range(x.shape[0]):
        h = v + x[t]
        s = (h >= 1.0).to(x.dtype)
        v = h * (1 - s)
        out.append(s)
    return torch.stack(out)


def fold(fn, x):
    y = fn(x.flatten(0, 1))
    return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])


def conv_bn(w, name, x, stride=1):
    """SpikingJelly's SeqToANNContainer(conv, BN) at ``name.module.{0,1}``."""
    k = w[f"{name}.module.0.weight"]
    bn = f"{name}.module.1"

    def fn(z):
        z = F.conv2d(z, k, stride=stride, padding=k.shape[-1] // 2)
        return F.batch_norm(
            z,
            w[f"{bn}.running_mean"],
            w[f"{bn}.running_var"],
            w[f"{bn}.weight"],
            w[f"{bn}.bias"],
            training=False,
            eps=1e-5,
        )

    return fold(fn, x)


def official_forward(w, x, T, layers, bottleneck, cnf):
    z = F.conv2d(x, w["conv1.weight"], stride=2, padding=3)
    z = F.batch_norm(
        z, w["bn1.running_mean"], w["bn1.running_var"], w["bn1.weight"], w["bn1.bias"], eps=1e-5
    )
    h = if_neuron(z.unsqueeze(0).repeat(T, 1, 1, 1, 1))
    h = fold(lambda a: F.max_pool2d(a, 3, 2, 1), h)
    for s, n in enumerate(layers):
        for b in range(n):
            p = f"layer{s + 1}.{b}"
            stride = 2 if (s > 0 and b == 0) else 1
            convs = 3 if bottleneck else 2
            out = h
            for i in range(1, convs + 1):
                st = stride if (i == (2 if bottleneck else 1)) else 1
                out = conv_bn(w, f"{p}.conv{i}", out, st)
                if i < convs or cnf is not None:
                    out = if_neuron(out)
            identity = h
            if f"{p}.downsample.0.module.0.weight" in w:  # SEW: conv-BN-IF
                identity = if_neuron(conv_bn(w, f"{p}.downsample.0", h, stride))
            elif f"{p}.downsample.module.0.weight" in w:  # plain: conv-BN
                identity = conv_bn(w, f"{p}.downsample", h, stride)
            if cnf is None:
                h = if_neuron(out + identity)
            elif cnf == "ADD":
                h = out + identity
            elif cnf == "AND":
                h = out * identity
            else:
                h = identity * (1.0 - out)
    feats = fold(lambda a: F.adaptive_avg_pool2d(a, 1), h).flatten(2).mean(0)
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


CASES = [
    ("sew_resnet18", "ADD", (1, 2, 1, 1), False),
    ("sew_resnet18", "AND", (1, 1, 1, 1), False),
    ("sew_resnet18", "IAND", (1, 1, 1, 1), False),
    ("spiking_resnet18", None, (1, 2, 1, 1), False),
    ("sew_resnet50", "ADD", (1, 1, 1, 1), True),
    ("sew_resnet50", "IAND", (1, 1, 1, 1), True),
    ("spiking_resnet50", None, (1, 1, 1, 1), True),
]


@pytest.mark.parametrize("name,cnf,layers,bottleneck", CASES)
def test_forward_matches_the_official_op_order(name, cnf, layers, bottleneck):
    torch.manual_seed(0)
    extra = {} if cnf is None else dict(cnf=cnf)
    model = snn_zoo.create_model(name, layers=layers, T=2, num_classes=5, **extra).double()
    randomize_bn(model, 1)
    model.eval()
    x = torch.randn(2, 3, 32, 32, dtype=DT, generator=torch.Generator().manual_seed(2))
    w = dict(model.state_dict())
    expected, feats = official_forward(w, x, 2, layers, bottleneck, cnf)
    torch.testing.assert_close(model(x), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model(x[:1]), expected[:1], rtol=1e-10, atol=1e-12)  # batch 1
    assert feats.abs().sum() > 0  # spikes reach the head


def _official_weights(model: torch.nn.Module, seed: int) -> None:
    """Deterministic weights by official key (sorted), as given to the official code."""
    gen = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    for key in sorted(state):
        t = state[key]
        if not t.is_floating_point():
            continue
        if key.endswith("running_mean"):
            new = torch.randn(t.shape, generator=gen) * 0.1
        elif key.endswith("running_var"):
            new = torch.rand(t.shape, generator=gen) * 0.5 + 0.5
        elif t.dim() == 4:  # conv: He-normal over the fan-in
            new = torch.randn(t.shape, generator=gen) * (2.0 / t[0].numel()) ** 0.5
        elif key.startswith("fc."):
            new = torch.randn(t.shape, generator=gen) * 0.1
        elif key.endswith("weight"):  # BN scale
            new = torch.rand(t.shape, generator=gen) * 1.5 + 0.5
        else:  # BN shift
            new = torch.rand(t.shape, generator=gen) * 0.8 - 0.2
        t.copy_(new)


# Logits of the official code (imagenet/sew_resnet.py, spiking_resnet.py at commit cfc547c,
# run on SpikingJelly 2.0.0 through an adapter for its old `clock_driven.layer` /
# `cext.neuron` imports): `sew_resnet18(T=2, num_classes=4, connect_f=cnf)` or
# `spiking_resnet18(T=2, num_classes=4)`, weights from `_official_weights(model, 7)`, eval
# mode, input `torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))`.
OFFICIAL_LOGITS = {
    ("sew_resnet18", "ADD"): [
        [2.031254, 0.595353, -1.052168, -1.605958],
        [2.700774, -0.503853, -1.148438, -1.854786],
    ],
    ("sew_resnet18", "IAND"): [
        [-0.133953, 0.255633, -0.791337, 0.402563],
        [0.50928, 1.351693, -0.831259, 0.18813],
    ],
    ("spiking_resnet18", None): [
        [0.609542, -0.681815, -0.672529, -0.595197],
        [1.098238, 0.401501, -0.788163, -1.742443],
    ],
}


@pytest.mark.parametrize("name,cnf", sorted(OFFICIAL_LOGITS, key=str))
def test_logits_equal_the_official_codes(name, cnf):
    extra = {} if cnf is None else dict(cnf=cnf)
    model = snn_zoo.create_model(name, T=2, num_classes=4, **extra).eval()
    _official_weights(model, 7)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y = model(x)
        y1 = model(x[:1])
    expected = torch.tensor(OFFICIAL_LOGITS[(name, cnf)])
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(y1, expected[:1], rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- keys
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _conv_bn_keys(name: str) -> list[str]:
    return [f"{name}.module.0.weight", *[f"{name}.module.1.{p}" for p in BN]]


def _official_keys(layers, bottleneck: bool, sew: bool) -> list[str]:
    """The names the official modules create (SeqToANNContainer keeps its layers under
    ``module``; IF neurons and pools have none)."""
    keys = ["conv1.weight", *[f"bn1.{p}" for p in BN]]
    cin = 64
    for s, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
        cout = planes * (4 if bottleneck else 1)
        for b in range(n):
            p = f"layer{s + 1}.{b}"
            for i in range(1, 4 if bottleneck else 3):
                keys += _conv_bn_keys(f"{p}.conv{i}")
            if b == 0 and (s > 0 or cin != cout):
                keys += _conv_bn_keys(f"{p}.downsample.0" if sew else f"{p}.downsample")
            cin = cout
    return keys + ["fc.weight", "fc.bias"]


@pytest.mark.parametrize(
    "name,layers,bottleneck,sew",
    [
        ("sew_resnet18", (2, 2, 2, 2), False, True),
        ("sew_resnet34", (3, 4, 6, 3), False, True),
        ("sew_resnet50", (3, 4, 6, 3), True, True),
        ("sew_resnet152", (3, 8, 36, 3), True, True),
        ("spiking_resnet18", (2, 2, 2, 2), False, False),
        ("spiking_resnet101", (3, 4, 23, 3), True, False),
    ],
)
def test_state_dict_keys_follow_the_official_layout(name, layers, bottleneck, sew):
    with torch.device("meta"):
        model = snn_zoo.create_model(name)
    assert sorted(model.state_dict()) == sorted(_official_keys(layers, bottleneck, sew))


def test_official_training_snapshot_loads_strictly(tmp_path):
    src = snn_zoo.create_model("sew_resnet18", T=1, num_classes=3)
    state = {f"module.{k}": v for k, v in src.state_dict().items()}  # DDP prefix too
    snapshot = {
        "model": state,
        "optimizer": {"state": {}, "param_groups": []},
        "lr_scheduler": {"last_epoch": 3},
        "epoch": 3,
        "args": argparse.Namespace(model="sew_resnet18", connect_f="ADD", T=4),
        "max_test_acc1": 1.0,
        "test_acc5_at_max_test_acc1": 2.0,
    }
    path = tmp_path / "checkpoint_max_test_acc1.pth"
    torch.save(snapshot, path)
    dst = snn_zoo.create_model("sew_resnet18", T=1, num_classes=3, checkpoint_path=path)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
    with pytest.raises(ValueError, match="does not match"):
        snn_zoo.create_model("spiking_resnet18", T=1, num_classes=3, checkpoint_path=path)


# --------------------------------------------------------------------------- counts
PAPER_PARAMS_M = {  # Fang et al. 2021, Tab. 4 (the plain spiking ResNets have the same layers)
    "sew_resnet18": 11.69,
    "sew_resnet34": 21.79,
    "sew_resnet50": 25.56,
    "sew_resnet101": 44.55,
    "sew_resnet152": 60.19,
}


def _resnet_count(layers, bottleneck: bool, classes: int = 1000) -> int:
    n, cin = 3 * 64 * 49 + 2 * 64, 64
    for s, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
        cout = planes * (4 if bottleneck else 1)
        for b in range(blocks):
            if bottleneck:
                n += cin * planes + 9 * planes * planes + planes * cout + 4 * planes + 2 * cout
            else:
                n += 9 * cin * planes + 9 * planes * planes + 4 * planes
            if b == 0 and (s > 0 or cin != cout):
                n += cin * cout + 2 * cout
            cin = cout
    return n + cin * classes + classes


@pytest.mark.parametrize(
    "name,layers,bottleneck",
    [
        ("sew_resnet18", (2, 2, 2, 2), False),
        ("sew_resnet34", (3, 4, 6, 3), False),
        ("sew_resnet50", (3, 4, 6, 3), True),
        ("sew_resnet101", (3, 4, 23, 3), True),
        ("sew_resnet152", (3, 8, 36, 3), True),
    ],
)
def test_params_match_the_paper_table_and_a_hand_count(name, layers, bottleneck):
    for variant in (name, name.replace("sew_", "spiking_")):
        with torch.device("meta"):
            model = snn_zoo.create_model(variant)
        n = sum(p.numel() for p in model.parameters())
        assert n == _resnet_count(layers, bottleneck)
        assert abs(n / 1e6 - PAPER_PARAMS_M[name]) <= 0.02, (variant, n)
        assert abs(snn_zoo.get_pretrained_cfg(variant)["params_m"] - n / 1e6) <= 0.02


# --------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("cnf", ["ADD", "AND", "IAND", None])
def test_zero_init_residual_blocks_start_as_the_identity(cnf):
    # the official code's own check: with zero-init, a block maps spikes to themselves
    name = "spiking_resnet18" if cnf is None else "sew_resnet18"
    extra = {} if cnf is None else dict(cnf=cnf)
    model = snn_zoo.create_model(name, zero_init_residual=True, T=2, **extra).eval()
    block = model.layer1[0]
    x = (torch.rand(2, 1, 64, 8, 8, generator=torch.Generator().manual_seed(0)) >= 0.5).float()
    with torch.no_grad():
        y = block(x)
    # ADD: 0 + S; AND: the BN bias 1 fires every step, 1 * S; IAND: S * (1 - 0);
    # plain: IF(0 + S) fires exactly where S = 1 (H = 1 >= 1) and resets to 0
    assert torch.equal(y, x)


def test_sequence_input_equals_the_repeated_image():
    model = snn_zoo.create_model("sew_resnet18", layers=(1, 1, 1, 1), T=3, num_classes=4).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x.unsqueeze(0).repeat(3, 1, 1, 1, 1)), model(x))


def test_add_blocks_output_spike_counts_beyond_one():
    model = snn_zoo.create_model("sew_resnet18", layers=(1, 1, 1, 1), T=2).eval()
    randomize_bn(model.double(), 3)
    with torch.no_grad():
        x = torch.randn(1, 3, 32, 32, dtype=DT)
        feats = model.forward_intermediates(x, intermediates_only=True)
    assert feats[1].max() > 1.0  # ADD: A + S reaches 2


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="cnf must be one of"):
        snn_zoo.create_model("sew_resnet18", cnf="OR")
    with pytest.raises(ValueError, match="drop_path_rate=0.1 needs cnf"):
        snn_zoo.create_model("sew_resnet18", cnf="AND", drop_path_rate=0.1)
    with pytest.raises(ValueError, match="block must be one of"):
        snn_zoo.create_model("sew_resnet18", block="wide")
    with pytest.raises(ValueError, match="input has 1 channels"):
        snn_zoo.create_model("sew_resnet18", T=1)(torch.rand(1, 1, 32, 32))


def test_digits_variant_trains_through_timm_and_the_registry():
    model = snn_zoo.create_model("sew_resnet_digits")
    assert model(torch.rand(3, 1, 8, 8)).shape == (3, 10)
    assert [f["num_chs"] for f in model.feature_info] == [16, 16, 32]
    try:
        import timm
    except Exception as exc:
        pytest.skip(f"timm is not importable here: {exc}")
    net = timm.create_model("sew_resnet_digits", features_only=True)
    feats = net(torch.rand(2, 1, 8, 8))
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 8, 8), (16, 8, 8), (32, 4, 4)]
    clf = timm.create_model("sew_resnet_digits", num_classes=5, drop_rate=0.0, drop_path_rate=None)
    assert clf(torch.rand(2, 1, 8, 8)).shape == (2, 5)


@pytest.mark.parametrize("cnf", ["ADD", "IAND", None])
def test_every_parameter_gets_a_gradient(cnf):
    model = snn_zoo.create_model("sew_resnet_digits", cnf=cnf)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = model(x)
    F.cross_entropy(y, torch.tensor([0, 1, 2, 3])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    assert model.conv1.weight.grad.abs().sum() > 0  # through every neuron to the stem


def test_grad_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    model = snn_zoo.create_model("sew_resnet_digits")
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    grads = []
    for enable in (False, True):
        model.set_grad_checkpointing(enable)
        model.zero_grad()
        model.eval()  # no BN statistics updates between the two runs
        model(x).square().sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)
