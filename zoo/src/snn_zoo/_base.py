"""The surface every zoo model shares (timm's): input handling, reset, features, head,
gradient checkpointing, parameter groups and timm's standard constructor arguments."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import torch
import torch.utils.checkpoint
from snn_core import functional
from torch import nn

from snn_zoo._blocks import check_positive_int

__all__ = ["SpikingClassifier", "reject_unplaced", "check_global_pool"]

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
    reset neuron state (``functional.reset_net``), so repeated calls are independent, and
    ends with the state detached (``functional.detach_net``): after a forward the model holds
    no autograd graph, so ``copy.deepcopy`` and timm's ``ModelEmaV3`` work mid-training.

    timm's model surface: :meth:`set_grad_checkpointing` (each stage module is recomputed
    in backward, from reset neuron state, so gradients equal those without checkpointing),
    :meth:`group_matcher` (layer-wise lr decay), :meth:`no_weight_decay`. timm's standard
    constructor arguments (``drop_rate``, ``drop_path_rate``, ``proj_drop_rate``,
    ``attn_drop_rate``, ``pos_drop_rate``, ``patch_drop_rate``, ``drop_block_rate``,
    ``global_pool``, ``bn_momentum``, ``bn_eps``) are accepted by every model: with timm's
    meaning where the architecture has the place for them, and as an error naming the
    reason for a non-zero value where it has not (see :func:`reject_unplaced`).

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
        self.grad_checkpointing = False
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

    def _finish(self) -> None:
        """Drop the autograd graph from the neuron states (the graph itself keeps what
        backward needs), so that the model can be deep-copied after a forward."""
        functional.detach_net(self)

    def _run(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply a stage module, under gradient checkpointing when it is enabled."""
        if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
            # Reentrant checkpointing: backward reruns the module and differentiates the new
            # graph, so the rerun need not save the same tensors as the first forward (a
            # neuron may switch from its eager to its compiled kernel in between, which the
            # non-reentrant form rejects). The empty tensor that requires grad lets the stem's
            # parameters get gradients although the input image requires none.
            anchor = torch.empty(0, device=x.device, requires_grad=True)
            return torch.utils.checkpoint.checkpoint(
                _fresh_call, module, x, [False], anchor, use_reentrant=True
            )
        return module(x)

    # ------------------------------------------------------------------ timm's surface
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute every stage module (patch embeddings, blocks) in backward instead of
        keeping its activations. Each neuron runs all ``T`` steps in one multi-step call
        from reset state, so the recomputation starts from the state of the first forward
        and gradients are those without checkpointing. The recomputation leaves the
        BatchNorm running statistics as the first forward left them (they are not updated
        twice), so training with checkpointing is training without it."""
        if not isinstance(enable, bool):
            raise TypeError(f"set_grad_checkpointing: enable must be a bool, got {enable!r}")
        self.grad_checkpointing = enable

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """timm's parameter grouping (layer-wise lr decay): the first stage module is the
        ``stem``; each later stage module (``coarse=False``) or stage (``coarse=True``) is
        one group of ``blocks``, in forward order; the head (unmatched) comes last."""
        names = {id(m): n for n, m in self.named_modules()}
        stages = self.stage_modules()
        blocks: list[tuple[str, tuple[int]]] = []
        k = 0
        for s, stage in enumerate(stages):
            for j, module in enumerate(stage):
                if s == 0 and j == 0:
                    continue
                blocks.append((rf"^{re.escape(names[id(module)])}\.", (s if coarse else k,)))
                k += 1
        return dict(stem=rf"^{re.escape(names[id(stages[0][0])])}\.", blocks=blocks)

    def no_weight_decay(self) -> set[str]:
        """Parameters timm's optimizers exempt from weight decay besides 1-d ones (biases,
        norms, neuron parameters such as PLIF's ``w``): none in these models."""
        return set()

    def set_bn_options(self, momentum: float | None = None, eps: float | None = None) -> None:
        """Set ``momentum`` / ``eps`` of every BatchNorm (timm's ``bn_momentum`` / ``bn_eps``)."""
        owner = type(self).__name__
        if momentum is not None:
            if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
                raise TypeError(f"{owner}: bn_momentum must be a float in (0, 1], got {momentum!r}")
            if not 0.0 < momentum <= 1.0:
                raise ValueError(f"{owner}: bn_momentum must be in (0, 1], got {momentum!r}")
        if eps is not None:
            if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
                raise ValueError(f"{owner}: bn_eps must be a float > 0, got {eps!r}")
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if momentum is not None:
                    m.momentum = float(momentum)
                if eps is not None:
                    m.eps = float(eps)

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
                x = self._run(module, x)
        self._finish()
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool the features of :meth:`forward_features` over space and time and apply the
        classifier; ``pre_logits=True`` returns the pooled ``[B, D]`` features instead."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.forward_head(self.forward_features(x))
        self._finish()
        return out

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
                x = self._run(module, x)
            if i in take:
                intermediates.append(x.mean(0))
        self._finish()
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
    #: the attribute that holds the classifier head
    head_attr: str = "head"
    #: what ``reset_classifier`` accepts as ``global_pool``: (allowed values, why)
    global_pools: tuple[tuple[str, ...], str] = (
        ("avg",),
        "the features are averaged over tokens and time",
    )

    def get_classifier(self) -> nn.Module:
        """The classifier head (``nn.Identity`` when ``num_classes == 0``)."""
        return getattr(self, self.head_attr)

    def reset_classifier(self, num_classes: int, global_pool: Any = None) -> None:
        """Replace the head by a fresh one with ``num_classes`` outputs (0: no head, the
        model returns pooled features); ``global_pool`` is accepted for timm compatibility."""
        owner = type(self).__name__
        check_positive_int(owner, "num_classes", num_classes, minimum=0)
        if global_pool is not None:
            self.global_pool = check_global_pool(owner, global_pool, *self.global_pools)
        self.num_classes = num_classes
        setattr(self, self.head_attr, self.new_head(num_classes))

    def new_head(self, num_classes: int) -> nn.Module:
        """A fresh head: ``Linear(num_features, num_classes)``, or ``Identity`` for 0."""
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    # ------------------------------------------------------------------ checkpoints
    def load_pretrained(self, path: str) -> None:
        """Load an official or snn-zoo checkpoint file (any container, official key layout):
        timm's ``custom_load`` hook. When the model was built with another ``num_classes``
        than the card's, the checkpoint's head is skipped and the model keeps its own fresh
        head, as timm does for its own models."""
        from snn_zoo._checkpoint import load_checkpoint  # local: avoid an import cycle

        pretrained_classes = getattr(self, "pretrained_cfg", {}).get("num_classes")
        if pretrained_classes is None or pretrained_classes == self.num_classes:
            load_checkpoint(self, path)
            return
        own_classes, own_children = self.num_classes, dict(self.named_children())
        self.reset_classifier(pretrained_classes)  # a head the checkpoint's weights fit
        try:
            load_checkpoint(self, path)
        finally:
            for name, child in dict(self.named_children()).items():
                if own_children.get(name) is not child:
                    setattr(self, name, own_children[name])
            self.num_classes = own_classes

    def adapt_official_tensor(self, key: str, value: torch.Tensor) -> torch.Tensor:
        """Hook for official tensors stored in another shape; identity by default."""
        return value


def _fresh_call(
    module: nn.Module, x: torch.Tensor, seen: list[bool], anchor: torch.Tensor
) -> torch.Tensor:
    """``module(x)`` from reset neuron state, leaving no graph in the state (the function a
    checkpointed stage runs, in forward and again in backward). ``seen[0]`` tells the
    recomputation in backward, which must not update the BatchNorm statistics again;
    ``anchor`` is unused (see ``SpikingClassifier._run``)."""
    recompute, seen[0] = seen[0], True
    frozen = _freeze_bn_statistics(module) if recompute else []
    functional.reset_net(module)
    try:
        y = module(x)
    finally:
        for m, momentum, count in frozen:
            m.momentum = momentum
            if count is not None:
                with torch.no_grad():
                    m.num_batches_tracked.copy_(count)
    functional.detach_net(module)
    return y


def _freeze_bn_statistics(module: nn.Module) -> list[tuple[nn.Module, Any, Any]]:
    """Make every BatchNorm in training mode keep its running statistics (``momentum=0``:
    ``r <- 1 * r + 0 * batch``, exact) for one forward; returns what to restore after it."""
    frozen = []
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training:
            count = getattr(m, "num_batches_tracked", None)
            frozen.append((m, m.momentum, None if count is None else count.clone()))
            m.momentum = 0.0
    return frozen


def reject_unplaced(owner: str, **given: tuple[Any, str]) -> None:
    """Accept timm's standard arguments that the architecture has no place for only at
    their neutral value (``None`` / ``0``); otherwise raise, naming the reason.

    ``given`` maps an argument name to ``(value, why the architecture cannot apply it)``.
    """
    for name, (value, why) in given.items():
        if value is None or (
            isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0
        ):
            continue
        raise ValueError(f"{owner}: {name}={value!r} is not supported ({why}); leave it at 0")


def check_global_pool(
    owner: str,
    global_pool: Any,
    allowed: tuple[str, ...] = ("avg",),
    why: str = "the features are averaged over tokens and time",
) -> str | None:
    """timm's ``global_pool``: ``None`` (the model's own pooling) or one of ``allowed``."""
    if global_pool is None:
        return allowed[0] if allowed else None
    if global_pool in allowed:
        return global_pool
    what = f"None or one of {allowed}" if allowed else "None"
    raise ValueError(f"{owner}: global_pool must be {what} ({why}), got {global_pool!r}")


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
