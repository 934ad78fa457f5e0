"""Multi-step backend dispatch for neurons.

``torch`` is always available. Other backends (``triton``, ``cupy``) register a runner
with :func:`register_backend`; a runner says whether it can run a neuron on a given input
(and why not), and runs all T steps.

A runner is called as ``runner(neuron, x_seq, v_init, need_v_seq)`` and returns
``(spike_seq, v_last, v_seq_or_None)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "KNOWN_BACKENDS",
    "BackendUnavailableError",
    "register_backend",
    "check_backend_name",
    "available_backends",
    "why_not_reason",
    "run_multi_step",
]

KNOWN_BACKENDS = ("torch", "triton", "cupy")


class BackendUnavailableError(RuntimeError):
    """A backend was asked for where it cannot run; the message says why and what to do."""


@dataclass
class _Backend:
    name: str
    # (neuron, x_seq or None) -> None if usable, else a sentence saying why not
    why_not: Callable[[Any, torch.Tensor | None], str | None]
    run: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]


_REGISTRY: dict[str, _Backend] = {}


def register_backend(
    name: str,
    why_not: Callable[[Any, torch.Tensor | None], str | None],
    run: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]],
) -> None:
    """Register (or replace) the multi-step runner of backend ``name``."""
    check_backend_name(name)
    _REGISTRY[name] = _Backend(name, why_not, run)


def check_backend_name(name: Any) -> None:
    if name not in KNOWN_BACKENDS:
        raise ValueError(f"backend must be one of {KNOWN_BACKENDS}, got {name!r}")


def _why_not(name: str, neuron: Any, x_seq: torch.Tensor | None) -> str | None:
    if name == "torch":
        return None
    backend = _REGISTRY.get(name)
    if backend is None:
        return _missing_backend_hint(name)
    return backend.why_not(neuron, x_seq)


def why_not_reason(name: str, neuron: Any, x_seq: torch.Tensor | None = None) -> str | None:
    """Why backend ``name`` cannot run ``neuron`` here (and what to install), or ``None``."""
    check_backend_name(name)
    return _why_not(name, neuron, x_seq)


def _missing_backend_hint(name: str) -> str:
    if name == "triton":
        return (
            "the triton backend is not available: install Triton "
            "(pip install 'snn-neurons[triton]') and use CUDA tensors, or set "
            "TRITON_INTERPRET=1 before importing triton to run on CPU"
        )
    return (
        "the cupy backend is not available: it needs CUDA tensors and CuPy "
        "(pip install 'snn-neurons[cupy]')"
    )


def available_backends(neuron: Any, x_seq: torch.Tensor | None = None) -> tuple[str, ...]:
    """The backends that can run ``neuron`` in multi-step mode here (on ``x_seq`` if given)."""
    return tuple(n for n in KNOWN_BACKENDS if _why_not(n, neuron, x_seq) is None)


def _run_torch(
    neuron: Any, x_seq: torch.Tensor, v: torch.Tensor, need_v_seq: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    fused = getattr(neuron, "fused_multi_step", None)
    if fused is not None:
        out = fused(x_seq, v, need_v_seq)
        if out is not NotImplemented:
            return out
    return neuron.loop_multi_step(x_seq, v, need_v_seq)


def run_multi_step(
    neuron: Any, x_seq: torch.Tensor, v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Run ``neuron``'s multi-step forward on its current backend."""
    name = neuron.backend
    need_v_seq = bool(getattr(neuron, "store_v_seq", False))
    if name == "torch":
        return _run_torch(neuron, x_seq, v, need_v_seq)
    reason = _why_not(name, neuron, x_seq)
    if reason is not None:
        raise BackendUnavailableError(
            f"{type(neuron).__name__}: backend={name!r} cannot run here: {reason}. "
            f"Supported here: {available_backends(neuron, x_seq)}"
        )
    return _REGISTRY[name].run(neuron, x_seq, v, need_v_seq)
