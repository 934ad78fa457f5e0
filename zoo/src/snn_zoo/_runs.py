"""Run directories of ``snn-zoo train``: what a run writes, guarding an existing run,
atomic writes under unique temporary names, and the resumable training state.

A run directory holds the files in :data:`RUN_FILES`. ``train_state.pt`` is the resumable
state (model, optimizer, schedule, epoch, best metric, history and every RNG state),
written after each epoch with ``torch.save`` and read back with ``weights_only=True``.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import uuid
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "RUN_FILES",
    "STATE_FILE",
    "RunExistsError",
    "TrainingInterrupted",
    "NonFiniteError",
    "temp_path",
    "atomic_write_text",
    "atomic_torch_save",
    "prepare_output_dir",
    "find_state_file",
    "load_train_state",
    "rng_state",
    "set_rng_state",
]

STATE_FILE = "train_state.pt"
RUN_FILES = (
    STATE_FILE,
    "checkpoint.safetensors",
    "metrics.json",
    "metrics.csv",
    "card.json",
    "result.json",
    "curves.png",
    "raster.png",
    "firing_rates.png",
)
_STATE_FORMAT = "snn-zoo-train-state"


class RunExistsError(ValueError):
    """The output directory already holds a run that a new run would replace."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C (SIGINT); ``str(exc)`` says how to resume."""


class NonFiniteError(FloatingPointError):
    """The loss or the weights became NaN / inf; training stopped before saving them."""


def temp_path(path: Path) -> Path:
    """A temporary name beside ``path``, unique per process and call."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")


def _replace_from_temp(path: Path, write: Any) -> None:
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a unique temporary file and a rename."""
    _replace_from_temp(path, lambda tmp: tmp.write_text(text))


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` through a unique temporary file and a rename."""
    _replace_from_temp(path, lambda tmp: torch.save(obj, tmp))


def prepare_output_dir(out: Path, resume: bool, overwrite: bool, remove_old: bool = True) -> None:
    """Create ``out`` and check it can hold this run; errors say what to do instead.

    A directory that already holds a run is refused unless the run is resumed
    (``resume``) or ``overwrite`` is set, in which case the old run's files are removed
    (by the process with ``remove_old``: every rank checks, rank 0 alone removes).
    """
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"--output-dir {str(out)!r} is a file, not a directory; choose another --output-dir"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create --output-dir {str(out)!r}: {exc.strerror or exc}") from exc
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ValueError(
            f"--output-dir {str(out)!r} is not writable ({exc.strerror or exc}); choose a "
            f"directory you can write to"
        ) from exc
    if resume:
        return
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise RunExistsError(
            f"--output-dir {str(out)!r} already holds a run ({', '.join(existing)}); a new "
            f"run would replace it. Choose one: --resume to continue that run, "
            f"--output-dir DIR to start this one elsewhere, or --overwrite to replace it"
        )
    for name in existing if remove_old else ():
        (out / name).unlink(missing_ok=True)


def find_state_file(resume: str, default_dir: Path) -> Path:
    """The state file that ``--resume [PATH]`` names: ``PATH`` itself, ``PATH/train_state.pt``,
    or (no PATH) ``default_dir/train_state.pt``."""
    path = Path(resume) if resume else default_dir
    if path.is_dir():
        path = path / STATE_FILE
    if not path.is_file():
        where = f"{str(path)!r}"
        raise FileNotFoundError(
            f"nothing to resume: {where} does not exist (a run writes {STATE_FILE} after each "
            f"complete epoch; pass --resume RUN_DIR or --resume FILE)"
        )
    return path


def load_train_state(path: Path) -> dict[str, Any]:
    """Read a training state written by ``snn-zoo train`` (``weights_only=True``)."""
    if path.stat().st_size == 0:
        raise ValueError(f"cannot resume from {str(path)!r}: the file is empty (0 bytes)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"cannot resume from {str(path)!r}: it is not a readable snn-zoo training state "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'})"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
        raise ValueError(f"cannot resume from {str(path)!r}: not an snn-zoo training state")
    state["config"] = json.loads(state["config"])
    return state


def make_train_state(**fields: Any) -> dict[str, Any]:
    """A training state dict (``config`` is stored as JSON text)."""
    state = {"format": _STATE_FORMAT, "version": 1, **fields}
    state["config"] = json.dumps(state["config"], default=str)
    return state


def rng_state(loader_generator: torch.Generator) -> dict[str, Any]:
    """Every RNG the training loop draws from: torch (CPU and CUDA), Python, NumPy, and the
    generator that shuffles the data."""
    import numpy as np

    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached],
        "loader": loader_generator.get_state(),
    }


def set_rng_state(state: dict[str, Any], loader_generator: torch.Generator) -> None:
    """Restore what :func:`rng_state` saved."""
    import numpy as np

    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype("uint32"), pos, has_gauss, cached))  # noqa: NPY002
    loader_generator.set_state(state["loader"])
