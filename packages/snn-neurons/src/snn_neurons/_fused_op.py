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
Differences from eager mode: the operator always saves the input and the initial state for
backward (eager mode saves only what backward reads), and the fused steps of a neuron
configuration are traced on the operator's first run.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

import torch
from torch import Tensor

from snn_neurons import fused as _fused
from snn_neurons._fused_steps import _empty_like

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


def _plan(token: int, x: Tensor, tensors: list[Tensor], grad_mask: list[bool]) -> Any:
    neuron = _NEURON_OF.get(token)
    if neuron is None:
        raise RuntimeError(
            "snn_neurons: a compiled graph calls the fused step of a neuron that no longer "
            "exists; compile the model again"
        )
    plan = _fused.plan_for(neuron, x, tuple(tensors), grad_mask, block=True)
    if plan is None:  # tracing failed (warned): _token said it was fusable, so a bug
        raise RuntimeError(f"snn_neurons: cannot trace the steps of {type(neuron).__name__}")
    return plan


@torch.library.custom_op("snn_neurons::fused_forward", mutates_args=())
def fused_forward(
    x: Tensor,
    v0: Tensor,
    tensors: list[Tensor],
    token: int,
    need_v_seq: bool,
    save: bool,
    recompute: bool,
    grad_bits: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(spikes, V[T-1], V or empty, saved-for-backward (H or V) or empty)``; bit i of
    ``grad_bits``: ``tensors[i]`` needs a gradient."""
    plan = _plan(token, x, tensors, _mask(grad_bits, len(tensors)))
    x = x.contiguous()
    spikes = _empty_like(x)
    from_values = plan.needs_values
    keep = save and not recompute
    v_seq = _empty_like(x) if need_v_seq or (keep and from_values) else None
    h_seq = _empty_like(x) if keep and not from_values else None
    v_last = plan.forward_loop(x, v0.contiguous(), tensors, spikes, h_seq, v_seq)
    empty = x.new_empty(0)
    if h_seq is not None:
        saved = h_seq
    elif keep:  # from values: V
        saved = v_seq.clone() if need_v_seq else v_seq
    else:
        saved = empty
    return spikes, v_last, (v_seq if need_v_seq else empty.clone()), saved


@fused_forward.register_fake
def _(x, v0, tensors, token, need_v_seq, save, recompute, grad_bits):
    seq = torch.empty_like(x, memory_format=torch.contiguous_format)
    empty = x.new_empty(0)
    return (
        seq,
        torch.empty_like(v0, memory_format=torch.contiguous_format),
        torch.empty_like(seq) if need_v_seq else empty,
        torch.empty_like(seq) if save and not recompute else empty.clone(),
    )


@torch.library.custom_op("snn_neurons::fused_backward", mutates_args=())
def fused_backward(
    x: Tensor,
    v0: Tensor,
    saved: Tensor,
    tensors: list[Tensor],
    g_spikes: Tensor,
    g_v_last: Tensor,
    g_v_seq: Tensor | None,
    token: int,
    grad_bits: int,
) -> list[Tensor]:
    """``[gX, gV[-1], *g_tensors]`` (zeros for the tensors that need no gradient)."""
    grad_mask = _mask(grad_bits, len(tensors))
    plan = _plan(token, x, tensors, grad_mask)
    x, v0 = x.contiguous(), v0.contiguous()
    seq = saved
    if seq.numel() == 0 and x.numel() != 0:  # recompute: rerun the forward loop
        seq = _empty_like(x)
        if plan.needs_values:
            plan.forward_loop(x, v0, tensors, None, None, seq)
        else:
            plan.forward_loop(x, v0, tensors, None, seq, None)
    g_v = g_v_last.to(plan.cdtype).contiguous()
    g_x = _empty_like(x)
    gv, accs = plan.backward_loop(
        x if plan.needs_values else None,
        v0 if plan.needs_values else None,
        seq,
        tuple(tensors),
        g_spikes.contiguous(),
        g_v,
        None if g_v_seq is None else g_v_seq.contiguous(),
        g_x,
    )
    it = iter(accs)
    g_tensors = [
        next(it).view(t.shape).to(t.dtype) if m else torch.zeros_like(t)
        for t, m in zip(tensors, grad_mask)
    ]
    return [g_x, gv.to(x.dtype), *g_tensors]


@fused_backward.register_fake
def _(x, v0, saved, tensors, g_spikes, g_v_last, g_v_seq, token, grad_bits):
    return [
        torch.empty_like(x, memory_format=torch.contiguous_format),
        torch.empty_like(v0, memory_format=torch.contiguous_format),
        *(torch.empty_like(t) for t in tensors),
    ]


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    x, v0, tensors, token, need_v_seq, _save, _recompute, grad_bits = inputs
    ctx.token, ctx.need_v_seq, ctx.grad_bits = token, need_v_seq, grad_bits
    ctx.grad_mask = _mask(grad_bits, len(tensors))
    ctx.save_for_backward(x, v0, output[3], *tensors)


def _backward(ctx: Any, g_spikes, g_v_last, g_v_seq, _g_saved) -> tuple[Any, ...]:
    x, v0, saved, *tensors = ctx.saved_tensors
    if g_spikes is None:
        g_spikes = torch.zeros_like(x)
    if g_v_last is None:
        g_v_last = torch.zeros_like(v0)
    if not ctx.need_v_seq:
        g_v_seq = None
    grads = torch.ops.snn_neurons.fused_backward(
        x, v0, saved, tensors, g_spikes, g_v_last, g_v_seq, ctx.token, ctx.grad_bits
    )
    g_x, g_v0, *g_tensors = grads
    g_tensors = [g if m else None for g, m in zip(g_tensors, ctx.grad_mask)]
    return g_x, g_v0, g_tensors, None, None, None, None, None


fused_forward.register_autograd(_backward, setup_context=_setup_context)


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
    if v.dtype != x_seq.dtype:
        v = v.to(x_seq.dtype)
    grad_on = torch.is_grad_enabled() and (
        x_seq.requires_grad or v.requires_grad or any(t.requires_grad for t in tensors)
    )
    grad_bits = sum(1 << i for i, t in enumerate(tensors) if grad_on and t.requires_grad)
    recompute = getattr(neuron, "fused_recompute", None)
    recompute = _fused.settings.recompute if recompute is None else bool(recompute)
    spikes, v_last, v_seq, _ = fused_forward(
        x_seq, v, tensors, token, need_v_seq, grad_on, recompute, grad_bits
    )
    return spikes, v_last, (v_seq if need_v_seq else None)
