"""SpikeZIPTFQANNRecipe (SpikeZIP-TF QANN-to-SNN conversion) and its layers.

The REF_* values were produced with SpikingJelly 2.0.0 (torch 2.14.1, CPU): the models of
``_spikezip_models.py`` (weights set by formula, ``fill``), converted by its
``ModuleConverter(SpikeZIPTFQANNRecipe(time_steps=24, model_family=...)).convert(model)``
under ``torch.no_grad()``; RoBERTa run in 's' mode with the tokens and mask at every step,
ViT in 'm' mode with the images at step 0 and zeros after; printed rounded to 6 decimals.
Our step outputs equalled the reference's bit for bit (compared via ``torch.save``).
"""

from __future__ import annotations

import copy

import pytest
import torch
from _spikezip_models import (
    QRobertaAttention,
    Quantizer,
    QViTAttention,
    RobertaQANN,
    ViTQANN,
    fill,
    roberta_inputs,
    vit_images,
)
from snn_core import functional
from snn_layers import ann2snn
from snn_layers.ann2snn import ModuleConverter, SpikeZIPTFQANNRecipe
from snn_layers.ann2snn.recipes import spikezip_qann
from snn_layers.ann2snn.recipes.spikezip_qann import (
    SpikeZIPConv2d,
    SpikeZIPEmbedding,
    SpikeZIPLinear,
    SpikeZIPRobertaSelfAttention,
    SpikeZIPViTSelfAttention,
)
from snn_neurons import STBIFNode
from torch import nn

T = 24
# SpikingJelly 2.0.0: converted RobertaQANN, output[t, 0, :] for t < 8 (zero after)
REF_ROBERTA_STEPS = [
    [0.447693, 0.68539], [1.186754, 1.207053], [-0.409134, 0.676617], [0.032514, 0.000398],
    [0.032514, 0.000398], [-0.423786, -0.320332], [0.046826, -0.002631], [-0.090907, -0.122322],
]  # fmt: skip
REF_ROBERTA_QANN = [[0.822475, 2.124572], [0.931585, 2.250321]]
# SpikingJelly 2.0.0: converted ViTQANN, output[t, 1, :] for t < 9 (zero after)
REF_VIT_STEPS = [
    [2.269712, 2.478642, 1.574405], [-0.374028, -0.126451, 0.177305],
    [-0.151312, -0.105368, -0.01271], [0.290831, 0.210255, 0.03472],
    [0.262801, 0.151112, -0.028989], [0.094839, 0.03178, -0.046127],
    [0.040175, 0.016117, -0.015759], [-0.007514, -0.078951, -0.115532],
    [0.012599, 0.049664, 0.064437],
]  # fmt: skip
REF_VIT_QANN = [[2.47907, 2.679126, 1.671947], [2.438102, 2.6268, 1.63175]]


def _first_then_zeros(x: torch.Tensor, steps: int) -> torch.Tensor:
    return torch.cat([x.unsqueeze(0), torch.zeros(steps - 1, *x.shape, dtype=x.dtype)])


def _convert(model: nn.Module, family: str, time_steps: int = T) -> nn.Module:
    recipe = SpikeZIPTFQANNRecipe(time_steps=time_steps, model_family=family)
    return ModuleConverter(recipe).convert(model)


# ------------------------------------------------------------------ layers, by hand
def test_linear_releases_its_bias_over_level_steps():
    linear = nn.Linear(2, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[2.0, -1.0]]))
        linear.bias.fill_(0.8)
    x_seq = _first_then_zeros(torch.tensor([[0.5, 0.25]]), 6)
    expected = torch.tensor([0.95, 0.2, 0.2, 0.2, 0.0, 0.0]).view(6, 1, 1)  # W x = 0.75, b/4
    spike = SpikeZIPLinear(linear, level=4)
    assert spike.bias_steps == 4 and spike.step_mode == "s"
    with torch.no_grad():
        loop = torch.stack([spike(x) for x in x_seq])
        torch.testing.assert_close(loop, expected)
        spike.reset()
        spike.step_mode = "m"
        torch.testing.assert_close(spike(x_seq), expected)
        spike.reset()  # two chunks release the bias like one sequence
        torch.testing.assert_close(torch.cat([spike(x_seq[:3]), spike(x_seq[3:])]), expected)
    assert spike.realize_time == 0


def test_conv2d_releases_its_bias_per_channel():
    conv = nn.Conv2d(1, 2, kernel_size=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 2.0]).view(2, 1, 1, 1))
        conv.bias.copy_(torch.tensor([0.4, -0.8]))
    spike = SpikeZIPConv2d(conv, level=2)
    x = torch.full((1, 1, 1, 1), 0.5)
    with torch.no_grad():
        ys = [spike(x), spike(torch.zeros_like(x)), spike(torch.zeros_like(x))]
    expected = torch.tensor([[0.7, 0.6], [0.2, -0.4], [0.0, 0.0]])  # [W x + b/2, b/2, 0]
    torch.testing.assert_close(torch.stack([y.flatten() for y in ys]), expected)


@pytest.mark.parametrize("bias_steps", [0, -1, True, 1.5])
def test_bias_steps_must_be_a_positive_int(bias_steps):
    with pytest.raises(ValueError, match="bias_steps"):
        SpikeZIPLinear(nn.Linear(2, 2), level=4, bias_steps=bias_steps)


def test_embedding_emits_once():
    embedding = fill(nn.Embedding(6, 3))
    tokens = torch.tensor([[1, 4]])
    spike = SpikeZIPEmbedding(copy.deepcopy(embedding))
    with torch.no_grad():
        assert torch.equal(spike(tokens), embedding(tokens))
        assert not spike(torch.tensor([[2, 3, 5]])).any()  # zeros of the current shape
        spike.reset()
        spike.step_mode = "m"
        y_seq = spike(torch.stack([tokens] * 4))
    assert torch.equal(y_seq[0], embedding(tokens)) and not y_seq[1:].any()


# ------------------------------------------------------------------ attention modules
def test_roberta_attention_sums_to_the_qann_and_modes_agree():
    qann = fill(QRobertaAttention())
    x = vit_images().flatten()[:80].view(2, 5, 8)
    _, mask = roberta_inputs()
    snn = SpikeZIPRobertaSelfAttention(qann, level=8)
    x_seq = _first_then_zeros(x, 16)
    with torch.no_grad():
        expected = qann(x, attention_mask=mask)[0]
        loop = torch.stack([snn(step, attention_mask=mask)[0] for step in x_seq])
        functional.reset_net(snn)
        functional.set_step_mode(snn, "m")
        multi = snn(x_seq, attention_mask=mask)[0]
        functional.reset_net(snn)
        context, probs = snn(x_seq, attention_mask=mask, output_attentions=True)
    torch.testing.assert_close(loop.sum(0), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(multi, loop, atol=1e-6, rtol=1e-6)
    assert probs.shape == (16, 2, 2, 5, 5) and torch.equal(context, multi)


def test_roberta_attention_refuses_what_it_cannot_convert():
    snn = SpikeZIPRobertaSelfAttention(fill(QRobertaAttention()), level=8)
    x = torch.zeros(1, 5, 8)
    with pytest.raises(ValueError, match="head_mask"):
        snn(x, head_mask=torch.ones(2))
    with pytest.raises(ValueError, match="cross-attention"):
        snn(x, encoder_hidden_states=x)
    with pytest.raises(ValueError, match="unsupported argument rotary"):
        snn(x, rotary=torch.ones(1))
    source = QRobertaAttention()
    source.position_embedding_type = "relative_key"
    with pytest.raises(ValueError, match="relative_key"):
        SpikeZIPRobertaSelfAttention(source, level=8)


def test_vit_attention_single_and_multi_step_agree():
    qann = fill(QViTAttention())
    x_seq = _first_then_zeros(vit_images().flatten()[:80].view(2, 5, 8), 16)
    snn = SpikeZIPViTSelfAttention(qann, level=8)
    assert snn.qkv.bias_steps == 1 and snn.proj.bias_steps == 1
    with torch.no_grad():
        loop = torch.stack([snn(step) for step in x_seq])
        snn.reset()
        functional.set_step_mode(snn, "m")
        multi = snn(x_seq)
        expected = qann(x_seq[0])
    torch.testing.assert_close(multi, loop, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(loop.sum(0), expected, atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------ the recipe
def test_roberta_conversion_matches_the_reference_step_by_step():
    qann = fill(RobertaQANN())
    tokens, mask = roberta_inputs()
    snn = _convert(qann, "roberta")
    functional.set_step_mode(snn, "s")
    functional.reset_net(snn)
    with torch.no_grad():
        seq = torch.stack([snn(tokens, attention_mask=mask) for _ in range(T)])
        expected = qann(tokens, mask)
    ref = torch.zeros(T, 2)
    ref[:8] = torch.tensor(REF_ROBERTA_STEPS)
    torch.testing.assert_close(seq[:, 0], ref, atol=2e-6, rtol=0)
    torch.testing.assert_close(expected, torch.tensor(REF_ROBERTA_QANN), atol=2e-6, rtol=0)
    torch.testing.assert_close(seq.sum(0), expected, atol=1e-5, rtol=1e-5)


def test_vit_conversion_matches_the_reference_and_chunks_agree():
    qann = fill(ViTQANN())
    images = vit_images()
    snn = _convert(qann, "vit")
    x_seq = _first_then_zeros(images, T)
    with torch.no_grad():
        functional.set_step_mode(snn, "m")
        seq = snn(x_seq)
        functional.reset_net(snn)
        chunks = torch.cat([snn(x_seq[:5]), snn(x_seq[5:])])
        functional.set_step_mode(snn, "s")
        functional.reset_net(snn)
        loop = torch.stack([snn(step) for step in x_seq])
        expected = qann(images)
    ref = torch.zeros(T, 3)
    ref[:9] = torch.tensor(REF_VIT_STEPS)
    torch.testing.assert_close(seq[:, 1], ref, atol=2e-6, rtol=0)
    torch.testing.assert_close(expected, torch.tensor(REF_VIT_QANN), atol=2e-6, rtol=0)
    torch.testing.assert_close(seq.sum(0), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loop, seq, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(chunks, seq, atol=1e-6, rtol=1e-6)


def test_recipe_replaces_modules_and_leaves_the_ann_alone():
    qann = fill(ViTQANN())
    snn = _convert(qann, "vit", time_steps=32)
    assert (snn.ann2snn_recipe, snn.time_steps, snn.model_family) == ("spikezip_tf_qann", 32, "vit")
    mlp = snn.blocks[0].mlp
    assert [type(m) for m in mlp] == [
        SpikeZIPLinear,
        STBIFNode,
        nn.Identity,
        SpikeZIPLinear,
        STBIFNode,
    ]
    assert isinstance(snn.blocks[0].attn, SpikeZIPViTSelfAttention)
    assert snn.patch_embed.bias_steps == 8 and snn.head.bias_steps == 8  # first quantizer's level
    assert not any(p.requires_grad for p in snn.parameters())
    assert type(qann.head) is nn.Linear and qann.head.weight.requires_grad


def test_level_comes_from_the_first_quantizer_else_time_steps():
    recipe = SpikeZIPTFQANNRecipe(time_steps=32)
    converter = ModuleConverter(recipe)
    bounds_only = nn.Sequential(nn.Linear(2, 2), Quantizer(level=16, sym=False, with_level=False))
    assert converter.convert(bounds_only)[0].bias_steps == 16  # pos_max - neg_min + 1
    assert converter.convert(nn.Sequential(nn.Linear(4, 3)))[0].bias_steps == 32
    attention = QRobertaAttention()
    for name in ("query_quan", "key_quan", "value_quan"):
        delattr(getattr(attention, name), "level")
    assert SpikeZIPTFQANNRecipe._level_from_qann(attention) == 8
    with pytest.raises(ValueError, match="quantizer level"):
        SpikeZIPTFQANNRecipe._level_from_qann(nn.Linear(2, 2))


def test_unconverted_leaf_modules_are_named_in_a_warning():
    with pytest.warns(UserWarning, match=r"Sequential\.1 \(GELU\)"):
        snn = _convert(nn.Sequential(nn.Linear(2, 2), nn.GELU(), nn.Dropout(0.1)), "roberta")
    assert isinstance(snn[1], nn.GELU)


def test_recipe_rejects_bad_settings_and_incomplete_vit():
    with pytest.raises(ValueError, match="time_steps"):
        SpikeZIPTFQANNRecipe(time_steps=0).validate(None)
    with pytest.raises(ValueError, match="time_steps"):
        SpikeZIPTFQANNRecipe(time_steps=True).validate(None)
    with pytest.raises(ValueError, match="model_family.*'bert'"):
        SpikeZIPTFQANNRecipe(model_family="bert").validate(None)
    qann = fill(ViTQANN())
    del qann.norm
    with pytest.raises(ValueError, match="top-level norm"):
        _convert(qann, "vit")


def test_exports():
    assert ann2snn.SpikeZIPTFQANNRecipe is spikezip_qann.SpikeZIPTFQANNRecipe
    assert "SpikeZIPTFQANNRecipe" in ann2snn.__all__ and "download_url" in ann2snn.__all__
    assert spikezip_qann.STBIFNode is STBIFNode
    for name in spikezip_qann.__all__:
        assert hasattr(spikezip_qann, name)
