"""Loading checkpoints in the official key layouts, written by an independent generator.

``official_*_shapes`` below re-derive, from the official repositories' module definitions
(ZK-Zhou/spikformer, zhouchenlin2096/QKFormer, BICLab/MA-SNN), the state-dict keys and
shapes their code saves, including modules it builds but never uses (LayerNorms,
``pos_embed``), ``DataParallel``'s ``module.`` prefix and training-snapshot wrappers. They do
not look at the zoo's models.
"""

from __future__ import annotations

import argparse
import logging

import pytest
import snn_zoo
import torch
from safetensors.torch import save_file

Shapes = dict[str, tuple[int, ...]]


def _conv(k: Shapes, name: str, shape: tuple[int, ...], bias: bool) -> None:
    k[f"{name}.weight"] = shape
    if bias:
        k[f"{name}.bias"] = (shape[0],)


def _bn(k: Shapes, name: str, c: int) -> None:
    for p in ("weight", "bias", "running_mean", "running_var"):
        k[f"{name}.{p}"] = (c,)
    k[f"{name}.num_batches_tracked"] = ()


def official_spikformer_shapes(layout: str, cin: int, d: int, depth: int, classes: int) -> Shapes:
    k: Shapes = {}
    chans = [cin, d // 8, d // 4, d // 2, d]
    for i in range(4):
        s = "" if i == 0 else str(i)
        _conv(k, f"patch_embed.proj_conv{s}", (chans[i + 1], chans[i], 3, 3), False)
        _bn(k, f"patch_embed.proj_bn{s}", chans[i + 1])
    _conv(k, "patch_embed.rpe_conv", (d, d, 3, 3), False)
    _bn(k, "patch_embed.rpe_bn", d)
    h = 4 * d
    for b in range(depth):
        p = f"block.{b}."
        for n in ("norm1", "norm2"):  # built, never used in forward
            k[p + n + ".weight"], k[p + n + ".bias"] = (d,), (d,)
        for q in ("q", "k", "v", "proj"):
            if layout == "cifar":  # nn.Linear(dim, dim): bias on
                _conv(k, p + f"attn.{q}_linear", (d, d), True)
            else:  # nn.Conv1d(dim, dim, 1), bias only on proj
                _conv(k, p + f"attn.{q}_conv", (d, d, 1), q == "proj")
            _bn(k, p + f"attn.{q}_bn", d)
        for name, o, i in (("fc1", h, d), ("fc2", d, h)):
            if layout == "cifar":
                _conv(k, p + f"mlp.{name}_linear", (o, i), True)
            elif layout == "dvs":
                _conv(k, p + f"mlp.{name}_conv", (o, i, 1), True)
            else:
                _conv(k, p + f"mlp.{name}_conv", (o, i, 1, 1), True)
            _bn(k, p + f"mlp.{name}_bn", o)
    if layout == "dvs":  # built, never used in forward
        k["pos_embed"] = (1, 64, d)
        k["norm.weight"], k["norm.bias"] = (d,), (d,)
    _conv(k, "head", (classes, d), True)
    return k


def _qk_mlp(k: Shapes, p: str, dim: int, ratio: float, names: tuple[str, str]) -> None:
    h = int(dim * ratio)
    _conv(k, f"{p}mlp.{names[0]}_conv", (h, dim, 1, 1), True)
    _bn(k, f"{p}mlp.{names[0]}_bn", h)
    _conv(k, f"{p}mlp.{names[1]}_conv", (dim, h, 1, 1), True)
    _bn(k, f"{p}mlp.{names[1]}_bn", dim)


def official_qkformer_shapes(
    layout: str, cin: int, d: int, depth: int, classes: int, ratio: float = 4.0
) -> Shapes:
    k: Shapes = {}

    def unit(prefix: str, o: int, i: int, kernel: int = 3) -> None:
        _conv(k, f"{prefix}_conv", (o, i, kernel, kernel), False)
        _bn(k, f"{prefix}_bn", o)

    if layout == "dvs":
        dims, counts, names, ssa = [d // 2, d], [1, depth - 1], ("mlp1", "mlp2"), "ssa"
        e = dims[0]
        for pre, o, i in (
            ("proj", e // 8, cin),
            ("proj1", e // 4, e // 8),
            ("proj2", e // 2, e // 4),
            ("proj3", e, e // 2),
        ):
            unit(f"patch_embed1.{pre}", o, i)
        unit("patch_embed1.proj_res", e, e // 4, 1)
        unit("patch_embed2.proj", d, d // 2)
        unit("patch_embed2.proj4", d, d)
        unit("patch_embed2.proj_res", d, d // 2, 1)
    else:
        dims = [d // 4, d // 2, d]
        if layout == "imagenet":
            counts, names, ssa = [1, 2, depth - 3], ("fc1", "fc2"), "attn"
            e = dims[0]
            unit("patch_embed1.proj", e // 2, cin)
            unit("patch_embed1.proj1", e, e // 2)
            unit("patch_embed1.proj2", e, e)
        else:
            counts, names, ssa = [1, 1, depth - 2], ("mlp1", "mlp2"), "ssa"
            e = dims[0]
            unit("patch_embed1.proj", e // 2, cin)
            unit("patch_embed1.proj1", e, e // 2)
        unit("patch_embed1.proj_res", e, e // 2, 1)
        for s, e in ((2, dims[1]), (3, dims[2])):
            unit(f"patch_embed{s}.proj3", e, e // 2)
            unit(f"patch_embed{s}.proj4", e, e)
            unit(f"patch_embed{s}.proj_res", e, e // 2, 1)
    for s, (dim, n) in enumerate(zip(dims, counts), start=1):
        last = s == len(dims)
        for b in range(n):
            p = f"stage{s}.{b}."
            attn = ssa if last else "tssa"
            for q in ("q", "k", "v") if last else ("q", "k"):
                _conv(k, f"{p}{attn}.{q}_conv", (dim, dim, 1), False)
                _bn(k, f"{p}{attn}.{q}_bn", dim)
            _conv(k, f"{p}{attn}.proj_conv", (dim, dim, 1), True)
            _bn(k, f"{p}{attn}.proj_bn", dim)
            _qk_mlp(k, p, dim, ratio, names)
    _conv(k, "head", (classes, d), True)
    return k


def official_masnn_dvs_shapes(T: int, chans, pools, hidden: int, classes: int, size: int) -> Shapes:
    k: Shapes = {}
    cin, red = 2, 1
    for i, (c, pool) in enumerate(zip(chans, pools)):
        p = f"module.convAttLIF{i}."  # saved from nn.DataParallel
        _conv(k, p + "conv2d", (c, cin, 3, 3), True)
        _bn(k, p + "BNLayer", c)
        k[p + "attention.ta.sharedMLP.0.weight"] = (T // 5, T, 1, 1, 1)
        k[p + "attention.ta.sharedMLP.2.weight"] = (T, T // 5, 1, 1, 1)
        k[p + "attention.ca.sharedMLP.0.weight"] = (c // 4, c, 1, 1, 1)
        k[p + "attention.ca.sharedMLP.2.weight"] = (c, c // 4, 1, 1, 1)
        k[p + "attention.sa.conv.weight"] = (1, 2, 3, 3)
        cin, red = c, red * pool
    flat = chans[-1] * (size // red) ** 2
    for j, (fin, fout) in enumerate(((flat, hidden), (hidden, classes))):
        p = f"module.FC{j}."
        _conv(k, p + "linear", (fout, fin), True)
        _bn(k, p + "BNLayer", fout)
        k[p + "attention.ta.sharedMLP.0.weight"] = (T // 5, T, 1)  # Conv1d in the official TA
        k[p + "attention.ta.sharedMLP.2.weight"] = (T, T // 5, 1)
    return k


def random_state(shapes: Shapes, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            out[key] = torch.randn(shape, generator=gen) * 0.1
    return out


UNUSED = ("norm1", "norm2", "pos_embed", "norm.weight", "norm.bias")

CASES = {
    "spikformer_8_384": (
        dict(embed_dim=32, num_heads=2, depth=2),
        lambda: official_spikformer_shapes("imagenet", 3, 32, 2, 1000),
    ),
    "spikformer_4_384_cifar": (
        dict(embed_dim=32, num_heads=2, depth=2),
        lambda: official_spikformer_shapes("cifar", 3, 32, 2, 10),
    ),
    "spikformer_2_256_dvs": (
        dict(embed_dim=32, num_heads=2, depth=2),
        lambda: official_spikformer_shapes("dvs", 2, 32, 2, 10),
    ),
    "qkformer_10_384": (
        dict(embed_dim=64, num_heads=4, depth=4),
        lambda: official_qkformer_shapes("imagenet", 3, 64, 4, 1000),
    ),
    "qkformer_4_384_cifar": (
        dict(embed_dim=64, num_heads=4, depth=4),
        lambda: official_qkformer_shapes("cifar", 3, 64, 4, 100),
    ),
    "qkformer_2_256_dvs": (
        dict(embed_dim=64, num_heads=4),
        lambda: official_qkformer_shapes("dvs", 2, 64, 2, 10, ratio=1.0),
    ),
    "masnn_dvs128_gesture": (
        dict(T=10, img_size=16, channels=(8, 16, 16), fc_hidden=12, reduction_c=4),
        lambda: official_masnn_dvs_shapes(10, (8, 16, 16), (1, 2, 2), 12, 11, 16),
    ),
}


def _official_to_model_key(key: str) -> str:
    return key.removeprefix("module.")


@pytest.mark.parametrize("fmt", ["torch", "safetensors"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_official_layout_loads_strictly(name, fmt, tmp_path, caplog):
    overrides, make = CASES[name]
    official = random_state(make())
    if fmt == "torch":
        path = tmp_path / "ckpt.pth.tar"
        snapshot = {"state_dict": official, "epoch": 3, "args": argparse.Namespace(lr=0.1)}
        torch.save(snapshot, path)
    else:
        path = tmp_path / "ckpt.safetensors"
        save_file(official, str(path))
    with caplog.at_level(logging.INFO, logger="snn_zoo"):
        model = snn_zoo.create_model(name, checkpoint_path=path, **overrides)
    own = model.state_dict()
    used = {k: v for k, v in official.items() if not any(u in k for u in UNUSED)}
    assert len(own) == len(used)
    for key, value in used.items():
        mine = own[_official_to_model_key(key)]
        assert torch.equal(mine.reshape(value.shape), value), key
    if len(used) < len(official):
        assert "never uses" in caplog.text and "norm1" in caplog.text


def test_missing_and_unexpected_keys_are_errors(tmp_path):
    overrides, make = CASES["spikformer_4_384_cifar"]
    official = random_state(make())
    missing = dict(official)
    del missing["block.1.attn.v_bn.running_var"]
    save_file(missing, str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match=r"missing keys \['block.1.attn.v_bn.running_var'\]"):
        snn_zoo.create_model(
            "spikformer_4_384_cifar", checkpoint_path=tmp_path / "missing.safetensors", **overrides
        )
    extra = dict(official, **{"block.0.attn.extra_scale": torch.ones(1)})
    save_file(extra, str(tmp_path / "extra.safetensors"))
    with pytest.raises(ValueError, match="unexpected keys.*extra_scale"):
        snn_zoo.create_model(
            "spikformer_4_384_cifar", checkpoint_path=tmp_path / "extra.safetensors", **overrides
        )
    with pytest.raises(ValueError, match="size mismatch"):
        snn_zoo.create_model(
            "spikformer_4_384_cifar",
            checkpoint_path=tmp_path / "missing.safetensors",
            **dict(overrides, num_classes=5),
        )


class _NotAWeight:
    pass


def test_pickles_beyond_weights_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"x": torch.ones(1)}, "payload": _NotAWeight()}, path)
    with pytest.raises(ValueError, match="weights_only=True"):
        snn_zoo.load_state_dict_file(path)
    with pytest.raises(FileNotFoundError):
        snn_zoo.load_state_dict_file(tmp_path / "absent.safetensors")


@pytest.mark.parametrize("name", ["att_ms_resnet18", "qkformer_digits"])
def test_save_and_reload_round_trip(name, tmp_path):
    overrides = dict(layers=(1, 1, 1, 1)) if name.startswith("att") else {}
    torch.manual_seed(0)
    model = snn_zoo.create_model(name, **overrides)
    x = torch.rand(2, *model.pretrained_cfg["input_size"][:1], 32, 32)
    if name == "qkformer_digits":
        x = torch.rand(2, 1, 8, 8)
    model.train()
    model(x)  # move the BN running statistics away from their initial values
    model.eval()
    path = tmp_path / "m.safetensors"
    snn_zoo.save_checkpoint(model, path)
    torch.manual_seed(1)
    other = snn_zoo.create_model(name, checkpoint_path=path, **overrides).eval()
    with torch.no_grad():
        assert torch.equal(model(x), other(x))
    with pytest.raises(ValueError, match="safetensors"):
        snn_zoo.save_checkpoint(model, tmp_path / "m.pth")


def test_pretrained_uses_the_file_of_the_card(tmp_path):
    model = snn_zoo.create_model("qkformer_digits")
    path = tmp_path / "w.safetensors"
    snn_zoo.save_checkpoint(model, path)
    again = snn_zoo.create_model(
        "qkformer_digits", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
    )
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
