r"""SpikeZIP-TF spiking self-attention (You et al., ICML 2024) for RoBERTa- and ViT-style QANN
attention modules.

Every quantizer of the QANN becomes an ST-BIF neuron (:class:`snn_neurons.STBIFNode`), the
linear maps SpikeZIP TD linears, the softmax a TD softmax; the two products of attention act
on running sums ``Q[t] = Σ q``, ``K[t] = Σ k`` (the neurons' ``accumulated``):

.. math::
    S[t] - S[t-1] = Q[t] k[t]^\top + q[t] K[t]^\top - q[t] k[t]^\top,

so that the outputs summed over ``T`` steps equal the QANN attention once every neuron has
released its charge (``T`` at least the quantization ``level`` per layer).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from snn_core.base import MemoryModule
from snn_neurons import STBIFNode
from torch import nn

from snn_layers.ann2snn.recipes.spikezip_layers import (
    SpikeZIPLinear,
    SpikeZIPSoftmax,
    matmul_delta,
    matmul_sequence_delta,
    reset_submodules,
)

__all__ = ["SpikeZIPRobertaSelfAttention", "SpikeZIPViTSelfAttention"]

_UNSUPPORTED = {
    "encoder_hidden_states": "cross-attention",
    "encoder_attention_mask": "cross-attention",
    "past_key_value": "a decoder cache",
    "head_mask": "head_mask",
}


def _fire(neuron: STBIFNode, x: torch.Tensor) -> torch.Tensor:
    """One step of ``neuron``; its transition is discrete, so no gradient reaches ``x``."""
    return neuron.single_step_forward(x.detach())


def _fire_seq(neuron: STBIFNode, x_seq: torch.Tensor) -> torch.Tensor:
    """All steps of ``x_seq`` through ``neuron`` (no gradient reaches ``x_seq``)."""
    return neuron.multi_step_forward(x_seq.detach())


def _previous_sum(neuron: STBIFNode) -> torch.Tensor | None:
    """The neuron's released value before this call (``None`` when it has no state yet)."""
    return None if neuron.acc_q is None else neuron.accumulated


class SpikeZIPRobertaSelfAttention(MemoryModule):
    """Spiking form of a RoBERTa-style quantized self-attention ``source`` (with ``query``,
    ``key``, ``value`` linears and ``query_quan``, ``key_quan``, ``value_quan``,
    ``attn_quan``, ``after_attn_quan`` quantizers). Returns a tuple ``(context,)`` or
    ``(context, attention_probs)`` with ``output_attentions=True``, like Hugging Face.

    The ``attention_mask`` (additive) is added to the scores at the first step only; the
    TD softmax keeps it in its running sum. Only absolute position embeddings, no
    cross-attention, decoder cache or ``head_mask``.
    """

    def __init__(self, source: nn.Module, level: int) -> None:
        super().__init__()
        self.num_attention_heads = int(source.num_attention_heads)
        self.attention_head_size = int(source.attention_head_size)
        default_size = self.num_attention_heads * self.attention_head_size
        self.all_head_size = int(getattr(source, "all_head_size", default_size))
        self.query = SpikeZIPLinear(source.query, level)
        self.key = SpikeZIPLinear(source.key, level)
        self.value = SpikeZIPLinear(source.value, level)
        self.query_if = STBIFNode.from_quantizer(source.query_quan)
        self.key_if = STBIFNode.from_quantizer(source.key_quan)
        self.value_if = STBIFNode.from_quantizer(source.value_quan)
        self.attn_if = STBIFNode.from_quantizer(source.attn_quan)
        self.after_attn_if = STBIFNode.from_quantizer(source.after_attn_quan)
        self.softmax = SpikeZIPSoftmax(dim=-1)
        self.dropout = copy.deepcopy(getattr(source, "dropout", nn.Identity()))
        self.step_mode = "s"
        self.register_memory("t", 0)
        self.position_embedding_type = getattr(source, "position_embedding_type", "absolute")
        self.is_decoder = bool(getattr(source, "is_decoder", False))
        if self.position_embedding_type != "absolute":
            raise ValueError(
                "SpikeZIPTFQANNRecipe supports absolute position attention only, got "
                f"position_embedding_type={self.position_embedding_type!r}"
            )

    def reset(self) -> None:
        super().reset()
        reset_submodules(self)

    def transpose_for_scores(self, x: torch.Tensor) -> torch.Tensor:
        """``[.., L, all_head_size]`` to ``[.., heads, L, head_size]``."""
        shape = (*x.shape[:-1], self.num_attention_heads, self.attention_head_size)
        return x.view(shape).transpose(-3, -2)

    def _check(self, kwargs: dict[str, Any]) -> tuple[torch.Tensor | None, bool]:
        for name, value in kwargs.items():
            if name in ("attention_mask", "output_attentions"):
                continue
            if name in _UNSUPPORTED:
                if value is not None:
                    raise ValueError(
                        f"SpikeZIPTFQANNRecipe does not support {_UNSUPPORTED[name]}: got "
                        f"{name} of type {type(value).__name__}; pass {name}=None"
                    )
            elif value is not None:
                raise ValueError(
                    f"SpikeZIPRobertaSelfAttention: unsupported argument {name}="
                    f"{type(value).__name__}; allowed: attention_mask, output_attentions"
                )
        if self.is_decoder:
            raise ValueError("SpikeZIPTFQANNRecipe does not support decoder attention (cache).")
        return kwargs.get("attention_mask"), bool(kwargs.get("output_attentions", False))

    def _merge(self, context: torch.Tensor) -> torch.Tensor:
        context = context.transpose(-3, -2).contiguous()
        return context.view(*context.shape[:-2], self.all_head_size)

    def single_step_forward(
        self, hidden_states: torch.Tensor, **kwargs: Any
    ) -> tuple[torch.Tensor, ...]:
        mask, output_attentions = self._check(kwargs)
        split = self.transpose_for_scores
        q = split(_fire(self.query_if, self.query.single_step_forward(hidden_states)))
        k = split(_fire(self.key_if, self.key.single_step_forward(hidden_states)))
        v = split(_fire(self.value_if, self.value.single_step_forward(hidden_states)))
        q_sum, k_sum = split(self.query_if.accumulated), split(self.key_if.accumulated)
        scores = matmul_delta(q, k, q_sum, k_sum, transpose_b=True)
        scores = scores / math.sqrt(self.attention_head_size)
        if mask is not None and self.t == 0:
            scores = scores + mask
        probs = _fire(self.attn_if, self.dropout(self.softmax.single_step_forward(scores)))
        v_sum = split(self.value_if.accumulated)
        context = matmul_delta(probs, v, self.attn_if.accumulated, v_sum)
        context = self._merge(_fire(self.after_attn_if, context))
        self.t += 1
        return (context, probs) if output_attentions else (context,)

    def multi_step_forward(
        self, hidden_states: torch.Tensor, **kwargs: Any
    ) -> tuple[torch.Tensor, ...]:
        mask, output_attentions = self._check(kwargs)
        split = self.transpose_for_scores
        q_prev, k_prev = _previous_sum(self.query_if), _previous_sum(self.key_if)
        p_prev, v_prev = _previous_sum(self.attn_if), _previous_sum(self.value_if)
        q = split(_fire_seq(self.query_if, self.query.multi_step_forward(hidden_states)))
        k = split(_fire_seq(self.key_if, self.key.multi_step_forward(hidden_states)))
        v = split(_fire_seq(self.value_if, self.value.multi_step_forward(hidden_states)))
        q_prev, k_prev, v_prev = (None if p is None else split(p) for p in (q_prev, k_prev, v_prev))
        scores = matmul_sequence_delta(q, k, q_prev, k_prev, transpose_b=True)
        scores = scores / math.sqrt(self.attention_head_size)
        if mask is not None and self.t == 0:
            scores = scores.clone()
            scores[0] = scores[0] + mask
        probs = _fire_seq(self.attn_if, self.dropout(self.softmax.multi_step_forward(scores)))
        context = matmul_sequence_delta(probs, v, p_prev, v_prev)
        context = self._merge(_fire_seq(self.after_attn_if, context))
        self.t += hidden_states.shape[0]
        return (context, probs) if output_attentions else (context,)


class SpikeZIPViTSelfAttention(MemoryModule):
    """Spiking form of a ViT-style quantized attention ``source`` (``qkv`` and ``proj``
    linears, ``quan_q``, ``quan_k``, ``quan_v``, ``attn_quan``, ``after_attn_quan``,
    ``quan_proj`` quantizers, ``num_heads``, ``head_dim``, ``scale``); input ``[B, L, C]``
    per step. Its two linears release their bias at the first step. Without softmax
    (``source.is_softmax`` false) the quantized scores are divided by ``L``."""

    def __init__(self, source: nn.Module, level: int) -> None:
        super().__init__()
        self.num_heads = int(source.num_heads)
        self.head_dim = int(source.head_dim)
        self.scale = float(getattr(source, "scale", self.head_dim**-0.5))
        self.is_softmax = bool(getattr(source, "is_softmax", True))
        self.qkv = SpikeZIPLinear(source.qkv, level, bias_steps=1)
        self.proj = SpikeZIPLinear(source.proj, level, bias_steps=1)
        self.q_if = STBIFNode.from_quantizer(source.quan_q)
        self.k_if = STBIFNode.from_quantizer(source.quan_k)
        self.v_if = STBIFNode.from_quantizer(source.quan_v)
        self.attn_if = STBIFNode.from_quantizer(source.attn_quan)
        self.after_attn_if = STBIFNode.from_quantizer(source.after_attn_quan)
        self.proj_if = STBIFNode.from_quantizer(source.quan_proj)
        self.attn_drop = copy.deepcopy(getattr(source, "attn_drop", nn.Identity()))
        self.proj_drop = copy.deepcopy(getattr(source, "proj_drop", nn.Identity()))
        self.step_mode = "s"
        if self.is_softmax:
            self.softmax = SpikeZIPSoftmax(dim=-1)

    def reset(self) -> None:
        super().reset()
        reset_submodules(self)

    def _split_qkv(self, qkv: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``[.., L, 3 C]`` to three ``[.., heads, L, head_dim]``."""
        qkv = qkv.reshape(*qkv.shape[:-1], 3, self.num_heads, self.head_dim)
        return qkv.movedim(-3, 0).transpose(-3, -2).unbind(0)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"SpikeZIPViTSelfAttention expects [B, L, C], got {tuple(x.shape)}")
        seq_len = x.shape[-2]
        q, k, v = self._split_qkv(self.qkv.single_step_forward(x))
        q = _fire(self.q_if, q) * self.scale
        k = _fire(self.k_if, k)
        v = _fire(self.v_if, v)
        q_sum = self.q_if.accumulated * self.scale
        attn = matmul_delta(q, k, q_sum, self.k_if.accumulated, transpose_b=True)
        if self.is_softmax:
            attn = _fire(self.attn_if, self.softmax.single_step_forward(attn))
            attn_sum = self.attn_if.accumulated
        else:
            attn = _fire(self.attn_if, attn) / seq_len
            attn_sum = self.attn_if.accumulated / seq_len
        attn = self.attn_drop(attn)
        context = matmul_delta(attn, v, attn_sum, self.v_if.accumulated)
        context = _fire(self.after_attn_if, context)
        context = context.transpose(-3, -2).reshape(x.shape)
        context = self.proj_drop(self.proj.single_step_forward(context))
        return _fire(self.proj_if, context)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() != 4:
            raise ValueError(
                "SpikeZIPViTSelfAttention expects [T, B, L, C] in 'm' mode, got "
                f"{tuple(x_seq.shape)}"
            )
        seq_len = x_seq.shape[-2]
        q_prev, k_prev = _previous_sum(self.q_if), _previous_sum(self.k_if)
        a_prev, v_prev = _previous_sum(self.attn_if), _previous_sum(self.v_if)
        q, k, v = self._split_qkv(self.qkv.multi_step_forward(x_seq))
        q = _fire_seq(self.q_if, q)
        k = _fire_seq(self.k_if, k)
        v = _fire_seq(self.v_if, v)
        q_prev = None if q_prev is None else q_prev * self.scale
        attn = matmul_sequence_delta(q * self.scale, k, q_prev, k_prev, transpose_b=True)
        if self.is_softmax:
            attn = _fire_seq(self.attn_if, self.softmax.multi_step_forward(attn))
        else:
            attn = _fire_seq(self.attn_if, attn) / seq_len
            a_prev = None if a_prev is None else a_prev / seq_len
        attn = self.attn_drop(attn)
        context = matmul_sequence_delta(attn, v, a_prev, v_prev)
        context = _fire_seq(self.after_attn_if, context)
        context = context.transpose(-3, -2).reshape(x_seq.shape)
        context = self.proj_drop(self.proj.multi_step_forward(context))
        return _fire_seq(self.proj_if, context)
