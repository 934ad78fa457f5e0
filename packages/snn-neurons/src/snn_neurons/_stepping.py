"""Shared plumbing of research neurons whose step is not a plain ``charge(x, v)``.

Neurons with extra states (adaptation current, synaptic current, traces) or non-elementwise
dynamics (batch normalisation of the membrane potential) run their multi-step forward as a
loop of their single-step forward on the ``torch`` backend only; these helpers hold that
loop and the checks, so each neuron writes only its own step.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.base import check_multi_step_input

from snn_neurons.backends import BackendUnavailableError

__all__: list[str] = []


def _check_number(owner: str, name: str, value: Any, *, above: float | None = None) -> float:
    """``value`` as a float (a real Python number, not a bool), ``> above`` if given."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}: {name} must be a float, got {value!r}")
    if above is not None and not value > above:
        raise ValueError(f"{owner}: {name} must be > {above:g}, got {value!r}")
    return float(value)


def _check_int(owner: str, name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_torch_only(node: Any) -> None:
    """Raise :class:`BackendUnavailableError` unless ``node.backend == 'torch'``."""
    if node.backend != "torch":
        raise BackendUnavailableError(
            f"{type(node).__name__}: backend={node.backend!r} cannot run this neuron: its step "
            "is not a single-state elementwise charge, so only backend='torch' is supported"
        )


def _loop_single_steps(node: Any, x_seq: torch.Tensor) -> torch.Tensor:
    """Multi-step forward as a loop of ``node.single_step_forward`` over ``x_seq[t]``.

    Keeps ``node.v_seq`` (the membrane potential after each step's reset) when
    ``node.store_v_seq`` is set.
    """
    check_multi_step_input(x_seq)
    _check_torch_only(node)
    outputs, v_seq = [], []
    for t in range(x_seq.shape[0]):
        outputs.append(node.single_step_forward(x_seq[t]))
        if node.store_v_seq:
            v_seq.append(node.v)
    if node.store_v_seq:
        node.v_seq = torch.stack(v_seq)
    return torch.stack(outputs)


def _check_sequence(owner: str, x_seq: Any, T: int, last_dim: int | None = None) -> None:
    """``x_seq`` must be ``[T, N, *]`` with the given ``T`` (and last dimension, if given)."""
    check_multi_step_input(x_seq)
    if x_seq.shape[0] != T:
        raise ValueError(
            f"{owner}: x_seq must have T={T} time-steps in dimension 0 (the T given at "
            f"construction), got shape {tuple(x_seq.shape)}"
        )
    if last_dim is not None and x_seq.shape[-1] != last_dim:
        raise ValueError(
            f"{owner}: x_seq must have {last_dim} features in its last dimension, "
            f"got shape {tuple(x_seq.shape)}"
        )
