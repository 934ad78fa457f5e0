"""Spikformer / QKFormer attention: the reference framework's call style and fused state dicts.

The fused state dicts are built by hand from a module's own separate projections
(``torch.cat`` in ``q | k | v`` order), so loading one into a fresh module must reproduce the
original module exactly: same state dict, same outputs, same gradients.
"""

from __future__ import annotations

import pytest
import torch
from snn_core import functional
from snn_layers.attention import (
    ChannelQKAttention,
    QKAttention,
    SpikingSelfAttention,
    TokenQKAttention,
)
from snn_neurons import IFNode, LIFNode, ParametricLIFNode
from torch import nn

torch.set_default_dtype(torch.float32)

DIM, HEADS = 8, 2

CASES = [
    (SpikingSelfAttention, {}, "qkv", "conv"),
    (
        SpikingSelfAttention,
        {"proj_type": "linear", "qkv_bias": True, "proj_bias": True},
        "qkv",
        "linear",
    ),
    (QKAttention, {"qka_type": "channel", "proj_bias": True}, "qk", "conv"),
    (TokenQKAttention, {}, "qk", "conv"),
    (ChannelQKAttention, {}, "qk", "conv"),
]


def _randomize(m: nn.Module) -> None:
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm1d):
                mod.weight.uniform_(0.5, 2.0)
                mod.bias.uniform_(0.4, 1.5)
                mod.running_mean.uniform_(-0.3, 0.3)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(7)


def _to_reference_layout(sd: dict, parts: str, attr: str) -> dict:
    """Our separate ``q_conv, q_bn, ...`` entries -> fused ``q|k|v`` reference entries."""
    fused = f"{parts}_conv_bn"
    out = {}
    for name in ("weight", "bias"):
        if f"q_{attr}.{name}" in sd:
            ts = [sd.pop(f"{p}_{attr}.{name}") for p in parts]
            if name == "weight" and attr == "linear":  # Conv1d(kernel 1) weights are [C, C, 1]
                ts = [t.unsqueeze(-1) for t in ts]
            out[f"{fused}.0.{name}"] = torch.cat(ts)
        if f"proj_{attr}.{name}" in sd:
            t = sd.pop(f"proj_{attr}.{name}")
            out[f"proj_conv_bn.0.{name}"] = (
                t.unsqueeze(-1) if name == "weight" and t.dim() == 2 else t
            )
    for name in ("weight", "bias", "running_mean", "running_var"):
        out[f"{fused}.1.{name}"] = torch.cat([sd.pop(f"{p}_bn.{name}") for p in parts])
        out[f"proj_conv_bn.1.{name}"] = sd.pop(f"proj_bn.{name}")
    nbt = [sd.pop(f"{p}_bn.num_batches_tracked") for p in parts]
    assert all(torch.equal(n, nbt[0]) for n in nbt)
    out[f"{fused}.1.num_batches_tracked"] = nbt[0]
    out["proj_conv_bn.1.num_batches_tracked"] = sd.pop("proj_bn.num_batches_tracked")
    out.update(sd)  # neuron entries, if any
    return out


def _run(m: nn.Module, x: torch.Tensor):
    functional.reset_net(m)
    x = x.clone().requires_grad_(True)
    y = m(x)
    w = torch.sin(torch.arange(y.numel(), dtype=y.dtype)).reshape(y.shape)
    (y * w).sum().backward()
    grads = {n: p.grad.clone() for n, p in m.named_parameters()}
    return y.detach(), x.grad.clone(), grads


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize(("cls", "kw", "parts", "attr"), CASES)
def test_reference_layout_loads_into_an_equal_module(cls, kw, parts, attr, train):
    torch.manual_seed(0)
    a = cls(DIM, HEADS, **kw)
    _randomize(a)
    ref_sd = _to_reference_layout(dict(a.state_dict()), parts, attr)
    assert f"{parts}_conv_bn.0.weight" in ref_sd and ref_sd[f"{parts}_conv_bn.0.weight"].shape == (
        len(parts) * DIM,
        DIM,
        1,
    )
    torch.manual_seed(1)
    b = cls(DIM, HEADS, **kw)
    b.load_state_dict(ref_sd)  # strict: nothing missing, nothing unexpected
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()  # saving keeps our layout
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    a.train(train)
    b.train(train)
    x = (torch.rand(3, 2, DIM, 5) < 0.4).float()
    ya, xga, ga = _run(a, x)
    yb, xgb, gb = _run(b, x)
    assert ya.abs().sum() > 0  # the comparison is not between two silent layers
    assert torch.equal(ya, yb) and torch.equal(xga, xgb)
    assert ga.keys() == gb.keys() and all(torch.equal(ga[k], gb[k]) for k in ga)
    for k, v in a.state_dict().items():  # running statistics updated alike
        assert torch.equal(v, b.state_dict()[k]), k


def test_reference_layout_loads_under_a_prefix():
    torch.manual_seed(0)
    a = SpikingSelfAttention(DIM, HEADS)
    _randomize(a)
    ref_sd = _to_reference_layout(dict(a.state_dict()), "qkv", "conv")
    net = nn.Sequential(nn.Identity(), SpikingSelfAttention(DIM, HEADS))
    net.load_state_dict({f"1.{k}": v for k, v in ref_sd.items()})
    assert torch.equal(net[1].v_bn.running_var, a.v_bn.running_var)
    assert torch.equal(net[1].k_conv.weight, a.k_conv.weight)
    assert torch.equal(net[1].proj_bn.bias, a.proj_bn.bias)


def test_shared_reference_neuron_is_copied_to_each_branch():
    m = SpikingSelfAttention(DIM, HEADS, neuron=ParametricLIFNode)
    sd = _to_reference_layout(dict(m.state_dict()), "qkv", "conv")
    for p in "qkv":
        del sd[f"{p}_lif.w"]
    sd["qkv_lif.w"] = torch.tensor(0.25)
    m.load_state_dict(sd)
    assert [getattr(m, f"{p}_lif").w.detach().item() for p in "qkv"] == [0.25, 0.25, 0.25]


def test_bad_reference_state_dicts_give_clear_errors():
    m = TokenQKAttention(DIM, HEADS)
    good = _to_reference_layout(dict(m.state_dict()), "qk", "conv")
    wrong = dict(good)
    wrong["qk_conv_bn.0.weight"] = torch.zeros(3 * DIM, DIM, 1)
    with pytest.raises(RuntimeError, match=r"qk_conv_bn.0.weight has shape \(24, 8, 1\).*16"):
        m.load_state_dict(wrong)
    both = dict(good)
    both["q_conv.weight"] = torch.zeros(DIM, DIM, 1)
    with pytest.raises(RuntimeError, match="both in the state dict"):
        m.load_state_dict(both)
    extra = dict(good)
    extra["qk_conv_bn.2.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match=r"Unexpected key.*qk_conv_bn.2.weight"):
        m.load_state_dict(extra)


def _neuron_config(m: nn.Module) -> list[tuple]:
    return [
        (type(n), getattr(n, "tau", None), n.v_threshold, n.detach_reset, n.step_mode)
        for n in m.neurons()
    ]


@pytest.mark.parametrize(
    ("cls", "kw"),
    [(SpikingSelfAttention, {}), (QKAttention, {"qka_type": "channel"}), (TokenQKAttention, {})],
)
def test_reference_call_style_builds_the_same_neurons(cls, kw):
    torch.manual_seed(0)
    ours = cls(DIM, HEADS, neuron=LIFNode, neuron_kwargs={"tau": 3.0, "detach_reset": True}, **kw)
    torch.manual_seed(0)
    ref = cls(DIM, HEADS, spiking_neuron=LIFNode, tau=3.0, detach_reset=True, **kw)
    torch.manual_seed(0)
    mixed = cls(
        DIM, HEADS, spiking_neuron=LIFNode, neuron_kwargs={"tau": 3.0}, detach_reset=True, **kw
    )
    expected = _neuron_config(ours)
    assert expected[0] == (LIFNode, 3.0, 1.0, True, "m")
    assert _neuron_config(ref) == expected and _neuron_config(mixed) == expected
    x = (torch.rand(3, 2, DIM, 5) < 0.5).float()
    assert torch.equal(ours(x), ref(x))
    # no class: LIFNode with the papers' defaults, overridden by the keywords
    default = cls(DIM, HEADS, tau=4.0, step_mode="m", **kw)
    assert all(n.tau == 4.0 and n.detach_reset for n in default.neurons())
    assert default.attn_lif.v_threshold == 0.5
    ifn = cls(DIM, HEADS, spiking_neuron=IFNode, v_threshold=0.7, **kw)
    assert all(isinstance(n, IFNode) for n in ifn.neurons())


@pytest.mark.parametrize("cls", [SpikingSelfAttention, QKAttention, ChannelQKAttention])
def test_reference_call_style_errors(cls):
    with pytest.raises(TypeError, match="not both"):
        cls(DIM, HEADS, neuron=LIFNode, spiking_neuron=IFNode)
    with pytest.raises(TypeError, match=r"\['tau'\] given both"):
        cls(DIM, HEADS, neuron_kwargs={"tau": 2.0}, tau=3.0)
    with pytest.raises(TypeError, match=r"\['tau'\].*neuron IFNode"):
        cls(DIM, HEADS, spiking_neuron=IFNode, tau=3.0)
    with pytest.raises(TypeError, match=r"\['proj_bais'\].*LIFNode"):
        cls(DIM, HEADS, proj_bais=True)
    with pytest.raises(ValueError, match="step_mode='s'"):
        cls(DIM, HEADS, step_mode="s")
    with pytest.raises(TypeError, match="neuron must be None or a class"):
        cls(DIM, HEADS, spiking_neuron="LIFNode")
