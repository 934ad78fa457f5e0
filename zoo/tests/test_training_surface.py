"""What training tools expect of every zoo model (timm's model surface, without timm):
no autograd graph left in the neuron state after a forward (deepcopy / EMA mid-training),
exact gradient checkpointing, parameter groups, and timm's standard constructor arguments.
"""

from __future__ import annotations

import copy
import re

import pytest
import snn_zoo
import torch
from snn_core.base import MemoryModule
from torch import nn

# name -> (overrides, input); small enough for a few forward/backward passes per case
SMALL = {
    "spikformer_digits": (dict(depth=2), (4, 1, 8, 8)),
    "qkformer_digits": ({}, (4, 1, 8, 8)),
    "masnn_dvs128_gesture": (
        dict(
            T=3,
            img_size=8,
            in_chans=1,
            channels=(8, 8),
            pools=(1, 2),
            fc_hidden=8,
            reduction_t=1,
            reduction_c=4,
            num_classes=10,
        ),
        (4, 1, 8, 8),
    ),
    "att_ms_resnet18": (dict(layers=(1, 1, 1, 1), T=1, in_chans=1), (2, 1, 32, 32)),
}


def _build(name: str, **extra):
    overrides, shape = SMALL[name]
    torch.manual_seed(0)
    return snn_zoo.create_model(name, **{**overrides, **extra}), shape


def _graph_holding_states(model: nn.Module) -> list[str]:
    return [
        f"{mod_name}.{key}"
        for mod_name, m in model.named_modules()
        if isinstance(m, MemoryModule)
        for key, value in m.named_memories()
        if isinstance(value, torch.Tensor) and value.grad_fn is not None
    ]


def _train_step(model: nn.Module, x: torch.Tensor) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = model(x).square().mean()
    loss.backward()
    opt.step()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_no_graph_in_the_state_after_a_training_step(name):
    model, shape = _build(name)
    model.train()
    x = torch.rand(shape)
    model(x)  # forward alone: the state is already free of the graph
    assert _graph_holding_states(model) == []
    _train_step(model, x)
    assert _graph_holding_states(model) == []
    clone = copy.deepcopy(model)
    clone.eval()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_gradient_checkpointing_gives_the_same_gradients(name):
    # dropout / stochastic depth where the model has them: the recomputation must replay
    # the same random masks, and start every neuron from the state of the first forward
    extra = {"drop_rate": 0.2}
    if name != "masnn_dvs128_gesture":
        extra["drop_path_rate"] = 0.2
    if name in ("spikformer_digits", "qkformer_digits"):
        extra["proj_drop_rate"] = 0.1
    model, shape = _build(name, **extra)
    model.train()
    x = torch.rand(shape, requires_grad=True)

    start = copy.deepcopy(model.state_dict())

    def grads(checkpointing: bool):
        model.load_state_dict(start)
        model.set_grad_checkpointing(checkpointing)
        model.zero_grad()
        x.grad = None
        torch.manual_seed(1)
        out = model(x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        got = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return out.detach(), got, x.grad.clone(), copy.deepcopy(model.state_dict())

    out_ref, ref, x_ref, buffers_ref = grads(False)
    out_ckpt, got, x_ckpt, buffers_ckpt = grads(True)
    assert model.grad_checkpointing is True
    # the recomputation did not update the BatchNorm statistics a second time
    for k, v in buffers_ref.items():
        torch.testing.assert_close(buffers_ckpt[k], v, rtol=1e-6, atol=1e-6, msg=k)
    torch.testing.assert_close(out_ckpt, out_ref, rtol=0, atol=1e-6)
    assert got.keys() == ref.keys() and len(ref) == len(list(model.parameters()))
    for n in ref:
        torch.testing.assert_close(got[n], ref[n], rtol=1e-6, atol=1e-6, msg=n)
    torch.testing.assert_close(x_ckpt, x_ref, rtol=1e-6, atol=1e-6)
    # the recomputation in backward left no graph in the state either
    assert _graph_holding_states(model) == []
    copy.deepcopy(model)


def test_set_grad_checkpointing_checks_its_argument():
    model, _ = _build("spikformer_digits")
    with pytest.raises(TypeError, match="enable must be a bool"):
        model.set_grad_checkpointing("yes")


@pytest.mark.parametrize("name", sorted(SMALL))
def test_group_matcher_orders_stem_blocks_head(name):
    model, _ = _build(name)
    fine = model.group_matcher()
    stem = re.compile(fine["stem"])
    blocks = [(re.compile(r), o) for r, o in fine["blocks"]]
    first = model.stage_modules()[0][0]
    first_ids = {id(p) for p in first.parameters()}
    first_names = {n for n, p in model.named_parameters() if id(p) in first_ids}
    assert first_names and {n for n, _ in model.named_parameters() if stem.match(n)} == first_names
    # every stage module after the stem is its own group, in forward order
    names = {id(m): n for n, m in model.named_modules()}
    later = [m for s in model.stage_modules() for m in s][1:]
    assert [r.pattern for r, _ in blocks] == [rf"^{re.escape(names[id(m)])}\." for m in later]
    assert [o for _, o in blocks] == [(i,) for i in range(len(later))]
    # the classifier matches no group (timm puts it last)
    head = model.get_classifier()
    for n, p in model.named_parameters():
        if any(p is q for q in head.parameters()):
            assert not stem.match(n) and not any(r.match(n) for r, _ in blocks)
    coarse = model.group_matcher(coarse=True)
    stage_of = [s for s, stage in enumerate(model.stage_modules()) for _ in stage][1:]
    assert [o for _, o in coarse["blocks"]] == [(s,) for s in stage_of]
    assert model.no_weight_decay() == set()


def test_standard_timm_kwargs_with_their_meaning():
    # the bundled weights: their pooled features are not all zero
    model = snn_zoo.create_model(
        "spikformer_digits",
        pretrained=True,
        drop_rate=0.5,
        proj_drop_rate=0.25,
        pos_drop_rate=0.1,
        bn_momentum=0.3,
        bn_eps=1e-3,
        global_pool="avg",
    )
    assert model.head_drop.p == 0.5 and model.pos_drop.p == 0.1
    assert all(blk.proj_drop.p == 0.25 for blk in model.block)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns and all(m.momentum == 0.3 and m.eps == 1e-3 for m in bns)
    # drop_rate is dropout of the pooled features: in training, each feature is 0 or
    # twice its eval value (p = 0.5)
    torch.manual_seed(0)
    images = torch.randn(8, 1, 8, 8)
    model.eval()
    with torch.no_grad():
        pooled = model.forward_head(model.forward_features(images), pre_logits=True)
        model.head_drop.train()
        dropped = model.forward_head(model.forward_features(images), pre_logits=True)
    assert (pooled != 0).float().mean() > 0.5
    zero = (dropped == 0) & (pooled != 0)
    assert zero.any() and (dropped != 0).any()
    torch.testing.assert_close(dropped[dropped != 0], 2 * pooled[dropped != 0])
    # the neutral values are accepted everywhere (timm's train.py always passes drop_rate)
    for name in SMALL:
        _build(
            name,
            drop_rate=0.0,
            proj_drop_rate=0.0,
            attn_drop_rate=0.0,
            pos_drop_rate=0.0,
            patch_drop_rate=0.0,
            drop_block_rate=None,
            bn_momentum=None,
            bn_eps=None,
        )


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("spikformer_digits", dict(attn_drop_rate=0.1), "attn_drop_rate=0.1 is not supported"),
        ("spikformer_digits", dict(drop_block_rate=0.1), "drop_block_rate=0.1"),
        ("spikformer_digits", dict(global_pool="max"), "global_pool must be None or one of"),
        ("spikformer_digits", dict(drop_rate=1.0), r"drop_rate must be in \[0, 1\)"),
        ("spikformer_digits", dict(bn_momentum=0.0), r"bn_momentum must be in \(0, 1\]"),
        ("qkformer_digits", dict(pos_drop_rate=0.1), "no position embedding"),
        ("masnn_dvs128_gesture", dict(drop_path_rate=0.1), "no residual branches"),
        ("masnn_dvs128_gesture", dict(global_pool="avg"), "global_pool must be None"),
        ("att_ms_resnet18", dict(proj_drop_rate=0.1), "proj_drop_rate=0.1 is not supported"),
    ],
)
def test_standard_timm_kwargs_without_a_place_are_clear_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _build(name, **kwargs)


def test_drop_path_on_att_ms_resnet_residual_branches():
    model, _ = _build("att_ms_resnet18", drop_path_rate=0.3)
    blocks = [blk for s in range(2, 6) for blk in getattr(model, f"conv{s}_x")]
    assert isinstance(blocks[0].drop_path, nn.Identity)  # rate 0: no module
    assert [blk.drop_path.drop_prob for blk in blocks[1:]] == pytest.approx([0.1, 0.2, 0.3])
