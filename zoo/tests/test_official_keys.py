"""State-dict keys follow the official code, and official training snapshots load strictly.

The key lists are the names the official modules create (zhouchenlin2096/QKFormer
``imagenet/qkformer.py``, BICLab/Attention-SNN ``MA_SNN/module/LIF_Module.py`` and
``Att_Res_SNN/models/resnet_2.py``), written out by hand, not read from the zoo's models.
"""

from __future__ import annotations

import argparse

import pytest
import snn_zoo
import torch

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(name: str) -> list[str]:
    return [f"{name}.{p}" for p in BN]


# Att_Res_SNN BasicBlock: residual_function = [mem_update, Snn_Conv2d, batch_norm_2d,
# mem_update, Snn_Conv2d, batch_norm_2d1, PruningCell(attention='CSA')]; shortcut =
# [AvgPool3d, Snn_Conv2d, batch_norm_2d] on the first block of a stage (stride 2).
ATT_MS_BLOCK = [
    "residual_function.1.weight",
    *_bn("residual_function.2.bn"),
    "residual_function.4.weight",
    *_bn("residual_function.5.bn"),
    "residual_function.6.attention.ca.sharedMLP.0.weight",
    "residual_function.6.attention.ca.sharedMLP.2.weight",
    "residual_function.6.attention.sa.conv.weight",
]
ATT_MS_SHORTCUT = ["shortcut.1.weight", *_bn("shortcut.2.bn")]
ATT_MS_STEM_HEAD = ["conv1.0.weight", *_bn("conv1.1.bn"), "fc.weight", "fc.bias"]

# QKFormer imagenet SpikingTransformer block (attn: Spiking_Self_Attention, mlp: MLP)
QKFORMER_SSA_BLOCK = [
    *[f"attn.{q}_conv.weight" for q in "qkv"],
    *[k for q in "qkv" for k in _bn(f"attn.{q}_bn")],
    "attn.proj_conv.weight",
    "attn.proj_conv.bias",
    *_bn("attn.proj_bn"),
    "mlp.fc1_conv.weight",
    "mlp.fc1_conv.bias",
    *_bn("mlp.fc1_bn"),
    "mlp.fc2_conv.weight",
    "mlp.fc2_conv.bias",
    *_bn("mlp.fc2_bn"),
]

# MA-SNN ConvAttLIF (attention 'TCSA') and AttLIF (attention 'TA', fc=True)
MASNN_CONV = [
    "conv2d.weight",
    "conv2d.bias",
    *_bn("BNLayer"),
    "attention.ta.sharedMLP.0.weight",
    "attention.ta.sharedMLP.2.weight",
    "attention.ca.sharedMLP.0.weight",
    "attention.ca.sharedMLP.2.weight",
    "attention.sa.conv.weight",
]
MASNN_FC = [
    "linear.weight",
    "linear.bias",
    *_bn("BNLayer"),
    "attention.ta.sharedMLP.0.weight",
    "attention.ta.sharedMLP.2.weight",
]


def official_att_ms_resnet_shapes(layers, classes: int = 1000, r: int = 8) -> dict:
    """Keys and shapes of Att_Res_SNN's ``ResNet_origin(BasicBlock, layers)``."""
    shapes = {"conv1.0.weight": (64, 3, 7, 7), "fc.weight": (classes, 512), "fc.bias": (classes,)}
    shapes.update({k: (64,) for k in _bn("conv1.1.bn")})
    cin = 64
    for s, (c, n) in enumerate(zip((64, 128, 256, 512), layers)):
        for i in range(n):
            p = f"conv{s + 2}_x.{i}."
            own = {
                "residual_function.1.weight": (c, cin, 3, 3),
                "residual_function.4.weight": (c, c, 3, 3),
                "residual_function.6.attention.ca.sharedMLP.0.weight": (c // r, c, 1, 1, 1),
                "residual_function.6.attention.ca.sharedMLP.2.weight": (c, c // r, 1, 1, 1),
                "residual_function.6.attention.sa.conv.weight": (1, 2, 3, 3),
            }
            own.update(
                {k: (c,) for k in _bn("residual_function.2.bn") + _bn("residual_function.5.bn")}
            )
            if i == 0:  # stride 2: the downsampling shortcut
                own["shortcut.1.weight"] = (c, cin, 1, 1)
                own.update({k: (c,) for k in _bn("shortcut.2.bn")})
            shapes.update({p + k: v for k, v in own.items()})
            cin = c
    return {k: (() if k.endswith("num_batches_tracked") else v) for k, v in shapes.items()}


def _meta_state(name: str, **overrides) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return snn_zoo.create_model(name, **overrides).state_dict()


def test_att_ms_resnet_block_keys_are_the_official_ones():
    keys = list(_meta_state("att_ms_resnet18"))
    first = [k.removeprefix("conv3_x.0.") for k in keys if k.startswith("conv3_x.0.")]
    second = [k.removeprefix("conv3_x.1.") for k in keys if k.startswith("conv3_x.1.")]
    assert sorted(first) == sorted(ATT_MS_BLOCK + ATT_MS_SHORTCUT)
    assert sorted(second) == sorted(ATT_MS_BLOCK)
    assert set(ATT_MS_STEM_HEAD) <= set(keys)
    assert not any(".attention." in k and "residual_function.6" not in k for k in keys)


@pytest.mark.parametrize(
    "name, layers",
    [
        ("att_ms_resnet18", (2, 2, 2, 2)),
        ("att_ms_resnet34", (3, 4, 6, 3)),
        ("att_ms_resnet104", (3, 8, 32, 8)),
    ],
)
def test_att_ms_resnet_variants_have_the_official_keys_and_shapes(name, layers):
    own = {k: tuple(v.shape) for k, v in _meta_state(name).items()}
    assert own == official_att_ms_resnet_shapes(layers)


def test_att_ms_resnet104_card():
    card = snn_zoo.get_pretrained_cfg("att_ms_resnet104")
    assert card["reported_accuracy"] == 77.08 and card["T"] == 1
    assert card["origin_url"] == "https://github.com/BICLab/Attention-SNN"


def test_qkformer_ssa_block_keys_are_the_official_ones():
    for independent in (False, True):
        keys = _meta_state("qkformer_10_384", batch_independent=independent)
        block = [k.removeprefix("stage3.0.") for k in keys if k.startswith("stage3.0.")]
        assert sorted(block) == sorted(QKFORMER_SSA_BLOCK)


def test_masnn_layer_keys_are_the_official_ones():
    keys = list(_meta_state("masnn_dvs128_gesture"))
    conv = [k.removeprefix("convAttLIF1.") for k in keys if k.startswith("convAttLIF1.")]
    fc = [k.removeprefix("FC0.") for k in keys if k.startswith("FC0.")]
    assert sorted(conv) == sorted(MASNN_CONV)
    assert sorted(fc) == sorted(MASNN_FC)


# --------------------------------------------------------------------------- snapshots
def _official_att_ms_state(layers, classes: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    out = {}
    for key, shape in official_att_ms_resnet_shapes(layers, classes).items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(11)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            out[key] = torch.randn(shape, generator=gen) * 0.1
    return out


def _snapshot(state: dict[str, torch.Tensor], fmt: str) -> object:
    dp = {f"module.{k}": v for k, v in state.items()}  # saved from nn.DataParallel
    args = argparse.Namespace(model="x", lr=0.1, epochs=300, mean=None, input_size=[3, 32, 32])
    return {
        "plain": state,
        "module": dp,
        "model": {"model": state, "optimizer": {"state": {}, "param_groups": []}, "epoch": 9},
        "model+args": {"model": dp, "args": args, "epoch": 9, "scaler": {"scale": 1024.0}},
        "state_dict+args": {"state_dict": state, "args": args, "arch": "x", "version": 2},
        "net": {"net": dp, "acc": 97.5, "epoch": 120, "acc_record": [90.0, 97.5]},
    }[fmt]


FORMATS = ["plain", "module", "model", "model+args", "state_dict+args", "net"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_official_att_ms_resnet_snapshots_load_strictly(fmt, tmp_path):
    layers = (1, 2, 1, 1)
    official = _official_att_ms_state(layers, 7)
    path = tmp_path / "ckpt.pth"
    torch.save(_snapshot(official, fmt), path)
    model = snn_zoo.create_model(
        "att_ms_resnet18", layers=layers, num_classes=7, checkpoint_path=path
    )
    own = model.state_dict()
    assert set(own) == set(official)
    for key, value in official.items():
        assert torch.equal(own[key], value), key


@pytest.mark.parametrize("name", ["qkformer_10_384", "masnn_dvs128_gesture"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_snapshots_of_every_family_load_strictly(name, fmt, tmp_path):
    small = {
        "qkformer_10_384": dict(embed_dim=32, num_heads=2, depth=4, num_classes=3),
        "masnn_dvs128_gesture": dict(
            T=5, img_size=8, channels=(4, 8, 8), fc_hidden=6, reduction_c=4
        ),
    }[name]
    torch.manual_seed(0)
    state = {
        k: v + 0.5 if v.is_floating_point() else v
        for k, v in snn_zoo.create_model(name, **small).state_dict().items()
    }
    path = tmp_path / "ckpt.pth"
    torch.save(_snapshot(state, fmt), path)
    model = snn_zoo.create_model(name, checkpoint_path=path, **small)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_att_ms_resnet_state_dicts_of_the_old_zoo_layout_still_load(tmp_path):
    layers = (1, 1, 1, 1)
    official = _official_att_ms_state(layers, 4)
    old = {
        k.replace("residual_function.6.attention.", "attention."): v for k, v in official.items()
    }
    assert any(k.startswith("conv2_x.0.attention.") for k in old)
    torch.save(old, tmp_path / "old.pth")
    model = snn_zoo.create_model(
        "att_ms_resnet18", layers=layers, num_classes=4, checkpoint_path=tmp_path / "old.pth"
    )
    for key, value in official.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_a_missing_official_key_is_an_error(tmp_path):
    layers = (1, 1, 1, 1)
    official = _official_att_ms_state(layers, 4)
    del official["conv4_x.0.residual_function.6.attention.sa.conv.weight"]
    torch.save({"state_dict": official, "args": argparse.Namespace(lr=0.1)}, tmp_path / "c.pth")
    with pytest.raises(ValueError, match=r"missing keys.*conv4_x\.0\.residual_function\.6"):
        snn_zoo.create_model(
            "att_ms_resnet18", layers=layers, num_classes=4, checkpoint_path=tmp_path / "c.pth"
        )
