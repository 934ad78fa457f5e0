"""Tiny SpikeZIP-compatible QANNs for the SpikeZIP tests, with weights set by a formula (no
random generator), so that the same model is built under any torch version. Plain torch:
the expected values in test_ann2snn_spikezip.py were produced by running these models
through SpikingJelly 2.0.0's ``SpikeZIPTFQANNRecipe`` (see that file)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Quantizer(nn.Module):
    """``s · clamp(⌊x / s + 1/2⌋, neg_min, pos_max)``, the SpikeZIP QANN quantizer."""

    def __init__(self, level: int = 8, sym: bool = True, scale: float = 0.25, with_level=True):
        super().__init__()
        if with_level:
            self.level = level
        self.sym = sym
        self.s = nn.Parameter(torch.tensor(scale))
        self.pos_max = torch.tensor(level // 2 - 1 if sym else level - 1)
        self.neg_min = torch.tensor(-level // 2 if sym else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = torch.floor(x / self.s + 0.5).clamp(float(self.neg_min), float(self.pos_max))
        return q * self.s


class QRobertaAttention(nn.Module):
    def __init__(self, hidden: int = 8, heads: int = 2, level: int = 8):
        super().__init__()
        self.num_attention_heads, self.attention_head_size = heads, hidden // heads
        self.all_head_size = hidden
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.query_quan, self.key_quan, self.value_quan = (Quantizer(level) for _ in range(3))
        self.attn_quan = Quantizer(level, sym=False, scale=0.125)
        self.after_attn_quan = Quantizer(level)
        self.dropout = nn.Dropout(0.0)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*x.shape[:-1], self.num_attention_heads, -1).transpose(1, 2)

    def forward(self, h: torch.Tensor, attention_mask: torch.Tensor | None = None):
        q = self._heads(self.query_quan(self.query(h)))
        k = self._heads(self.key_quan(self.key(h)))
        v = self._heads(self.value_quan(self.value(h)))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.attention_head_size)
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.attn_quan(self.dropout(F.softmax(scores, dim=-1)))
        context = self.after_attn_quan(probs @ v).transpose(1, 2).contiguous()
        return (context.view(*context.shape[:-2], self.all_head_size),)


class RobertaQANN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(16, 8)
        self.attention = QRobertaAttention()
        self.norm = nn.LayerNorm(8)
        self.head = nn.Sequential(nn.Linear(8, 2))

    def forward(self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None):
        h = self.attention(self.embedding(tokens), attention_mask=attention_mask)[0]
        return self.head(self.norm(h)[:, 0])


class QViTAttention(nn.Module):
    def __init__(self, hidden: int = 8, heads: int = 2, level: int = 8):
        super().__init__()
        self.num_heads, self.head_dim = heads, hidden // heads
        self.scale = self.head_dim**-0.5
        self.qkv, self.proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
        self.quan_q, self.quan_k, self.quan_v = (Quantizer(level) for _ in range(3))
        self.attn_quan = Quantizer(level, sym=False, scale=0.125)
        self.after_attn_quan, self.quan_proj = Quantizer(level), Quantizer(level)
        self.attn_drop, self.proj_drop = nn.Dropout(0.0), nn.Dropout(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = self.quan_q(qkv[0]), self.quan_k(qkv[1]), self.quan_v(qkv[2])
        attn = self.attn_quan(((q * self.scale) @ k.transpose(-2, -1)).softmax(-1))
        x = self.after_attn_quan(self.attn_drop(attn) @ v).transpose(1, 2).reshape(b, n, c)
        return self.quan_proj(self.proj_drop(self.proj(x)))


class ViTBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.attn, self.norm2 = nn.LayerNorm(8), QViTAttention(), nn.LayerNorm(8)
        self.mlp = nn.Sequential(
            nn.Linear(8, 16), Quantizer(8, sym=False), nn.ReLU(), nn.Linear(16, 8), Quantizer(8)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTQANN(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, 8, kernel_size=2, stride=2)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 8))
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, 8))
        self.pos_drop = nn.Identity()
        self.blocks = nn.Sequential(ViTBlock())
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.patch_embed(x).flatten(2).transpose(1, 2)
        h = torch.cat((self.cls_token.expand(h.shape[0], -1, -1), h), dim=1)
        h = self.blocks(self.pos_drop(h + self.pos_embed))
        return self.head(self.norm(h)[:, 0])


def formula(shape: tuple[int, ...], offset: float, amplitude: float) -> torch.Tensor:
    n = math.prod(shape)
    return (
        (torch.sin(torch.arange(n, dtype=torch.float64) * 0.7 + offset) * amplitude)
        .reshape(shape)
        .float()
    )


def fill(model: nn.Module, amplitude: float = 0.4) -> nn.Module:
    """Set every parameter by :func:`formula` (LayerNorm weights near 1); eval mode."""
    with torch.no_grad():
        for i, (name, p) in enumerate(model.named_parameters()):
            if name.endswith(".s"):
                continue
            value = formula(tuple(p.shape), float(i), amplitude)
            is_norm_weight = "norm" in name and name.endswith("weight") and p.dim() == 1
            p.copy_(1.0 + 0.25 * value if is_norm_weight else value)
    return model.eval()


def roberta_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.tensor([[1, 5, 9, 3, 14], [7, 2, 11, 0, 6]])
    mask = torch.tensor([0.0, 0.0, 0.0, -0.3, -1.0]).view(1, 1, 1, 5).repeat(2, 1, 1, 1)
    return tokens, mask


def vit_images() -> torch.Tensor:
    return formula((2, 3, 4, 4), 0.3, 0.5)
