"""Spikformer SSA and QKFormer Q-K attention against an independent float64 reference.

The reference re-derives the layers from the papers' equations with its own LIF loop
(``H = V + (X - V) / tau``, hard reset to 0 with the spike detached), its own sigmoid
surrogate (``alpha = 4``, the default of ``LIFNode``), training-mode batch norm written out,
and the attention in the papers' token-major layout ``Q K^T V`` (``[L, d]`` per head).
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
from snn_neurons import IFNode, LIFNode
from torch import nn

torch.set_default_dtype(torch.float32)


class _RefSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(4.0 * x)
        return g * 4.0 * s * (1 - s)


def ref_lif(x: torch.Tensor, v_th: float = 1.0, tau: float = 2.0) -> torch.Tensor:
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) / tau
        s = _RefSpike.apply(h - v_th)
        v = h * (1.0 - s.detach())
        out.append(s)
    return torch.stack(out)


def ref_bn_train(y: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float = 1e-5):
    """Batch norm over channel dim 1 of ``[B, C, L]`` with batch statistics."""
    mean = y.mean(dim=(0, 2), keepdim=True)
    var = y.var(dim=(0, 2), unbiased=False, keepdim=True)
    return (y - mean) / torch.sqrt(var + eps) * w[None, :, None] + b[None, :, None]


def ref_branch(x, weight, bias, bn_w, bn_b):
    """Token-major ``BN(X W^T + b)`` for ``x`` ``[T, N, L, C]``; returns ``[T, N, L, C]``."""
    T, N, L, C = x.shape
    y = x.reshape(T * N, L, C) @ weight.reshape(C, C).T
    if bias is not None:
        y = y + bias
    y = ref_bn_train(y.transpose(1, 2), bn_w, bn_b).transpose(1, 2)
    return y.reshape(T, N, L, C)


def _params(m: nn.Module, prefix: str, proj_type: str = "conv"):
    lin = getattr(m, f"{prefix}_{proj_type}")
    bn = getattr(m, f"{prefix}_bn")
    return lin.weight, lin.bias, bn.weight, bn.bias


def ref_ssa(x_tok, m: SpikingSelfAttention):
    """``x_tok`` ``[T, N, L, C]`` -> ``[T, N, L, C]`` (Spikformer Eq. 5-9)."""
    T, N, L, C = x_tok.shape
    h, d = m.num_heads, C // m.num_heads

    def heads(z):  # [T, N, L, C] -> [T, N, h, L, d]
        return z.reshape(T, N, L, h, d).permute(0, 1, 3, 2, 4)

    q, k, v = (heads(ref_lif(ref_branch(x_tok, *_params(m, p, m.proj_type)))) for p in "qkv")
    attn = (q @ k.transpose(-2, -1)) @ v * m.scale
    y = attn.permute(0, 1, 3, 2, 4).reshape(T, N, L, C)
    y = ref_lif(y, v_th=m.attn_v_threshold)
    return ref_lif(ref_branch(y, *_params(m, "proj", m.proj_type)))


def ref_qk(x_tok, m: QKAttention):
    T, N, L, C = x_tok.shape
    h, d = m.num_heads, C // m.num_heads
    q = ref_lif(ref_branch(x_tok, *_params(m, "q"))).reshape(T, N, L, h, d)
    k = ref_lif(ref_branch(x_tok, *_params(m, "k"))).reshape(T, N, L, h, d)
    if m.qka_type == "token":
        mask = ref_lif(q.sum(dim=4, keepdim=True), v_th=0.5)  # one value per token and head
    else:
        mask = ref_lif(q.sum(dim=2, keepdim=True), v_th=0.5)  # one value per channel
    y = (mask * k).reshape(T, N, L, C)
    return ref_lif(ref_branch(y, *_params(m, "proj")))


def _randomize_bn(m: nn.Module, gen: torch.Generator) -> None:
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm1d):
            with torch.no_grad():
                mod.weight.copy_(torch.rand(mod.num_features, generator=gen) + 1.0)
                mod.bias.copy_(torch.rand(mod.num_features, generator=gen) + 0.9)


def _compare(module, ref_fn, x, atol=1e-9):
    """Run module and reference in float64; compare outputs, input and weight gradients."""
    module = module.double().train()
    x_m = x.double().clone().requires_grad_(True)
    rates = []
    hook = module.attn_lif.register_forward_hook(lambda m, i, o: rates.append(o.mean().item()))
    y = module(x_m)
    hook.remove()
    assert 0.02 < rates[0] < 0.98, f"degenerate test: attention firing rate {rates[0]}"
    T, N, C = x.shape[:3]
    x_r = x.double().clone().requires_grad_(True)
    y_ref = ref_fn(x_r.flatten(3).transpose(2, 3), module).transpose(2, 3).reshape(y.shape)
    assert torch.equal(y, y_ref), "spikes differ from the reference"
    assert 0.05 < y.mean().item() < 0.95, "degenerate test: almost no or only spikes"
    w = torch.randn_like(y)
    params = [p for p in module.parameters()]
    g_m = torch.autograd.grad((y * w).sum(), [x_m, *params], allow_unused=True)
    g_r = torch.autograd.grad((y_ref * w).sum(), [x_r, *params], allow_unused=True)
    for a, b in zip(g_m, g_r):
        if a is None or b is None:
            assert a is None and b is None
            continue
        torch.testing.assert_close(a, b, atol=atol, rtol=1e-7)
    assert g_m[0].abs().sum() > 0


@pytest.mark.parametrize(
    "proj_type,qkv_bias,proj_bias,shape",
    [
        ("conv", False, True, (3, 2, 8, 4, 4)),  # d=4 <= L=16: (V K^T) Q order
        ("linear", True, True, (3, 2, 16, 4)),  # d=8 > L=4: V (K^T Q) order
        ("conv", False, False, (2, 3, 12, 2, 5)),
    ],
)
def test_ssa_matches_reference(proj_type, qkv_bias, proj_bias, shape):
    torch.manual_seed(3)  # the layers' weights: no dependence on earlier tests
    gen = torch.Generator().manual_seed(0)
    C = shape[2]
    heads = 2
    m = SpikingSelfAttention(C, heads, qkv_bias=qkv_bias, proj_bias=proj_bias, proj_type=proj_type)
    _randomize_bn(m, gen)
    x = (torch.rand(shape, generator=gen) < 0.5).float()
    _compare(m, ref_ssa, x)


@pytest.mark.parametrize(
    "cls,qka_type", [(TokenQKAttention, "token"), (ChannelQKAttention, "channel")]
)
def test_qk_attention_matches_reference(cls, qka_type):
    torch.manual_seed(1)  # the layers' weights: no dependence on earlier tests
    gen = torch.Generator().manual_seed(1)
    m = cls(8, 2, proj_bias=True)
    assert m.qka_type == qka_type
    _randomize_bn(m, gen)
    x = (torch.rand(3, 2, 8, 2, 3, generator=gen) < 0.5).float()
    _compare(m, ref_qk, x)


def test_ssa_both_product_orders_give_identical_values():
    gen = torch.Generator().manual_seed(2)
    q, k, v = ((torch.rand(2, 3, 4, 6, generator=gen) < 0.5).float() for _ in range(3))
    a = (v @ k.transpose(-2, -1)) @ q
    b = v @ (k.transpose(-2, -1) @ q)
    assert torch.equal(a, b)  # integer counts: no rounding either way


def test_defaults_follow_the_papers():
    ssa = SpikingSelfAttention(16)
    assert ssa.num_heads == 8 and ssa.scale == 0.125 and ssa.backend == "torch"
    assert ssa.attn_lif.v_threshold == 0.5
    for n in ssa.neurons():
        assert isinstance(n, LIFNode) and n.tau == 2.0 and n.detach_reset and n.step_mode == "m"
    assert [n.v_threshold for n in ssa.neurons()] == [1.0, 1.0, 1.0, 0.5, 1.0]
    qk = QKAttention(16)
    assert qk.qka_type == "token" and qk.attn_lif.v_threshold == 0.5


def test_state_dict_keys_follow_official_layouts():
    conv = SpikingSelfAttention(8, 2, proj_bias=True)
    keys = {k for k in conv.state_dict() if not k.endswith("num_batches_tracked")}
    expected = set()
    for p in ("q", "k", "v", "proj"):
        expected |= {f"{p}_conv.weight", f"{p}_bn.weight", f"{p}_bn.bias"}
        expected |= {f"{p}_bn.running_mean", f"{p}_bn.running_var"}
    expected.add("proj_conv.bias")
    assert keys == expected
    assert conv.q_conv.weight.shape == (8, 8, 1)
    lin = SpikingSelfAttention(8, 2, qkv_bias=True, proj_type="linear")
    assert lin.q_linear.weight.shape == (8, 8) and lin.q_linear.bias is not None
    qk = TokenQKAttention(8, 2)
    names = {k.split(".")[0] for k in qk.state_dict()}
    assert names == {"q_conv", "q_bn", "k_conv", "k_bn", "proj_conv", "proj_bn"}


def test_neuron_and_backend_are_configurable():
    ssa = SpikingSelfAttention(8, 2, neuron=IFNode, neuron_kwargs={"v_threshold": 0.7})
    assert all(isinstance(n, IFNode) for n in ssa.neurons())
    assert [n.v_threshold for n in ssa.neurons()] == [0.7, 0.7, 0.7, 0.5, 0.7]
    lif = QKAttention(8, 2, neuron_kwargs={"tau": 3.0})
    assert all(n.tau == 3.0 for n in lif.neurons())
    ssa.backend = "torch"
    assert all(n.backend == "torch" for n in ssa.neurons())
    with pytest.raises(ValueError, match="backend"):
        ssa.backend = "no-such-backend"
    with pytest.raises(ValueError, match="step_mode"):
        SpikingSelfAttention(8, 2, neuron_kwargs={"step_mode": "s"})

    def no_backend_neuron(**kw):
        return LIFNode(**kw)

    with pytest.raises(ValueError, match="no `backend` argument"):
        QKAttention(8, 2, backend="triton", neuron=lambda step_mode: LIFNode(step_mode=step_mode))
    assert isinstance(QKAttention(8, 2, neuron=no_backend_neuron).q_lif, LIFNode)


@pytest.mark.parametrize("cls", [SpikingSelfAttention, TokenQKAttention, ChannelQKAttention])
def test_bad_input_gives_clear_errors(cls):
    m = cls(8, 2)
    with pytest.raises(ValueError, match="channels"):
        m(torch.zeros(2, 1, 4, 3))
    with pytest.raises(ValueError, match=r"\[T, N, C, L\]"):
        m(torch.zeros(2, 8, 3))
    with pytest.raises(ValueError, match="divisible by num_heads"):
        cls(10, 4)


def test_bad_constructor_options():
    with pytest.raises(ValueError, match="proj_type"):
        SpikingSelfAttention(8, 2, proj_type="mlp")
    with pytest.raises(ValueError, match="qka_type"):
        QKAttention(8, 2, qka_type="spatial")
    with pytest.raises(ValueError, match="scale"):
        SpikingSelfAttention(8, 2, scale=0.0)


def test_multi_step_only_and_set_step_mode_leaves_inner_neurons_alone():
    net = nn.Sequential(SpikingSelfAttention(8, 2))
    with pytest.raises(ValueError, match="step_mode"):
        functional.set_step_mode(net, "s")
    functional.set_step_mode(net, "m")
    assert all(n.step_mode == "m" for n in net[0].neurons())


def test_reset_makes_repeated_calls_identical():
    m = SpikingSelfAttention(8, 2).eval()
    x = (torch.rand(3, 2, 8, 5) < 0.5).float()
    y1 = m(x)
    functional.reset_net(m)
    y2 = m(x)
    assert torch.equal(y1, y2)
