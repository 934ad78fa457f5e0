"""Memory layouts of the fused multi-step path (eager and ``torch.compile`` alike).

A neuron whose tensors are all scalars has elementwise steps: its fused kernels take each
step as a flat ``[N]`` block, in whatever order the elements lie in memory. So when the
input's steps ``x[t]`` are dense blocks laid out one after another (a channels-last
convolution's output, a token-major ``[T, B, C, L]`` view of a ``Linear``'s output...),
the path keeps that layout: no copy to a contiguous buffer on the way in, and spikes,
states and gradients come out with the input's strides, as PyTorch's own elementwise
operators do. Other inputs, and neurons with per-element tensors, use contiguous buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from snn_neurons._fused_steps import _HUGE_PAGE, _advise_huge_pages


def dense(t: Tensor) -> bool:
    """Whether ``t``'s elements fill its memory span exactly once (in some dim order).

    With symbolic sizes (``torch.compile`` with a dynamic batch size) the answer must hold
    for every size, not only the traced one (comparing strides one by one would specialize
    the graph to it): PyTorch's own test decides it, False where it cannot.
    """
    if not all(type(v) is int for v in (*t.shape, *t.stride())):
        return _dense_or_false(t)
    expected = 1
    for size, stride in sorted(
        (p for p in zip(t.shape, t.stride()) if p[0] != 1), key=lambda p: p[1]
    ):
        if stride != expected:
            return False
        expected *= size
    return True


def time_major(x: Tensor) -> bool:
    """Whether ``x``'s steps ``x[t]`` are dense blocks laid out one after another."""
    return (
        x.dim() > 1
        and x.numel() > 0
        and (x.is_contiguous() or (dense(x) and (x.shape[0] == 1 or x.stride(0) == x[0].numel())))
    )


def _dense_or_false(t: Tensor) -> bool:
    test = getattr(torch._prims_common, "is_non_overlapping_and_dense_or_false", None)
    return bool(test(t)) if test is not None else False


CONTIGUOUS, KEEP, CHANNELS_LAST = 0, 1, 2  # the layouts ``seq_like`` can give


def seq_like(x: Tensor, layout: int) -> Tensor:
    """An uninitialised ``[T, *]`` buffer in the fused path's layout for input ``x``:
    ``KEEP`` (or True): ``x``'s own strides if its steps are dense blocks; ``CHANNELS_LAST``:
    each step of a 5-D ``[T, B, C, H, W]`` channels-last (else as ``KEEP``); contiguous
    otherwise."""
    if layout == CHANNELS_LAST and x.dim() == 5:
        T, B, C, H, W = x.shape
        t = x.new_empty((T, B, H, W, C)).permute(0, 1, 4, 2, 3)
    elif layout and not x.is_contiguous() and time_major(x):
        t = torch.empty_like(x)
    else:
        t = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    if (
        t.device.type == "cpu"
        and not isinstance(t, torch._subclasses.FakeTensor)
        and t.nbytes >= 4 * _HUGE_PAGE
    ):
        _advise_huge_pages(t)  # see there
    return t


def step_like(seq: Tensor) -> Tensor:
    """An uninitialised one-step buffer laid out like a step of ``seq``."""
    return seq.new_empty_strided(seq.shape[1:], seq.stride()[1:])


def in_layout(t: Tensor, ref: Tensor) -> Tensor:
    """``t`` (``ref``'s shape) with ``ref``'s strides: itself, or a copy."""
    if t.stride() == ref.stride() or t.numel() == 0:
        return t
    return torch.empty_like(ref).copy_(t)


def flat_seq(t: Tensor) -> Tensor:
    """``[T, N]`` view of a time-major buffer, each row a step in memory order."""
    n = t[0].numel() if t.shape[0] else 0
    return t.as_strided((t.shape[0], n), (n, 1), t.storage_offset())


def flat_step(t: Tensor) -> Tensor:
    """``[N]`` view of a dense one-step buffer in memory order."""
    return t.as_strided((t.numel(),), (1,), t.storage_offset())


def _same(t: Tensor) -> Tensor:
    return t


def views(plan: Any) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """How a plan's kernels take sequences and steps: flat in memory order (elementwise
    plans), else as they are (contiguous, in the step shape the plan was traced with)."""
    if plan.flat:
        return flat_seq, flat_step
    return _same, _same


def initial(v0: Tensor | None, v_fill: float, seq: Tensor) -> Tensor:
    """The initial state in ``seq``'s step layout (the constant ``v_fill`` if ``v0`` is None)."""
    step = step_like(seq)
    return step.fill_(v_fill) if v0 is None else step.copy_(v0)
