"""One converted Qwen2 decoder layer working on ``[T, B, S, H]`` sequences.

Every linear map, RMSNorm, SiLU, product and the attention is a time-difference (TD)
operator, whose output summed over time is the ANN function of the input summed over time.
The rotated query and key, the value and the MLP product are re-encoded before use:

* ``'signed_if'``: as signed QCFS spikes (two IF neurons per channel);
* ``'qcfs_sg'``: their QCFS value ``q(x)`` at the first step, zeros after (with the
  spike-count straight-through gradient, for fine-tuning);
* ``'exact_td'``: their exact value at the first step (the ANN's numbers).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from snn_layers.ann2snn.operators import (
    SNNElementWiseProduct,
    TDScaledDotProductAttention,
    TDSiLU,
    _td_module_from_ann,
)
from snn_layers.ann2snn.qcfs import SignedQCFSSequenceEncoder
from snn_layers.ann2snn.recipes.qwen2_config import QWEN2_SCALE_NAMES
from snn_layers.ann2snn.recipes.qwen2_parts import (
    Qwen2Cache,
    first_step_only,
    merge_heads,
    repeat_kv,
    rotate,
    split_heads,
    td_rms_norm,
)

ENCODING_MODES = ("signed_if", "qcfs_sg", "exact_td")


class Qwen2SNNDecoder(nn.Module):
    """The SNN twin of a Hugging Face ``Qwen2DecoderLayer`` (weights copied)."""

    def __init__(
        self, source: nn.Module, scales: Mapping[str, torch.Tensor], time_steps: int, index: int
    ) -> None:
        super().__init__()
        attention, mlp = source.self_attn, source.mlp
        self.index = index
        self.time_steps = time_steps
        self.heads = int(attention.config.num_attention_heads)
        self.kv_heads = int(attention.config.num_key_value_heads)
        self.head_dim = int(attention.head_dim)
        self.kv_groups = int(attention.num_key_value_groups)
        self.input_layernorm = td_rms_norm(source.input_layernorm)
        self.post_attention_layernorm = td_rms_norm(source.post_attention_layernorm)
        self.q_proj = _td_module_from_ann(attention.q_proj)
        self.k_proj = _td_module_from_ann(attention.k_proj)
        self.v_proj = _td_module_from_ann(attention.v_proj)
        self.o_proj = _td_module_from_ann(attention.o_proj)
        self.sdpa = TDScaledDotProductAttention(scale=float(attention.scaling))
        self.gate_proj = _td_module_from_ann(mlp.gate_proj)
        self.up_proj = _td_module_from_ann(mlp.up_proj)
        self.down_proj = _td_module_from_ann(mlp.down_proj)
        self.act = TDSiLU()
        self.product = SNNElementWiseProduct()
        self.encoders = nn.ModuleDict(
            {
                name: SignedQCFSSequenceEncoder(
                    scales[name], time_steps, name=f"layer.{index}.{name}"
                )
                for name in QWEN2_SCALE_NAMES
            }
        )

    def _encode(
        self, name: str, sequence: torch.Tensor, mode: str, mask: torch.Tensor
    ) -> torch.Tensor:
        total = sequence.sum(0)
        if mode == "exact_td":
            return first_step_only(total, self.time_steps)
        if mode == "qcfs_sg":
            return first_step_only(self.encoders[name].reconstruct(total), self.time_steps)
        return self.encoders[name].encode(total, mask)

    def _attend(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor,
        cache: Qwen2Cache | None,
        mode: str,
    ) -> torch.Tensor:
        past = None
        if cache is not None:
            past = cache.entries[self.index]
            cache.append(self.index, key.sum(0), value.sum(0))
        out_dtype = query.dtype
        with torch.amp.autocast(query.device.type, enabled=False):
            query = query.float()
            key = repeat_kv(key.float(), self.kv_groups)
            value = repeat_kv(value.float(), self.kv_groups)
            if past is not None:
                past_key = past[0].float().repeat_interleave(self.kv_groups, dim=1)
                past_value = past[1].float().repeat_interleave(self.kv_groups, dim=1)
            if mode in ("exact_td", "qcfs_sg"):
                # these modes carry everything in the first step
                if past is not None:
                    step = self.sdpa.single_step_forward(
                        query[0],
                        torch.cat((past_key, key[0]), dim=2),
                        torch.cat((past_value, value[0]), dim=2),
                        attn_mask=attention_mask,
                    )
                else:  # the same (multi-step) SDPA call as the spiking prefill
                    step = self.sdpa(query[:1], key[:1], value[:1], attention_mask)[0]
                attended = first_step_only(step, query.shape[0])
            elif past is None:
                attended = self.sdpa(query, key, value, attention_mask)
            else:
                # the cached (summed) keys and values enter at the first step only
                zero_key, zero_value = torch.zeros_like(past_key), torch.zeros_like(past_value)
                attended = torch.stack(
                    [
                        self.sdpa.single_step_forward(
                            query[t],
                            torch.cat((past_key if t == 0 else zero_key, key[t]), dim=2),
                            torch.cat((past_value if t == 0 else zero_value, value[t]), dim=2),
                            attn_mask=attention_mask,
                        )
                        for t in range(query.shape[0])
                    ]
                )
        return merge_heads(attended.to(out_dtype))

    def forward(
        self,
        hidden: torch.Tensor,
        *,
        cos: torch.Tensor,
        sin: torch.Tensor,
        attention_mask: torch.Tensor,
        value_mask: torch.Tensor,
        encoding_mode: str,
        cache: Qwen2Cache | None,
    ) -> torch.Tensor:
        """``hidden`` ``[T, B, S, H]`` -> ``[T, B, S, H]`` (pre-norm attention and MLP, each
        with a residual connection)."""
        normalized = self.input_layernorm(hidden)
        query = split_heads(self.q_proj(normalized), self.heads, self.head_dim)
        key = split_heads(self.k_proj(normalized), self.kv_heads, self.head_dim)
        value = split_heads(self.v_proj(normalized), self.kv_heads, self.head_dim)
        query, key = rotate(query, key, cos, sin)
        coded = {
            name: self._encode(name, merge_heads(x), encoding_mode, value_mask)
            for name, x in (("query", query), ("key", key), ("value", value))
        }
        attended = self._attend(
            split_heads(coded["query"], self.heads, self.head_dim),
            split_heads(coded["key"], self.kv_heads, self.head_dim),
            split_heads(coded["value"], self.kv_heads, self.head_dim),
            attention_mask,
            cache,
            encoding_mode,
        )
        hidden = hidden + self.o_proj(attended)
        normalized = self.post_attention_layernorm(hidden)
        gated = self.product(self.act(self.gate_proj(normalized)), self.up_proj(normalized))
        gated = self._encode("mlp", gated, encoding_mode, value_mask)
        return hidden + self.down_proj(gated)
