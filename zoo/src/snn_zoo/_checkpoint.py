"""Reading and writing checkpoints: safetensors, or torch files read with ``weights_only=True``.

Official checkpoints are usually training snapshots (``{'state_dict': ..., 'args':
Namespace}`` from timm's trainer, ``{'model': ..., 'args': Namespace}`` from MAE- and
SpikingJelly-style scripts, ``{'net': ...}`` from MA-SNN's, ``module.``-prefixed keys from
``DataParallel``). :func:`load_state_dict_file` finds the weights in them; the model's
load hook (see ``SpikingClassifier``) maps the official layout onto the model.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "load_state_dict_file",
    "load_checkpoint",
    "save_checkpoint",
    "sha256_of",
    "resolve_weights_file",
    "download_weights",
]

_WRAPPER_KEYS = ("state_dict", "model", "module", "net")


def _torch_load(path: Path) -> Any:
    # Training snapshots of timm / MAE / SpikingJelly-style scripts pickle their
    # argparse.Namespace of command-line arguments; it only holds plain values, so it is
    # allow-listed. Nothing else beyond tensors and containers is.
    serialization = torch.serialization
    try:
        if hasattr(serialization, "safe_globals"):  # torch >= 2.5: scoped to this call
            with serialization.safe_globals([argparse.Namespace]):
                return torch.load(path, map_location="cpu", weights_only=True)
        if hasattr(serialization, "add_safe_globals"):  # torch 2.4: process-wide
            serialization.add_safe_globals([argparse.Namespace])
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError and friends: name the cause and the way out
        raise ValueError(
            f"cannot read {str(path)!r} with torch.load(weights_only=True): {exc}. snn-zoo "
            f"never unpickles arbitrary objects (argparse.Namespace is allowed from torch 2.4 "
            f"on); if you trust the file, re-save its state dict as safetensors "
            f"(snn_zoo.save_checkpoint) and load that"
        ) from exc


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file (``.safetensors`` or a torch file), on CPU."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"checkpoint {str(path)!r} is a directory; pass the checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {str(path)!r}")
    if path.stat().st_size == 0:
        raise ValueError(
            f"checkpoint file {str(path)!r} is empty (0 bytes): it was never written or its "
            f"save was cut short; save or download it again"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:  # SafetensorError: truncated or not a safetensors file
            raise ValueError(f"cannot read {str(path)!r} as safetensors: {exc}") from exc
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
) -> str:
    """Save ``model.state_dict()`` as safetensors (with the variant name as metadata).

    The file is written under a temporary name and renamed, so an interrupted save never
    leaves a half-written checkpoint. Returns the file's sha256.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(
            f"save_checkpoint writes safetensors; use a '.safetensors' path, got {path}"
        )
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"format": "pt"}
    name = getattr(model, "pretrained_cfg", {}).get("name")
    if name:
        meta["snn_zoo_variant"] = str(name)
    meta.update(metadata or {})
    # A unique temporary name per process and call: concurrent saves to one path never
    # write to (or rename away) each other's temporary file; the last rename wins whole.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        save_file(state, str(tmp), metadata=meta)
        mask = os.umask(0)  # safetensors creates 0600 files; give the usual permissions
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return sha256_of(path)


def sha256_of(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_weights_file(card: dict[str, Any]) -> Path:
    """The weights file a card names: its ``file`` entry, looked up as given and then
    inside the installed ``snn_zoo`` package (bundled weights), or else the file its ``url``
    downloads to (see :func:`download_weights`); checked against the card's ``sha256`` when
    it has one."""
    file = card.get("file")
    name = card.get("name", "this model")
    if not file and card.get("url"):
        return download_weights(card["url"], card.get("sha256"), name)
    if not file:
        raise ValueError(
            f"{name}: no weights are bundled with snn-zoo for this variant and its card names "
            f"no download URL; download the official checkpoint and pass checkpoint_path=..., "
            f"or pretrained_cfg_overlay=dict(file=...)"
        )
    path = Path(file)
    if not path.is_file() and not path.is_absolute():
        bundled = Path(__file__).parent / file
        if bundled.is_file():
            path = bundled
    if not path.is_file():
        raise FileNotFoundError(f"{name}: weights file {str(file)!r} not found")
    expected = card.get("sha256")
    if expected and sha256_of(path) != expected:
        raise ValueError(
            f"{name}: weights file {str(path)!r} does not match the sha256 in its card "
            f"({expected[:12]}...); the file is corrupt or not the published one"
        )
    return path


def download_weights(url: str, sha256: str | None = None, name: str = "this model") -> Path:
    """Download ``url`` once into torch.hub's cache (``<hub dir>/checkpoints/snn_zoo/``) and
    return the local file; a file already there is reused when it passes the hash check.

    torch.hub writes the download under a temporary name and renames it when complete, so
    an interrupted download never leaves a file that looks finished. With ``sha256`` (the
    authors' published hash) a mismatching download is deleted and reported.
    """
    from urllib.parse import urlparse

    filename = Path(urlparse(url).path).name
    if not filename:
        raise ValueError(f"{name}: cannot tell a file name from the weights URL {url!r}")
    target = Path(torch.hub.get_dir()) / "checkpoints" / "snn_zoo" / filename
    if target.is_file() and (sha256 is None or sha256_of(target) == sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(target), progress=True)
    except Exception as exc:  # URLError, HTTPError, OSError: say what and from where
        raise RuntimeError(
            f"{name}: downloading the official weights from {url} failed ({exc}); download "
            f"the file by hand and pass checkpoint_path=..."
        ) from exc
    if sha256 is not None and sha256_of(target) != sha256:
        target.unlink()
        raise ValueError(
            f"{name}: the file downloaded from {url} does not match the published sha256 "
            f"({sha256[:12]}...); it was deleted"
        )
    return target
