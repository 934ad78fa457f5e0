"""Run generated kernels over all T steps as one differentiable torch op.

:class:`StepProgram` holds a traced :class:`~snn_neurons.kernels.ir.StepGraph` and a
compiler (Triton or CuPy). :meth:`StepProgram.run` takes flattened tensors (sequences
``[T, N]``, initial states ``[N]``, one-element parameters) and returns the output
sequences and the states (``[T, N]`` sequences or ``[N]`` last values). Forward saves what
the backward kernel needs (see :mod:`snn_neurons.kernels.partition`); backward launches one
kernel that walks ``t`` from ``T - 1`` to 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from snn_neurons.kernels.cache import MemoryCache
from snn_neurons.kernels.ir import StepGraph
from snn_neurons.kernels.layout import KernelLayout, backward_layout, forward_layout
from snn_neurons.kernels.partition import Plan, make_plan

__all__ = ["StepProgram", "STORAGE_DTYPES"]

STORAGE_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


class StepProgram:
    """A step graph with its generated forward / backward kernels for one compiler.

    Args:
        graph: the traced step (see :func:`~snn_neurons.kernels.trace.trace_step`).
        compiler: a :class:`~snn_neurons.kernels.compilers.TritonCompiler`,
            :class:`~snn_neurons.kernels.compilers.CupyCompiler` or compatible object.
        grad_allowed: per argument ``[*inputs, *states, *params]``, whether gradients may
            flow to it (``False`` treats it as a constant); all ``True`` by default.
    """

    def __init__(
        self, graph: StepGraph, compiler: Any, grad_allowed: Sequence[bool] | None = None
    ) -> None:
        n_args = graph.num_inputs + graph.num_states + graph.num_params
        if graph.num_inputs < 1:
            raise ValueError("generated kernels need at least one input sequence (num_inputs >= 1)")
        self.graph = graph
        self.compiler = compiler
        self.grad_allowed = tuple(grad_allowed) if grad_allowed is not None else (True,) * n_args
        if len(self.grad_allowed) != n_args:
            raise ValueError(
                f"grad_allowed needs one bool per argument ({n_args}), got {len(self.grad_allowed)}"
            )
        self._plans = MemoryCache()
        self._kernels = MemoryCache()

    def plan(self, slots: tuple[tuple[str, int], ...]) -> Plan:
        return self._plans.get(slots, lambda: make_plan(self.graph, slots))

    def layout_kernel(
        self, layout: KernelLayout, dtypes: dict[str, torch.dtype], device: Any
    ) -> Any:
        key = (
            layout.direction,
            layout.plan.grad_slots,
            layout.state_seq,
            layout.tangents,
            tuple(a.name for a in layout.args),
            tuple(sorted((k, str(v)) for k, v in dtypes.items())),
            device.type,
        )
        return self._kernels.get(key, lambda: self.compiler.kernel(layout, dtypes))

    def grad_slots(self, tensors: Sequence[torch.Tensor]) -> tuple[tuple[str, int], ...]:
        """The gradients the backward kernel must produce for these arguments."""
        g = self.graph
        if not torch.is_grad_enabled():
            return ()
        kinds = [("seq", i) for i in range(g.num_inputs)]
        kinds += [("state", j) for j in range(g.num_states)]
        kinds += [("param", p) for p in range(g.num_params)]
        wanted = [
            k for k, t, ok in zip(kinds, tensors, self.grad_allowed) if ok and t.requires_grad
        ]
        if not wanted:
            return ()
        # every state's gradient is needed to carry gradients back through time
        states = [("state", j) for j in range(g.num_states)]
        return tuple(k for k in kinds if k in wanted or k in states)

    def run(
        self,
        inputs: Sequence[torch.Tensor],
        inits: Sequence[torch.Tensor],
        params: Sequence[torch.Tensor],
        state_seq: Sequence[bool],
    ) -> list[torch.Tensor]:
        """``[*outputs, *states]``: outputs ``[T, N]``; states ``[T, N]`` or ``[N]``.

        A state is a whole sequence where ``state_seq`` says so, else its last value.
        """
        tensors = [*inputs, *inits, *params]
        slots = self.grad_slots(tensors)
        return list(_GeneratedStep.apply(self, tuple(bool(s) for s in state_seq), slots, *tensors))


def _dtypes(layout: KernelLayout, tensors: Sequence[torch.Tensor]) -> dict[str, torch.dtype]:
    return {a.name: t.dtype for a, t in zip(layout.args, tensors)}


class _GeneratedStep(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        prog: StepProgram,
        state_seq: tuple[bool, ...],
        slots: tuple[tuple[str, int], ...],
        *tensors: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        g = prog.graph
        ni, ns = g.num_inputs, g.num_states
        inputs, inits, params = tensors[:ni], tensors[ni : ni + ns], tensors[ni + ns :]
        T, N = inputs[0].shape
        device = inputs[0].device
        training = bool(slots)
        plan = prog.plan(slots)
        layout = forward_layout(plan, state_seq, save=training)
        out_dtype = inputs[0].dtype
        rand = [torch.rand(T, N, device=device, dtype=torch.float32) for _ in range(g.num_rand)]
        outs = [torch.empty(T, N, device=device, dtype=out_dtype) for _ in range(g.num_outputs)]
        states = [
            torch.empty(*((T, N) if state_seq[j] else (N,)), device=device, dtype=inits[j].dtype)
            for j in range(ns)
        ]
        stored = [
            torch.empty(T, N, device=device, dtype=torch.float32) for _ in layout.stored_saved()
        ]
        args = [*inputs, *rand, *inits, *params, *outs, *states, *stored]
        if N > 0:
            prog.layout_kernel(layout, _dtypes(layout, args), device)(args, N, T)
        if training:
            saved, k = [], 0
            for node in plan.saved:
                src = plan.saved_source(node)
                if src is None:
                    saved.append(stored[k])
                    k += 1
                else:
                    saved.append(inputs[src[1]] if src[0] == "seq" else rand[src[1]])
            ctx.save_for_backward(*saved, *params)
            ctx.meta = (prog, plan, state_seq, slots, T, N, device)
            ctx.arg_dtypes = ([t.dtype for t in inputs], [t.dtype for t in inits])
            ctx.set_materialize_grads(False)
        return (*outs, *states)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        prog, plan, state_seq, slots, T, N, device = ctx.meta
        g = prog.graph
        ni, ns, npar = g.num_inputs, g.num_states, g.num_params
        none = (None,) * (3 + ni + ns + npar)
        if not slots or all(x is None for x in grads):
            return none
        saved_all = ctx.saved_tensors
        saved, params = saved_all[: len(plan.saved)], saved_all[len(plan.saved) :]
        in_dtypes, init_dtypes = ctx.arg_dtypes
        tangents = tuple(x is not None for x in grads)
        layout = backward_layout(plan, state_seq, tangents)
        present = [x.contiguous() for x in grads if x is not None]
        results: dict[tuple[str, int], torch.Tensor] = {}
        outputs = []
        for kind, idx in plan.grad_slots:
            if kind == "seq":
                t = torch.empty(T, N, device=device, dtype=in_dtypes[idx])
            elif kind == "state":
                t = torch.empty(N, device=device, dtype=init_dtypes[idx])
            else:
                size = prog.compiler.partial_size(N, device)
                t = torch.zeros(size, device=device, dtype=torch.float32)
            results[(kind, idx)] = t
            outputs.append(t)
        args = [*saved, *params, *present, *outputs]
        if N > 0:
            prog.layout_kernel(layout, _dtypes(layout, args), device)(args, N, T)
        grad_in: list[torch.Tensor | None] = []
        for i in range(ni):
            grad_in.append(results.get(("seq", i)) if ("seq", i) in slots else None)
        for j in range(ns):
            grad_in.append(results[("state", j)] if _wants(slots, prog, ni + j) else None)
        for p in range(npar):
            r = results.get(("param", p))
            grad_in.append(
                None if r is None else r.sum().reshape(params[p].shape).to(params[p].dtype)
            )
        return (None, None, None, *grad_in)


def _wants(slots: tuple[tuple[str, int], ...], prog: StepProgram, arg: int) -> bool:
    return ("state", arg - prog.graph.num_inputs) in slots and prog.grad_allowed[arg]
