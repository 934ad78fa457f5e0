"""The zoo computes what the official code computes, at batch 2, quirks included.

Each reference below is written from the papers' equations and the official code's op order
(zhouchenlin2096/QKFormer, BICLab/Attention-SNN), reads the weights by their official
state-dict names, and shares no code with the models. Everything runs in float64 with
batch norms in eval mode on randomised running statistics, so outputs must agree to rounding.

Official neurons, as their code computes them:

- SpikingJelly's multi-step LIF (QKFormer, Att-MS-ResNet): dim 0 of its input is time,
  whatever that dim holds; ``H = V + (X - V) / tau`` (QKFormer, ``tau = 2``) or
  ``H = decay * V + X`` (MS-ResNet, ``decay = 0.25``); spike ``H >= V_th``
  (MS-ResNet: ``H > V_th``); hard reset to 0.
- MA-SNN's cell: ``U = V + X``, spike ``U >= V_th``, ``V = alpha (V_th S + U (1 - S)) + beta``.
"""

from __future__ import annotations

import pytest
import snn_zoo
import torch
import torch.nn.functional as F
from snn_core import functional
from snn_zoo.families.qkformer import QKFormerSSA

DT = torch.float64


def sj_lif(x: torch.Tensor, v_th: float = 1.0, tau: float = 2.0) -> torch.Tensor:
    """SpikingJelly's MultiStepLIFNode: dim 0 is the time axis."""
    v, out = torch.zeros_like(x[0]), []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) / tau
        s = (h >= v_th).to(x.dtype)
        v = h * (1 - s)
        out.append(s)
    return torch.stack(out)


def randomize_bn(model: torch.nn.Module, seed: int, weight=(0.5, 2.0), bias=(-0.2, 0.6)) -> None:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.empty(n, dtype=DT).uniform_(*weight, generator=gen))
                m.bias.copy_(torch.empty(n, dtype=DT).uniform_(*bias, generator=gen))
                m.running_mean.copy_(torch.randn(n, generator=gen, dtype=DT) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen, dtype=DT) * 0.5 + 0.5)


def bn(w: dict[str, torch.Tensor], name: str, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(
        x,
        w[f"{name}.running_mean"],
        w[f"{name}.running_var"],
        w[f"{name}.weight"],
        w[f"{name}.bias"],
        training=False,
        eps=1e-5,
    )


# --------------------------------------------------------------------------- QKFormer SSA
def official_qkformer_ssa(w: dict[str, torch.Tensor], x: torch.Tensor, heads: int) -> torch.Tensor:
    """QKFormer's ``Spiking_Self_Attention.forward`` (all three official model files)."""
    T, B, C, H, W = x.shape
    N = H * W
    flat = x.flatten(3).flatten(0, 1)  # [T*B, C, N]

    def branch(n: str) -> torch.Tensor:
        y = bn(w, f"{n}_bn", F.conv1d(flat, w[f"{n}_conv.weight"])).reshape(T, B, C, N)
        y = sj_lif(y)  # over T
        return y.transpose(-1, -2).reshape(T, B, N, heads, C // heads).permute(0, 1, 3, 2, 4)

    q, k, v = branch("q"), branch("k"), branch("v")
    y = (q @ (k.transpose(-2, -1) @ v)) * 0.125
    y = sj_lif(y.transpose(3, 4).reshape(T, B, C, N), v_th=0.5)
    y = F.conv1d(y.flatten(0, 1), w["proj_conv.weight"], w["proj_conv.bias"])
    # proj_lif gets [T*B, C, N]: its time axis is the flattened T*B axis
    return sj_lif(bn(w, "proj_bn", y)).reshape(T, B, C, W, H)


def _ssa(batch_independent: bool) -> QKFormerSSA:
    torch.manual_seed(0)
    ssa = QKFormerSSA(16, 2, batch_independent=batch_independent, proj_bias=True).to(DT)
    randomize_bn(ssa, 3, weight=(1.0, 3.0), bias=(0.4, 1.4))
    return ssa.eval()


def test_qkformer_ssa_equals_the_official_batch_coupled_form_at_batch_2():
    ssa = _ssa(False)
    x = (torch.rand(3, 2, 16, 4, 4, dtype=DT) < 0.4).to(DT)
    expected = official_qkformer_ssa(ssa.state_dict(), x, heads=2)
    with torch.no_grad():
        got = ssa(x)
    assert expected.sum() > 0 and (1 - expected).sum() > 0
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    # the coupling is real: sample 0 alone gives another output
    with torch.no_grad():
        functional.reset_net(ssa)
        alone = ssa(x[:, :1])
    assert not torch.equal(alone, got[:, :1])
    torch.testing.assert_close(alone, official_qkformer_ssa(ssa.state_dict(), x[:, :1], 2))


def test_qkformer_ssa_batch_independent_runs_the_output_neuron_over_time():
    ssa = _ssa(True)
    x = (torch.rand(3, 2, 16, 4, 4, dtype=DT) < 0.4).to(DT)
    with torch.no_grad():
        got = ssa(x)
    per_sample = torch.cat(
        [official_qkformer_ssa(ssa.state_dict(), x[:, b : b + 1], 2) for b in range(2)], dim=1
    )
    torch.testing.assert_close(got, per_sample, rtol=0, atol=0)
    assert not torch.equal(got, official_qkformer_ssa(ssa.state_dict(), x, 2))


def _qkformer(**kw) -> torch.nn.Module:
    torch.manual_seed(1)
    model = snn_zoo.create_model(
        "qkformer_4_384_cifar", embed_dim=32, num_heads=2, depth=3, T=2, num_classes=5, **kw
    ).to(DT)
    randomize_bn(model, 1, weight=(1.0, 3.0), bias=(0.4, 1.4))
    return model.eval()


def test_qkformer_paper_variants_are_batch_coupled_by_default():
    coupled, independent = _qkformer(), _qkformer(batch_independent=True)
    assert coupled.batch_independent is False and independent.batch_independent is True
    assert coupled.stage3[0].ssa.batch_independent is False
    x = torch.rand(2, 3, 16, 16, dtype=DT)
    with torch.no_grad():
        for model in (coupled, independent):
            model.load_state_dict(coupled.state_dict())
        pair, one = coupled(x), coupled(x[:1])
        pair_i, one_i = independent(x), independent(x[:1])
    torch.testing.assert_close(one, one_i, rtol=0, atol=0)  # batch 1: the two forms agree
    assert not torch.allclose(pair[:1], one)
    torch.testing.assert_close(pair_i[:1], one_i)
    for name in snn_zoo.list_models("qkformer_*"):
        card = snn_zoo.get_pretrained_cfg(name)
        coupled_note = any("T*B" in n for n in card.get("notes", ()))
        assert coupled_note == (name != "qkformer_digits"), name


def test_batch_independent_must_be_a_bool():
    with pytest.raises(TypeError, match="batch_independent must be a bool, got 'yes'"):
        snn_zoo.create_model("qkformer_digits", batch_independent="yes")


# --------------------------------------------------------------------------- MA-SNN
def official_cell(x: torch.Tensor, alpha=0.3, beta=0.0, v_th=0.3, reset_to=None) -> torch.Tensor:
    """MA-SNN's ``ConvIFCell`` / ``IFCell`` over dim 1 (its ``[B, T, ...]`` layout).
    ``reset_to`` replaces the reset value (the threshold) to show the test tells them apart."""
    v, out = torch.zeros_like(x[:, 0]), []
    r = v_th if reset_to is None else reset_to
    for t in range(x.shape[1]):
        u = v + x[:, t]
        s = (u - v_th >= 0).to(x.dtype)
        v = (s * r + (1 - s) * u) * alpha + beta
        out.append(s)
    return torch.stack(out, dim=1)


def _pooled_mlp(w, name, avg, mx):
    def mlp(z):
        return F.linear(
            F.relu(F.linear(z, w[f"{name}.0.weight"].flatten(1))), w[f"{name}.2.weight"].flatten(1)
        )

    return torch.sigmoid(mlp(avg) + mlp(mx))


def official_tcsa(w, p: str, x: torch.Tensor, temporal: bool = True) -> torch.Tensor:
    """MA-SNN's TCSA (CSA without the temporal stage) on ``[B, T, C, H, W]``."""
    if temporal:
        f = _pooled_mlp(w, p + "ta.sharedMLP", x.mean((2, 3, 4)), x.amax((2, 3, 4)))
        x = f[:, :, None, None, None] * x
    f = _pooled_mlp(w, p + "ca.sharedMLP", x.mean((1, 3, 4)), x.amax((1, 3, 4)))
    x = f[:, None, :, None, None] * x
    B, T, C, H, W = x.shape
    z = x.reshape(B, T * C, H, W)
    s = torch.cat([z.mean(1, keepdim=True), z.amax(1, keepdim=True)], 1)
    s = torch.sigmoid(F.conv2d(s, w[p + "sa.conv.weight"], padding=1)).unsqueeze(1)
    return F.relu(s * x)


def official_masnn(w, x: torch.Tensor, pools, reset_to=None) -> torch.Tensor:
    """MA-SNN's DVS128 Gesture ``Net.forward`` (attention 'TCSA'); ``x``: ``[B, T, 2, H, W]``."""
    B, T = x.shape[:2]
    h = x
    for i, pool in enumerate(pools):
        p = f"convAttLIF{i}."
        y = F.conv2d(h.flatten(0, 1), w[p + "conv2d.weight"], w[p + "conv2d.bias"], padding=1)
        y = bn(w, p + "BNLayer", y)
        if pool > 1:
            y = F.avg_pool2d(y, pool)
        y = official_tcsa(w, p + "attention.", y.reshape(B, T, *y.shape[1:]))
        h = official_cell(y, reset_to=reset_to)
    h = h.reshape(B, T, -1)
    for j in range(2):
        p = f"FC{j}."
        y = bn(
            w,
            p + "BNLayer",
            F.linear(h.flatten(0, 1), w[p + "linear.weight"], w[p + "linear.bias"]),
        )
        y = y.reshape(B, T, -1)
        f = _pooled_mlp(w, p + "attention.ta.sharedMLP", y.mean(2), y.amax(2))
        h = official_cell(F.relu(f[:, :, None] * y), reset_to=reset_to)
    return h.sum(1) / T


def test_masnn_equals_the_official_network_at_batch_2():
    torch.manual_seed(2)
    pools = (1, 2, 2)
    model = snn_zoo.create_model(
        "masnn_dvs128_gesture",
        T=10,
        img_size=16,
        channels=(8, 16, 16),
        pools=pools,
        fc_hidden=12,
        reduction_c=4,
    ).to(DT)
    randomize_bn(model, 4, weight=(1.0, 3.0), bias=(0.0, 2.0))  # every layer fires
    model.eval()
    w = {k: v for k, v in model.state_dict().items()}
    x = (torch.rand(2, 10, 2, 16, 16, dtype=DT) < 0.3).to(DT)  # official layout [B, T, ...]
    expected = official_masnn(w, x, pools)
    with torch.no_grad():
        got = model(x.transpose(0, 1))
    assert 0 < expected.mean() < 1
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    # a cell that resets to 0 (the old zoo neuron) gives other rates on these weights
    assert not torch.allclose(official_masnn(w, x, pools, reset_to=0.0), expected)


# --------------------------------------------------------------------------- Att-MS-ResNet
def official_mem_update(x: torch.Tensor) -> torch.Tensor:
    """MS-ResNet's ``mem_update`` with ``time_window = 1``: ``spike = x > 0.5``."""
    return (x > 0.5).to(x.dtype)


def official_att_ms_resnet(w, x: torch.Tensor, layers) -> torch.Tensor:
    """Att_Res_SNN ``ResNet_origin.forward`` (T = 1) with CSA ``BasicBlock``s."""
    h = bn(w, "conv1.1.bn", F.conv2d(x, w["conv1.0.weight"], stride=2, padding=3))
    cin = 64
    for s, (cout, n) in enumerate(zip((64, 128, 256, 512), layers)):
        for i in range(n):
            p = f"conv{s + 2}_x.{i}."
            stride = 2 if i == 0 else 1
            r = F.conv2d(
                official_mem_update(h),
                w[p + "residual_function.1.weight"],
                stride=stride,
                padding=1,
            )
            r = bn(w, p + "residual_function.2.bn", r)
            r = F.conv2d(official_mem_update(r), w[p + "residual_function.4.weight"], padding=1)
            r = bn(w, p + "residual_function.5.bn", r)
            r = official_tcsa(w, p + "residual_function.6.attention.", r[:, None], temporal=False)[
                :, 0
            ]
            if stride != 1 or cin != cout:
                sc = F.conv2d(F.avg_pool2d(h, 2, 2), w[p + "shortcut.1.weight"])
                sc = bn(w, p + "shortcut.2.bn", sc)
            else:
                sc = h
            h, cin = r + sc, cout
    feats = official_mem_update(h).mean((2, 3))
    return F.linear(feats, w["fc.weight"], w["fc.bias"])


def test_att_ms_resnet_equals_the_official_network_at_batch_2():
    layers = (1, 2, 1, 1)  # a block with an identity shortcut too
    torch.manual_seed(3)
    model = snn_zoo.create_model("att_ms_resnet18", layers=layers, num_classes=5).to(DT)
    randomize_bn(model, 5, weight=(0.3, 1.2), bias=(0.0, 0.5))
    model.eval()
    w = dict(model.state_dict())
    x = torch.randn(2, 3, 32, 32, dtype=DT)
    expected = official_att_ms_resnet(w, x, layers)
    with torch.no_grad():
        got = model(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    assert expected.abs().sum() > 0


def test_att_ms_resnet_neurons_fire_strictly_above_the_threshold():
    # official act_fun: input.gt(0.5); float32 maps of ImageNet size hit 0.5 exactly
    model = snn_zoo.create_model("att_ms_resnet18", layers=(1, 1, 1, 1))
    neuron = model.conv2_x[0].residual_function[0]
    h = torch.tensor([[0.5, 0.50000006, 0.49999997, 0.75]], requires_grad=True)
    spikes = neuron(h)
    assert spikes.tolist() == official_mem_update(h.detach()).tolist() == [[0, 1, 0, 1]]
    spikes.sum().backward()  # rectangular surrogate of width 1 around 0.5, height 1
    assert h.grad.tolist() == [[1.0, 1.0, 1.0, 1.0]]
