"""The fused multi-step path as one opaque operator inside ``torch.compile`` graphs.

Under ``torch.compile``, a neuron's multi-step forward is recorded as one call of the
custom operator ``snn_neurons::fused_forward`` (and its backward as one call of
``snn_neurons::fused_backward``) instead of T unrolled single steps, so a network's graph
holds one node per neuron layer whatever T is: dynamo, AOTAutograd and inductor then have
far less to trace and compile. The operators run the same fused step loops as eager mode
(:mod:`snn_neurons.fused`); their fake implementations only give output shapes.

The neuron itself is not an operator input: a constant integer token, looked up in a
registry of live neurons (weak references), tells the operator whose dynamics to run, and
the neuron's parameters and buffers are passed as tensor inputs (so their gradients flow).
Differences from eager mode: the operator saves the input for backward unless the plans
already made for the neuron (by an earlier run, eager or compiled) show that backward reads
only the saved ``H`` (see :func:`snn_neurons.fused.saves_h_only`), and the initial state
unless it is the fresh constant, which the operator makes itself; eager mode saves only
what backward reads. Not saving the input also keeps it out of the forward graph's outputs,
where inductor cannot order the strides of a ``[T, B, C, N]`` view with a symbolic batch
size (a recompile after the batch size changed). The fused steps of a neuron configuration
are traced on the operator's first run. Inputs in any layout are accepted
(``flexible_layout``); see :mod:`snn_neurons._layouts` for the layouts the operators keep.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

import torch
from torch import Tensor

from snn_neurons import _layouts
from snn_neurons import fused as _fused
from snn_neurons._fused_run import run_backward, run_forward
from snn_neurons._layouts import seq_like, step_like

_TOKEN_OF: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_NEURON_OF: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_COUNTER = itertools.count(1)


@torch.compiler.assume_constant_result
def _token(neuron: Any) -> int:
    """The neuron's registry token (0: the fused path does not apply to it)."""
    if _fused.why_not_fused(neuron) is not None:
        return 0
    token = _TOKEN_OF.get(neuron)
    if token is None:
        token = next(_COUNTER)
        _TOKEN_OF[neuron] = token
        _NEURON_OF[token] = neuron
    return token


def _mask(bits: int, n: int) -> list[bool]:
    """The tensors that need gradients, from the bit mask the operators take."""
    return [bool(bits >> i & 1) for i in range(n)]


def _plan(token: int, x: Tensor, tensors: list[Tensor], grad_bits: int) -> Any:
    neuron = _NEURON_OF.get(token)
    if neuron is None:
        raise RuntimeError(
            "snn_neurons: a compiled graph calls the fused step of a neuron that no longer "
            "exists; compile the model again"
        )
    grad_mask = _mask(grad_bits, len(tensors))
    plan = _fused.plan_for(neuron, x, tuple(tensors), grad_mask, block=True)
    if plan is None:  # tracing failed (warned): _token said it was fusable, so a bug
        raise RuntimeError(f"snn_neurons: cannot trace the steps of {type(neuron).__name__}")
    return plan


@torch.library.custom_op(
    "snn_neurons::fused_forward", mutates_args=(), tags=(torch.Tag.flexible_layout,)
)
def fused_forward(
    x: Tensor,
    v0: Tensor | None,
    v_fill: float,
    tensors: list[Tensor],
    token: int,
    need_v_seq: bool,
    save: bool,
    recompute: bool,
    grad_bits: int,
    layout: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(spikes, V[T-1], V or empty, saved-for-backward (H or V) or empty)``; ``v0=None``:
    the fresh state ``v_fill``; bit i of ``grad_bits``: ``tensors[i]`` needs a gradient."""
    plan = _plan(token, x, tensors, grad_bits)
    keep = save and not recompute
    keep_v = need_v_seq or (keep and plan.needs_values)
    keep_h = keep and not plan.needs_values
    spikes, v_last, h_seq, v_seq = run_forward(plan, x, v0, v_fill, tensors, layout, keep_h, keep_v)
    empty = x.new_empty(0)
    if h_seq is not None:
        saved = h_seq
    elif keep:  # from values: V
        saved = v_seq.clone() if need_v_seq else v_seq
    else:
        saved = empty
    return spikes, v_last, (v_seq if need_v_seq else empty.clone()), saved


@fused_forward.register_fake
def _(x, v0, v_fill, tensors, token, need_v_seq, save, recompute, grad_bits, layout):
    seq = seq_like(x, layout)
    empty = x.new_empty(0)
    return (
        seq,
        step_like(seq),
        torch.empty_like(seq) if need_v_seq else empty,
        torch.empty_like(seq) if save and not recompute else empty.clone(),
    )


def _saved_seq(x: Tensor | None, saved: Tensor) -> Tensor | None:
    """What the forward saved for backward (H or V), or None to recompute it from ``x``
    (an empty ``saved``)."""
    return saved if x is None or saved.numel() or not x.numel() else None


@torch.library.custom_op(
    "snn_neurons::fused_backward", mutates_args=(), tags=(torch.Tag.flexible_layout,)
)
def fused_backward(
    x: Tensor | None,
    v0: Tensor | None,
    v_fill: float,
    saved: Tensor,
    tensors: list[Tensor],
    g_spikes: Tensor | None,
    g_v_last: Tensor | None,
    g_v_seq: Tensor | None,
    token: int,
    grad_bits: int,
    layout: int,
) -> list[Tensor]:
    """``[gX, gV[-1] (empty if v0 is None), *g_tensors]`` (zeros for the tensors that need
    no gradient); a gradient given as None is zero. ``x`` is None when the forward did not
    save it (``saved`` then holds H, which has ``x``'s shape, dtype and layout)."""
    plan = _plan(token, saved if x is None else x, tensors, grad_bits)
    if x is None and plan.needs_values:  # saves_h_only said otherwise when this was traced
        raise RuntimeError(
            "snn_neurons: the compiled graph did not save the input this neuron's backward "
            "reads; compile the model again"
        )
    g_x, g_v0, g_tensors = run_backward(
        plan,
        layout,
        x,
        v0,
        v_fill,
        _saved_seq(x, saved),
        tensors,
        g_spikes,
        g_v_last,
        g_v_seq,
        True,
        v0 is not None,
    )
    g_tensors = [torch.zeros_like(t) if g is None else g for g, t in zip(g_tensors, tensors)]
    if g_v0 is None:
        g_v0 = saved.new_empty(0)
    return [g_x, g_v0, *g_tensors]


@fused_backward.register_fake
def _(x, v0, v_fill, saved, tensors, g_spikes, g_v_last, g_v_seq, token, grad_bits, layout):
    seq = _saved_seq(x, saved)  # run_backward lays gX out like it, or like x's outputs
    g_x = seq_like(x, layout) if seq is None else torch.empty_like(seq)
    return [
        g_x,
        g_x.new_empty(0) if v0 is None else step_like(g_x),
        *(torch.empty_like(t) for t in tensors),
    ]


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    x, v0, v_fill, tensors, token, need_v_seq, save, recompute, grad_bits, layout = inputs
    ctx.set_materialize_grads(False)  # unused outputs' gradients stay None, not zeros
    ctx.token, ctx.need_v_seq, ctx.grad_bits = token, need_v_seq, grad_bits
    ctx.v_fill, ctx.layout, ctx.fresh = v_fill, layout, v0 is None
    ctx.grad_mask = _mask(grad_bits, len(tensors))
    neuron = _NEURON_OF.get(token)
    h_only = (
        save
        and not recompute
        and neuron is not None
        and _fused.saves_h_only(neuron, x.dtype, ctx.grad_mask)
    )
    ctx.save_for_backward(None if h_only else x, v0, output[3], *tensors)


def _backward(ctx: Any, g_spikes, g_v_last, g_v_seq, _g_saved) -> tuple[Any, ...]:
    x, v0, saved, *tensors = ctx.saved_tensors
    if not ctx.need_v_seq:
        g_v_seq = None
    grads = torch.ops.snn_neurons.fused_backward(
        x,
        None if ctx.fresh else v0,
        ctx.v_fill,
        saved,
        tensors,
        g_spikes,
        g_v_last,
        g_v_seq,
        ctx.token,
        ctx.grad_bits,
        ctx.layout,
    )
    g_x, g_v0, *g_tensors = grads
    g_tensors = [g if m else None for g, m in zip(g_tensors, ctx.grad_mask)]
    return g_x, (None if ctx.fresh else g_v0), None, g_tensors, None, None, None, None, None, None


fused_forward.register_autograd(_backward, setup_context=_setup_context)


def _cl_feature_maps(x_seq: Tensor) -> bool:
    """Whether to give ``[T, B, C, H, W]`` feature maps channels-last steps: inductor turns
    every convolution on CPU channels-last (``layout_optimization``), and the next layer of
    a feature map is usually one, so spikes in that layout need no conversion kernel before
    it, and its gradient arrives in the layout ``H`` was saved in."""
    if x_seq.dim() != 5 or x_seq.device.type != "cpu":
        return False
    from torch._inductor import config as inductor_config

    return bool(inductor_config.layout_optimization)


def compiled_multi_step(
    neuron: Any, x_seq: Tensor, v: Tensor, need_v_seq: bool
) -> tuple[Tensor, Tensor, Tensor | None] | Any:
    """The fused multi-step forward as traced by ``torch.compile`` (one operator call)."""
    token = _token(neuron)
    if token == 0:
        return NotImplemented
    tensors = [
        *(t for _, t in neuron.named_parameters(recurse=False)),
        *(t for _, t in neuron.named_buffers(recurse=False)),
    ]
    # A fresh state is the constant reset value: the operator makes it (no graph node).
    fill = getattr(neuron, "_v_init_fill", None)
    fresh = fill is not None and v is neuron.v and not v.requires_grad
    if v.dtype != x_seq.dtype:
        v = v.to(x_seq.dtype)
    grad_on = torch.is_grad_enabled() and (
        x_seq.requires_grad or v.requires_grad or any(t.requires_grad for t in tensors)
    )
    grad_bits = sum(1 << i for i, t in enumerate(tensors) if grad_on and t.requires_grad)
    recompute = getattr(neuron, "fused_recompute", None)
    recompute = _fused.settings.recompute if recompute is None else bool(recompute)
    layout = _layouts.CONTIGUOUS
    if all(t.numel() == 1 for t in tensors):  # elementwise steps: any layout will do
        layout = _layouts.CHANNELS_LAST if _cl_feature_maps(x_seq) else _layouts.KEEP
        if layout == _layouts.KEEP and not _layouts.time_major(x_seq):
            # decided here, once: with symbolic sizes "not known to be time-major" must
            # reach the operator as contiguous, which it then is for every size
            layout = _layouts.CONTIGUOUS
    spikes, v_last, v_seq, _ = fused_forward(
        x_seq,
        None if fresh else v,
        float(fill) if fresh else 0.0,
        tensors,
        token,
        need_v_seq,
        grad_on,
        recompute,
        grad_bits,
        layout,
    )
    return spikes, v_last, (v_seq if need_v_seq else None)
