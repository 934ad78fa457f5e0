"""Argument checks and the time loop shared by the multi-step neuron functions (private)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__: list[str] = []


def check_state(owner: str, name: str, state: Any, shape: torch.Size) -> None:
    """``state`` must be a tensor of the input step's ``shape`` (never silently broadcast)."""
    if not isinstance(state, torch.Tensor):
        raise TypeError(
            f"{owner}: {name} must be a tensor shaped like the input, got {type(state).__name__}"
        )
    if state.shape != shape:
        raise ValueError(
            f"{owner}: state {name} has shape {tuple(state.shape)} but the input step has shape "
            f"{tuple(shape)}; pass a state of the input's shape"
        )


def check_sequence(owner: str, x_seq: Any) -> None:
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1:
        got = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq).__name__
        raise ValueError(f"{owner}: x_seq must be a tensor [T, *] (time first), got {got}")


def check_precision(owner: str, neuron_storage: Any, neuron_fwd: Any, neuron_bwd: Any) -> None:
    """Explicit low-precision neuron state needs fused CUDA kernels this package lacks."""
    for name, value in (("neuron_fwd", neuron_fwd), ("neuron_bwd", neuron_bwd)):
        if not isinstance(value, str):
            raise TypeError(f"{owner}: {name} must be a str such as 'fp32', got {value!r}")
    if neuron_storage is not None:
        raise RuntimeError(
            f"{owner}: neuron_storage={neuron_storage!r} (explicit neuron precision) needs fused "
            "CUDA Triton kernels that snn_core does not provide; leave neuron_storage=None (the "
            "state is kept in the input's dtype)"
        )


def default_surrogate(surrogate_function: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """``None`` means :class:`~snn_core.surrogate.Sigmoid` ``()``."""
    if surrogate_function is None:
        from snn_core.surrogate import Sigmoid

        return Sigmoid()
    if not callable(surrogate_function):
        raise TypeError(
            f"surrogate_function must be callable (e.g. surrogate.Sigmoid()), got "
            f"{surrogate_function!r}"
        )
    return surrogate_function


def run_steps(
    step: Callable[..., tuple[torch.Tensor, ...]],
    x_seq: torch.Tensor,
    states: tuple[torch.Tensor, ...],
    store_seq: bool,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None]:
    """Loop ``step(x, *states) -> (y, *states)`` over ``x_seq``.

    Returns ``(y_seq, final_states, state_seqs or None)``; with zero time-steps the output is
    empty and the states are returned unchanged.
    """
    ys: list[torch.Tensor] = []
    seqs: list[list[torch.Tensor]] = [[] for _ in states]
    for x in x_seq:
        y, *new = step(x, *states)
        states = tuple(new)
        ys.append(y)
        if store_seq:
            for seq, s in zip(seqs, states):
                seq.append(s)
    if not ys:
        empty = x_seq.new_zeros(x_seq.shape)
        return empty, states, (tuple(empty.clone() for _ in states) if store_seq else None)
    stacked = tuple(torch.stack(seq) for seq in seqs) if store_seq else None
    return torch.stack(ys), states, stacked
