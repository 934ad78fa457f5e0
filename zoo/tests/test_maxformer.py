"""Max-Former against the official code (bic-L/MaxFormer, commit 6ddd4cc,
``imagenet/max_former.py``, ``imagenet/embedding_hub.py``, ``imagenet/mixer_hub.py``).

- ``OFFICIAL_LOGITS``: logits of the official ``Max_Former`` itself on tiny configurations,
  stored as literals. They were produced by running the official files unchanged under a
  local import adapter (timm 0.6.12's helpers and spikingjelly 0.0.0.0.12's
  ``clock_driven.neuron.MultiStepLIFNode`` mapped onto spikingjelly 2.0.0's multi-step
  ``LIFNode``, torch backend; the adapter is not part of this repository), in float64, with
  the weights of :func:`official_weights` (seed 7) drawn over the official state-dict keys
  and the input of :func:`make_input` (seed 11), ``in_channels=3, num_classes=3``; batch norms
  in eval mode (running statistics) and in train mode (batch statistics). Our model matched
  them to 0.0 (max abs difference) at batch 1 and batch 2.
- The official state-dict layout, written out by hand from the official modules.
- Parameter counts of the ImageNet variants (README: 63.99 M for 10-768).
"""

from __future__ import annotations

import argparse
import logging

import pytest
import snn_zoo
import torch
from safetensors.torch import save_file
from snn_zoo.families.maxformer import MaxFormer

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _conv_bn(name: str, conv: str = "embed_conv", bn: str = "embed_bn", bias: bool = False):
    return [f"{name}.{conv}.weight", *([f"{name}.{conv}.bias"] if bias else [])] + [
        f"{name}.{bn}.{p}" for p in BN
    ]


MLP = _conv_bn("mlp", "fc1_conv", "fc1_bn", True) + _conv_bn("mlp", "fc2_conv", "fc2_bn", True)
# Embed_Orig_ImageNet: embed1..4; Embed_Max: max_embed1, embed1, max_embed2 (all bias=False)
STEM = [k for i in range(1, 5) for k in _conv_bn(f"patch_embed1.embed{i}")]
# Block_DWC7: mixer.conv5 (+bias), mixer.conv5_bn; Block_DWC5: mixer.conv, mixer.conv_bn
DWC7 = _conv_bn("mixer", "conv5", "conv5_bn", True) + MLP
DWC5 = _conv_bn("mixer", "conv", "conv_bn", True) + MLP
# Block_SSA: attn.{q,k,v}_conv (Conv1d, bias=False), attn.proj_conv (+bias), BatchNorm1d
SSA = [k for p in "qkv" for k in _conv_bn("attn", f"{p}_conv", f"{p}_bn")]
SSA += _conv_bn("attn", "proj_conv", "proj_bn", True) + MLP


def official_keys(depths: tuple[int, int, int] = (1, 2, 7)) -> list[str]:
    def emb(i: int) -> list[str]:
        return [
            k
            for n in ("max_embed1", "embed1", "max_embed2")
            for k in _conv_bn(f"patch_embed{i}.{n}")
        ]

    stages = [
        f"stage{s}.{j}.{k}"
        for s, block in ((1, DWC7), (2, DWC5), (3, SSA))
        for j in range(depths[s - 1])
        for k in block
    ]
    return STEM + emb(2) + emb(3) + stages + ["head.weight", "head.bias"]


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


# name -> our config (official: Max_Former(embed_dims, mlp_ratios, T), input [2, 3, 32, 32])
CONFIGS = {
    "tiny": dict(embed_dim=128, mlp_ratio=4, T=2),  # 2 heads
    "mlp_residual": dict(embed_dim=64, mlp_ratio=1, T=3),  # the MLP's inner shortcut
}

# name -> {mode: logits at batch 2, 'train_b1': sample 0 alone in train mode}; module docstring
OFFICIAL_LOGITS = {
    "tiny": {
        "eval": [
            [-0.5118390526622534, 0.03135268925689161, 0.5514600286260247],
            [-0.803627323359251, 0.16238835803233087, 0.5284900991246104],
        ],
        "train": [
            [-0.1804177329177037, -0.11223059450276196, -0.11618256196379662],
            [0.08273247996112332, 0.598220176412724, 0.0068167708814144135],
        ],
        "train_b1": [[-0.17200244992272928, 0.21984897379297763, 0.0018784035928547382]],
    },
    "mlp_residual": {
        "eval": [
            [-1.4802919751188408, -0.3327262511011213, 0.3216915970357756],
            [-1.1093493241351098, -0.182935456202055, 0.24426089925691485],
        ],
        "train": [
            [0.0006783665933956703, 0.32782697731939453, -1.1515760382947822],
            [-0.11401235692513485, -0.4321104653645307, -1.4979587018800278],
        ],
        "train_b1": [[-0.5339756670873612, 0.413828608347103, -1.3583841271077592]],
    },
}


def _official_model(name: str) -> tuple[MaxFormer, torch.Tensor]:
    model = MaxFormer(img_size=32, num_classes=3, **CONFIGS[name])
    model.load_state_dict(official_weights(model.state_dict(), seed=7), strict=True)
    return model.double(), make_input((2, 3, 32, 32), seed=11)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_logits_equal_the_official_code_at_batch_1_and_2(name):
    model, x = _official_model(name)
    expected = {k: torch.tensor(v, dtype=torch.float64) for k, v in OFFICIAL_LOGITS[name].items()}
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(model(x), expected["eval"], rtol=0, atol=1e-9)
        torch.testing.assert_close(model(x[:1]), expected["eval"][:1], rtol=0, atol=1e-9)
        model.train()
        torch.testing.assert_close(model(x), expected["train"], rtol=0, atol=1e-9)
        torch.testing.assert_close(model(x[:1]), expected["train_b1"], rtol=0, atol=1e-9)


def test_float32_agrees_with_the_official_float64_logits():
    model, x = _official_model("tiny")
    with torch.no_grad():
        y = model.float().eval()(x.float())
    expected = torch.tensor(OFFICIAL_LOGITS["tiny"]["eval"], dtype=torch.float32)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("depths", [(1, 2, 7), (2, 1, 3)])
def test_state_dict_keys_are_the_official_ones_in_order(depths):
    model = MaxFormer(embed_dim=64, depths=depths, num_classes=5, img_size=32)
    assert list(model.state_dict()) == official_keys(depths)


@pytest.mark.parametrize("container", ["model", "state_dict", "module", "safetensors"])
def test_official_checkpoints_load_strictly(container, tmp_path):
    overrides = dict(embed_dim=64, depths=(1, 1, 1), img_size=32)
    model = snn_zoo.create_model("maxformer_10_384", **overrides)
    official = {
        k: v.long() if k.endswith("num_batches_tracked") else v.float()
        for k, v in official_weights(model.state_dict(), 3).items()
    }
    if container == "safetensors":
        path = tmp_path / "ckpt.safetensors"
        save_file(official, str(path))
    else:  # the release files are 10-384-T4.pth.tar etc.
        path = tmp_path / "10-384-T4.pth.tar"
        state = (
            {f"module.{k}": v for k, v in official.items()} if container == "module" else official
        )
        key = "model" if container == "module" else container
        torch.save({key: state, "epoch": 199, "args": argparse.Namespace(lr=1e-3)}, path)
    loaded = snn_zoo.create_model("maxformer_10_384", checkpoint_path=path, **overrides)
    own = loaded.state_dict()
    assert set(own) == set(official)
    for k, v in own.items():
        assert torch.equal(v, official[k]), k


def test_missing_official_key_is_an_error(tmp_path):
    overrides = dict(embed_dim=64, depths=(1, 1, 1), img_size=32)
    model = snn_zoo.create_model("maxformer_10_384", **overrides)
    gone = "stage3.0.attn.proj_bn.running_var"
    state = {k: v for k, v in model.state_dict().items() if k != gone}
    save_file(state, str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match=gone):
        snn_zoo.create_model(
            "maxformer_10_384", checkpoint_path=tmp_path / "missing.safetensors", **overrides
        )


PARAMS_M = {
    "maxformer_10_384": 16.24,
    "maxformer_10_512": 28.65,
    "maxformer_10_512_t4": 28.65,
    "maxformer_10_768": 63.99,  # README: 63.99 M
    "maxformer_10_768_t4": 63.99,
}


def _count(name: str) -> float:
    with torch.device("meta"):
        model = snn_zoo.create_model(name)
    return sum(p.numel() for p in model.parameters()) / 1e6


@pytest.mark.parametrize("name", sorted(PARAMS_M))
def test_imagenet_params_and_cards(name):
    assert abs(_count(name) - PARAMS_M[name]) <= 0.02
    card = snn_zoo.get_pretrained_cfg(name)
    assert card["params_m"] == PARAMS_M[name]
    assert card["origin_url"] == "https://github.com/bic-L/MaxFormer"
    stem = name.removeprefix("maxformer_").replace("_t4", "").replace("_", "-")
    assert card["url"].endswith(f"/checkpoints/{stem}-T{card['T']}.pth.tar")
    assert card["T"] in (1, 4)


def test_T_is_chosen_at_creation_and_the_headline_is_the_default():
    assert snn_zoo.get_pretrained_cfg("maxformer")["name"] == "maxformer_10_768_t4"
    with torch.device("meta"):
        assert snn_zoo.create_model("maxformer_10_768", T=4).T == 4


def test_forward_backward_and_independent_calls():
    torch.manual_seed(0)
    model = snn_zoo.create_model(
        "maxformer_10_384", embed_dim=64, depths=(1, 1, 1), T=2, img_size=32, num_classes=4
    )
    x = torch.rand(2, 3, 32, 32)
    y = model(x)
    assert y.shape == (2, 4)
    y.square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        assert torch.equal(model(x), model(x))  # state reset at every forward
        model.eval()
        torch.testing.assert_close(model(x), model(x.unsqueeze(0).repeat(2, 1, 1, 1, 1)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(embed_dim=96), "embed_dim"),
        (dict(depths=(1, 2)), "depths"),
        (dict(img_size=0), "img_size"),
        (dict(drop_path_rate=0.1), "drop_path_rate=0.1 is not supported"),
        (dict(mlp_ratio=0), "mlp_ratio"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MaxFormer(**{"embed_dim": 64, "img_size": 32, **kwargs})


def test_renamed_checkpoints_load_by_position_as_the_official_loader(tmp_path, caplog):
    # the official imagenet/test.py loads the released weights with misc.load_old_ckpt:
    # tensors copied in order, whatever their names
    overrides = dict(embed_dim=64, depths=(1, 1, 1), img_size=32)
    model = snn_zoo.create_model("maxformer_10_384", **overrides)
    named = {
        k: v.long() if k.endswith("num_batches_tracked") else v.float()
        for k, v in official_weights(model.state_dict(), 5).items()
    }
    renamed = {f"old.{i}": named[k] for i, k in enumerate(model.state_dict())}
    torch.save({"state_dict": renamed, "epoch": 199}, tmp_path / "10-384-T4.pth.tar")
    with caplog.at_level(logging.INFO, logger="snn_zoo"):
        loaded = snn_zoo.create_model(
            "maxformer_10_384", checkpoint_path=tmp_path / "10-384-T4.pth.tar", **overrides
        )
    assert "by position" in caplog.text
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, named[k]), k
    # a tensor too few, one of the wrong shape, or a file whose order is lost (safetensors
    # sorts its keys) is not guessed at: the strict load fails
    cases = {
        "short.pth": dict(list(renamed.items())[:-1]),
        "bad.pth": {**renamed, "old.0": torch.zeros(1)},
        "sorted.safetensors": renamed,
    }
    for file, state in cases.items():
        path = tmp_path / file
        if file.endswith("safetensors"):
            save_file(state, str(path))
        else:
            torch.save(state, path)
        with pytest.raises(ValueError, match="unexpected keys"):
            snn_zoo.create_model("maxformer_10_384", checkpoint_path=path, **overrides)


def test_digits_variant_runs_on_8x8_digits():
    model = snn_zoo.create_model("maxformer_digits").eval()
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        y = model(x)
        assert y.shape == (2, 10)
        torch.testing.assert_close(y, model(x.unsqueeze(0).repeat(2, 1, 1, 1, 1)))
        feats = model.forward_head(model.forward_features(x), pre_logits=True)
    assert ((feats * 2) - (feats * 2).round()).abs().max() < 1e-6  # spike counts / T


def _release_file(tmp_path, overrides):
    """An official-layout release file (``{'state_dict', 'epoch', 'args'}``) for a tiny model."""
    model = snn_zoo.create_model("maxformer_10_384", **overrides)
    official = {
        k: v.long() if k.endswith("num_batches_tracked") else v.float()
        for k, v in official_weights(model.state_dict(), 5).items()
    }
    path = tmp_path / "release" / "10-384-T4.pth.tar"
    path.parent.mkdir()
    torch.save({"state_dict": official, "epoch": 199, "args": argparse.Namespace(lr=1e-3)}, path)
    return path, official


def test_pretrained_downloads_the_card_url_once_into_the_hub_cache(tmp_path, monkeypatch):
    from snn_zoo._checkpoint import sha256_of

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    overrides = dict(embed_dim=64, depths=(1, 1, 1), img_size=32)
    path, official = _release_file(tmp_path, overrides)
    card = snn_zoo.get_pretrained_cfg("maxformer_10_384")
    assert card["url"].startswith("https://github.com/bic-L/MaxFormer/releases/")
    assert card["url"].endswith("/10-384-T4.pth.tar")
    url = path.as_uri()  # file:// goes through the same urllib download as https://
    model = snn_zoo.create_model(
        "maxformer_10_384", pretrained=True, pretrained_cfg_overlay=dict(url=url), **overrides
    )
    cached = tmp_path / "hub" / "checkpoints" / "snn_zoo" / "10-384-T4.pth.tar"
    assert cached.is_file() and sha256_of(cached) == sha256_of(path)
    for k, v in model.state_dict().items():
        assert torch.equal(v, official[k]), k
    path.unlink()  # a second build reuses the cached file
    again = snn_zoo.create_model(
        "maxformer_10_384", pretrained=True, pretrained_cfg_overlay=dict(url=url), **overrides
    )
    assert torch.equal(again.head.weight, official["head.weight"])


def test_pretrained_download_checks_the_published_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    overrides = dict(embed_dim=64, depths=(1, 1, 1), img_size=32)
    path, _ = _release_file(tmp_path, overrides)
    overlay = dict(url=path.as_uri(), sha256="0" * 64)
    with pytest.raises(ValueError, match="does not match the published sha256"):
        snn_zoo.create_model(
            "maxformer_10_384", pretrained=True, pretrained_cfg_overlay=overlay, **overrides
        )
    assert not (tmp_path / "hub" / "checkpoints" / "snn_zoo" / "10-384-T4.pth.tar").exists()
    missing = dict(url=(tmp_path / "nowhere.pth.tar").as_uri())
    with pytest.raises(RuntimeError, match="download the file by hand"):
        snn_zoo.create_model(
            "maxformer_10_384", pretrained=True, pretrained_cfg_overlay=missing, **overrides
        )
