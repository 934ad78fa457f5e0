"""Reading and writing checkpoints: safetensors, or torch files read with ``weights_only=True``.

Official checkpoints are usually training snapshots (``{'state_dict': ..., 'args': ...}``
from timm's trainer, ``{'model': ...}`` from MAE-style scripts, ``module.``-prefixed keys
from ``DataParallel``). :func:`load_state_dict_file` finds the weights in them; the model's
load hook (see ``SpikingClassifier``) maps the official layout onto the model.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["load_state_dict_file", "load_checkpoint", "save_checkpoint"]

_WRAPPER_KEYS = ("state_dict", "model", "module", "net")


def _torch_load(path: Path) -> Any:
    # Training snapshots of timm-based code pickle their argparse.Namespace; it only holds
    # plain values, so it is allow-listed. Nothing else beyond tensors and containers is.
    safe = getattr(torch.serialization, "safe_globals", None)
    try:
        if safe is not None:
            with safe([argparse.Namespace]):
                return torch.load(path, map_location="cpu", weights_only=True)
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError and friends: name the cause and the way out
        raise ValueError(
            f"cannot read {str(path)!r} with torch.load(weights_only=True): {exc}. snn-zoo "
            f"never unpickles arbitrary objects; if you trust the file, re-save its state dict "
            f"as safetensors (snn_zoo.save_checkpoint) and load that"
        ) from exc


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file (``.safetensors`` or a torch file), on CPU."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {str(path)!r}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    obj = _torch_load(path)
    for _ in range(2):  # unwrap {'state_dict': {...}} / {'model': {...}}
        if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{str(path)!r} holds no state dict (found {type(obj).__name__})")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(
            f"{str(path)!r}: no tensors found (top-level keys: {sorted(obj)[:8]}); expected a "
            f"state dict or a dict with one under {_WRAPPER_KEYS}"
        )
    return tensors


def load_checkpoint(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load ``path`` into ``model`` strictly: every parameter and buffer must be present.

    Keys the official code creates but never uses are dropped (logged) by the model; any
    other unexpected key, or any missing key, is an error naming them.
    """
    state = load_state_dict_file(path)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ValueError(
            f"checkpoint {str(path)!r} does not fit {type(model).__name__}: {exc} (is it a "
            f"checkpoint of this variant, with the same num_classes / in_chans / T?)"
        ) from exc
    problems = []
    if result.missing_keys:
        problems.append(f"missing keys {_head(result.missing_keys)}")
    if result.unexpected_keys:
        problems.append(f"unexpected keys {_head(result.unexpected_keys)}")
    if problems:
        raise ValueError(
            f"checkpoint {str(path)!r} does not match {type(model).__name__}: "
            + "; ".join(problems)
            + " (is it a checkpoint of this variant, with the same num_classes / in_chans?)"
        )


def _head(keys: list[str], n: int = 8) -> str:
    return str(keys[:n])[:-1] + (f", ... {len(keys) - n} more]" if len(keys) > n else "]")


def save_checkpoint(
    model: nn.Module, path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> None:
    """Save ``model.state_dict()`` as safetensors (with the variant name as metadata)."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(
            f"save_checkpoint writes safetensors; use a '.safetensors' path, got {path}"
        )
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {"format": "pt"}
    name = getattr(model, "pretrained_cfg", {}).get("name")
    if name:
        meta["snn_zoo_variant"] = str(name)
    meta.update(metadata or {})
    save_file(state, str(path), metadata=meta)
