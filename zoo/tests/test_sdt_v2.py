"""Meta-SpikeFormer (Spike-driven Transformer v2) against the official code
(BICLab/Spike-Driven-Transformer-V2, commit 35f245f, ``classification/models.py``).

- ``OFFICIAL_LOGITS``: logits of the official ``Spiking_vit_MetaFormer`` itself on a tiny
  configuration (``embed_dim=[8, 16, 32, 40]``, 4 heads, 32x32 input, 3 classes), stored as
  literals. They were produced by running the official file unchanged under a local import
  adapter (timm's helpers and spikingjelly 0.0.0.0.12's ``clock_driven.neuron.
  MultiStepLIFNode`` mapped onto spikingjelly 2.0.0's multi-step ``LIFNode``, torch backend;
  the adapter is not part of this repository), in float64, with ``model.T`` set as below,
  ``functional.reset_net`` before every call, the weights of :func:`official_weights`
  (seed 7) over the official key list and the input of :func:`make_input` (seed 11); batch
  norms in eval mode (running statistics) and train mode (batch statistics).
- The official state-dict layout, written out by hand from the official modules.
- Parameter counts of the official builders (31.33 / 55.35 / 55.99 with ``kd`` / 123.74 M,
  counted by instantiating them; the paper rounds to 31.3 and 55.4 M).
"""

from __future__ import annotations

import argparse

import pytest
import snn_zoo
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from snn_layers.attention import make_neuron_factory
from snn_zoo.families.sdt_v2 import MetaSpikeFormer, MSRepAttention

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(name: str) -> list[str]:
    return [f"{name}.{p}" for p in BN]


def _down(name: str) -> list[str]:
    return [f"{name}.encode_conv.weight", f"{name}.encode_conv.bias", *_bn(f"{name}.encode_bn")]


def _conv_block(name: str) -> list[str]:
    # MS_ConvBlock: Conv = SepConv(pwconv1, bn1, dwconv, pwconv2, bn2), conv1, bn1, conv2, bn2
    return [
        f"{name}.Conv.pwconv1.weight", *_bn(f"{name}.Conv.bn1"), f"{name}.Conv.dwconv.weight",
        f"{name}.Conv.pwconv2.weight", *_bn(f"{name}.Conv.bn2"),
        f"{name}.conv1.weight", *_bn(f"{name}.bn1"), f"{name}.conv2.weight", *_bn(f"{name}.bn2"),
    ]  # fmt: skip


def _rep(name: str) -> list[str]:
    # Sequential(RepConv(body = conv1x1, BNAndPadLayer(bn), Sequential(dw, pw, BN)), BN)
    b = f"{name}.0.body"
    return [
        f"{b}.0.weight", *_bn(f"{b}.1.bn"), f"{b}.2.0.weight", f"{b}.2.1.weight",
        *_bn(f"{b}.2.2"), *_bn(f"{name}.1"),
    ]  # fmt: skip


def _block(name: str) -> list[str]:
    attn = [
        k for p in ("q_conv", "k_conv", "v_conv", "proj_conv") for k in _rep(f"{name}.attn.{p}")
    ]
    mlp = [
        k
        for f in ("fc1", "fc2")
        for k in [
            f"{name}.mlp.{f}_conv.weight",
            f"{name}.mlp.{f}_conv.bias",
            *_bn(f"{name}.mlp.{f}_bn"),
        ]
    ]
    return attn + mlp


def official_keys(kd: bool) -> list[str]:
    keys = [*_down("downsample1_1"), *_conv_block("ConvBlock1_1.0"), *_down("downsample1_2")]
    keys += [*_conv_block("ConvBlock1_2.0"), *_down("downsample2")]
    keys += [*_conv_block("ConvBlock2_1.0"), *_conv_block("ConvBlock2_2.0"), *_down("downsample3")]
    keys += [k for j in range(6) for k in _block(f"block3.{j}")] + _down("downsample4")
    keys += [k for j in range(2) for k in _block(f"block4.{j}")] + ["head.weight", "head.bias"]
    return keys + (["head_kd.weight", "head_kd.bias"] if kd else [])


def official_weights(state: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Deterministic float64 weights for the official keys, drawn in sorted key order."""
    g = torch.Generator().manual_seed(seed)

    def draw(shape: torch.Size, fn) -> torch.Tensor:
        return fn(shape, generator=g, dtype=torch.float64)

    out = {}
    for k in sorted(state):
        v = state[k]
        if k.endswith("num_batches_tracked"):
            out[k] = v.clone()
        elif k.endswith("running_var"):
            out[k] = 0.05 + 0.2 * draw(v.shape, torch.rand)
        elif k.endswith(".weight") and v.dim() == 1:
            out[k] = 0.5 + draw(v.shape, torch.rand)
        elif k.endswith("running_mean"):
            out[k] = 0.1 * draw(v.shape, torch.randn)
        elif k.endswith(".bias"):
            out[k] = 0.2 + 0.5 * draw(v.shape, torch.randn)
        else:
            out[k] = draw(v.shape, torch.randn) * (2.0 / v[0].numel()) ** 0.5
    return out


def make_input(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 2.0 * torch.rand(shape, generator=g, dtype=torch.float64)


TINY = dict(img_size=32, embed_dim=(8, 16, 32, 40), num_heads=4, num_classes=3)
CONFIGS = {"plain": dict(T=2, distillation=False), "kd": dict(T=1, distillation=True)}

# from the official code, see the module docstring; batch 2 and sample 0 alone ('_b1');
# 'kd' in train mode: the pair (head, head_kd)
OFFICIAL_LOGITS = {
    "plain": {
        "eval": [
            [-0.10802146670175716, 2.6815028425771743, -0.9454617113806307],
            [0.6119761048466899, 2.372694256948307, -0.8255724771879613],
        ],
        "train": [
            [0.5294052159879357, 1.284071217291057, -0.3280545435845852],
            [0.346772929886356, 0.7115108789876103, -0.18096659146249294],
        ],
        "train_b1": [[0.4792145995888859, 1.3542614178732038, -0.23726014234125614]],
    },
    "kd": {
        "eval": [
            [-0.11122187454020604, 1.4685141408117488, -1.064155799569562],
            [0.1635032869526185, 1.4489820023300126, 0.4352088419254869],
        ],
        "train": [
            [
                [-0.0667051742784679, 0.4881073087453842, -0.42924007773399353],
                [0.7877588160336018, 1.953519793227315, -0.5822616126388311],
            ],
            [
                [-0.14386026561260223, 0.8570426255464554, 0.5433128606528044],
                [-0.15728102927096188, 0.025484643876552582, -0.375554540194571],
            ],
        ],
        "train_b1": [
            [[0.0447879359126091, 0.4173798896372318, 0.2649850696325302]],
            [[0.35550790280103683, 0.7851212173700333, 0.4002300202846527]],
        ],
    },
}


def _official_model(name: str) -> tuple[MetaSpikeFormer, torch.Tensor]:
    model = MetaSpikeFormer(**TINY, **CONFIGS[name])
    model.load_state_dict(official_weights(model.state_dict(), seed=7), strict=True)
    return model.double(), make_input((2, 3, 32, 32), seed=11)


def _as_tensor(y: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.stack(y) if isinstance(y, tuple) else y


@pytest.fixture(scope="module")
def official_models() -> dict[str, tuple[MetaSpikeFormer, torch.Tensor]]:
    return {name: _official_model(name) for name in CONFIGS}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_logits_equal_the_official_code_at_batch_1_and_2(name, official_models):
    model, x = official_models[name]
    expected = {k: torch.tensor(v, dtype=torch.float64) for k, v in OFFICIAL_LOGITS[name].items()}
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(model(x), expected["eval"], rtol=0, atol=1e-9)
        torch.testing.assert_close(model(x[:1]), expected["eval"][:1], rtol=0, atol=1e-9)
        model.train()
        torch.testing.assert_close(_as_tensor(model(x)), expected["train"], rtol=0, atol=1e-9)
        y1 = _as_tensor(model(x[:1]))
        torch.testing.assert_close(y1, expected["train_b1"], rtol=0, atol=1e-9)
    model.eval()


def test_float32_agrees_with_the_official_float64_logits(official_models):
    model, x = official_models["plain"]
    model = MetaSpikeFormer(**TINY, **CONFIGS["plain"])
    model.load_state_dict(official_weights(model.state_dict(), seed=7))
    with torch.no_grad():
        y = model.eval()(x.float())
    expected = torch.tensor(OFFICIAL_LOGITS["plain"]["eval"], dtype=torch.float32)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kd", [False, True])
def test_state_dict_keys_are_the_official_ones(kd):
    model = MetaSpikeFormer(**TINY, distillation=kd)
    assert list(model.state_dict()) == official_keys(kd)


def test_padded_bn_border_is_the_bn_image_of_zero():
    model, _ = _official_model("plain")
    pad = model.block3[0].attn.q_conv[0].body[1].eval()
    x = torch.randn(2, pad.bn.num_features, 3, 3, dtype=torch.float64)
    y = pad(x)
    zero_image = pad.bn(torch.zeros(1, pad.bn.num_features, 1, 1, dtype=torch.float64))
    torch.testing.assert_close(y[:, :, 1:-1, 1:-1], pad.bn(x))
    torch.testing.assert_close(y[:, :, 0, :], zero_image[:, :, 0].expand(2, -1, 5))


@pytest.mark.parametrize("container", ["model", "state_dict", "module", "safetensors"])
def test_official_checkpoints_load_strictly(container, tmp_path):
    overrides = dict(embed_dim=(8, 16, 32, 40), num_heads=4, img_size=32)
    model = snn_zoo.create_model("metaspikformer_8_512_kd", **overrides)
    official = {k: v.float() for k, v in official_weights(model.state_dict(), 3).items()}
    official = {
        k: v.long() if k.endswith("num_batches_tracked") else v for k, v in official.items()
    }
    if container == "safetensors":
        path = tmp_path / "ckpt.safetensors"
        save_file(official, str(path))
    else:
        path = tmp_path / "checkpoint-199.pth"
        state = (
            {f"module.{k}": v for k, v in official.items()} if container == "module" else official
        )
        key = "model" if container == "module" else container
        torch.save({key: state, "epoch": 199, "args": argparse.Namespace(lr=6e-4)}, path)
    loaded = snn_zoo.create_model("metaspikformer_8_512_kd", checkpoint_path=path, **overrides)
    own = loaded.state_dict()
    assert set(own) == set(official)
    for k, v in own.items():
        assert torch.equal(v, official[k]), k


def test_missing_official_key_is_an_error(tmp_path):
    overrides = dict(embed_dim=(8, 16, 32, 40), num_heads=4, img_size=32)
    model = snn_zoo.create_model("metaspikformer_8_384", **overrides)
    state = {k: v for k, v in model.state_dict().items() if k != "block4.1.mlp.fc2_bn.running_var"}
    save_file(state, str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="block4.1.mlp.fc2_bn.running_var"):
        snn_zoo.create_model(
            "metaspikformer_8_384", checkpoint_path=tmp_path / "missing.safetensors", **overrides
        )


# counted by instantiating the official builders (see the module docstring)
OFFICIAL_PARAMS_M = {
    "metaspikformer_8_384": 31.333864,
    "metaspikformer_8_512": 55.350248,
    "metaspikformer_8_512_kd": 55.991248,
    "metaspikformer_8_768": 123.74116,
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_PARAMS_M))
def test_params_match_the_official_builders_and_cards(name):
    with torch.device("meta"):
        model = snn_zoo.create_model(name)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(count - OFFICIAL_PARAMS_M[name]) < 1e-6
    card = snn_zoo.get_pretrained_cfg(name)
    assert abs(card["params_m"] - count) <= 0.01
    assert card["origin_url"] == "https://github.com/BICLab/Spike-Driven-Transformer-V2"
    assert "tau=2" in card["neurons"] and card["quirks"]


def test_paper_counts_within_rounding():
    assert abs(OFFICIAL_PARAMS_M["metaspikformer_8_384"] - 31.3) < 0.05
    assert abs(OFFICIAL_PARAMS_M["metaspikformer_8_512"] - 55.4) < 0.05


@pytest.mark.parametrize("T", [1, 3])
def test_forward_backward_independent_calls_and_T_at_creation(T):
    torch.manual_seed(0)
    model = snn_zoo.create_model("metaspikformer_8_512", T=T, **{**TINY, "num_classes": 5})
    assert model.T == T
    x = torch.rand(2, 3, 32, 32)
    y = model(x)
    assert y.shape == (2, 5)
    y.square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        assert torch.equal(model(x), model(x))  # state reset at every forward
        model.eval()
        torch.testing.assert_close(model(x), model(x.unsqueeze(0).repeat(T, 1, 1, 1, 1)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(embed_dim=(8, 16, 32)), "embed_dim"),
        (dict(num_heads=3), "num_heads"),
        (dict(drop_path_rate=0.1), "drop_path_rate=0.1 is not supported"),
        (dict(distillation=1), "distillation"),
        (dict(mlp_ratio=0), "mlp_ratio"),
        (dict(depths=(6,)), r"depths must be 2 ints >= 1 .*got \(6,\)"),
        (dict(depths=(0, 2)), r"depths must be 2 ints >= 1"),
        (dict(depths=(1.0, 2)), r"depths must be 2 ints >= 1"),
        (dict(strides=(2, 2, 2, 2)), r"strides must be 5 ints >= 1 .*got \(2, 2, 2, 2\)"),
        (dict(strides=(2, 2, 0, 2, 1)), r"strides must be 5 ints >= 1"),
        (dict(strides="22221"), r"strides must be 5 ints >= 1"),
        (dict(attn_scale=0.0), r"attn_scale must be a finite float > 0, got 0.0"),
        (dict(attn_scale=-1), r"attn_scale must be a finite float > 0, got -1"),
        (dict(attn_scale=float("inf")), r"attn_scale must be a finite float > 0, got inf"),
        (dict(attn_scale="1/sqrt(d)"), r"attn_scale must be a finite float > 0"),
        (dict(attn_scale=True), r"attn_scale must be a finite float > 0, got True"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MetaSpikeFormer(**{**TINY, **kwargs})


# ------------------------------------------------- options beyond the official layout
def _downsamplings(model: MetaSpikeFormer) -> list[torch.nn.Module]:
    names = ("downsample1_1", "downsample1_2", "downsample2", "downsample3", "downsample4")
    return [getattr(model, n) for n in names]


def test_defaults_keep_the_official_depths_strides_and_scale():
    model = MetaSpikeFormer(**TINY)
    assert (len(model.block3), len(model.block4)) == (6, 2)
    assert [d.encode_conv.stride for d in _downsamplings(model)] == [(2, 2)] * 4 + [(1, 1)]
    assert {b.attn.scale for b in [*model.block3, *model.block4]} == {0.125}
    assert [f["reduction"] for f in model.feature_info] == [2, 4, 8, 16, 16]
    with torch.no_grad():
        assert model.forward_features(torch.rand(1, 3, 32, 32)).shape[-2:] == (2, 2)


def test_depths_and_strides_set_block_counts_and_token_grid():
    model = MetaSpikeFormer(**TINY, T=1, depths=(2, 3), strides=(1, 2, 1, 2, 1), attn_scale=2)
    assert (len(model.block3), len(model.block4)) == (2, 3)
    assert [d.encode_conv.stride for d in _downsamplings(model)] == [
        (1, 1), (2, 2), (1, 1), (2, 2), (1, 1)
    ]  # fmt: skip
    assert [f["reduction"] for f in model.feature_info] == [1, 2, 2, 4, 4]
    assert {b.attn.scale for b in [*model.block3, *model.block4]} == {2.0}
    with torch.no_grad():  # 32 / (1 * 2 * 1 * 2 * 1) = 8: an 8x8 token grid
        assert model.forward_features(torch.rand(1, 3, 32, 32)).shape == (1, 1, 40, 8, 8)


def _hand_lif(y: torch.Tensor, v_th: float) -> torch.Tensor:
    """LIF tau=2 with decay_input, hard reset to 0, over ``y``'s first (time) axis."""
    v, out = torch.zeros_like(y[0]), []
    for y_t in y:
        v = v + (y_t - v) / 2
        s = (v >= v_th).to(y.dtype)
        out.append(s)
        v = v * (1 - s)
    return torch.stack(out)


@pytest.mark.parametrize("scale", [0.125, 1.0])
def test_attention_neuron_sees_the_scaled_q_kt_v(scale):
    # heads by explicit channel slices: Y_h = scale * Q_h (K_h^T V_h), tokens x head channels
    torch.manual_seed(0)
    C, h = 16, 2
    attn = MSRepAttention(C, h, make_neuron_factory(None, None, "torch"), scale)
    seen = {}
    for p in "qkv":  # BN(.) + 1.5 before the neurons: dense Q, K, V so that Y is large
        torch.nn.init.constant_(getattr(attn, f"{p}_conv")[1].bias, 1.5)
    for p in ("q", "k", "v", "attn"):
        getattr(attn, f"{p}_lif").register_forward_hook(
            lambda mod, args, out, p=p: seen.__setitem__(p, out.detach())
        )
    T, B, H, W = 3, 2, 2, 2
    attn(3 * torch.randn(T, B, C, H, W))
    q, k, v = (seen[p].flatten(3).transpose(-1, -2) for p in "qkv")  # [T, B, N, C]
    d = C // h
    heads = [slice(i * d, (i + 1) * d) for i in range(h)]
    y = torch.cat(
        [scale * q[..., j] @ (k[..., j].transpose(-1, -2) @ v[..., j]) for j in heads], -1
    )
    y = y.transpose(-1, -2)  # [T, B, C, N]
    torch.testing.assert_close(seen["attn"], _hand_lif(y, 0.5), rtol=0, atol=0)
    assert 0 < seen["attn"].mean() < 1
    if scale == 1.0:  # the scale moves the attention neuron: more spikes than at 1/8
        assert _hand_lif(y, 0.5).sum() > _hand_lif(y / 8, 0.5).sum()


def test_digits_variant_card_layout_and_sane_gradients():
    card = snn_zoo.get_pretrained_cfg("metaspikformer_digits")
    assert card["input_size"] == (1, 8, 8) and card["num_classes"] == 10 and card["T"] == 2
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    stem_grads = {}
    for scale in (1.0, 0.125):  # the variant's scale, then the official one
        torch.manual_seed(0)
        model = snn_zoo.create_model("metaspikformer_digits", attn_scale=scale)
        assert (len(model.block3), len(model.block4)) == (1, 1)
        assert abs(card["params_m"] - sum(p.numel() for p in model.parameters()) / 1e6) < 0.005
        assert model.block3[0].attn.attn_lif.v_threshold == 0.5
        spikes = []
        model.block3[0].attn.attn_lif.register_forward_hook(
            lambda mod, args, out, spikes=spikes: spikes.append(out.detach().sum())
        )
        with torch.no_grad():  # 8x8 -> 8 -> 4 -> 2 -> 2 -> 2: four tokens in stages 3 and 4
            assert model.forward_features(x).shape == (2, 4, 128, 2, 2)
        y = model(x)
        assert y.shape == (4, 10)
        F.cross_entropy(y, torch.tensor([0, 1, 2, 3])).backward()
        assert not [n for n, p in model.named_parameters() if p.grad is None]
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())
        stem_grads[scale] = model.downsample1_1.encode_conv.weight.grad.norm()
        if scale == 1.0:
            assert spikes[-1] > 0  # the attention neuron fires
        else:
            assert spikes[-1] == 0  # silent: its projection's BNs see a constant input
    # through every neuron to the stem; sane at scale 1, blown up by the silent attention
    assert 0 < stem_grads[1.0] < 1 and stem_grads[0.125] > 100 * stem_grads[1.0]
