"""Spike-driven Transformer v1 against the official code (BICLab/Spike-Driven-Transformer,
commit 3faa822, ``model/spikeformer.py``, ``module/sps.py``, ``module/ms_conv.py``).

- ``OFFICIAL_LOGITS``: logits of the official ``SpikeDrivenTransformer`` itself on tiny
  configurations, stored as literals. They were produced by running the official files
  unchanged under a local import adapter (timm's helpers and spikingjelly 0.0.0.0.12's
  ``clock_driven.neuron.MultiStepLIFNode`` mapped onto spikingjelly 2.0.0's multi-step
  ``LIFNode``, torch backend; the adapter is not part of this repository), in float64, with
  the weights of :func:`official_weights` (seed 7) over the official key list and the input
  of :func:`make_input` (seed 11) in the official ``[B, T, C, H, W]`` layout; batch norms in
  eval mode (running statistics) and in train mode (batch statistics).
- The official state-dict layout, written out by hand from the official modules.
- The papers' parameter counts (README / paper Table 1: 16.81, 23.37, 29.68, 36.01, 66.34 M).
"""

from __future__ import annotations

import argparse
import logging

import pytest
import snn_zoo
import torch
from safetensors.torch import save_file
from snn_zoo.families.sdt import SpikeDrivenTransformer

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(name: str) -> list[str]:
    return [f"{name}.{p}" for p in BN]


# MS_SPS: proj_conv{,1,2,3} (bias=False) + proj_bn{,1,2,3}; rpe_conv (bias=False) + rpe_bn
OFFICIAL_SPS = [
    k
    for s in ("", "1", "2", "3")
    for k in [f"patch_embed.proj_conv{s}.weight", *_bn(f"patch_embed.proj_bn{s}")]
] + ["patch_embed.rpe_conv.weight", *_bn("patch_embed.rpe_bn")]
# MS_Block_Conv: attn = MS_SSA_Conv (q/k/v conv bias=False, talking_heads Conv1d bias=False,
# proj_conv with bias), mlp = MS_MLP_Conv (fc1/fc2 1x1 Conv2d with bias)
OFFICIAL_BLOCK = [
    *[k for p in "qkv" for k in [f"attn.{p}_conv.weight", *_bn(f"attn.{p}_bn")]],
    "attn.talking_heads.weight",
    "attn.proj_conv.weight",
    "attn.proj_conv.bias",
    *_bn("attn.proj_bn"),
    *[
        k
        for f in ("fc1", "fc2")
        for k in [f"mlp.{f}_conv.weight", f"mlp.{f}_conv.bias", *_bn(f"mlp.{f}_bn")]
    ],
]
OFFICIAL_HEAD = ["head.weight", "head.bias"]


def official_keys(depth: int) -> list[str]:
    blocks = [f"block.{i}.{k}" for i in range(depth) for k in OFFICIAL_BLOCK]
    return OFFICIAL_SPS + blocks + OFFICIAL_HEAD


def official_state(model: SpikeDrivenTransformer, heads: int) -> dict[str, torch.Tensor]:
    """Tensors in the official layout: the model's own, plus the unused ``talking_heads``."""
    own = model.state_dict()
    return {
        k: own[k] if k in own else torch.zeros(heads, heads, 1)
        for k in official_keys(len(model.block))
    }


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


# name -> (our config, official input shape [B, (T,) C, H, W])
CONFIGS = {
    "imagenet": (
        dict(img_size=32, in_chans=3, embed_dim=32, num_heads=4, depth=2, T=3, pooling_stat="1111"),
        (2, 3, 32, 32),
    ),
    "cifar_mlp_residual": (  # mlp_ratio 1: the MLP's inner membrane shortcut
        dict(
            img_size=16, in_chans=3, embed_dim=32, num_heads=8, depth=1, T=2, mlp_ratio=1,
            pooling_stat="0011",
        ),
        (2, 3, 16, 16),
    ),
    "cifar10_dvs": (
        dict(
            img_size=16, in_chans=2, embed_dim=32, num_heads=4, depth=2, T=3,
            pooling_stat="0011", dvs_mode=True,
        ),
        (2, 3, 2, 16, 16),
    ),
    "gesture": (
        dict(img_size=16, in_chans=2, embed_dim=32, num_heads=4, depth=1, T=4, pooling_stat="0111"),
        (2, 4, 2, 16, 16),
    ),
}  # fmt: skip

# name -> {mode: logits at batch 2, 'train_b1': logits of sample 0 alone in train mode};
# from the official code, see the module docstring
OFFICIAL_LOGITS = {
    "imagenet": {
        "eval": [
            [-1.0065834534664948, -0.8889195614804825, 0.1327056266212215],
            [-1.377216616179794, -0.7740617248540124, 0.3338782504045715],
        ],
        "train": [
            [-1.113267404648165, -0.24441271927207708, 0.07796569649750988],
            [-1.1876865605202813, -0.06561332382261753, -0.04366077560310563],
        ],
        "train_b1": [[-1.068849033055206, -0.4399943050617973, 0.10258168160604934]],
    },
    "cifar_mlp_residual": {
        "eval": [
            [0.47693907760549337, -0.5943165752105415, -0.509804317727685],
            [0.4753756942227483, -0.6080234865657985, -0.45888551510870457],
        ],
        "train": [
            [-1.0538775650784373, 0.7770862572360784, 0.07154957950115204],
            [-0.12330003362149, 0.46800504461862147, -0.0287247933447361],
        ],
        "train_b1": [[-0.6370304645970464, 0.30377915618009865, 0.08199088275432587]],
    },
    "cifar10_dvs": {
        "eval": [
            [-1.4439580237182479, -1.0751109638561804, 0.05226742126978934],
            [-1.483803073099504, -1.0272811061392229, -0.19107416993938386],
        ],
        "train": [
            [-1.4352485130851467, -0.18405979375044504, 0.891700291618084],
            [-0.9686612308335801, -0.44949291677524644, 0.7114835934868703],
        ],
        "train_b1": [[-1.0550735529201727, -0.6248836458350221, 0.7548879539438834]],
    },
    "gesture": {
        "eval": [
            [1.1866385396569967, -2.1179422438144684, 0.12327957060188055],
            [0.9689883636310697, -2.196734892204404, 0.12320832815021276],
        ],
        "train": [
            [1.2531784661114216, -0.8288356862030923, 0.24041813984513283],
            [0.457322966074571, -0.09998010075651109, -0.12720471853390336],
        ],
        "train_b1": [[0.7771969239693135, -0.7487005316652358, -0.1239885576069355]],
    },
}


def _official_model(name: str) -> tuple[SpikeDrivenTransformer, torch.Tensor]:
    config, shape = CONFIGS[name]
    model = SpikeDrivenTransformer(num_classes=3, **config)
    weights = official_weights(official_state(model, config["num_heads"]), seed=7)
    model.load_state_dict(weights, strict=True)  # talking_heads dropped by the load hook
    x = make_input(shape, seed=11)
    return model.double(), (x.transpose(0, 1) if x.dim() == 5 else x)  # ours: [T, B, ...]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_logits_equal_the_official_code_at_batch_1_and_2(name):
    model, x = _official_model(name)
    expected = {k: torch.tensor(v, dtype=torch.float64) for k, v in OFFICIAL_LOGITS[name].items()}
    first = x[:, :1] if x.dim() == 5 else x[:1]
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(model(x), expected["eval"], rtol=0, atol=1e-9)
        torch.testing.assert_close(model(first), expected["eval"][:1], rtol=0, atol=1e-9)
        model.train()
        torch.testing.assert_close(model(x), expected["train"], rtol=0, atol=1e-9)
        torch.testing.assert_close(model(first), expected["train_b1"], rtol=0, atol=1e-9)


def test_float32_agrees_with_the_official_float64_logits():
    model, x = _official_model("imagenet")
    model = model.float().eval()
    with torch.no_grad():
        y = model(x.float())
    expected = torch.tensor(OFFICIAL_LOGITS["imagenet"]["eval"], dtype=torch.float32)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)


def test_dvs_mode_changes_the_attention():
    model, x = _official_model("cifar10_dvs")
    model.eval()
    with torch.no_grad():
        eroded = model(x)
        for blk in model.block:
            blk.attn.dvs_mode = False
        plain = model(x)
    assert (eroded - plain).abs().max() > 1e-3


@pytest.mark.parametrize("depth", [1, 3])
def test_state_dict_keys_are_the_official_ones_less_talking_heads(depth):
    model = SpikeDrivenTransformer(embed_dim=32, num_heads=4, depth=depth, num_classes=5)
    official = official_keys(depth)
    assert list(model.state_dict()) == [k for k in official if "talking_heads" not in k]


@pytest.mark.parametrize("container", ["model", "state_dict", "module", "safetensors"])
def test_official_checkpoints_load_strictly(container, tmp_path, caplog):
    overrides = dict(embed_dim=32, num_heads=8, depth=2, img_size=32)
    model = snn_zoo.create_model("sdt_8_384", **overrides)
    official = {k: v.float() for k, v in official_weights(official_state(model, 8), 3).items()}
    official = {
        k: v.long() if k.endswith("num_batches_tracked") else v for k, v in official.items()
    }
    if container == "safetensors":
        path = tmp_path / "ckpt.safetensors"
        save_file(official, str(path))
    else:
        path = tmp_path / "checkpoint-299.pth.tar"
        state = (
            {f"module.{k}": v for k, v in official.items()} if container == "module" else official
        )
        key = "model" if container == "module" else container
        torch.save({key: state, "epoch": 299, "args": argparse.Namespace(lr=5e-4)}, path)
    with caplog.at_level(logging.INFO, logger="snn_zoo"):
        loaded = snn_zoo.create_model("sdt_8_384", checkpoint_path=path, **overrides)
    own = loaded.state_dict()
    assert set(own) == {k for k in official if "talking_heads" not in k}
    for k, v in own.items():
        assert torch.equal(v, official[k]), k
    assert "talking_heads" in caplog.text


def test_missing_official_key_is_an_error(tmp_path):
    overrides = dict(embed_dim=32, num_heads=8, depth=1, img_size=32)
    model = snn_zoo.create_model("sdt_8_384", **overrides)
    state = {k: v for k, v in model.state_dict().items() if k != "block.0.mlp.fc2_bn.running_var"}
    save_file(state, str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="block.0.mlp.fc2_bn.running_var"):
        snn_zoo.create_model(
            "sdt_8_384", checkpoint_path=tmp_path / "missing.safetensors", **overrides
        )


PAPER_PARAMS_M = {
    "sdt_8_384": 16.81,
    "sdt_6_512": 23.37,
    "sdt_8_512": 29.68,
    "sdt_10_512": 36.01,
    "sdt_8_768": 66.34,
}


def _count(name: str) -> float:
    with torch.device("meta"):
        model = snn_zoo.create_model(name)
    return sum(p.numel() for p in model.parameters()) / 1e6


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS_M))
def test_imagenet_params_match_the_paper(name):
    assert abs(_count(name) - PAPER_PARAMS_M[name]) <= 0.02
    assert snn_zoo.get_pretrained_cfg(name)["params_m"] == PAPER_PARAMS_M[name]


@pytest.mark.parametrize("name", snn_zoo.list_models("sdt_*"))
def test_every_card_states_its_parameter_count_and_settings(name):
    card = snn_zoo.get_pretrained_cfg(name)
    assert card["origin_url"] == "https://github.com/BICLab/Spike-Driven-Transformer"
    assert "tau=2" in card["neurons"] and card["quirks"]
    if card["params_m"] is not None and name not in PAPER_PARAMS_M:  # those: test above
        assert abs(_count(name) - card["params_m"]) <= 0.01


# name -> (overrides, input shape): reduced sizes keep each case well under a second
SMALL = {
    "sdt_digits": ({}, (2, 1, 8, 8)),
    "sdt_2_512_cifar100": (dict(embed_dim=32, depth=1, T=2), (2, 3, 16, 16)),
    "sdt_2_256_cifar10dvs": (dict(embed_dim=32, depth=1, T=3), (3, 2, 2, 16, 16)),
    "sdt_2_256_gesture": (dict(embed_dim=32, depth=1, T=3), (3, 2, 2, 16, 16)),
    "sdt_8_768": (dict(embed_dim=32, depth=1, T=2), (2, 3, 32, 32)),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_backward_and_independent_calls(name):
    overrides, shape = SMALL[name]
    torch.manual_seed(0)
    model = snn_zoo.create_model(name, **overrides)
    x = torch.rand(shape)
    y = model(x)
    assert y.shape == (shape[-4], model.num_classes)
    y.square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        assert torch.equal(model(x), model(x))  # state reset at every forward


def test_static_input_equals_its_repetition_over_time():
    model = snn_zoo.create_model("sdt_digits").eval()
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x.unsqueeze(0).repeat(4, 1, 1, 1, 1)))


def test_pre_logits_are_the_head_neuron_rates():
    model = snn_zoo.create_model("sdt_digits").eval()
    with torch.no_grad():
        feats = model.forward_head(model.forward_features(torch.rand(2, 1, 8, 8)), pre_logits=True)
    assert feats.shape == (2, model.embed_dim)
    assert ((feats * 4) - (feats * 4).round()).abs().max() < 1e-6  # spike counts / T


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(pooling_stat="111"), "pooling_stat"),
        (dict(pooling_stat="1121"), "pooling_stat"),
        (dict(drop_path_rate=0.2), "drop_path_rate=0.2 is not supported"),
        (dict(embed_dim=36), "embed_dim"),
        (dict(dvs_mode=1), "dvs_mode"),
        (dict(mlp_ratio=0), "mlp_ratio"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        snn_zoo.create_model("sdt_digits", **kwargs)


def test_wrong_input_channels_are_an_error():
    model = snn_zoo.create_model("sdt_digits")
    with pytest.raises(ValueError, match="in_chans=1"):
        model(torch.rand(2, 3, 8, 8))
