"""Registration of every zoo variant with timm (optional: only when timm imports).

Each variant gets a timm entrypoint of the same name that builds the model through
``timm.models.build_model_with_cfg``, so timm's own machinery applies: ``num_classes`` /
``in_chans`` defaults from the card, ``pretrained=True`` with
``pretrained_cfg_overlay=dict(file=...)``, ``checkpoint_path=...``, and ``features_only=True``
(through the models' ``forward_intermediates``, timm's ``'getter'`` feature class).

Bundled weights are named in timm's pretrained cfg by their absolute path inside the
installed package (``file=``), so ``pretrained=True`` works from any working directory;
before timm loads a file, its sha256 is checked against the card's (or against
``pretrained_cfg_overlay=dict(file=..., sha256=...)``; a file of the caller's own without
``sha256`` is loaded unchecked). After building, the model's ``pretrained_cfg`` follows the
overrides (``num_classes``, ``input_size``), as with :func:`snn_zoo.create_model`.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from snn_zoo._checkpoint import download_weights, sha256_of
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
    if out.get("file"):
        out["file"] = str(bundled_path(out["file"]))
    if out.get("url"):  # official release files: containers and key layouts timm cannot read
        out["custom_load"] = True  # -> SpikingClassifier.load_pretrained
    out["paper_name"] = card["paper"]
    out["architecture"] = entry.name
    notes = [f"{k}={card[k]}" for k in _EXTRA_NOTE_FIELDS if card.get(k) is not None]
    out["notes"] = tuple(notes) + tuple(card.get("notes", ()))
    return out


def bundled_path(file: str) -> Path:
    """A card's ``file``: absolute as given, or relative to the installed ``snn_zoo``."""
    path = Path(file)
    return path if path.is_absolute() else Path(__file__).resolve().parent / path


def _check_pretrained_file(entry: ModelEntry, cfg: dict[str, Any], sha256: str | None) -> None:
    """Check the file timm is about to load against its sha256 (the overlay's, else the
    card's when the file is the card's own)."""
    file = cfg.get("file")
    if not file or cfg.get("state_dict") is not None or cfg.get("source") == "hf-hub":
        return
    card_file = entry.card.get("file")
    if sha256 is None and card_file and Path(file).resolve() == bundled_path(card_file).resolve():
        sha256 = entry.card.get("sha256")
    if not Path(file).is_file():
        raise FileNotFoundError(f"{entry.name}: pretrained weights file {file!r} not found")
    if sha256 and sha256_of(file) != sha256:
        raise ValueError(
            f"{entry.name}: weights file {str(file)!r} does not match the sha256 it is "
            f"published with ({sha256[:12]}...); the file is corrupt or not the published one"
        )


def _follow_overrides(model: nn.Module) -> None:
    """Make ``model.pretrained_cfg`` describe the built model (``num_classes``, ``input_size``)."""
    inner = model if hasattr(model, "stage_modules") else getattr(model, "model", None)
    cfg = getattr(model, "pretrained_cfg", None)
    if inner is None or not isinstance(cfg, dict):
        return
    if "num_classes" in cfg:
        cfg["num_classes"] = inner.num_classes
    img_size = getattr(inner, "img_size", None)
    if img_size is not None:
        cfg["input_size"] = (inner.in_chans, *img_size)


def _entrypoint(entry: ModelEntry) -> Callable[..., nn.Module]:
    def fn(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        from timm.models import build_model_with_cfg, resolve_pretrained_cfg

        overlay = kwargs.pop("pretrained_cfg_overlay", None)
        sha256 = None
        if overlay:
            overlay = dict(overlay)
            sha256 = overlay.pop("sha256", None)
        if pretrained:
            cfg = resolve_pretrained_cfg(
                entry.name,
                pretrained_cfg=kwargs.get("pretrained_cfg"),
                pretrained_cfg_overlay=overlay,
            )
            cfg = cfg.to_dict()
            if cfg.get("url") and not cfg.get("file") and not cfg.get("hf_hub_id"):
                # one download path for both APIs: snn-zoo's (hub cache, published hash)
                local = download_weights(cfg["url"], sha256, entry.name)
                overlay = {**(overlay or {}), "file": str(local), "custom_load": True}
            else:
                _check_pretrained_file(entry, cfg, sha256)
        args = {**entry.config, **kwargs}
        n_stages = entry.model_cls.num_feature_stages(**args)
        model = build_model_with_cfg(
            entry.model_cls,
            entry.name,
            pretrained,
            pretrained_cfg_overlay=overlay,
            feature_cfg=dict(feature_cls="getter", out_indices=tuple(range(n_stages))),
            **args,
        )
        _follow_overrides(model)
        return model

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
