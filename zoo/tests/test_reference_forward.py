"""Spikformer and QKFormer forwards against a functional re-statement of the official code.

The reference below reads the weights by their official state-dict names and applies the
official op order: Spikformer's SPS is ``conv -> BN -> LIF -> maxpool``, QKFormer's
embeddings ``conv -> BN -> maxpool -> LIF`` with a ``conv1x1 -> BN -> LIF`` shortcut; SSA
is ``(Q K^T) V * 0.125`` in token-major layout with an attention neuron at 0.5; QK token
attention fires on per-head channel sums of Q and gates K. LIF: ``H = V + (X - V) / 2``,
spike at ``H >= V_th``, hard reset to 0. Batch norms in training mode (batch statistics).
Everything in float64; outputs must agree to rounding.
"""

from __future__ import annotations

import snn_zoo
import torch
import torch.nn.functional as F


def lif(x: torch.Tensor, v_th: float = 1.0) -> torch.Tensor:
    v, out = torch.zeros_like(x[0]), []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) / 2.0
        s = (h >= v_th).to(x.dtype)
        v = h * (1 - s)
        out.append(s)
    return torch.stack(out)


class Ref:
    def __init__(self, state: dict[str, torch.Tensor]):
        self.w = state

    def fold(self, fn, x):
        y = fn(x.flatten(0, 1))
        return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])

    def conv(self, name, x, stride=1, padding=None):
        w, b = self.w[name + ".weight"], self.w.get(name + ".bias")
        if w.dim() == 3:
            return self.fold(lambda z: F.conv1d(z, w, b), x)
        pad = w.shape[-1] // 2 if padding is None else padding
        return self.fold(lambda z: F.conv2d(z, w, b, stride=stride, padding=pad), x)

    def bn(self, name, x):
        w, b = self.w[name + ".weight"], self.w[name + ".bias"]
        return self.fold(lambda z: F.batch_norm(z, None, None, w, b, training=True, eps=1e-5), x)

    def pool(self, x):
        return self.fold(lambda z: F.max_pool2d(z, 3, 2, 1), x)

    def mlp(self, p, x, names=("fc1", "fc2")):
        for n in names:
            x = lif(self.bn(f"{p}{n}_bn", self.conv(f"{p}{n}_conv", x)))
        return x

    def ssa(self, p, x, heads, fold_batch=False):
        """``fold_batch``: QKFormer's official SSA runs ``proj_lif`` on ``[T*B, C, N]``, i.e.
        over the flattened ``T*B`` axis as its time axis."""
        T, B, C, H, W = x.shape
        tok = x.flatten(3)
        q, k, v = (
            lif(self.bn(f"{p}{n}_bn", self.conv(f"{p}{n}_conv", tok)))
            .transpose(-1, -2)
            .reshape(T, B, H * W, heads, C // heads)
            .permute(0, 1, 3, 2, 4)
            for n in "qkv"
        )
        y = (q @ k.transpose(-2, -1)) @ v * 0.125
        y = lif(y.transpose(3, 4).reshape(T, B, C, H * W), v_th=0.5)
        y = self.bn(f"{p}proj_bn", self.conv(f"{p}proj_conv", y))
        if fold_batch:
            return lif(y.reshape(T * B, C, H * W)).reshape(T, B, C, H, W)
        return lif(y).reshape(T, B, C, H, W)

    def token_qk(self, p, x, heads):
        T, B, C, H, W = x.shape
        tok = x.flatten(3)
        q, k = (
            lif(self.bn(f"{p}{n}_bn", self.conv(f"{p}{n}_conv", tok))).reshape(
                T, B, heads, C // heads, H * W
            )
            for n in "qk"
        )
        attn = lif(q.sum(dim=3, keepdim=True), v_th=0.5)
        y = (attn * k).reshape(T, B, C, H * W)
        y = lif(self.bn(f"{p}proj_bn", self.conv(f"{p}proj_conv", y)))
        return y.reshape(T, B, C, H, W)


def _randomize_bn(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=gen, dtype=m.weight.dtype) + 1)
                m.bias.copy_(torch.rand(m.num_features, generator=gen, dtype=m.bias.dtype) + 0.5)


def test_spikformer_imagenet_layout_matches_official_op_order():
    torch.manual_seed(0)
    model = snn_zoo.create_model(
        "spikformer_8_384", embed_dim=32, num_heads=2, depth=2, T=2, num_classes=5
    ).double()
    _randomize_bn(model, 0)
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    r = Ref({k: v for k, v in model.state_dict().items()})
    seq = x.unsqueeze(0).repeat(2, 1, 1, 1, 1)
    h = seq
    for s in ("", "1", "2", "3"):
        h = r.pool(lif(r.bn(f"patch_embed.proj_bn{s}", r.conv(f"patch_embed.proj_conv{s}", h))))
    h = h + lif(r.bn("patch_embed.rpe_bn", r.conv("patch_embed.rpe_conv", h)))
    for b in range(2):
        h = h + r.ssa(f"block.{b}.attn.", h, heads=2)
        h = h + r.mlp(f"block.{b}.mlp.", h)
    feats = h.flatten(3).mean(3).mean(0)
    expected = F.linear(feats, r.w["head.weight"], r.w["head.bias"])
    torch.testing.assert_close(model(x), expected, rtol=1e-10, atol=1e-12)
    assert feats.abs().sum() > 0


def _embed(r: Ref, p: str, h: torch.Tensor, units, res_src: int, res_stride: int):
    feat = h
    for i, (name, pool) in enumerate(units):
        h = r.bn(f"{p}{name}_bn", r.conv(f"{p}{name}_conv", h))
        h = lif(r.pool(h) if pool else h)
        if i == res_src:
            feat = h
    res = r.conv(f"{p}proj_res_conv", feat, stride=res_stride, padding=0)
    return h + lif(r.bn(f"{p}proj_res_bn", res))


def test_qkformer_imagenet_layout_matches_official_op_order():
    torch.manual_seed(1)
    model = snn_zoo.create_model(
        "qkformer_10_384", embed_dim=64, num_heads=4, depth=4, T=2, num_classes=5
    ).double()
    _randomize_bn(model, 1)
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    r = Ref({k: v for k, v in model.state_dict().items()})
    h = x.unsqueeze(0).repeat(2, 1, 1, 1, 1)
    h = _embed(r, "patch_embed1.", h, [("proj", True), ("proj1", True), ("proj2", False)], 0, 2)
    h = h + r.token_qk("stage1.0.tssa.", h, 4)
    h = h + r.mlp("stage1.0.mlp.", h)
    h = _embed(r, "patch_embed2.", h, [("proj3", True), ("proj4", False)], -1, 2)
    for b in range(2):
        h = h + r.token_qk(f"stage2.{b}.tssa.", h, 4)
        h = h + r.mlp(f"stage2.{b}.mlp.", h)
    h = _embed(r, "patch_embed3.", h, [("proj3", True), ("proj4", False)], -1, 2)
    h = h + r.ssa("stage3.0.attn.", h, 4, fold_batch=True)
    h = h + r.mlp("stage3.0.mlp.", h)
    feats = h.flatten(3).mean(3).mean(0)
    expected = F.linear(feats, r.w["head.weight"], r.w["head.bias"])
    torch.testing.assert_close(model(x), expected, rtol=1e-10, atol=1e-12)
    assert feats.abs().sum() > 0
