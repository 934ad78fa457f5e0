"""Post-training conversion of a Hugging Face Qwen2 causal LM into a spiking model.

``calibrate_qwen2_snn`` runs calibration batches through the ANN and records, per channel,
the ``p``-quantile of ``|x|`` of the embeddings and of each decoder's rotated query, key,
value and MLP product; :class:`Qwen2SNNRecipe` (with :class:`~snn_layers.ann2snn.
ModuleConverter`) builds a :class:`Qwen2SNNModel` from it. The model code only needs the
module layout of ``transformers``' Qwen2 (``model.layers``, ``self_attn``, ``mlp``,
``rotary_emb``, ...); ``transformers`` itself is needed to build that model
(``pip install "snn-layers[llm]"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from snn_layers.ann2snn.recipes.base import ModuleConversionRecipe
from snn_layers.ann2snn.recipes.qwen2_config import (
    _META_NAMES,
    QWEN2_SCALE_NAMES,
    Qwen2SNNCalibration,
    Qwen2SNNConfig,
)
from snn_layers.ann2snn.recipes.qwen2_model import Qwen2SNNModel
from snn_layers.ann2snn.recipes.qwen2_parts import merge_heads, rotate, split_heads

if TYPE_CHECKING:  # pragma: no cover
    from snn_layers.ann2snn.converter import ModuleConverter

__all__ = [
    "Qwen2SNNCalibration",
    "Qwen2SNNConfig",
    "Qwen2SNNModel",
    "Qwen2SNNRecipe",
    "calibrate_qwen2_snn",
]


class _ChannelObserver:
    """Per-channel bound of ``|x|`` over the valid tokens: the running maximum
    (``quantile == 1``), else the quantile of a reservoir of tokens chosen by uniform random
    priorities (the ``reservoir_size`` highest priorities seen so far are kept)."""

    def __init__(self, quantile: float, reservoir_size: int, seed: int) -> None:
        self.quantile = quantile
        self.reservoir_size = reservoir_size
        self._samples: torch.Tensor | None = None
        self._priorities: torch.Tensor | None = None
        self._generator = torch.Generator(device="cpu").manual_seed(seed)
        self.valid_token_count = 0

    def update(self, activation: torch.Tensor, mask: torch.Tensor) -> None:
        tokens = activation.detach()[mask.to(torch.bool)]
        if tokens.numel() == 0:
            raise ValueError("Qwen2 calibration requires at least one valid token.")
        self.valid_token_count += int(tokens.shape[0])
        if self.quantile == 1.0:
            peak = tokens.abs().amax(0, keepdim=True)
            self._samples = peak if self._samples is None else torch.maximum(self._samples, peak)
            return
        priorities = torch.rand(tokens.shape[0], generator=self._generator)
        kept_priorities, kept = priorities.topk(min(self.reservoir_size, int(tokens.shape[0])))
        samples = tokens.index_select(0, kept.to(tokens.device)).abs().to("cpu", torch.float32)
        if self._samples is not None:
            samples = torch.cat((self._samples, samples), dim=0)
            kept_priorities = torch.cat((self._priorities, kept_priorities), dim=0)
        self._priorities, kept = kept_priorities.topk(min(self.reservoir_size, samples.shape[0]))
        self._samples = samples.index_select(0, kept)

    def scale(self, levels: int) -> torch.Tensor:
        """``max(bound, 1e-6) / levels``."""
        if self._samples is None:
            raise RuntimeError("Qwen2 calibration observer received no values.")
        if self.quantile == 1.0:
            bound = self._samples.squeeze(0)
        else:
            bound = torch.quantile(self._samples, self.quantile, dim=0)
        return bound.clamp_min(1e-6) / levels


def _validate_qwen2(model: nn.Module) -> Sequence[nn.Module]:
    """The decoder layers of an evaluation-mode Qwen2 causal LM the recipe supports."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if config is None or model_type != "qwen2":
        raise TypeError(
            "Qwen2SNNRecipe requires a Hugging Face Qwen2 causal LM (config.model_type "
            f"'qwen2'), got {type(model).__name__} with model_type={model_type!r}."
        )
    if bool(getattr(config, "use_sliding_window", False)):
        raise ValueError("Qwen2 sliding-window attention is not supported (use_sliding_window).")
    if bool(getattr(config, "use_mrope", False)):
        raise ValueError("Qwen2 MRoPE is not supported (use_mrope).")
    act = getattr(config, "hidden_act", "silu")
    if act != "silu":
        raise ValueError(f"Qwen2SNNRecipe requires hidden_act='silu', got {act!r}.")
    if model.training:
        raise ValueError("Qwen2SNNRecipe requires evaluation-mode source; call eval().")
    layers = getattr(getattr(model, "model", None), "layers", None)
    if not isinstance(layers, (nn.ModuleList, list, tuple)):
        raise TypeError("Qwen2 model must expose model.layers.")
    if len(layers) != int(config.num_hidden_layers):
        raise ValueError(
            f"Qwen2 config and concrete decoder layer count disagree: num_hidden_layers="
            f"{config.num_hidden_layers}, model.layers has {len(layers)}."
        )
    return layers


def calibrate_qwen2_snn(
    model: nn.Module,
    calibration_batches: Iterable[Mapping[str, torch.Tensor]],
    config: Qwen2SNNConfig,
) -> Qwen2SNNCalibration:
    """Calibrate the QCFS steps of a Qwen2 causal LM.

    Args:
        model: the evaluation-mode Hugging Face Qwen2 causal LM.
        calibration_batches: mappings with tensors ``'input_ids'`` and ``'attention_mask'``
            ``[B, S]`` (padding positions, mask 0, are not observed).
        config: the :class:`Qwen2SNNConfig`.

    Returns:
        The :class:`Qwen2SNNCalibration`; the hooks it installs are always removed.
    """
    layers = list(_validate_qwen2(model))

    def observer() -> _ChannelObserver:
        return _ChannelObserver(
            config.calibration_quantile,
            config.calibration_reservoir_size,
            config.calibration_seed,
        )

    input_observer = observer()
    layer_observers = [{name: observer() for name in QWEN2_SCALE_NAMES} for _ in layers]
    current: dict[str, torch.Tensor] = {}

    def on_embedding(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        input_observer.update(output, current["mask"])

    def on_attention(index: int):
        def hook(module: nn.Module, _args: Any, kwargs: dict[str, Any]) -> None:
            hidden = kwargs["hidden_states"]
            heads = int(module.config.num_attention_heads)
            kv_heads = int(module.config.num_key_value_heads)
            head_dim = int(module.head_dim)
            query = split_heads(module.q_proj(hidden), heads, head_dim)
            key = split_heads(module.k_proj(hidden), kv_heads, head_dim)
            value = split_heads(module.v_proj(hidden), kv_heads, head_dim)
            query, key = rotate(query, key, *kwargs["position_embeddings"])
            for name, x in (("query", query), ("key", key), ("value", value)):
                layer_observers[index][name].update(merge_heads(x), current["mask"])

        return hook

    def on_mlp(index: int):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            hidden = inputs[0]
            gated = module.act_fn(module.gate_proj(hidden)) * module.up_proj(hidden)
            layer_observers[index]["mlp"].update(gated, current["mask"])

        return hook

    handles = [model.model.embed_tokens.register_forward_hook(on_embedding)]
    for index, layer in enumerate(layers):
        handles.append(
            layer.self_attn.register_forward_pre_hook(on_attention(index), with_kwargs=True)
        )
        handles.append(layer.mlp.register_forward_pre_hook(on_mlp(index)))
    try:
        with torch.no_grad():
            for batch in calibration_batches:
                input_ids, mask = batch.get("input_ids"), batch.get("attention_mask")
                if not isinstance(input_ids, torch.Tensor) or not isinstance(mask, torch.Tensor):
                    raise TypeError(
                        "Calibration batches require tensor input_ids and attention_mask, got "
                        f"{type(input_ids).__name__} and {type(mask).__name__}."
                    )
                current["mask"] = mask
                model(input_ids=input_ids, attention_mask=mask, use_cache=False, return_dict=True)
    finally:
        for handle in handles:
            handle.remove()
    levels = config.calibration_levels
    return Qwen2SNNCalibration(
        input_scale=input_observer.scale(levels),
        layer_scales=tuple(
            {name: obs.scale(levels) for name, obs in group.items()} for group in layer_observers
        ),
        time_steps=config.time_steps,
        calibration_levels=config.calibration_levels,
        calibration_quantile=config.calibration_quantile,
        calibration_reservoir_size=config.calibration_reservoir_size,
        calibration_seed=config.calibration_seed,
        valid_token_count=input_observer.valid_token_count,
    )


class Qwen2SNNRecipe(ModuleConversionRecipe):
    """:class:`~snn_layers.ann2snn.ModuleConverter` recipe that turns a Qwen2 causal LM
    into a :class:`Qwen2SNNModel` (in ``eval()`` mode).

    Args:
        calibration: from :func:`calibrate_qwen2_snn` with the same ``config``.
        config: the :class:`Qwen2SNNConfig`.
    """

    def __init__(self, calibration: Qwen2SNNCalibration, config: Qwen2SNNConfig) -> None:
        self.calibration = calibration
        self.config = config

    def validate(self, converter: ModuleConverter) -> None:
        """Check that the calibration was made with ``config``'s settings."""
        del converter
        for name in _META_NAMES:
            ours, theirs = getattr(self.calibration, name), getattr(self.config, name)
            if ours != theirs:
                raise ValueError(
                    f"Calibration {name} does not match config: calibration has {ours!r}, "
                    f"config has {theirs!r}."
                )

    def convert_module(self, converter: ModuleConverter, ann: nn.Module) -> Qwen2SNNModel:
        del converter
        layers = len(_validate_qwen2(ann))
        if layers != len(self.calibration.layer_scales):
            raise ValueError(
                f"Calibration layer count does not match Qwen2 model: calibration has "
                f"{len(self.calibration.layer_scales)}, the model has {layers}."
            )
        return Qwen2SNNModel(ann, self.calibration, self.config).eval()
