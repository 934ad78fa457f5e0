"""The time-stepped forward SpikeZIP gives a converted ViT-style QANN (``patch_embed``,
``cls_token``, ``pos_embed``, ``norm``, ``head`` and ``blocks`` or a single ``attn``).

The class token and position embedding are constants of the ANN: they enter the network
once, at the first step (zeros after), like the embedding of a language model. The features
are the class token of ``norm(blocks(x))`` (or ``norm(x + attn(norm(x)))`` for a single
attention, with its own copy of ``norm`` so that each use keeps its own TD state).
"""

from __future__ import annotations

import copy
import types

import torch
from torch import nn

__all__ = ["patch_spikezip_vit_forward"]

_REQUIRED = ("patch_embed", "cls_token", "pos_embed", "head")


def _patch_embed(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Tokens ``[.., L, D]`` of images ``[.., C, H, W]`` (one step or ``[T, B, ...]``)."""
    embed = model.patch_embed
    proj = getattr(embed, "proj", None)
    y = proj(x) if proj is not None else embed(x)
    if proj is None and y.dim() == x.dim() - 1:
        return y  # the patch embedding already flattened its output
    if y.dim() not in (4, 5):
        raise ValueError(
            "SpikeZIP ViT patch_embed expects [B, C, H, W] or [T, B, C, H, W] input, got "
            f"an output of shape {tuple(y.shape)} for input {tuple(x.shape)}"
        )
    y = y.flatten(-2).transpose(-2, -1)
    norm = getattr(embed, "norm", None)
    if proj is not None and norm is not None:
        y = norm(y)
    return y


def _forward_features(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if x.dim() not in (4, 5):
        raise ValueError(
            "SpikeZIP ViT forward expects [B, C, H, W] ('s' mode) or [T, B, C, H, W] ('m' "
            f"mode) input, got shape {tuple(x.shape)}"
        )
    tokens = _patch_embed(self, x)
    multi = x.dim() == 5
    steps = tokens.shape[0] if multi else 1
    batch = tokens.shape[1] if multi else tokens.shape[0]
    cls = self.cls_token.expand(batch, -1, -1)
    pos = self.pos_embed.expand(batch, -1, -1)
    if multi:
        cls_in = torch.zeros(steps, *cls.shape, device=cls.device, dtype=cls.dtype)
        pos_in = torch.zeros(steps, *pos.shape, device=pos.device, dtype=pos.dtype)
        if self._spikezip_t == 0:
            cls_in[0], pos_in[0] = cls, pos
    elif self._spikezip_t == 0:
        cls_in, pos_in = cls, pos
    else:
        cls_in, pos_in = torch.zeros_like(cls), torch.zeros_like(pos)
    self._spikezip_t += steps
    token_dim = 2 if multi else 1
    hidden = torch.cat((cls_in, tokens), dim=token_dim) + pos_in
    for name in ("pos_drop", "norm_pre"):
        layer = getattr(self, name, None)
        if layer is not None:
            hidden = layer(hidden)
    if hasattr(self, "blocks"):
        hidden = self.norm(self.blocks(hidden))
    else:
        hidden = self.norm(hidden + self.attn(self.attn_norm(hidden)))
    return hidden.select(token_dim, 0)


def _forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    features = self.forward_features(x)
    fc_norm = getattr(self, "fc_norm", None)
    if fc_norm is not None:
        features = fc_norm(features)
    return self.head(features)


def _reset(self: nn.Module) -> None:
    self._spikezip_t = 0
    original = self.__dict__.get("_spikezip_original_reset")
    if original is not None:
        original()


def patch_spikezip_vit_forward(model: nn.Module) -> None:
    """Give ``model`` (already converted) the time-stepped ViT forward, ``forward_features``
    and a ``reset`` that restarts the step count. A model without all of ``patch_embed``,
    ``cls_token``, ``pos_embed`` and ``head`` keeps its own forward."""
    if not all(hasattr(model, name) for name in _REQUIRED):
        return
    if not hasattr(model, "norm"):
        raise ValueError(
            f"SpikeZIP ViT model {type(model).__name__} expects a top-level norm module "
            "(the final LayerNorm)."
        )
    if not (hasattr(model, "blocks") or hasattr(model, "attn")):
        raise ValueError(
            f"SpikeZIP ViT model {type(model).__name__} expects top-level blocks or attn."
        )
    model._spikezip_t = 0
    if hasattr(model, "attn"):
        model.attn_norm = copy.deepcopy(model.norm)
    original = getattr(model, "reset", None)
    if original is not None:
        model._spikezip_original_reset = original
    model.reset = types.MethodType(_reset, model)
    model.forward_features = types.MethodType(_forward_features, model)
    model.forward = types.MethodType(_forward, model)
