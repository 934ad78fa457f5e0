"""Behaviour of the zoo models on CPU with small inputs (reduced image sizes and T)."""

from __future__ import annotations

import pytest
import snn_zoo
import torch
import torch.nn.functional as F

# name -> (overrides, input shape); reduced image sizes / T keep every case well under a second
SMALL = {
    "spikformer_digits": ({}, (2, 1, 8, 8)),
    "qkformer_digits": ({}, (2, 1, 8, 8)),
    "spikformer_4_384_cifar": (dict(embed_dim=64, num_heads=4, depth=1, T=2), (2, 3, 16, 16)),
    "qkformer_4_384_cifar": (dict(embed_dim=64, num_heads=4, depth=3, T=2), (2, 3, 16, 16)),
    "spikformer_2_256_dvs": (dict(embed_dim=64, depth=1, T=3), (3, 2, 2, 32, 32)),
    "qkformer_2_256_dvs": (dict(embed_dim=64, num_heads=4, T=3), (3, 2, 2, 32, 32)),
    "spikformer_8_384": (dict(embed_dim=32, num_heads=2, depth=1, T=2), (2, 3, 32, 32)),
    "qkformer_10_384": (dict(embed_dim=64, num_heads=4, depth=4, T=2), (2, 3, 32, 32)),
    "masnn_dvs128_gesture": (
        dict(T=5, img_size=16, channels=(8, 16, 16), fc_hidden=16, reduction_c=4),
        (5, 2, 2, 16, 16),
    ),
    "att_ms_resnet18": (dict(layers=(1, 1, 1, 1)), (2, 3, 64, 64)),
}


def _build(name: str, **extra):
    overrides, shape = SMALL[name]
    torch.manual_seed(0)
    return snn_zoo.create_model(name, **{**overrides, **extra}), shape


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_backward_shapes_and_gradients(name):
    model, shape = _build(name)
    x = torch.rand(shape)
    y = model(x)
    assert y.shape == (shape[-4], model.num_classes)
    assert torch.isfinite(y).all()
    (y * torch.randn(y.shape, generator=torch.Generator().manual_seed(2))).sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"
    head = [m for m in model.get_classifier().modules() if isinstance(m, torch.nn.Linear)][0]
    assert head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["spikformer_digits", "qkformer_digits", "masnn_dvs128_gesture"])
def test_two_calls_give_the_same_output(name):
    model, shape = _build(name)  # train mode: batch statistics, no dropout in these models
    x = torch.rand(shape)
    with torch.no_grad():
        y1, y2 = model(x), model(x)
    assert torch.equal(y1, y2)
    assert y1.abs().sum() > 0


def test_static_input_equals_its_repetition_over_time():
    model, shape = _build("qkformer_digits")
    x = torch.rand(shape)
    with torch.no_grad():
        a = model(x)
        b = model(x.unsqueeze(0).repeat(model.T, 1, 1, 1, 1))
        c = model(x.unsqueeze(0).repeat(model.T + 2, 1, 1, 1, 1))  # any T for sequences
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_state_is_reset_between_batches_of_different_size():
    model, _ = _build("spikformer_digits")
    model.eval()
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        full = model(x)
        part = model(x[:2])  # neurons hold [T, 4, ...] state unless reset at every call
    torch.testing.assert_close(part, full[:2])


@pytest.mark.parametrize("name", ["spikformer_digits", "qkformer_digits", "masnn_dvs128_gesture"])
def test_a_few_training_steps_lower_the_loss(name):
    gen = torch.Generator().manual_seed(1)
    if name.startswith("masnn"):
        # MA-SNN outputs firing rates and was trained with MSE to one-hot targets (paper);
        # a batch of 8 keeps its batch norms' statistics meaningful
        model, _ = _build(name, T=8, fc_hidden=32)
        x, lr, steps = torch.rand((8, 8, 2, 16, 16), generator=gen), 1e-3, 10
        target = torch.arange(8) % model.num_classes

        def loss_fn(y):
            return F.mse_loss(y, F.one_hot(target, model.num_classes).float())
    else:
        model, shape = _build(name)
        x, lr, steps = torch.rand(shape, generator=gen), 1e-2, 8
        target = torch.arange(shape[0]) % model.num_classes

        def loss_fn(y):
            return F.cross_entropy(y, target)

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses


def test_forward_head_features_and_classifier_reset():
    model, shape = _build("spikformer_digits")
    x = torch.rand(shape)
    feats = model.forward_features(x)
    assert feats.shape[:3] == (model.T, shape[0], model.num_features)
    assert model.forward_head(feats, pre_logits=True).shape == (shape[0], model.num_features)
    model.reset_classifier(5)
    assert model(x).shape == (shape[0], 5) and model.get_classifier().out_features == 5
    model.reset_classifier(0)
    assert model(x).shape == (shape[0], model.num_features)


def test_masnn_classifier_reset_and_pre_logits():
    model, shape = _build("masnn_dvs128_gesture")
    x = torch.rand(shape)
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, 16)
    model.reset_classifier(3)
    assert model(x).shape == (2, 3)


@pytest.mark.parametrize("name", ["qkformer_10_384", "spikformer_digits", "att_ms_resnet18"])
def test_forward_intermediates_match_feature_info(name):
    model, shape = _build(name)
    model.eval()
    x = torch.rand(shape)
    n = len(model.feature_info)
    with torch.no_grad():
        final, feats = model.forward_intermediates(x)
        only = model.forward_intermediates(x, indices=[0, -1], intermediates_only=True)
    assert len(feats) == n
    for f, info in zip(feats, model.feature_info):
        assert f.shape[:2] == (shape[-4], info["num_chs"])
        assert f.shape[-1] == -(-shape[-1] // info["reduction"])  # ceil: padded pooling
    assert torch.equal(only[0], feats[0]) and torch.equal(only[1], feats[-1])
    torch.testing.assert_close(final.mean(0), feats[-1])
    with pytest.raises(ValueError, match="out of range"):
        model.forward_intermediates(x, indices=[n])


def test_overrides_reach_the_model_and_its_card():
    model = snn_zoo.create_model(
        "spikformer_4_384_cifar",
        T=2,
        num_classes=7,
        in_chans=1,
        img_size=24,
        embed_dim=32,
        num_heads=2,
        depth=1,
    )
    assert (model.T, model.num_classes, model.in_chans) == (2, 7, 1)
    card = model.pretrained_cfg
    assert card["T"] == 2 and card["num_classes"] == 7 and card["input_size"] == (1, 24, 24)
    assert model(torch.rand(2, 1, 24, 24)).shape == (2, 7)
    n = sum(
        isinstance(m, torch.nn.Module) and getattr(m, "backend", None) == "torch"
        for m in model.modules()
    )
    assert n > 0


def test_bare_architecture_names_build_the_headline_variants():
    for arch, variant in (
        ("spikformer", "spikformer_8_768"),
        ("qkformer", "qkformer_10_768"),
        ("masnn", "masnn_dvs128_gesture"),
    ):
        with torch.device("meta"):
            model = snn_zoo.create_model(arch)
        assert model.pretrained_cfg["name"] == variant
    expected = {
        "masnn": "masnn_dvs128_gesture",
        "qkformer": "qkformer_10_768",
        "spikformer": "spikformer_8_768",
        "sew_resnet": "sew_resnet34",
        "spiking_resnet": "spiking_resnet34",
        "ms_resnet": "ms_resnet34",
    }
    assert expected.items() <= snn_zoo.list_architectures().items()


def test_list_models_patterns():
    assert snn_zoo.list_models("qkformer_10_*") == [
        "qkformer_10_384",
        "qkformer_10_512",
        "qkformer_10_768",
    ]
    assert "spikformer_digits" in snn_zoo.list_models(architecture="spikformer")
    assert snn_zoo.list_models("nothing*") == []
    with pytest.raises(ValueError, match="unknown architecture"):
        snn_zoo.list_models(architecture="vit")


def test_unknown_names_list_close_matches():
    with pytest.raises(ValueError, match="spikformer_8_384") as err:
        snn_zoo.create_model("spikformer_8_348")
    assert "did you mean" in str(err.value)
    with pytest.raises(ValueError, match=r"architectures: masnn, .*ms_resnet, .*qkformer, ") as err:
        snn_zoo.create_model("xyz")
    assert "sew_resnet" in str(err.value) and "spikformer" in str(err.value)


def test_bad_overrides_give_clear_errors():
    with pytest.raises(TypeError, match=r"unknown override\(s\) \['tau'\].*allowed:.*num_classes"):
        snn_zoo.create_model("spikformer_digits", tau=3.0)
    with pytest.raises(ValueError, match="T must be an int >= 1"):
        snn_zoo.create_model("spikformer_digits", T=0)
    with pytest.raises(ValueError, match="img_size"):
        snn_zoo.create_model("spikformer_digits", img_size=(8,))
    with pytest.raises(ValueError, match="divisible by num_heads"):
        snn_zoo.create_model("spikformer_digits", num_heads=5)
    with pytest.raises(ValueError, match="backend"):
        snn_zoo.create_model("spikformer_digits", backend="no-such-backend")
    with pytest.raises(ValueError, match="divisible by the total pooling"):
        snn_zoo.create_model("masnn_dvs128_gesture", img_size=30)
    with pytest.raises(ValueError, match="no weights are bundled"):
        snn_zoo.create_model("qkformer_digits", pretrained=True)


def test_bad_inputs_give_clear_errors():
    model, _ = _build("spikformer_digits")
    with pytest.raises(ValueError, match="in_chans=1"):
        model(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        model(torch.rand(8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 1, 8, 8, dtype=torch.long))
    masnn, shape = _build("masnn_dvs128_gesture")
    with pytest.raises(ValueError, match="T=5 steps"):
        masnn(torch.rand(4, *shape[1:]))


def test_drop_path_is_stochastic_in_training_only():
    model, shape = _build("spikformer_digits", drop_path_rate=0.5, depth=2)
    x = torch.rand(shape)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(3)
    with torch.no_grad():
        outs = {tuple(model(x).flatten().tolist()) for _ in range(6)}
    assert len(outs) > 1


# one small variant per family: (name, overrides, input shape, extra heads)
HEADS = [
    ("spikformer_digits", {}, (2, 1, 8, 8), ()),
    ("qkformer_digits", {}, (2, 1, 8, 8), ()),
    ("sdt_digits", {}, (2, 1, 8, 8), ()),
    ("maxformer_digits", {}, (2, 1, 8, 8), ()),
    ("sew_resnet_digits", {}, (2, 1, 8, 8), ()),
    ("att_ms_resnet18", dict(layers=(1, 1, 1, 1)), (2, 3, 64, 64), ()),
    (
        "metaspikformer_8_512_kd",
        dict(embed_dim=(8, 16, 32, 40), num_heads=4, img_size=32, T=1),
        (2, 3, 32, 32),
        ("head_kd",),
    ),
]


@pytest.mark.parametrize("name,overrides,shape,extra", HEADS, ids=[h[0] for h in HEADS])
def test_every_family_resets_its_classifier(name, overrides, shape, extra):
    torch.manual_seed(0)
    model = snn_zoo.create_model(name, **overrides).eval()
    x = torch.rand(shape)
    assert model.get_classifier() is getattr(model, model.head_attr)
    model.reset_classifier(7)
    head = model.get_classifier()
    assert head.out_features == 7 and all(getattr(model, e).out_features == 7 for e in extra)
    with torch.no_grad():
        assert model(x).shape == (shape[0], 7)
        model.reset_classifier(0)
        assert isinstance(model.get_classifier(), torch.nn.Identity)
        assert model(x).shape == (shape[0], model.num_features)
    with pytest.raises(ValueError, match="num_classes"):
        model.reset_classifier(-1)
    with pytest.raises(ValueError, match="global_pool"):
        model.reset_classifier(3, global_pool="max")
