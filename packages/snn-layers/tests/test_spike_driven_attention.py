"""SpikeDrivenSelfAttention (Spike-driven Transformer, SDSA-1) against a hand-written version."""

from __future__ import annotations

import pytest
import snn_layers as L
import torch
import torch.nn.functional as F
from snn_core import functional
from snn_neurons import IFNode, fused


@pytest.fixture(autouse=True)
def _eager_neurons(monkeypatch):
    # these tiny shapes do not pay back compiling the neurons' fused steps
    monkeypatch.setattr(fused.settings, "compile", False)


def _lif(x_seq: torch.Tensor, tau: float = 2.0, v_th: float = 1.0) -> torch.Tensor:
    """LIF with decay_input, hard reset to 0: v += (x - v) / tau; s = v >= v_th."""
    v = torch.zeros_like(x_seq[0])
    out = []
    for x in x_seq:
        v = v + (x - v) / tau
        s = (v >= v_th).to(x.dtype)
        v = v * (1.0 - s)
        out.append(s)
    return torch.stack(out)


def _bn_eval(bn: torch.nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(
        x.flatten(0, 1), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps
    ).view_as(x)


def _conv(conv: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x.flatten(0, 1), conv.weight, conv.bias).unflatten(0, x.shape[:2])


def _sdsa_by_hand(m: L.SpikeDrivenSelfAttention, x: torch.Tensor) -> torch.Tensor:
    T, N, C, H, W = x.shape
    s = _lif(x)
    q, k, v = (
        _lif(_bn_eval(getattr(m, f"{p}_bn"), _conv(getattr(m, f"{p}_conv"), s))) for p in "qkv"
    )
    h, d = m.num_heads, C // m.num_heads
    # tokens x channels per head: [T, N, h, HW, d]; SUM over the tokens of K * V
    heads = [
        t.flatten(3).transpose(-1, -2).reshape(T, N, H * W, h, d).transpose(2, 3) for t in (q, k, v)
    ]
    kv = _lif((heads[1] * heads[2]).sum(dim=3, keepdim=True), v_th=0.5)
    att = (heads[0] * kv).transpose(2, 3).reshape(T, N, H * W, C).transpose(-1, -2)
    att = att.reshape(T, N, C, H, W)
    return _bn_eval(m.proj_bn, _conv(m.proj_conv, att)) + x


def _module(dim: int = 8, heads: int = 2, seed: int = 0) -> L.SpikeDrivenSelfAttention:
    torch.manual_seed(seed)
    m = L.SpikeDrivenSelfAttention(dim, num_heads=heads).eval()
    with torch.no_grad():
        for conv in (m.q_conv, m.k_conv, m.v_conv):
            conv.weight.uniform_(-1.0, 2.0)  # enough drive for Q, K, V and the kv spikes
        for bn in (m.q_bn, m.k_bn, m.v_bn, m.proj_bn):
            bn.running_mean.uniform_(-0.3, 0.3)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.uniform_(-0.5, 0.5)
    return m


def test_sdsa_matches_the_equations_written_out():
    m = _module()
    x = torch.randn(3, 2, 8, 3, 4) * 3
    kv_spikes = []
    m.attn_lif.register_forward_hook(lambda mod, args, out: kv_spikes.append(out.sum()))
    y = m(x)
    assert kv_spikes[0] > 0  # the attention neuron fires: the attention path takes part
    ref = _sdsa_by_hand(m, x)
    torch.testing.assert_close(y, ref)
    assert (y - x).abs().sum() > 0 and y.shape == x.shape and y.dtype == x.dtype


def test_sdsa_matches_reference_numbers():
    # computed with the reference framework (spikingjelly 2.0.0) on the same weights and input
    m = L.SpikeDrivenSelfAttention(4, num_heads=2)
    with torch.no_grad():
        for i, p in enumerate(("q", "k", "v", "proj")):
            w = torch.linspace(-1.0, 1.5, 16).roll(3 * i).view(4, 4, 1, 1)
            getattr(m, f"{p}_conv").weight.copy_(w)
        m.proj_conv.bias.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
    m.eval()
    x = torch.linspace(-2.0, 3.0, 24).view(2, 1, 4, 1, 3).cos() * 4.0
    expected = torch.tensor(
        [-1.5645878314971924, -0.740929126739502, 0.1223151907324791, 0.6845101118087769,
         1.5050673484802246, 2.245361089706421, 3.37054181098938, 3.8511850833892822,
         4.164662837982178, 3.9962198734283447, 3.9396607875823975, 3.6976497173309326,
         3.381577253341675, 2.8110318183898926, 2.1128692626953125, 1.019956350326538,
         0.1696147918701172, -0.6981260776519775, -1.0424206256866455, -1.8235206604003906,
         -2.504660129547119, -3.3537745475769043, -3.7450170516967773, -3.959969997406006]
    )  # fmt: skip
    torch.testing.assert_close(m(x).flatten(), expected)


def test_sdsa_state_dict_keys_and_neurons_follow_the_reference():
    m = L.SpikeDrivenSelfAttention(8, num_heads=2)
    keys = []
    for p in ("q", "k", "v"):
        keys += [f"{p}_conv.weight"] + [
            f"{p}_bn.{n}"
            for n in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
        ]
    keys += ["proj_conv.weight", "proj_conv.bias"]
    keys += [f"proj_bn.{n}" for n in ("weight", "bias", "running_mean", "running_var",
                                      "num_batches_tracked")]  # fmt: skip
    assert list(m.state_dict()) == keys
    assert m.attn_lif.v_threshold == 0.5 and m.q_lif.v_threshold == 1.0
    assert m.q_lif.tau == 2.0 and m.q_lif.detach_reset and m.q_lif.step_mode == "m"
    m(torch.randn(2, 3, 8, 2, 2))
    assert tuple(m.attn_lif.v.shape) == (3, 2, 1, 4)  # [N, heads, 1, head_dim]
    # every keyword goes to every neuron, and overrides the defaults (the attention threshold too)
    m2 = L.SpikeDrivenSelfAttention(8, 4, v_threshold=0.7, tau=3.0)
    assert m2.attn_lif.v_threshold == 0.7 and m2.shortcut_lif.tau == 3.0
    # a custom neuron gets only the keywords
    m3 = L.SpikeDrivenSelfAttention(8, 2, spiking_neuron=IFNode)
    assert isinstance(m3.attn_lif, IFNode) and m3.attn_lif.v_threshold == 1.0


def test_sdsa_gradient_reaches_input_and_weights_and_reset_repeats():
    m = _module().train()
    x = torch.randn(2, 2, 8, 2, 2, requires_grad=True)
    y1 = m(x)
    y1.square().sum().backward()
    assert x.grad is not None and m.q_conv.weight.grad is not None
    functional.reset_net(m)
    m.eval()
    a = m(x.detach())
    functional.reset_net(m)
    torch.testing.assert_close(m(x.detach()), a)


def test_sdsa_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="divisible by num_heads=3"):
        L.SpikeDrivenSelfAttention(8, 3)
    with pytest.raises(ValueError, match="step_mode must be 'm'"):
        L.SpikeDrivenSelfAttention(8, 2, step_mode="s")
    with pytest.raises(
        ValueError, match=r"expected x with shape \[T, N, C=8, H, W\], got \[2, 8, 4, 4\]"
    ):
        L.SpikeDrivenSelfAttention(8, 2)(torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match="C=8"):
        L.SpikeDrivenSelfAttention(8, 2)(torch.randn(2, 1, 4, 4, 4))
    with pytest.raises(ValueError, match="step_mode"):
        functional.set_step_mode(L.SpikeDrivenSelfAttention(8, 2), "s")
