"""The surface every zoo model shares (timm's): input handling, reset, features, head."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import torch
from snn_core import functional
from torch import nn

from snn_zoo._blocks import check_positive_int

__all__ = ["SpikingClassifier"]

_logger = logging.getLogger("snn_zoo")


def take_indices(num: int, indices: int | Sequence[int] | None) -> tuple[list[int], int]:
    """timm's rule: ``None`` -> all, an int ``n`` -> the last ``n``, a sequence -> those
    (negative from the end). Returns the absolute indices and the largest one."""
    if indices is None:
        indices = num
    if isinstance(indices, int):
        if not 0 < indices <= num:
            raise ValueError(f"indices: last-n must be in 1..{num}, got {indices}")
        take = list(range(num - indices, num))
    else:
        take = []
        for i in indices:
            j = num + i if i < 0 else i
            if not 0 <= j < num:
                raise ValueError(f"indices: {i} is out of range for {num} feature stages")
            take.append(j)
    return take, max(take)


class SpikingClassifier(nn.Module):
    """Base class of the zoo's models.

    Input ``[B, C, H, W]`` (a static image, repeated over ``T`` steps) or
    ``[T, B, C, H, W]`` (a sequence, e.g. event frames); output ``[B, num_classes]``, the
    classifier applied to features averaged over time and space. Every forward starts from
    reset neuron state (``functional.reset_net``), so repeated calls are independent.

    Subclasses build their layers, then set ``feature_info`` and implement
    :meth:`stage_modules` (the feature stages in order), :meth:`forward_head`,
    :meth:`get_classifier` and :meth:`reset_classifier`. Keys of official checkpoints that
    the official code creates but never uses are listed (regexes) in
    ``unused_official_keys`` and dropped, with a logged note, when a state dict is loaded.
    """

    unused_official_keys: tuple[str, ...] = ()
    #: whether a sequence input must have exactly ``T`` steps (temporal attention layers)
    fixed_T: bool = False

    def __init__(self, T: int, num_classes: int, in_chans: int) -> None:
        super().__init__()
        owner = type(self).__name__
        self.T = check_positive_int(owner, "T", T)
        self.num_classes = check_positive_int(owner, "num_classes", num_classes, minimum=0)
        self.in_chans = check_positive_int(owner, "in_chans", in_chans)
        self.feature_info: list[dict[str, Any]] = []
        self.pretrained_cfg: dict[str, Any] = {}
        self._register_load_state_dict_pre_hook(_adapt_official_state_dict, with_module=True)

    # ------------------------------------------------------------------ input
    def to_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Validate ``x`` and return ``[T, B, C, H, W]``."""
        name = type(self).__name__
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: input must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name}: input must be a floating-point tensor, got {x.dtype}")
        if x.dim() == 4:
            seq = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        elif x.dim() == 5:
            if self.fixed_T and x.shape[0] != self.T:
                raise ValueError(
                    f"{name}: a sequence input must have T={self.T} steps (the model's temporal "
                    f"attention is built for T={self.T}), got shape {tuple(x.shape)}"
                )
            seq = x
        else:
            raise ValueError(
                f"{name}: input must be [B, C, H, W] (static, repeated over T={self.T}) or "
                f"[T, B, C, H, W] (sequence), got shape {tuple(x.shape)}"
            )
        if seq.shape[2] != self.in_chans:
            raise ValueError(
                f"{name}: input has {seq.shape[2]} channels, the model takes in_chans="
                f"{self.in_chans} (shape {tuple(x.shape)})"
            )
        return seq

    def _start(self, x: torch.Tensor) -> torch.Tensor:
        seq = self.to_sequence(x)
        functional.reset_net(self)
        return seq

    # ------------------------------------------------------------------ stages
    @classmethod
    def num_feature_stages(cls, **config: Any) -> int:
        """How many feature stages a model built with ``config`` has (before building it)."""
        raise NotImplementedError

    def stage_modules(self) -> list[list[nn.Module]]:
        """Feature stages in order; stage ``i``'s output is feature ``i``."""
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes / membrane features of the last stage, ``[T, B, C, H, W]``."""
        x = self._start(x)
        for stage in self.stage_modules():
            for module in stage:
                x = module(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool the features of :meth:`forward_features` over space and time and apply the
        classifier; ``pre_logits=True`` returns the pooled ``[B, D]`` features instead."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | Sequence[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's feature API: the firing-rate maps ``[B, C, H, W]`` (mean over T) of the
        stages in ``indices``; with ``intermediates_only=False`` also the last features."""
        if str(output_fmt) not in ("NCHW", "Format.NCHW"):
            raise ValueError(f"output_fmt must be 'NCHW', got {output_fmt!r}")
        stages = self.stage_modules()
        take, last = take_indices(len(stages), indices)
        x = self._start(x)
        intermediates = []
        for i, stage in enumerate(stages):
            if (stop_early or intermediates_only) and i > last:
                break
            for module in stage:
                x = module(x)
            if i in take:
                intermediates.append(x.mean(0))
        if intermediates_only:
            return intermediates
        return x, intermediates

    def prune_intermediate_layers(
        self,
        indices: int | Sequence[int] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Normalise ``indices`` (see :meth:`forward_intermediates`); drop the head if asked."""
        take, _ = take_indices(len(self.stage_modules()), indices)
        if prune_head:
            self.reset_classifier(0)
        return take

    # ------------------------------------------------------------------ head
    def get_classifier(self) -> nn.Module:
        """The classifier head (``nn.Identity`` when ``num_classes == 0``)."""
        raise NotImplementedError

    def reset_classifier(self, num_classes: int, global_pool: Any = None) -> None:
        """Replace the head by a fresh one with ``num_classes`` outputs (0: no head, the
        model returns pooled features); ``global_pool`` is accepted for timm compatibility."""
        raise NotImplementedError

    # ------------------------------------------------------------------ checkpoints
    def adapt_official_tensor(self, key: str, value: torch.Tensor) -> torch.Tensor:
        """Hook for official tensors stored in another shape; identity by default."""
        return value


def _adapt_official_state_dict(
    module: SpikingClassifier,
    state_dict: dict[str, Any],
    prefix: str,
    local_metadata: Any,
    strict: bool,
    missing_keys: list[str],
    unexpected_keys: list[str],
    error_msgs: list[str],
) -> None:
    """Turn an official checkpoint's state dict into this model's, in place.

    Strips the ``module.`` prefix of ``DataParallel`` checkpoints, drops the keys in
    ``unused_official_keys`` (with a logged note) and lets the model reshape tensors.
    """
    own = [k for k in list(state_dict) if k.startswith(prefix)]
    patterns = [re.compile(p) for p in module.unused_official_keys]
    dropped = []
    for key in own:
        rel = key[len(prefix) :]
        value = state_dict.pop(key)
        while rel.startswith("module."):
            rel = rel[len("module.") :]
        if any(p.fullmatch(rel) for p in patterns):
            dropped.append(rel)
            continue
        if isinstance(value, torch.Tensor):
            value = module.adapt_official_tensor(rel, value)
        state_dict[prefix + rel] = value
    if dropped:
        _logger.info(
            "%s: dropped %d checkpoint key(s) that the official code creates but never uses "
            "in its forward: %s",
            type(module).__name__,
            len(dropped),
            ", ".join(dropped[:6]) + (", ..." if len(dropped) > 6 else ""),
        )
