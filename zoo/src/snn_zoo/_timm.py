"""Registration of every zoo variant with timm (optional: only when timm imports).

Each variant gets a timm entrypoint of the same name that builds the model through
``timm.models.build_model_with_cfg``, so timm's own machinery applies: ``num_classes`` /
``in_chans`` defaults from the card, ``pretrained=True`` with
``pretrained_cfg_overlay=dict(file=...)``, ``checkpoint_path=...``, and ``features_only=True``
(through the models' ``forward_intermediates``, timm's ``'getter'`` feature class).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import warnings
from collections.abc import Callable
from typing import Any

from torch import nn

from snn_zoo._registry import _ENTRIES, ModelEntry

__all__ = ["register_with_timm", "timm_pretrained_cfg", "default_cfgs"]

_logger = logging.getLogger("snn_zoo")

#: timm reads the pretrained cfgs of the entrypoints of a module from its ``default_cfgs``
default_cfgs: dict[str, dict[str, Any]] = {}

_EXTRA_NOTE_FIELDS = ("paper", "dataset", "params_m", "reported_accuracy", "T")


def timm_pretrained_cfg(entry: ModelEntry, cfg_fields: set[str]) -> dict[str, Any]:
    """The card as a timm ``PretrainedCfg`` dict; fields timm lacks go to ``notes``."""
    card = entry.card
    out = {k: v for k, v in card.items() if k in cfg_fields}
    out["paper_name"] = card["paper"]
    out["architecture"] = entry.name
    notes = [f"{k}={card[k]}" for k in _EXTRA_NOTE_FIELDS if card.get(k) is not None]
    out["notes"] = tuple(notes) + tuple(card.get("notes", ()))
    return out


def _entrypoint(entry: ModelEntry) -> Callable[..., nn.Module]:
    def fn(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        from timm.models import build_model_with_cfg

        args = {**entry.config, **kwargs}
        n_stages = entry.model_cls.num_feature_stages(**args)
        return build_model_with_cfg(
            entry.model_cls,
            entry.name,
            pretrained,
            feature_cfg=dict(feature_cls="getter", out_indices=tuple(range(n_stages))),
            **args,
        )

    fn.__name__ = fn.__qualname__ = entry.name
    fn.__module__ = __name__
    fn.__doc__ = f"{entry.name} ({entry.card['paper']}), built through timm."
    return fn


def register_with_timm() -> bool:
    """Register every variant with timm; ``False`` (and nothing done) if timm does not import.

    timm imports torchvision, which fails to import beside some torch builds; any such
    failure only disables the timm integration.
    """
    try:
        import timm
    except Exception as exc:  # ImportError, or torchvision's RuntimeError on a torch mismatch
        _logger.debug("timm integration disabled: %s", exc)
        return False
    try:
        _register_all()
    except Exception as exc:  # a timm whose registry API changed: keep the zoo importable
        warnings.warn(
            f"snn_zoo: timm {getattr(timm, '__version__', '?')} imports, but registering the zoo "
            f"with it failed ({type(exc).__name__}: {exc}); timm.create_model will not know "
            f"the zoo's models",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


def _register_all() -> None:
    from timm.models import is_model, model_entrypoint, register_model
    from timm.models._pretrained import PretrainedCfg

    fields = {f.name for f in dataclasses.fields(PretrainedCfg)}
    module = sys.modules[__name__]
    for name, entry in _ENTRIES.items():
        default_cfgs[name] = timm_pretrained_cfg(entry, fields)
        fn = _entrypoint(entry)
        setattr(module, name, fn)
        if is_model(name) and getattr(model_entrypoint(name), "__module__", "") == __name__:
            continue  # already registered by an earlier call
        register_model(fn)
