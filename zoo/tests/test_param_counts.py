"""Parameter counts of every named variant, built on the meta device (no allocation).

Transformer counts are the papers' tables (Spikformer ICLR 2023 Tab. 1-3, QKFormer NeurIPS
2024 Tab. 1-3), required within +-0.02 M. The MA-SNN networks have no table entry to copy, so
their counts are derived here by hand from the papers' layer lists.
"""

from __future__ import annotations

import pytest
import snn_zoo
import torch

PAPER_PARAMS_M = {
    "spikformer_8_384": 16.81,
    "spikformer_6_512": 23.37,
    "spikformer_8_512": 29.68,
    "spikformer_10_512": 36.01,
    "spikformer_8_768": 66.34,
    "spikformer_4_384_cifar": 9.32,
    "spikformer_2_256_dvs": 2.57,
    "qkformer_10_384": 16.47,
    "qkformer_10_512": 29.08,
    "qkformer_10_768": 64.96,
    "qkformer_4_384_cifar": 6.74,
    "qkformer_2_256_dvs": 1.50,
}


def _count(name: str, **overrides) -> int:
    with torch.device("meta"):
        model = snn_zoo.create_model(name, **overrides)
    assert all(p.device.type == "meta" for p in model.parameters())
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS_M))
def test_transformer_params_match_paper_table(name):
    measured = _count(name) / 1e6
    assert abs(measured - PAPER_PARAMS_M[name]) <= 0.02, (name, measured)
    assert abs(snn_zoo.get_pretrained_cfg(name)["params_m"] - PAPER_PARAMS_M[name]) < 1e-9


def _csa(c: int, r: int = 8) -> int:
    return 2 * c * (c // r) + 2 * 3 * 3  # channel MLP c -> c/r -> c, spatial conv 2 -> 1, 3x3


def _att_ms_resnet(layers, num_classes=1000) -> int:
    n = 3 * 64 * 7 * 7 + 2 * 64  # stem conv 7x7 + BN
    cin = 64
    for cout, blocks in zip((64, 128, 256, 512), layers):
        for i in range(blocks):
            n += 9 * cin * cout + 9 * cout * cout + 4 * cout + _csa(cout)  # 2 conv3x3 + 2 BN
            if i == 0:  # stride-2 shortcut: conv1x1 + BN
                n += cin * cout + 2 * cout
            cin = cout
    return n + 512 * num_classes + num_classes


def _masnn_dvs(T=60, classes=11) -> int:
    ta = 2 * T * (T // 5)
    n, cin = 0, 2
    for cout in (64, 128, 128):
        n += 9 * cin * cout + cout + 2 * cout + ta + _csa(cout)
        cin = cout
    for fin, fout in ((128 * 8 * 8, 256), (256, classes)):
        n += fin * fout + fout + 2 * fout + ta
    return n


@pytest.mark.parametrize(
    "name,expected",
    [
        ("att_ms_resnet18", _att_ms_resnet((2, 2, 2, 2))),
        ("att_ms_resnet34", _att_ms_resnet((3, 4, 6, 3))),
        ("att_ms_resnet104", _att_ms_resnet((3, 8, 32, 8))),
        ("masnn_dvs128_gesture", _masnn_dvs()),
    ],
)
def test_masnn_params_match_hand_count(name, expected):
    assert _count(name) == expected
    card = snn_zoo.get_pretrained_cfg(name)
    if card["params_m"] is not None:
        assert abs(card["params_m"] - expected / 1e6) <= 0.005


def test_resnet_counts_are_ms_resnet_plus_attention():
    # MS-ResNet-18/34 without attention have the ResNet-18/34 counts (11.69 M / 21.80 M)
    no_attn18 = _att_ms_resnet((2, 2, 2, 2)) - 2 * sum(_csa(c) for c in (64, 128, 256, 512))
    assert abs(no_attn18 / 1e6 - 11.69) < 0.01
    assert abs(_count("att_ms_resnet34") / 1e6 - 22.12) < 0.01


def test_every_variant_has_a_complete_card():
    for name in snn_zoo.list_models():
        card = snn_zoo.get_pretrained_cfg(name)
        for key in ("paper", "params_m", "reported_accuracy", "input_size", "T", "mean", "std"):
            assert key in card, (name, key)
        assert card["first_conv"] and card["classifier"]
        assert len(card["mean"]) == len(card["std"]) == card["input_size"][0]


def test_overrides_change_the_count_as_expected():
    base = _count("spikformer_4_384_cifar")
    assert base - _count("spikformer_4_384_cifar", num_classes=100) == -90 * 385
    # one more input channel adds D/8 * 9 weights to the first conv
    assert _count("spikformer_4_384_cifar", in_chans=4) - base == 48 * 9
