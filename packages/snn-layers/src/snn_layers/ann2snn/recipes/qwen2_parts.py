"""Tensor helpers and the key/value cache shared by the Qwen2 calibration and SNN.

Layouts: hidden states ``[..., S, H]``, heads ``[..., heads, S, head_dim]``; spike
sequences carry a leading time dimension ``T``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from snn_layers.ann2snn.operators import TDRMSNorm


def rotate(
    query: torch.Tensor, key: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary position embedding (Su et al., RoFormer, 2021) of ``query`` and ``key``:
    ``x cos + rot(x) sin`` with ``rot([a, b]) = [-b, a]`` over the two halves of the last
    dimension; ``cos``, ``sin`` ``[B, S, head_dim]`` broadcast over heads (and time)."""
    cos, sin = cos.unsqueeze(-3), sin.unsqueeze(-3)
    while cos.dim() < query.dim():
        cos, sin = cos.unsqueeze(0), sin.unsqueeze(0)

    def turned(x: torch.Tensor) -> torch.Tensor:
        first, second = x.chunk(2, dim=-1)
        return torch.cat((-second, first), dim=-1)

    return query * cos + turned(query) * sin, key * cos + turned(key) * sin


def split_heads(x: torch.Tensor, heads: int, head_dim: int) -> torch.Tensor:
    """``[..., S, heads * head_dim]`` -> ``[..., heads, S, head_dim]``."""
    return x.view(*x.shape[:-1], heads, head_dim).transpose(-3, -2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``[..., heads, S, head_dim]`` -> ``[..., S, heads * head_dim]``."""
    return x.transpose(-3, -2).flatten(-2)


def repeat_kv(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Grouped-query attention: each of the key/value heads of ``x`` ``[T, B, kv, S, D]``
    serves ``groups`` consecutive query heads."""
    if groups == 1:
        return x
    return x.repeat_interleave(groups, dim=2)


def causal_mask(mask: torch.Tensor, query_length: int, past_length: int) -> torch.Tensor:
    """Boolean attention mask ``[B, 1, S_q, past + S_q]``: query ``i`` (at absolute position
    ``past + i``) sees the non-padding keys at positions ``<= past + i``."""
    key_length = past_length + query_length
    if mask.dim() != 2 or mask.shape[1] != key_length:
        raise ValueError(
            "attention_mask length must equal past_length + query_length: got shape "
            f"{tuple(mask.shape)}, past_length={past_length}, query_length={query_length}."
        )
    query_pos = torch.arange(past_length, key_length, device=mask.device).unsqueeze(1)
    key_pos = torch.arange(key_length, device=mask.device).unsqueeze(0)
    return (key_pos <= query_pos)[None, None] & mask[:, None, None, :].to(torch.bool)


def td_rms_norm(source: nn.Module) -> TDRMSNorm:
    """A :class:`TDRMSNorm` with the weight and epsilon of a Qwen2 RMSNorm."""
    weight = getattr(source, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(
            f"Qwen2 RMSNorm must expose tensor weight, got {type(source).__name__} without one."
        )
    eps = getattr(source, "variance_epsilon", getattr(source, "eps", None))
    norm = TDRMSNorm(tuple(weight.shape), eps=eps, device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        norm.weight.copy_(weight)
    norm.weight.requires_grad = weight.requires_grad
    return norm.train(source.training)


def first_step_only(x: torch.Tensor, time_steps: int) -> torch.Tensor:
    """The sequence ``[x, 0, ..., 0]`` of length ``time_steps`` (its sum is ``x``)."""
    tail = x.new_zeros((time_steps - 1, *x.shape))
    return torch.cat((x.unsqueeze(0), tail), dim=0)


class Qwen2Cache:
    """Key/value cache of a converted Qwen2: per decoder, the time-summed keys and values
    ``[B, kv_heads, S, head_dim]`` of the tokens seen so far."""

    def __init__(self, layer_count: int) -> None:
        self.entries: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * layer_count

    def append(self, index: int, key: torch.Tensor, value: torch.Tensor) -> None:
        """Add the keys and values of new tokens to decoder ``index`` (along ``S``)."""
        entry = self.entries[index]
        if entry is not None:
            key = torch.cat((entry[0], key), dim=2)
            value = torch.cat((entry[1], value), dim=2)
        self.entries[index] = key.detach(), value.detach()

    def get_seq_length(self) -> int:
        """Number of cached tokens."""
        entry = self.entries[0]
        return 0 if entry is None else int(entry[0].shape[2])

    def reorder_cache(self, indices: torch.Tensor) -> None:
        """Keep / reorder the batch rows ``indices`` (beam search bookkeeping)."""
        self.entries = [
            None if entry is None else (entry[0][indices], entry[1][indices])
            for entry in self.entries
        ]

    def storage_summary(self) -> dict[str, object]:
        """Shapes and byte counts of the cached tensors."""
        tensors: Sequence[torch.Tensor] = [t for e in self.entries if e is not None for t in e]
        logical = sum(t.numel() * t.element_size() for t in tensors)
        storages: dict[tuple[str, int], int] = {}
        for t in tensors:
            storage = t.untyped_storage()
            storages.setdefault((str(t.device), storage.data_ptr()), storage.nbytes())
        return {
            "per_layer_key_value_shape": [
                {
                    "key": None if e is None else list(e[0].shape),
                    "value": None if e is None else list(e[1].shape),
                }
                for e in self.entries
            ],
            "stored_cache_logical_bytes": logical,
            "stored_cache_unique_storage_bytes": sum(storages.values()),
            "theoretical_cache_bytes": logical,
            "temporal_prefix_materialization_bytes": 0,
        }
