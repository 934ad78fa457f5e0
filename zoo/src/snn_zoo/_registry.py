"""Registry of named variants: ``register_model``, ``create_model``, ``list_models``.

A variant is a small builder function in an architecture file, decorated with
:func:`register_model`, whose body returns the variant's config dict (embed dim, depth,
heads, T, image size, classes...). The decorator turns it into a builder
``fn(pretrained=False, checkpoint_path=None, **overrides) -> model`` and records the
variant's card (its ``pretrained_cfg``).
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

__all__ = [
    "ModelEntry",
    "register_model",
    "create_model",
    "list_models",
    "list_architectures",
    "get_pretrained_cfg",
    "get_model_entry",
]

#: card fields every variant must state
CARD_FIELDS = (
    "architecture",
    "paper",
    "paper_ids",
    "origin_url",
    "dataset",
    "params_m",
    "reported_accuracy",
    "input_size",
    "T",
    "num_classes",
    "mean",
    "std",
    "first_conv",
    "classifier",
)


@dataclass
class ModelEntry:
    """One registered variant."""

    name: str
    architecture: str
    model_cls: type[nn.Module]
    config: dict[str, Any]
    card: dict[str, Any]
    builder: Callable[..., nn.Module] = field(repr=False)

    def allowed_overrides(self) -> list[str]:
        params = inspect.signature(self.model_cls.__init__).parameters
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [n for n, p in params.items() if n != "self" and p.kind in kinds]


_ENTRIES: dict[str, ModelEntry] = {}
_DEFAULT_VARIANT: dict[str, str] = {}


def register_model(
    model_cls: type[nn.Module], card: dict[str, Any], default: bool = False
) -> Callable[[Callable[[], dict[str, Any]]], Callable[..., nn.Module]]:
    """Register the decorated config function as the variant of the same name.

    ``card`` holds the variant's metadata (see ``CARD_FIELDS``); ``default=True`` makes the
    variant what the bare architecture name (``card['architecture']``) builds.
    """
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise ValueError(f"register_model: card is missing {missing}")

    def decorator(config_fn: Callable[[], dict[str, Any]]) -> Callable[..., nn.Module]:
        name = config_fn.__name__
        if name in _ENTRIES:
            raise ValueError(f"register_model: {name!r} is already registered")
        config = config_fn()
        full_card = dict(card)
        full_card.setdefault("name", name)

        @functools.wraps(config_fn)
        def builder(
            pretrained: bool = False, checkpoint_path: str | Path | None = None, **overrides: Any
        ) -> nn.Module:
            return create_model(
                name, pretrained=pretrained, checkpoint_path=checkpoint_path, **overrides
            )

        builder.__doc__ = (config_fn.__doc__ or name) + (
            "\n\nReturns the model; ``pretrained``, ``checkpoint_path`` and overrides as "
            ":func:`snn_zoo.create_model`."
        )
        entry = ModelEntry(name, card["architecture"], model_cls, config, full_card, builder)
        _ENTRIES[name] = entry
        if default:
            _DEFAULT_VARIANT[card["architecture"]] = name
        return builder

    return decorator


def _all_names() -> list[str]:
    return sorted(_ENTRIES) + sorted(_DEFAULT_VARIANT)


def get_model_entry(name: str) -> ModelEntry:
    """The entry of a variant name or bare architecture name; unknown names list close matches."""
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {name!r}")
    name = _DEFAULT_VARIANT.get(name, name)
    if name in _ENTRIES:
        return _ENTRIES[name]
    close = difflib.get_close_matches(name, _all_names(), n=6, cutoff=0.5)
    hint = (
        f"did you mean {', '.join(repr(c) for c in close)}?"
        if close
        else (f"architectures: {', '.join(sorted(_DEFAULT_VARIANT))}")
    )
    raise ValueError(
        f"unknown model {name!r}; {hint} (snn_zoo.list_models() lists all {len(_ENTRIES)} variants)"
    )


def list_models(pattern: str = "*", architecture: str | None = None) -> list[str]:
    """Sorted variant names matching the shell-style ``pattern`` (and ``architecture``)."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str such as 'spikformer*', got {pattern!r}")
    if architecture is not None and architecture not in _DEFAULT_VARIANT:
        raise ValueError(
            f"unknown architecture {architecture!r}; known: {sorted(_DEFAULT_VARIANT)}"
        )
    return sorted(
        n
        for n, e in _ENTRIES.items()
        if fnmatch.fnmatchcase(n, pattern) and architecture in (None, e.architecture)
    )


def list_architectures() -> dict[str, str]:
    """``{architecture: default variant}``."""
    return dict(sorted(_DEFAULT_VARIANT.items()))


def get_pretrained_cfg(name: str) -> dict[str, Any]:
    """A copy of the variant's card (``pretrained_cfg``)."""
    entry = get_model_entry(name)
    return copy.deepcopy({**entry.card, "name": entry.name})


def create_model(
    name: str,
    pretrained: bool = False,
    checkpoint_path: str | Path | None = None,
    pretrained_cfg_overlay: dict[str, Any] | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build a registered variant.

    Args:
        name: a variant (``'spikformer_8_384'``) or an architecture (``'spikformer'``, its
            headline variant); see :func:`list_models`.
        pretrained: load the weights named by the card's ``file`` (bundled with snn-zoo
            for the digits variants) or downloaded once from its ``url`` (the official
            release assets, e.g. MaxFormer's) into torch.hub's cache; set either with
            ``pretrained_cfg_overlay=dict(file=...)`` / ``dict(url=...)``. Checked against the
            card's ``sha256`` (an overlay ``file`` / ``url`` only against an overlay ``sha256``).
        checkpoint_path: a checkpoint to load after building (safetensors, or a torch
            file read with ``weights_only=True``); official key layouts load as they are.
        pretrained_cfg_overlay: entries replacing those of the card.
        **overrides: constructor arguments, e.g. ``T``, ``num_classes``, ``in_chans``,
            ``img_size``, ``backend``, ``neuron``, ``neuron_kwargs``, ``drop_path_rate``.
    """
    from snn_zoo._checkpoint import (  # local: avoid an import cycle
        load_checkpoint,
        resolve_weights_file,
    )

    entry = get_model_entry(name)
    allowed = entry.allowed_overrides()
    bad = sorted(k for k in overrides if k not in allowed)
    if bad:
        raise TypeError(
            f"{entry.name}: unknown override(s) {bad}; allowed: {', '.join(sorted(allowed))}"
        )
    if pretrained_cfg_overlay is not None and not isinstance(pretrained_cfg_overlay, dict):
        raise TypeError(f"pretrained_cfg_overlay must be a dict, got {pretrained_cfg_overlay!r}")
    model = entry.model_cls(**{**entry.config, **overrides})
    card = {**get_pretrained_cfg(entry.name), **(pretrained_cfg_overlay or {})}
    overlay = pretrained_cfg_overlay or {}
    if ("file" in overlay or "url" in overlay) and "sha256" not in overlay:
        card.pop("sha256", None)  # the card's hash is that of the card's file, not this one
    card.update(_card_for_model(model, card))
    model.pretrained_cfg = card
    model.default_cfg = card
    if pretrained:
        load_checkpoint(model, resolve_weights_file(card))
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    return model


def _card_for_model(model: nn.Module, card: dict[str, Any]) -> dict[str, Any]:
    """Card entries that follow the built model's overrides."""
    updates: dict[str, Any] = {
        "num_classes": model.num_classes,
        "T": model.T,
    }
    img_size = getattr(model, "img_size", None)
    if img_size is not None:
        updates["input_size"] = (model.in_chans, *img_size)
    return updates
