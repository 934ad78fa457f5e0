r"""SpikeZIP-TF: convert an already quantized transformer (QANN) to an equivalent SNN
(You et al., "SpikeZIP-TF: Conversion is All You Need for Transformer-based SNN", ICML 2024).

Each quantizer ``Q(x) = s · clamp(⌊x / s + 1/2⌋, A_min, A_max)`` becomes an ST-BIF neuron
(:class:`snn_neurons.STBIFNode`) whose outputs over time sum to ``Q`` of the summed input;
linears, convolutions, LayerNorm and softmax become TD operators (see
:mod:`snn_layers.ann2snn.recipes.spikezip_layers`), attention the spiking attention of
:mod:`~snn_layers.ann2snn.recipes.spikezip_attention`, ``nn.ReLU`` (whose work the unsigned
quantizer after it already does) an identity. Fed the input at the first step and zeros
after, the converted network's outputs summed over ``T`` steps equal the QANN's output once
every neuron has released its charge.
"""

from __future__ import annotations

import copy
import warnings
from typing import TYPE_CHECKING

from snn_neurons import STBIFNode
from torch import nn

from snn_layers.ann2snn.recipes.base import ModuleConversionRecipe
from snn_layers.ann2snn.recipes.spikezip_attention import (
    SpikeZIPRobertaSelfAttention,
    SpikeZIPViTSelfAttention,
)
from snn_layers.ann2snn.recipes.spikezip_layers import (
    SpikeZIPConv2d,
    SpikeZIPEmbedding,
    SpikeZIPLayerNorm,
    SpikeZIPLinear,
    SpikeZIPSoftmax,
)
from snn_layers.ann2snn.recipes.spikezip_vit import patch_spikezip_vit_forward

if TYPE_CHECKING:  # pragma: no cover
    from snn_layers.ann2snn.converter import ModuleConverter

__all__ = [
    "STBIFNode",
    "SpikeZIPConv2d",
    "SpikeZIPEmbedding",
    "SpikeZIPLayerNorm",
    "SpikeZIPLinear",
    "SpikeZIPRobertaSelfAttention",
    "SpikeZIPSoftmax",
    "SpikeZIPTFQANNRecipe",
    "SpikeZIPViTSelfAttention",
]

_FAMILIES = ("roberta", "vit")
_QUANTIZER_ATTRS = ("s", "sym", "pos_max", "neg_min")
_ROBERTA_ATTRS = (
    "query", "query_quan", "key", "key_quan", "value", "value_quan", "attn_quan",
    "after_attn_quan", "num_attention_heads", "attention_head_size", "all_head_size",
    "dropout",
)  # fmt: skip
_VIT_ATTRS = (
    "qkv", "quan_q", "quan_k", "quan_v", "attn_quan", "after_attn_quan", "proj", "quan_proj",
    "num_heads", "head_dim", "scale", "attn_drop", "proj_drop",
)  # fmt: skip
# leaf modules that are correct on per-step increments as they are (linear or identity maps)
_PASS_THROUGH = (
    nn.Identity, nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Dropout, nn.Dropout1d,
    nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.Flatten, nn.Unflatten, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
)  # fmt: skip


def _has_all(module: nn.Module, names: tuple[str, ...]) -> bool:
    return all(hasattr(module, name) for name in names)


def _quantizer_level(quantizer: nn.Module) -> int:
    """``level`` of a quantizer, else ``pos_max - neg_min + 1``."""
    if hasattr(quantizer, "level"):
        return int(quantizer.level)
    return int(float(quantizer.pos_max) - float(quantizer.neg_min) + 1)


class SpikeZIPTFQANNRecipe(ModuleConversionRecipe):
    """Module-tree recipe that converts a SpikeZIP-compatible QANN (it does not quantize or
    train; the QANN must already carry its quantizers).

    Replacements, walking the module tree: a RoBERTa-style (``model_family='roberta'``)
    or ViT-style (``'vit'``) quantized attention by ``SpikeZIPRobertaSelfAttention`` /
    ``SpikeZIPViTSelfAttention`` (of this module); ``nn.Embedding``, ``nn.Conv2d``,
    ``nn.Linear``, ``nn.LayerNorm`` by their SpikeZIP TD forms (bias released over the
    first ``level`` steps, ``level`` taken from the model's first quantizer, else
    ``time_steps``); each quantizer (a module with ``s``, ``sym``, ``pos_max``,
    ``neg_min`` and optionally ``level``, else ``pos_max - neg_min + 1``) by
    :class:`snn_neurons.STBIFNode`;
    ``nn.ReLU`` by ``nn.Identity``. Other leaf modules are kept, with a warning unless
    they are linear (dropout, identity, flatten, average pooling). For ``'vit'`` a model
    with ``patch_embed``, ``cls_token``, ``pos_embed`` and ``head`` also gets a
    time-stepped forward (class token and position embedding at the first step only).

    The result is a copy in eval mode, parameters frozen (inference only), with
    ``ann2snn_recipe = 'spikezip_tf_qann'``, ``time_steps`` and ``model_family``; the
    caller runs it for ``time_steps`` steps (input at step 0, zeros or the same tokens
    after; ``'s'`` or ``'m'`` mode via ``functional.set_step_mode``) and sums the outputs.

    Args:
        time_steps: steps to run the SNN for (metadata; at least the quantization ``level``
            so that every bias and residual charge is released).
        model_family: ``'roberta'`` or ``'vit'``.
    """

    def __init__(self, time_steps: int = 200, model_family: str = "roberta") -> None:
        self.time_steps = time_steps
        self.model_family = model_family

    def validate(self, converter: ModuleConverter | None) -> None:
        steps = self.time_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
            raise ValueError(f"time_steps must be a positive int, got time_steps={steps!r}")
        if self.model_family not in _FAMILIES:
            raise ValueError(
                f"SpikeZIPTFQANNRecipe: model_family must be one of {_FAMILIES}, got "
                f"model_family={self.model_family!r}"
            )

    def convert_module(self, converter: ModuleConverter | None, ann: nn.Module) -> nn.Module:
        """A converted copy of ``ann`` (see the class doc)."""
        model = copy.deepcopy(ann).eval()
        level = self._level_from_model(model)
        root = self._replacement(model, level)
        if root is not None:
            model = root
        else:
            self._replace_weight(model, level, type(model).__name__)
        model.requires_grad_(False)  # ST-BIF transitions are discrete: inference only
        model.ann2snn_recipe = "spikezip_tf_qann"
        model.time_steps = self.time_steps
        model.model_family = self.model_family
        if self.model_family == "vit":
            patch_spikezip_vit_forward(model)
        return model

    def _replacement(self, module: nn.Module, level: int) -> nn.Module | None:
        if self.model_family == "roberta" and _has_all(module, _ROBERTA_ATTRS):
            return SpikeZIPRobertaSelfAttention(module, self._level_from_qann(module))
        if self.model_family == "vit" and _has_all(module, _VIT_ATTRS):
            return SpikeZIPViTSelfAttention(module, self._level_from_qann(module))
        if isinstance(module, nn.Embedding):
            return SpikeZIPEmbedding(module)
        if isinstance(module, nn.Conv2d):
            return SpikeZIPConv2d(module, level)
        if isinstance(module, nn.Linear):
            return SpikeZIPLinear(module, level)
        if isinstance(module, nn.LayerNorm):
            return SpikeZIPLayerNorm(module)
        if self._is_quantizer(module):
            return STBIFNode.from_quantizer(module)
        if isinstance(module, nn.ReLU):
            return nn.Identity()
        return None

    def _replace_weight(self, model: nn.Module, level: int, prefix: str) -> None:
        for name, child in list(model.named_children()):
            replacement = self._replacement(child, level)
            if replacement is not None:
                setattr(model, name, replacement)
            elif next(child.children(), None) is not None:
                self._replace_weight(child, level, f"{prefix}.{name}")
            elif not isinstance(child, _PASS_THROUGH):
                warnings.warn(
                    f"SpikeZIPTFQANNRecipe keeps {prefix}.{name} ({type(child).__name__}) "
                    "unconverted; it will run on per-step increments, which is only correct "
                    "for a linear map. Replace it by a supported layer or quantizer.",
                    stacklevel=4,
                )

    @staticmethod
    def _is_quantizer(module: nn.Module) -> bool:
        return _has_all(module, _QUANTIZER_ATTRS)

    @staticmethod
    def _level_from_qann(module: nn.Module) -> int:
        """Quantization level of an attention's q/k/v quantizers."""
        for name in ("query_quan", "key_quan", "value_quan", "quan_q", "quan_k", "quan_v"):
            quantizer = getattr(module, name, None)
            if quantizer is None:
                continue
            if hasattr(quantizer, "level") or _has_all(quantizer, ("pos_max", "neg_min")):
                return _quantizer_level(quantizer)
        raise ValueError(
            f"SpikeZIP QANN attention {type(module).__name__} must expose the quantizer level "
            "(a q/k/v quantizer with level, or pos_max and neg_min)."
        )

    def _level_from_model(self, module: nn.Module) -> int:
        """Level of the first quantizer of ``module``, else ``time_steps``."""
        for child in module.modules():
            if self._is_quantizer(child):
                return _quantizer_level(child)
        return self.time_steps
