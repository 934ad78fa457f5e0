"""A plan's forward and backward loops over whole ``[T, *]`` tensors, in a chosen layout.

The one implementation behind the eager autograd function (:mod:`snn_neurons.fused`) and the
``torch.compile`` operators (:mod:`snn_neurons._fused_op`): buffers are allocated in the
layout :func:`snn_neurons._layouts.seq_like` picks, inputs in another layout are copied into
it, and the plan's kernels see flat steps (elementwise plans) or the step shape.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from snn_neurons._layouts import in_layout, initial, seq_like, step_like, views


def _opt(view: Any, t: Tensor | None) -> Tensor | None:
    return None if t is None else view(t)


def run_forward(
    plan: Any,
    x: Tensor,
    v0: Tensor | None,
    v_fill: float | None,
    tensors: Any,
    layout: int,
    save_h: bool,
    save_v: bool,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """``(spikes, V[T-1], H or None, V or None)`` from ``x`` and the initial state ``v0``
    (``None``: the constant ``v_fill``), every sequence in the layout for ``x``."""
    spikes = seq_like(x, layout)
    h_seq = torch.empty_like(spikes) if save_h else None
    v_seq = torch.empty_like(spikes) if save_v else None
    v_last = step_like(spikes)
    v_in = initial(None, v_fill, spikes) if v0 is None else in_layout(v0, v_last)
    flat, flat1 = views(plan)
    out = plan.forward_loop(
        flat(in_layout(x, spikes)),
        flat1(v_in),
        tensors,
        flat(spikes),
        _opt(flat, h_seq),
        _opt(flat, v_seq),
    )
    flat1(v_last).copy_(out)
    return spikes, v_last, h_seq, v_seq


def run_backward(
    plan: Any,
    layout: int,
    x: Tensor | None,
    v0: Tensor | None,
    v_fill: float | None,
    seq: Tensor | None,
    tensors: Any,
    g_spikes: Tensor | None,
    g_v_last: Tensor | None,
    g_v_seq: Tensor | None,
    need_gx: bool,
    need_gv0: bool,
) -> tuple[Tensor | None, Tensor | None, list[Tensor | None]]:
    """``(gX or None, gV[-1] or None, [g_theta or None])`` of the forward above.

    ``seq`` is what the forward saved (H, or V when the plan reads values), or ``None`` to
    rerun the forward loop from ``x`` and ``v0`` / ``v_fill`` first (recompute). ``x`` and
    the initial state are needed when the plan reads values or recomputes; gradients given
    as ``None`` are zero.
    """
    flat, flat1 = views(plan)
    ref = seq if seq is not None else seq_like(x, layout)  # the forward's layout
    v_init = None
    if x is not None:
        x = in_layout(x, ref)
        v_init = initial(v0, v_fill, ref)
    if seq is None:  # recompute what backward reads (V or H)
        seq = ref
        out = (None, flat(seq)) if plan.needs_values else (flat(seq), None)
        plan.forward_loop(flat(x), flat1(v_init), tensors, None, *out)
    g_s = torch.zeros_like(ref) if g_spikes is None else in_layout(g_spikes, ref)
    g_v = step_like(ref)
    if g_v_last is None:
        g_v.zero_()
    else:
        g_v.copy_(g_v_last)
    g_x = torch.empty_like(ref) if need_gx else None
    needs_values = plan.needs_values
    gv, accs = plan.backward_loop(
        flat(x) if needs_values else None,
        flat1(v_init) if needs_values else None,
        flat(seq),
        tuple(tensors),
        flat(g_s),
        flat1(g_v).to(plan.cdtype),
        None if g_v_seq is None else flat(in_layout(g_v_seq, ref)),
        _opt(flat, g_x),
    )
    it = iter(accs)
    g_tensors = [
        next(it).view(t.shape).to(t.dtype) if m else None for t, m in zip(tensors, plan.grad_mask)
    ]
    g_v0 = None
    if need_gv0:
        g_v0 = step_like(ref)
        flat1(g_v0).copy_(gv)
    return g_x, g_v0, g_tensors
