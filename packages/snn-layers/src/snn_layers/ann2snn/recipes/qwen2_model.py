"""The converted Qwen2 causal language model (offline, layer by layer, multi-step)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from snn_layers.ann2snn.operators import (
    SNNElementWiseProduct,
    TDLinear,
    TDRMSNorm,
    TDScaledDotProductAttention,
    TDSiLU,
    _td_module_from_ann,
)
from snn_layers.ann2snn.qcfs import SignedQCFSSequenceEncoder
from snn_layers.ann2snn.recipes.qwen2_config import Qwen2SNNCalibration, Qwen2SNNConfig
from snn_layers.ann2snn.recipes.qwen2_decoder import ENCODING_MODES, Qwen2SNNDecoder
from snn_layers.ann2snn.recipes.qwen2_parts import (
    Qwen2Cache,
    causal_mask,
    first_step_only,
    td_rms_norm,
)

__all__ = ["Qwen2SNNModel"]


class Qwen2SNNModel(nn.Module):
    """SNN version of a Hugging Face ``Qwen2ForCausalLM`` (made by :class:`Qwen2SNNRecipe`).

    The embeddings are encoded as ``T`` steps of signed QCFS spikes and run through the
    converted decoders, one whole sequence ``[T, B, S, H]`` per layer; the logits are the
    LM head of the final norm's output summed over time. ``forward`` returns a namespace with
    ``logits`` ``[B, S, vocab]`` and ``past_key_values``.

    Args:
        source: the evaluation-mode Qwen2 causal LM (its weights are copied; the rotary
            embedding module is shared).
        calibration: the QCFS steps from :func:`calibrate_qwen2_snn`.
        conversion: the :class:`Qwen2SNNConfig` (``time_steps``).
    """

    temporal_layout = "[T,B,S,H]"
    execution_schedule = "layerwise_offline_multistep"
    online_inference = False

    def __init__(
        self, source: nn.Module, calibration: Qwen2SNNCalibration, conversion: Qwen2SNNConfig
    ) -> None:
        super().__init__()
        inner = source.model
        self.config = source.config
        self.time_steps = conversion.time_steps
        self.embed_tokens = copy.deepcopy(inner.embed_tokens)
        self.rotary_emb = inner.rotary_emb
        self.layers = nn.ModuleList(
            Qwen2SNNDecoder(layer, calibration.layer_scales[i], conversion.time_steps, i)
            for i, layer in enumerate(inner.layers)
        )
        self.norm = td_rms_norm(inner.norm)
        self.lm_head = _td_module_from_ann(source.lm_head)
        self.tie_weights()
        self.input_encoder = SignedQCFSSequenceEncoder(
            calibration.input_scale, conversion.time_steps, name="model.input"
        )

    def signed_encoders(self) -> tuple[SignedQCFSSequenceEncoder, ...]:
        """The input encoder, then each decoder's query, key, value and MLP encoders."""
        encoders = [self.input_encoder]
        for layer in self.layers:
            encoders.extend(layer.encoders.values())
        return tuple(encoders)

    def set_collect_statistics(self, enabled: bool) -> None:
        """Switch the spike statistics of every encoder on or off."""
        for encoder in self.signed_encoders():
            encoder.collect_statistics = bool(enabled)

    def encoder_statistics(self) -> tuple[dict[str, object], ...]:
        """:meth:`SignedQCFSSequenceEncoder.statistics` of every encoder."""
        return tuple(encoder.statistics() for encoder in self.signed_encoders())

    def structure_summary(self) -> dict[str, object]:
        """Counts of the converted modules and whether the LM head shares the embedding."""
        modules = tuple(self.modules())
        encoders = self.signed_encoders()

        def count(kind: type) -> int:
            return sum(isinstance(m, kind) for m in modules)

        return {
            "converted_decoder_count": len(self.layers),
            "td_rms_norm_count": count(TDRMSNorm),
            "td_linear_count": count(TDLinear),
            "td_silu_count": count(TDSiLU),
            "td_elementwise_product_count": count(SNNElementWiseProduct),
            "td_sdpa_count": count(TDScaledDotProductAttention),
            "signed_if_encoder_count": len(encoders),
            "activation_aware_if_node_count": 2 * len(encoders),
            "activation_aware_if_step_modes": sorted(
                {e.positive_neuron.step_mode for e in encoders}
            ),
            "lm_head_tied_to_embedding": self.lm_head.weight is self.embed_tokens.weight,
        }

    @property
    def device(self) -> torch.device:
        """Device of the embedding weights."""
        return self.embed_tokens.weight.device

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def get_output_embeddings(self) -> TDLinear:
        return self.lm_head

    def tie_weights(self) -> None:
        """Share the embedding matrix with the LM head if the config ties them."""
        if bool(getattr(self.config, "tie_word_embeddings", False)):
            self.lm_head.weight = self.embed_tokens.weight

    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        max_new_tokens: int,
        do_sample: bool = False,
        num_beams: int = 1,
        **_: object,
    ) -> torch.Tensor:
        """Greedy decoding of ``max_new_tokens`` tokens with the key/value cache (the
        network's state is reset before each step); returns ``input_ids`` followed by them."""
        if do_sample or num_beams != 1:
            raise ValueError(
                "Converted Qwen2 supports deterministic greedy generation only: got "
                f"do_sample={do_sample}, num_beams={num_beams}."
            )
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be non-negative, got {max_new_tokens}.")
        with torch.inference_mode():
            generated = input_ids
            mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            cache = None
            for step in range(max_new_tokens):
                current = generated if step == 0 else generated[:, -1:]
                for module in self.modules():
                    reset = getattr(module, "reset", None)
                    if callable(reset):
                        reset()
                output = self(
                    input_ids=current, attention_mask=mask, past_key_values=cache, use_cache=True
                )
                cache = output.past_key_values
                token = output.logits[:, -1].argmax(-1, keepdim=True)
                generated = torch.cat((generated, token), dim=1)
                mask = torch.cat((mask, torch.ones_like(token)), dim=1)
            return generated

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        position_ids: torch.Tensor | None = None,
        encoding_mode: str | None = None,
        past_key_values: Qwen2Cache | None = None,
        use_cache: bool = False,
        **_: object,
    ) -> SimpleNamespace:
        """Logits of ``input_ids`` ``[B, S]``.

        Args:
            attention_mask: ``[B, past + S]``, 0 at (left) padding; default all ones.
            position_ids: ``[B, S]``; default: the count of non-padding tokens before each.
            encoding_mode: ``'signed_if'`` (default), ``'qcfs_sg'`` or ``'exact_td'`` (see
                :mod:`~snn_layers.ann2snn.recipes.qwen2_decoder`).
            past_key_values: the cache returned by an earlier call (needs ``use_cache``).
            use_cache: return (and extend) a key/value cache.
        """
        encoding_mode = encoding_mode or "signed_if"
        if encoding_mode not in ENCODING_MODES:
            raise ValueError(
                f"Unsupported encoding_mode={encoding_mode!r}; expected one of {ENCODING_MODES}."
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if past_key_values is not None and not use_cache:
            raise ValueError("past_key_values requires use_cache=True.")
        past_length = 0 if past_key_values is None else past_key_values.get_seq_length()
        if use_cache and past_key_values is None:
            past_key_values = Qwen2Cache(len(self.layers))
        length = input_ids.shape[1]
        embeddings = self.embed_tokens(input_ids)
        if position_ids is None:
            position_ids = attention_mask.to(torch.long).cumsum(-1) - 1
            position_ids.masked_fill_(~attention_mask.to(torch.bool), 0)
            position_ids = position_ids[:, -length:]
        elif tuple(position_ids.shape) != tuple(input_ids.shape):
            raise ValueError(
                f"position_ids shape must match input_ids shape {tuple(input_ids.shape)}, "
                f"got {tuple(position_ids.shape)}."
            )
        position_ids = position_ids.to(device=input_ids.device, dtype=torch.long)
        cos, sin = self.rotary_emb(embeddings, position_ids)
        causal = causal_mask(attention_mask, length, past_length)
        value_mask = attention_mask[:, -length:]
        if encoding_mode == "exact_td":
            hidden = first_step_only(embeddings, self.time_steps)
        elif encoding_mode == "qcfs_sg":
            hidden = first_step_only(self.input_encoder.reconstruct(embeddings), self.time_steps)
        else:
            hidden = self.input_encoder.encode(embeddings, value_mask)
        for layer in self.layers:
            hidden = layer(
                hidden,
                cos=cos,
                sin=sin,
                attention_mask=causal,
                value_mask=value_mask,
                encoding_mode=encoding_mode,
                cache=past_key_values,
            )
        hidden = self.norm(hidden)
        bias = self.lm_head.bias
        with torch.amp.autocast(hidden.device.type, enabled=False):
            logits = F.linear(
                hidden.sum(0).float(),
                self.lm_head.weight.float(),
                None if bias is None else bias.float(),
            )
        return SimpleNamespace(logits=logits, past_key_values=past_key_values)
