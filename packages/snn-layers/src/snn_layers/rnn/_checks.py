"""Argument checks shared by the spiking recurrent cells and networks (private)."""

from __future__ import annotations

from typing import Any

import torch

__all__: list[str] = []


def check_size(owner: str, name: str, value: Any) -> int:
    """``value`` must be a positive int (a feature count or a layer count)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value


def check_flag(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return value


def check_dropout_p(owner: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(
            f"{owner}: dropout_p (the drop probability between layers) must be a number in "
            f"[0, 1], got {value!r}"
        )
    return value


def check_surrogate(owner: str, name: str, fn: Any, optional: bool = False) -> None:
    """``fn`` must be a surrogate-function instance (e.g. ``surrogate.Erf()``), not a class."""
    if fn is None and optional:
        return
    if isinstance(fn, type):
        raise TypeError(
            f"{owner}: {name} must be a surrogate function instance, got the class "
            f"{fn.__name__}; pass an instance, e.g. {fn.__name__}()"
        )
    if not callable(fn):
        allowed = "None or " if optional else ""
        raise TypeError(
            f"{owner}: {name} must be {allowed}a surrogate function such as "
            f"snn_core.surrogate.Erf(), got {fn!r}"
        )


def check_same_spiking(owner: str, fn1: Any, fn2: Any) -> None:
    """Both surrogates emit spikes or both emit their smooth primitive (the reference's rule)."""
    if fn2 is None:
        return
    s1, s2 = getattr(fn1, "spiking", None), getattr(fn2, "spiking", None)
    if s1 != s2:
        raise ValueError(
            f"{owner}: surrogate_function1.spiking={s1!r} and surrogate_function2.spiking={s2!r} "
            "must be equal (both spiking or both smooth)"
        )


def check_surrogate_pair(owner: str, fn1: Any, fn2: Any) -> None:
    """``surrogate_function1`` an instance, ``surrogate_function2`` one or ``None``, both with
    the same ``spiking`` mode."""
    check_surrogate(owner, "surrogate_function1", fn1)
    check_surrogate(owner, "surrogate_function2", fn2, optional=True)
    check_same_spiking(owner, fn1, fn2)


def check_step_input(owner: str, x: Any, input_size: int) -> None:
    """One step of a cell: ``x`` is ``[batch_size, input_size]``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner}: x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != input_size:
        raise ValueError(
            f"{owner}: x must have shape [batch_size, input_size={input_size}], "
            f"got {tuple(x.shape)}"
        )


def check_step_state(owner: str, name: str, state: Any, batch_size: int, hidden_size: int) -> None:
    """A cell state is ``[batch_size, hidden_size]``, never silently broadcast."""
    if not isinstance(state, torch.Tensor):
        raise TypeError(f"{owner}: {name} must be a torch.Tensor, got {type(state).__name__}")
    if tuple(state.shape) != (batch_size, hidden_size):
        raise ValueError(
            f"{owner}: {name} must have shape [batch_size={batch_size}, "
            f"hidden_size={hidden_size}], got {tuple(state.shape)}"
        )


def check_sequence(owner: str, x: Any) -> None:
    """A sequence is a tensor ``[T, batch_size, input_size]``, time first."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner}: x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 3 or x.shape[0] == 0:
        raise ValueError(
            f"{owner}: x must have shape [T, batch_size, input_size] (time first, T >= 1), "
            f"got {tuple(x.shape)}"
        )
