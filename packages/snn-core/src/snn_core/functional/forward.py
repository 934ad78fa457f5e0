"""Forward helpers: run single-step or stateless modules over a sequence.

``multi_step_forward`` loops a stateful single-step module over ``T``;
``seq_to_ann_forward`` folds time into the batch (``[T, N, *] -> [T*N, *]``) for stateless
modules, which is exact and runs all steps at once. The ``t_last_*`` variants take
``[N, *, T]`` (time last); ``chunk_multi_step_forward`` bounds memory for long ``T``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

__all__ = [
    "multi_step_forward",
    "t_last_multi_step_forward",
    "chunk_multi_step_forward",
    "seq_to_ann_forward",
    "t_last_seq_to_ann_forward",
]

Modules = nn.Module | Sequence[Callable] | Callable


def _as_chain(module: Modules, name: str) -> list[Callable]:
    """``module`` as a list of callables applied in order (a list/tuple/Sequential is a chain)."""
    chain = (
        list(module)
        if isinstance(module, (list, tuple, nn.Sequential, nn.ModuleList))
        else [module]
    )
    for i, m in enumerate(chain):
        if not callable(m):
            where = name if len(chain) == 1 else f"{name}[{i}]"
            raise TypeError(f"{where} must be a module or callable, got {type(m).__name__}")
    return chain


def _run_chain(chain: list[Callable], x: torch.Tensor | tuple[torch.Tensor, ...]) -> Any:
    """Apply ``chain`` in order; a tuple ``x`` is unpacked into the first callable's arguments."""
    args = x if isinstance(x, tuple) else (x,)
    for m in chain:
        x = m(*args)
        args = (x,)
    return x


def _check_seq(x_seq: object, name: str, layout: str, min_dim: int, time_dim: int) -> None:
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {layout}, got {type(x_seq)}")
    if x_seq.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimensions ({layout}), "
            f"got shape {tuple(x_seq.shape)}"
        )
    if x_seq.shape[time_dim] == 0:
        raise ValueError(f"{name} has no time-steps (T = 0) in shape {tuple(x_seq.shape)}")


def multi_step_forward(x_seq: torch.Tensor, single_step_module: Modules) -> torch.Tensor:
    """Run single-step module(s) once per time-step and stack: ``y[t] = f(x[t])``.

    Args:
        x_seq: input ``[T, N, *]``.
        single_step_module: a module or callable, or a list / tuple / ``nn.Sequential`` of
            them (or an ``nn.ModuleList``) applied in order at each step; state is carried by the
            modules.

    Returns:
        ``[T, N, *]`` output.
    """
    _check_seq(x_seq, "x_seq", "[T, N, *]", 2, 0)
    chain = _as_chain(single_step_module, "single_step_module")
    return torch.stack([_run_chain(chain, x_seq[t]) for t in range(x_seq.shape[0])])


def t_last_multi_step_forward(x_seq: torch.Tensor, single_step_module: Modules) -> torch.Tensor:
    """:func:`multi_step_forward` for time-last data: input and output are ``[N, *, T]``."""
    _check_seq(x_seq, "x_seq", "[N, *, T]", 2, -1)
    chain = _as_chain(single_step_module, "single_step_module")
    y = [_run_chain(chain, x_seq[..., t]) for t in range(x_seq.shape[-1])]
    return torch.stack(y, dim=-1)


def chunk_multi_step_forward(
    split_size: int, x_seq: torch.Tensor, multi_step_module: nn.Module | Callable
) -> torch.Tensor:
    """Feed ``x_seq`` (``[T, *]``) to a multi-step module in chunks of ``split_size`` steps and
    concatenate the outputs along time (the last chunk is shorter if ``T % split_size``).

    State carries over between chunks, so the result equals ``multi_step_module(x_seq)``
    while peak memory scales with ``split_size`` (useful for inference with a large ``T``).
    """
    if isinstance(split_size, bool) or not isinstance(split_size, int) or split_size < 1:
        raise ValueError(f"split_size must be a positive int, got {split_size!r}")
    _check_seq(x_seq, "x_seq", "[T, *]", 1, 0)
    if not callable(multi_step_module):
        raise TypeError(
            f"multi_step_module must be a module or callable, got {type(multi_step_module)}"
        )
    return torch.cat([multi_step_module(x) for x in torch.split(x_seq, split_size)], dim=0)


def seq_to_ann_forward(
    x_seq: torch.Tensor | tuple[torch.Tensor, ...], stateless_module: Modules
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """Apply stateless module(s) to all time-steps at once.

    ``[T, N, *]`` is folded into ``[T*N, *]``, passed through ``stateless_module`` (a module,
    callable, or a list / tuple / ``nn.Sequential`` applied in order) and unfolded to
    ``[T, N, *out]``. Equal to looping the module over ``t`` for any module that treats
    samples independently (not for batch norm in training mode, whose statistics then
    cover all ``T*N`` samples).

    ``x_seq`` may also be a tuple of tensors sharing ``[T, N]``: each is folded and they are
    passed as the first module's positional arguments; a tuple output is unfolded item by
    item (as in the reference).
    """
    if isinstance(x_seq, tuple):
        if not x_seq:
            raise ValueError("x_seq must be a tensor or a non-empty tuple of tensors [T, N, *]")
        for i, item in enumerate(x_seq):
            _check_seq(item, f"x_seq[{i}]", "[T, N, *]", 2, 0)
        lead = tuple(x_seq[0].shape[:2])
        if any(tuple(item.shape[:2]) != lead for item in x_seq[1:]):
            raise ValueError(
                "the tensors of x_seq must share their leading [T, N] dimensions, got shapes "
                f"{[tuple(item.shape) for item in x_seq]}"
            )
        x: torch.Tensor | tuple[torch.Tensor, ...] = tuple(item.flatten(0, 1) for item in x_seq)
    else:
        _check_seq(x_seq, "x_seq", "[T, N, *]", 2, 0)
        lead = tuple(x_seq.shape[:2])
        x = x_seq.flatten(0, 1)
    chain = _as_chain(stateless_module, "stateless_module")
    T, N = lead
    y = _run_chain(chain, x)
    outputs = y if isinstance(y, tuple) else (y,)
    for item in outputs:
        if not isinstance(item, torch.Tensor) or item.dim() < 1 or item.shape[0] != T * N:
            got = tuple(item.shape) if isinstance(item, torch.Tensor) else type(item).__name__
            raise ValueError(
                f"stateless_module must map [T*N, *] = [{T * N}, ...] to tensor(s) with first "
                f"dimension T*N = {T * N} (T={T}, N={N}), got {got}"
            )
    unfolded = tuple(item.unflatten(0, (T, N)) for item in outputs)
    return unfolded if isinstance(y, tuple) else unfolded[0]


def t_last_seq_to_ann_forward(x_seq: torch.Tensor, stateless_module: Modules) -> torch.Tensor:
    """:func:`seq_to_ann_forward` for time-last data: input ``[N, *, T]``, output ``[N, *out, T]``.

    Time is moved to the front and folded into the batch, so the result equals applying the
    module to each ``x_seq[..., t]`` for per-sample modules (not batch norm in training mode).
    """
    _check_seq(x_seq, "x_seq", "[N, *, T]", 2, -1)
    y = seq_to_ann_forward(x_seq.movedim(-1, 0), stateless_module)
    return y.movedim(0, -1)
