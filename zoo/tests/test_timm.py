"""The timm integration: every variant is a timm model once ``snn_zoo`` is imported.

Runs where timm imports (``pip install snn-zoo[timm]``); elsewhere only the check that the
zoo works without it runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import snn_zoo
import torch


def _timm():
    try:
        import timm
    except Exception as exc:  # not installed, or torchvision not importable beside this torch
        pytest.skip(f"timm is not importable here: {exc}")
    return timm


def _official_layouts():
    path = Path(__file__).with_name("test_checkpoints.py")
    spec = importlib.util.spec_from_file_location("_zoo_official_layouts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zoo_imports_and_builds_without_timm():
    try:
        import timm  # noqa: F401

        importable = True
    except Exception:
        importable = False
    assert snn_zoo.TIMM_REGISTERED is importable
    assert snn_zoo.create_model("spikformer_digits").num_classes == 10


def test_every_variant_is_registered_with_its_card():
    timm = _timm()
    assert set(snn_zoo.list_models()) <= set(timm.list_models())
    cfg = timm.models.get_pretrained_cfg("qkformer_4_384_cifar").to_dict()
    card = snn_zoo.get_pretrained_cfg("qkformer_4_384_cifar")
    for key in ("input_size", "mean", "std", "num_classes", "first_conv", "classifier"):
        assert (
            tuple(cfg[key]) == tuple(card[key])
            if isinstance(card[key], tuple)
            else (cfg[key] == card[key])
        )
    assert any("params_m=6.74" in n for n in cfg["notes"])


def test_create_model_with_num_classes_and_in_chans():
    timm = _timm()
    model = timm.create_model("spikformer_digits", num_classes=5, in_chans=3)
    assert isinstance(model, snn_zoo.SpikingClassifier)
    assert model(torch.rand(2, 3, 8, 8)).shape == (2, 5)
    masnn = timm.create_model(
        "masnn_dvs128_gesture",
        T=4,
        img_size=16,
        channels=(8, 16, 16),
        fc_hidden=8,
        reduction_t=2,
        reduction_c=4,
    )
    assert masnn(torch.rand(4, 2, 2, 16, 16)).shape == (2, 11)


def test_checkpoint_path_with_an_official_snapshot(tmp_path):
    timm = _timm()
    layouts = _official_layouts()
    official = layouts.random_state(layouts.official_spikformer_shapes("cifar", 3, 32, 2, 10))
    path = tmp_path / "official.pth.tar"
    torch.save({"state_dict": official, "epoch": 1}, path)
    model = timm.create_model(
        "spikformer_4_384_cifar", embed_dim=32, num_heads=2, depth=2, checkpoint_path=str(path)
    )
    own = model.state_dict()
    assert torch.equal(
        own["block.1.attn.q_linear.weight"], official["block.1.attn.q_linear.weight"]
    )
    assert "block.0.norm1.weight" not in own


def test_pretrained_file_overlay(tmp_path):
    timm = _timm()
    torch.manual_seed(0)
    src = snn_zoo.create_model("qkformer_digits")
    path = tmp_path / "w.safetensors"
    snn_zoo.save_checkpoint(src, path)
    model = timm.create_model(
        "qkformer_digits", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
    )
    for (k, a), b in zip(src.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), k
    # a new head: timm drops the classifier weights of the card's 10 classes
    model5 = timm.create_model(
        "qkformer_digits",
        pretrained=True,
        num_classes=5,
        pretrained_cfg_overlay=dict(file=str(path)),
    )
    assert model5.get_classifier().out_features == 5
    assert torch.equal(model5.stage3[0].ssa.q_conv.weight, src.stage3[0].ssa.q_conv.weight)


def test_features_only():
    timm = _timm()
    model = timm.create_model("qkformer_digits", features_only=True)
    feats = model(torch.rand(2, 1, 8, 8))
    assert [f.shape[1] for f in feats] == model.feature_info.channels() == [16, 32, 64]
    assert [f.shape[-1] for f in feats] == [8, 4, 2]
    some = timm.create_model("spikformer_digits", features_only=True, out_indices=(0, -1))
    out = some(torch.rand(2, 1, 8, 8))
    assert len(out) == 2 and all(o.shape == (2, 64, 4, 4) for o in out)


def test_every_variant_builds_through_timm():
    timm = _timm()
    for name in snn_zoo.list_models():
        with torch.device("meta"):
            model = timm.create_model(name)
        card = snn_zoo.get_pretrained_cfg(name)
        assert model.num_classes == card["num_classes"] and model.in_chans == card["input_size"][0]
        with torch.device("meta"):
            feats = timm.create_model(name, features_only=True)
        assert len(feats.feature_info) == len(model.stage_modules())


def test_pretrained_loads_from_any_directory_with_its_hash_checked(tmp_path, monkeypatch):
    timm = _timm()
    monkeypatch.chdir(tmp_path)  # the card's file is found from the package, not the cwd
    cfg = timm.models.get_pretrained_cfg("spikformer_digits")
    assert Path(cfg.file).is_absolute() and Path(cfg.file).is_file()
    model = timm.create_model("spikformer_digits", pretrained=True)
    ours = snn_zoo.create_model("spikformer_digits", pretrained=True)
    for (k, a), b in zip(ours.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), k
    # a file that is not the card's: refused before timm loads it
    entry = snn_zoo._registry.get_model_entry("spikformer_digits")
    monkeypatch.setitem(entry.card, "sha256", "0" * 64)
    with pytest.raises(ValueError, match="does not match the sha256"):
        timm.create_model("spikformer_digits", pretrained=True)
    monkeypatch.undo()
    tampered = tmp_path / "tampered.safetensors"
    data = bytearray(Path(cfg.file).read_bytes())
    data[-1] ^= 0xFF
    tampered.write_bytes(bytes(data))
    sha = snn_zoo._registry.get_model_entry("spikformer_digits").card["sha256"]
    with pytest.raises(ValueError, match="does not match the sha256"):
        timm.create_model(
            "spikformer_digits",
            pretrained=True,
            pretrained_cfg_overlay=dict(file=str(tampered), sha256=sha),
        )
    # a file of one's own without a sha256 is the caller's responsibility: it loads
    own = tmp_path / "own.safetensors"
    snn_zoo.save_checkpoint(ours, own)
    timm.create_model("spikformer_digits", pretrained=True, pretrained_cfg_overlay=dict(file=own))
    snn_zoo.create_model(
        "spikformer_digits", pretrained=True, pretrained_cfg_overlay=dict(file=own)
    )


def test_pretrained_cfg_follows_the_overrides():
    timm = _timm()
    model = timm.create_model("spikformer_digits", num_classes=7, in_chans=2)
    ours = snn_zoo.create_model("spikformer_digits", num_classes=7, in_chans=2)
    for cfg in (model.pretrained_cfg, ours.pretrained_cfg):
        assert cfg["num_classes"] == 7 and tuple(cfg["input_size"]) == (2, 8, 8)
    assert model.default_cfg is model.pretrained_cfg
    data = timm.data.resolve_data_config({}, model=model)
    assert data["input_size"] == (2, 8, 8)
    # the registered card itself is unchanged
    assert timm.models.get_pretrained_cfg("spikformer_digits").num_classes == 10


def test_train_py_constructor_arguments_are_accepted():
    timm = _timm()
    # what timm's train.py passes by default (None values are dropped by timm)
    for name in ("spikformer_digits", "qkformer_digits", "metaspikformer_digits"):
        model = timm.create_model(
            name,
            pretrained=False,
            in_chans=1,
            num_classes=10,
            drop_rate=0.0,
            drop_path_rate=None,
            drop_block_rate=None,
            global_pool=None,
            bn_momentum=None,
            bn_eps=None,
            scriptable=False,
            checkpoint_path=None,
        )
        assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError, match="attn_drop_rate=0.1 is not supported"):
        timm.create_model("qkformer_digits", attn_drop_rate=0.1)


def test_layer_decay_uses_the_group_matcher():
    timm = _timm()
    from timm.optim import create_optimizer_v2

    model = timm.create_model("qkformer_digits")
    opt = create_optimizer_v2(model, "adamw", lr=1.0, layer_decay=0.5)
    scale_of = {}
    for group in opt.param_groups:
        for p in group["params"]:
            scale_of[id(p)] = group["lr_scale"]
    n_layers = 1 + sum(len(s) for s in model.stage_modules())  # stem + modules + head
    assert model.head.weight is not None and scale_of[id(model.head.weight)] == 1.0
    stem_scale = scale_of[id(model.patch_embed1.proj_conv.weight)]
    assert stem_scale == pytest.approx(0.5 ** (n_layers - 1))
    # the blocks in forward order get rising scales
    scales = [scale_of[id(next(blk.parameters()))] for blk in model.stage1]
    scales += [scale_of[id(model.patch_embed2.proj3_conv.weight)]]
    scales += [scale_of[id(next(blk.parameters()))] for blk in (*model.stage2, *model.stage3)]
    assert scales == sorted(scales) and len(set(scales)) == len(scales)


def _maxformer_release(tmp_path, seed=5):
    """A MaxFormer release-style file (``{'state_dict', 'args'}``, official keys) for a tiny
    model, written locally: the download path runs on a ``file://`` URL."""
    import argparse

    overrides = dict(embed_dim=64, depths=(1, 1, 1), img_size=32)
    model = snn_zoo.create_model("maxformer_10_384", **overrides)
    g = torch.Generator().manual_seed(seed)
    state = {
        k: (v if k.endswith("num_batches_tracked") else torch.randn(v.shape, generator=g))
        for k, v in model.state_dict().items()
    }
    path = tmp_path / "10-384-T4.pth.tar"
    torch.save({"state_dict": state, "args": argparse.Namespace(lr=1e-3)}, path)
    return path, state, overrides


def test_pretrained_url_downloads_once_for_timm_and_the_zoo(tmp_path, monkeypatch):
    timm = _timm()
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    path, state, overrides = _maxformer_release(tmp_path)
    assert timm.models.get_pretrained_cfg("maxformer_10_384").url.endswith("/10-384-T4.pth.tar")
    overlay = dict(url=path.as_uri())
    model = timm.create_model(
        "maxformer_10_384", pretrained=True, pretrained_cfg_overlay=overlay, **overrides
    )
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    path.unlink()  # cached under the hub dir: the zoo's own API reuses the same file
    ours = snn_zoo.create_model(
        "maxformer_10_384", pretrained=True, pretrained_cfg_overlay=overlay, **overrides
    )
    assert torch.equal(ours.head.weight, state["head.weight"])
    # another num_classes: the backbone loads, the head stays fresh (timm's rule)
    five = timm.create_model(
        "maxformer_10_384",
        pretrained=True,
        pretrained_cfg_overlay=overlay,
        num_classes=5,
        **overrides,
    )
    assert five.head.out_features == 5 and five.num_classes == 5
    key = "patch_embed1.embed1.embed_conv.weight"
    assert torch.equal(five.state_dict()[key], state[key])
    _maxformer_release(tmp_path)  # the cached file fails the hash: it is fetched again, checked
    with pytest.raises(ValueError, match="published sha256"):
        timm.create_model(
            "maxformer_10_384",
            pretrained=True,
            pretrained_cfg_overlay=dict(url=overlay["url"], sha256="0" * 64),
            **overrides,
        )
