r"""The fused multi-step ``torch`` path, derived from a neuron's single-step definition.

A :class:`~snn_neurons.BaseNode` defines its dynamics once, as the pure elementwise
functions ``charge(x, v)``, ``fire(h) = surrogate(h - V_th)`` and ``reset_potential(h, s)``.
This module turns that definition into one ``torch.autograd.Function`` over all T steps:

- **forward** loops over T once, one fused step kernel per step,
  ``(X[t], V[t-1]) -> (S[t], H[t], V[t])``, writing into preallocated ``[T, N, *]`` outputs;
- **saved for backward**: ``H`` only (``T x N`` in the input's dtype, 1x the input size): the
  spike is recomputed from ``H``, and for IF / LIF the charge's partial derivatives do not
  depend on the values of ``X`` and ``V``. When they do (PLIF: ``dH/dw`` reads
  ``X[t] - V[t-1]``), the input ``X`` itself (no copy), ``V`` (``T x N``) and the initial
  ``V[-1]`` are saved instead, and each backward step recomputes ``H[t]`` from them;
- **backward** is a hand-ordered reverse loop over T, one fused step kernel per step::

      gS*    = gS[t] + (dV[t]/dS[t])^T gV[t]      (second term dropped with detach_reset)
      gH     = (dV[t]/dH[t])^T gV[t] + gS* surrogate.derivative(H[t] - V_th)
      gX[t], gV[t-1], g_theta += vjp(charge at X[t], V[t-1], theta)(gH)

  with the vector-Jacobian products taken by ``torch.func.vjp`` of the neuron's own
  ``charge`` and ``reset_potential``; ``g_theta`` (learnable tensors ``charge`` reads, e.g.
  PLIF's ``w``) is summed over neurons and time. No derivative is written per neuron.

**Recompute.** With recompute on, forward saves only the input (no copy) and the initial
``V[-1]``, and backward reruns the forward loop first. Turn it on for all neurons with
``snn_neurons.fused.settings.recompute = True``, or for one with ``node.fused_recompute = True``
(``None``, the default, follows the global setting).

**Compilation.** Each step is traced once per neuron configuration (class, hyper-parameters,
surrogate, dtypes, which tensors need gradients) with ``make_fx`` into an aten graph that
writes its outputs in place, and the graph is compiled with ``torch.compile(dynamic=True)``:
one fused kernel per step, looped over T in Python, so a new T or N does not recompile and
inductor's on-disk cache serves later processes. If compiling fails (e.g. no C++ compiler)
one warning is issued and the same graphs run eagerly; ``settings.compile = False`` runs them
eagerly on purpose. Half-precision inputs are computed in float32 within a step and stored in
their own dtype (``H`` is rounded to that dtype before the spike is taken from it).

:func:`fused_multi_step` returns ``NotImplemented`` (the caller then runs the single-step
loop) when :func:`why_not_fused` gives a reason, inside ``torch.compile`` tracing (which then
fuses the loop itself) and under ``torch.func`` transforms.
"""

from __future__ import annotations

import concurrent.futures
import copy
import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from snn_core.surrogate import SurrogateFunctionBase
from torch import nn
from torch.autograd.function import once_differentiable
from torch.fx.experimental.proxy_tensor import make_fx

__all__ = ["FusedSettings", "settings", "fused_multi_step", "why_not_fused", "clear_cache"]


@dataclass
class FusedSettings:
    """Process-wide switches of the fused path (``snn_neurons.fused.settings``).

    Attributes:
        enabled: use the fused path (``False``: every neuron runs the single-step loop).
        recompute: save only the input and recompute the forward in backward (a neuron's
            ``fused_recompute`` attribute, if not ``None``, overrides this).
        compile: compile each step with ``torch.compile`` (``False``: run the steps eagerly).
    """

    enabled: bool = True
    recompute: bool = False
    compile: bool = True


settings = FusedSettings()

_HALF = (torch.float16, torch.bfloat16)
# Attributes that do not change a neuron's dynamics; left out of the cache key.
_BOOKKEEPING = frozenset(
    {"training", "_backend", "_step_mode", "store_v_seq", "fused_recompute", "_v_init_fill"}
)
_SIMPLE = (bool, int, float, str, type(None))
_FLAT_EXAMPLE = 8  # length of the 1-D example tensors the steps are traced with
_MAX_PLANS = 512

_compile_failure: str | None = None


def clear_cache() -> None:
    """Forget every traced and compiled step (they are rebuilt on next use)."""
    _PLANS.clear()


# --------------------------------------------------------------------------- eligibility
def _is_simple(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_simple(v) for v in value)
    return isinstance(value, _SIMPLE)


def why_not_fused(neuron: Any) -> str | None:
    """``None`` if the fused path can run ``neuron``, else a sentence saying why not."""
    from snn_neurons.base_node import BaseNode, SimpleBaseNode

    cls = type(neuron).__name__
    if not settings.enabled:
        return "the fused path is disabled (snn_neurons.fused.settings.enabled = False)"
    if type(neuron).fire is not SimpleBaseNode.fire:
        return f"{cls} overrides fire()"
    if type(neuron).loop_multi_step is not BaseNode.loop_multi_step:
        return f"{cls} overrides loop_multi_step(), the reference the fused path must equal"
    sg = neuron.surrogate_function
    if not sg.spiking:
        return "the surrogate function is not spiking (spiking=False)"
    if type(sg).spike_forward is not SurrogateFunctionBase.spike_forward:
        return f"{type(sg).__name__} replaces the Heaviside forward (spike_forward)"
    extra_state = sorted(set(dict(neuron.named_memories())) - {"v", "v_seq"})
    if extra_state:
        return f"{cls} keeps state besides v: {extra_state}"
    extra_modules = [name for name, _ in neuron.named_children() if name != "surrogate_function"]
    if extra_modules:
        return f"{cls} has submodules {extra_modules}"
    for name, value in vars(neuron).items():
        if isinstance(value, torch.Tensor):
            return f"{cls}.{name} is a tensor but not a parameter or buffer"
    return None


def _config_key(neuron: Any) -> tuple[Any, ...]:
    attrs = sorted(
        (k, v) for k, v in vars(neuron).items() if k not in _BOOKKEEPING and _is_simple(v)
    )
    sg = neuron.surrogate_function
    return (type(neuron), tuple(attrs), type(sg), sg.cache_key())


def _snapshot(neuron: Any) -> Any:
    """A private copy of ``neuron``'s configuration (no state, no hooks) to trace from."""
    proto = copy.copy(neuron)
    d = proto.__dict__
    d["_memories"], d["_memories_rv"] = {}, {}
    d["_parameters"] = dict(neuron._parameters)
    d["_buffers"] = dict(neuron._buffers)
    d["_modules"] = {k: copy.deepcopy(m) for k, m in neuron._modules.items()}
    for name, value in list(d.items()):
        if name.endswith("_hooks") and isinstance(value, dict):
            d[name] = type(value)()
    return proto


# --------------------------------------------------------------------------- kernels
class _NotFusable(Exception):
    """The definition cannot be turned into fused step graphs (the reason is the message)."""


def _in_fresh_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on a new thread: clear of the caller's thread-local autograd state
    (``saved_tensors_hooks``, ``no_grad``, ``inference_mode``), which ``torch.func.vjp``
    refuses or which would leak into the traced graphs."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def _trace(fn: Callable[..., None], examples: list[torch.Tensor]) -> torch.fx.GraphModule:
    """``fn`` as an aten graph with symbolic sizes; outputs are in-place ``copy_`` nodes."""

    def trace() -> torch.fx.GraphModule:
        gm = make_fx(fn, tracing_mode="symbolic")(*examples)
        gm.graph.eliminate_dead_code()
        gm.recompile()
        return gm

    return _in_fresh_thread(trace)


def _compile(gm: torch.fx.GraphModule, half: bool, device_type: str) -> Callable[..., Any]:
    """Compile one step graph with inductor, for any length of its (symbolic) sizes.

    On CPU the graph goes straight to inductor (no dynamo guards: the caller's cache key
    fixes dtypes and ranks, and every tensor is contiguous), which keeps the per-call
    overhead to a few microseconds; elsewhere ``torch.compile(dynamic=True)`` also guards
    pointer alignment.
    """
    from torch._inductor import config as inductor_config

    patches: dict[str, Any] = {"compile_threads": 1}
    if half:  # round H to its storage dtype exactly where the graph says so
        patches["emulate_precision_casts"] = True
    if device_type != "cpu":
        compiled = torch.compile(gm, dynamic=True, fullgraph=True, options=patches)
        return compiled
    from torch._inductor.compile_fx import compile_fx

    fakes = [node.meta["val"] for node in gm.graph.nodes if node.op == "placeholder"]
    with inductor_config.patch(patches):
        return compile_fx(gm, fakes)


def _kernel_tensors(tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The neuron's tensors as the step graphs take them: detached, at least 1-D."""
    return tuple(t.detach().reshape(1) if t.dim() == 0 else t.detach() for t in tensors)


class _Kernel:
    """One step graph: compiled on its first call (falling back to eager), or eager."""

    def __init__(self, trace: Callable[[], torch.fx.GraphModule], half: bool) -> None:
        self._trace = trace
        self._half = half
        self._fn: Callable[..., Any] | None = None

    def __call__(self, *args: torch.Tensor) -> None:
        if self._fn is None:
            self._fn = self._build(args)
        self._fn(*args)

    def _build(self, args: tuple[torch.Tensor, ...]) -> Callable[..., Any]:
        global _compile_failure
        if not settings.compile or _compile_failure is not None:
            return self._trace()
        probe = [a.detach().clone() for a in args]

        def build() -> Callable[..., Any]:
            compiled = _compile(self._trace(), self._half, args[0].device.type)
            with torch.no_grad():
                compiled(*probe)  # compile (torch.compile) and check on copies of the arguments
            return compiled

        try:
            return _in_fresh_thread(build)
        except Exception as err:  # no C++ compiler, no Triton, an inductor limitation...
            lines = str(err).strip().splitlines()
            _compile_failure = f"{type(err).__name__}: {lines[0] if lines else ''}"
            warnings.warn(
                "snn_neurons: compiling the fused steps failed, so they run eagerly (same "
                f"results, slower). Reason: {_compile_failure}. Set "
                "snn_neurons.fused.settings.compile = False to skip compiling.",
                RuntimeWarning,
                stacklevel=5,
            )
            return self._trace()


class _DefinitionCaller(nn.Module):
    """Calls ``neuron.charge`` or ``neuron.reset_potential`` as ``forward``, so that
    ``torch.func.functional_call`` can hand them the neuron's tensors as inputs."""

    def __init__(self, neuron: nn.Module) -> None:
        super().__init__()
        self.n = neuron

    def forward(self, which: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.n.charge(a, b) if which == "charge" else self.n.reset_potential(a, b)


class _Plan:
    """The step graphs of one neuron configuration, input dtype and step layout."""

    def __init__(
        self,
        neuron: Any,
        names: tuple[str, ...],
        tensors: tuple[torch.Tensor, ...],
        grad_mask: tuple[bool, ...],
        dtype: torch.dtype,
        flat: bool,
        step_shape: tuple[int, ...],
        device: torch.device,
    ) -> None:
        self.device = device
        self.proto = _snapshot(neuron)
        self.caller = _DefinitionCaller(self.proto)
        self.names = names
        # 0-dim tensors enter the graphs as shape (1,): symbolic tracing would make their
        # value a float symbol, which inductor then asks a (missing) dynamo to specialize.
        self.tensor_meta = tuple((tuple(t.shape) or (1,), t.dtype) for t in tensors)
        self.grad_mask = grad_mask
        self.grad_idx = [i for i, m in enumerate(grad_mask) if m]
        self.dtype = dtype
        self.cdtype = torch.float32 if dtype in _HALF else dtype
        self.flat = flat
        self.example_shape = (_FLAT_EXAMPLE,) if flat else step_shape
        self.vth = float(self.proto.v_threshold)
        self.detach_reset = bool(self.proto.detach_reset)
        self.sg = self.proto.surrogate_function
        self._kernels: dict[tuple[Any, ...], _Kernel] = {}
        self.needs_values = self._backward_reads_values()

    # ---- the single definition, in the compute dtype -----------------------------------
    def _cast(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.cdtype) if t.is_floating_point() else t

    def _call(self, which: str, a: torch.Tensor, b: torch.Tensor, tensors: Any) -> torch.Tensor:
        mapping = {"n." + name: t for name, t in zip(self.names, tensors)}
        return torch.func.functional_call(self.caller, mapping, (which, a, b)).to(self.cdtype)

    def _charge(self, x: torch.Tensor, v: torch.Tensor, tensors: Any) -> torch.Tensor:
        h = self._call("charge", x, v, tensors)
        # Round to the storage dtype, as H is saved, before the spike is taken from it.
        return h.to(self.dtype).to(self.cdtype) if self.dtype != self.cdtype else h

    def _fwd(self, x: torch.Tensor, v: torch.Tensor, tensors: Any) -> tuple[torch.Tensor, ...]:
        tensors = [self._cast(t) for t in tensors]
        h = self._charge(self._cast(x), self._cast(v), tensors)
        s = self.sg.spike_forward(h - self.vth)
        return s, h, self._call("reset", h, s, tensors)

    def _with_grad_tensors(self, tensors: Any, grad_tensors: Any) -> list[torch.Tensor]:
        full = list(tensors)
        for i, t in zip(self.grad_idx, grad_tensors):
            full[i] = t
        return full

    def _bwd(self, h, x, v, gs, gv, tensors) -> tuple[Any, Any, list[torch.Tensor]]:
        """``gX[t], gV[t-1], g_theta[t]`` of one step, by vjp of the definition."""
        grad_tensors = [tensors[i] for i in self.grad_idx]

        def reset_of(h_, s_, *gts):
            return self._call("reset", h_, s_, self._with_grad_tensors(tensors, gts))

        def charge_of(x_, v_, *gts):
            return self._charge(x_, v_, self._with_grad_tensors(tensors, gts))

        z = h - self.vth
        s = self.sg.spike_forward(z)
        _, reset_vjp = torch.func.vjp(reset_of, h, s, *grad_tensors)
        gh, gs_reset, *g_reset = reset_vjp(gv)
        if not self.detach_reset:
            gs = gs + gs_reset
        gh = gh + gs * self.sg.derivative(z)
        _, charge_vjp = torch.func.vjp(charge_of, x, v, *grad_tensors)
        gx, gv_prev, *g_charge = charge_vjp(gh.to(self.cdtype))
        return gx, gv_prev, [a + b for a, b in zip(g_reset, g_charge)]

    def _backward_reads_values(self) -> bool:
        """Whether a backward step reads the values of ``X[t]`` or ``V[t-1]``, not only H.

        Also checks that the definition reads no tensor but its inputs and the neuron's
        parameters and buffers (those would be frozen into the graphs as constants).
        """

        def probe(h, x, v, gs, gv, x_fwd, v_fwd, *tensors):
            tensors = [self._cast(t) for t in tensors]
            s, h2, v2 = self._fwd(x_fwd, v_fwd, tensors)
            gx, gv_prev, g_tensors = self._bwd(h, x, v, gs, gv, tensors)
            return (s, h2, v2, gx, gv_prev, *g_tensors)

        c = self.cdtype
        ex = [torch.zeros(self.example_shape, dtype=c, device=self.device) for _ in range(7)]
        ex += [torch.zeros(shape, dtype=dt, device=self.device) for shape, dt in self.tensor_meta]
        gm = _in_fresh_thread(lambda: make_fx(probe, tracing_mode="fake")(*ex))
        gm.graph.eliminate_dead_code()
        if any(node.op == "get_attr" for node in gm.graph.nodes):
            raise _NotFusable(
                "its charge or reset_potential reads a tensor that is neither an input nor "
                "a parameter or buffer of the neuron"
            )
        placeholders = [node for node in gm.graph.nodes if node.op == "placeholder"]
        return bool(placeholders[1].users or placeholders[2].users)

    # ---- traced, in-place step graphs ------------------------------------------------------
    def _kernel(self, key: tuple[Any, ...]) -> _Kernel:
        kernel = self._kernels.get(key)
        if kernel is None:
            fn, examples = self._fwd_fn(*key[1:]) if key[0] == "fwd" else self._bwd_fn(*key[1:])
            _trace(fn, examples)  # fail here, in forward, if the definition cannot be traced
            trace = functools.partial(_trace, fn, examples)
            kernel = self._kernels[key] = _Kernel(trace, self.dtype in _HALF)
        return kernel

    def _examples(self, kinds: str) -> list[torch.Tensor]:
        """Example tensors: ``d`` step in input dtype, ``c`` step in compute dtype."""
        dt = {"d": self.dtype, "c": self.cdtype}
        return [torch.zeros(self.example_shape, dtype=dt[k], device=self.device) for k in kinds]

    def _tensor_examples(self, acc: bool = False) -> list[torch.Tensor]:
        if acc:
            return self._accumulators()
        return [torch.zeros(shape, dtype=dt, device=self.device) for shape, dt in self.tensor_meta]

    def _accumulators(self) -> list[torch.Tensor]:
        """Zeroed gradient sums of the tensors that need one, in the compute dtype.

        At least 1-D, as the tensors (also: inductor in torch 2.13 drops an in-place update
        of a 0-dim float64 graph input that follows a reduction on CPU).
        """
        return [
            torch.zeros(shape, dtype=self.cdtype, device=self.device)
            for (shape, _), m in zip(self.tensor_meta, self.grad_mask)
            if m
        ]

    def _fwd_fn(self, save_h: bool, save_v: bool) -> tuple[Callable[..., None], list]:
        k = len(self.names)

        def step(x, v, *rest):
            tensors, outs = rest[:k], rest[k:]
            s, h, v_new = self._fwd(x, v, tensors)
            outs[0].copy_(s)
            outs[1].copy_(v_new)
            i = 2
            if save_h:
                outs[i].copy_(h)
                i += 1
            if save_v:
                outs[i].copy_(v_new)

        examples = self._examples("dd") + self._tensor_examples()
        examples += self._examples("dd" + "d" * save_h + "d" * save_v)
        return step, examples

    def _bwd_fn(self, has_gvseq: bool, need_gx: bool) -> tuple[Callable[..., None], list]:
        k = len(self.names)
        from_values = self.needs_values

        def step(*args):
            i = 2 if from_values else 1
            state, (gs, gv), args = args[:i], args[i : i + 2], args[i + 2 :]
            gv = gv + self._cast(args[0]) if has_gvseq else gv
            args = args[1:] if has_gvseq else args
            tensors, (gv_out, *outs) = args[:k], args[k:]
            tc = [self._cast(t) for t in tensors]
            if from_values:
                x, v = self._cast(state[0]), self._cast(state[1])
                h = self._charge(x, v, tc)
            else:  # the charge's vjp does not read X or V: H stands in for them
                h = x = v = self._cast(state[0])
            gx, gv_prev, g_tensors = self._bwd(h, x, v, self._cast(gs), gv, tc)
            gv_out.copy_(gv_prev)
            if need_gx:
                outs[0].copy_(gx)
                outs = outs[1:]
            for acc, g in zip(outs, g_tensors):
                acc.add_(g.reshape(acc.shape))

        state = "dd" if from_values else "d"
        examples = self._examples(state + "dc" + "d" * has_gvseq) + self._tensor_examples()
        examples += self._examples("c" + "d" * need_gx) + self._tensor_examples(acc=True)
        return step, examples

    # ---- loops over T ------------------------------------------------------------------------
    def forward_loop(
        self,
        x: torch.Tensor,
        v0: torch.Tensor,
        tensors: tuple[torch.Tensor, ...],
        spikes: torch.Tensor,
        h_seq: torch.Tensor | None,
        v_seq: torch.Tensor | None,
    ) -> torch.Tensor:
        """Run T fused forward steps; returns ``V[T-1]`` (a fresh tensor shaped like ``v0``)."""
        x, v0 = x.detach(), v0.detach()
        kernel = self._kernel(("fwd", h_seq is not None, v_seq is not None))
        flat = self._flat
        tensors = _kernel_tensors(tensors)
        carry = [torch.empty_like(v0), torch.empty_like(v0) if x.shape[0] > 1 else None]
        v = v0
        for t in range(x.shape[0]):
            out = carry[t % 2]
            args = [flat(x[t]), flat(v), *tensors, flat(spikes[t]), flat(out)]
            if h_seq is not None:
                args.append(flat(h_seq[t]))
            if v_seq is not None:
                args.append(flat(v_seq[t]))
            kernel(*args)
            v = out
        return v

    def backward_loop(
        self,
        x: torch.Tensor | None,
        v0: torch.Tensor | None,
        saved_seq: torch.Tensor,
        tensors: tuple[torch.Tensor, ...],
        g_spikes: torch.Tensor,
        g_v: torch.Tensor,
        g_v_seq: torch.Tensor | None,
        g_x: torch.Tensor | None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run T fused backward steps (``saved_seq`` is H, or V when ``needs_values``).

        Writes ``g_x`` in place; returns ``(gV[-1] in the compute dtype, [g_theta])``.
        """
        kernel = self._kernel(("bwd", g_v_seq is not None, g_x is not None))
        flat = self._flat
        tensors = _kernel_tensors(tensors)
        x = None if x is None else x.detach()
        v0 = None if v0 is None else v0.detach()
        accs = self._accumulators()
        steps = saved_seq.shape[0]
        carry = [torch.empty_like(g_v), torch.empty_like(g_v) if steps > 1 else None]
        gv = g_v
        for i, t in enumerate(reversed(range(steps))):
            if self.needs_values:
                state = [flat(x[t]), flat(saved_seq[t - 1] if t > 0 else v0)]
            else:
                state = [flat(saved_seq[t])]
            args = [*state, flat(g_spikes[t]), flat(gv)]
            if g_v_seq is not None:
                args.append(flat(g_v_seq[t]))
            out = carry[i % 2]
            args += [*tensors, flat(out)]
            if g_x is not None:
                args.append(flat(g_x[t]))
            kernel(*args, *accs)
            gv = out
        return gv, accs

    def _flat(self, t: torch.Tensor) -> torch.Tensor:
        return t.view(-1) if self.flat else t


_PLANS: dict[tuple[Any, ...], _Plan | None] = {}  # None: tracing failed, run the loop


# --------------------------------------------------------------------------- autograd
class _FusedFunction(torch.autograd.Function):
    """All T steps of a neuron: fused forward loop, hand-ordered reverse loop backward."""

    @staticmethod
    def forward(
        ctx: Any,
        plan: _Plan,
        recompute: bool,
        need_v_seq: bool,
        v_fill: float | None,
        x_seq: torch.Tensor,
        v_init: torch.Tensor,
        *tensors: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        ctx.set_materialize_grads(False)
        x = x_seq.contiguous()
        spikes = torch.empty_like(x)
        keep_v = need_v_seq or (plan.needs_values and not recompute)
        v_seq = torch.empty_like(x) if keep_v else None
        h_seq = torch.empty_like(x) if not (plan.needs_values or recompute) else None
        v_last = plan.forward_loop(x, v_init, tensors, spikes, h_seq, v_seq)
        ctx.plan, ctx.v_fill = plan, v_fill
        if v_fill is not None:
            v_init = None  # a constant: rebuilt in backward, not saved
        if plan.needs_values and v_seq is not None:
            ctx.mode = "values"  # X (the input, no copy), V[-1] and V
            ctx.save_for_backward(x_seq, v_init, v_seq, *tensors)
        elif h_seq is not None:
            ctx.mode = "h"  # H only
            ctx.save_for_backward(h_seq, *tensors)
        else:
            ctx.mode = "recompute"  # X (the input, no copy) and V[-1]
            ctx.save_for_backward(x_seq, v_init, *tensors)
        return spikes, v_last, (v_seq if need_v_seq else None)

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any,
        g_spikes: torch.Tensor | None,
        g_v_last: torch.Tensor | None,
        g_v_seq: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor | None, ...]:
        plan: _Plan = ctx.plan
        saved = ctx.saved_tensors
        if ctx.mode == "h":
            x = v0 = None
            seq, tensors = saved[0], saved[1:]
        else:
            x, v0 = saved[0].contiguous(), saved[1]
            seq, tensors = (saved[2], saved[3:]) if ctx.mode == "values" else (None, saved[2:])
            if ctx.v_fill is not None:
                v0 = torch.full(x.shape[1:], ctx.v_fill, dtype=x.dtype, device=x.device)
        if seq is None:
            # Recompute: rerun the forward loop for what backward reads (V or H).
            seq = torch.empty_like(x)
            scratch = torch.empty_like(x)  # spikes, thrown away
            if plan.needs_values:
                plan.forward_loop(x, v0, tensors, scratch, None, seq)
            else:
                plan.forward_loop(x, v0, tensors, scratch, seq, None)
            del scratch
        ref = seq
        step_shape = ref.shape[1:]
        cd = plan.cdtype
        g_spikes = torch.zeros_like(ref) if g_spikes is None else g_spikes.contiguous()
        if g_v_last is None:
            g_v = torch.zeros(step_shape, dtype=cd, device=ref.device)
        else:
            g_v = g_v_last.to(cd).contiguous()
        if g_v_seq is not None:
            g_v_seq = g_v_seq.contiguous()
        need_gx, need_gv0 = ctx.needs_input_grad[4], ctx.needs_input_grad[5]
        g_x = torch.empty_like(ref) if need_gx else None
        gv, accs = plan.backward_loop(x, v0, seq, tensors, g_spikes, g_v, g_v_seq, g_x)
        g_tensors: list[torch.Tensor | None] = []
        it = iter(accs)
        for t, m in zip(tensors, plan.grad_mask):
            g_tensors.append(next(it).view(t.shape).to(t.dtype) if m else None)
        g_v0 = gv.to(plan.dtype) if need_gv0 else None
        return (None, None, None, None, g_x, g_v0, *g_tensors)


# --------------------------------------------------------------------------- entry point
def _functorch_active() -> bool:
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(active()) if active is not None else False


def fused_multi_step(
    neuron: Any, x_seq: torch.Tensor, v: torch.Tensor, need_v_seq: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | Any:
    """Run ``neuron`` over ``x_seq`` (``[T, N, *]``) from state ``v`` on the fused path.

    Returns ``(spike_seq, v_last, v_seq or None)``, or ``NotImplemented`` where the fused
    path does not apply (see the module docstring).
    """
    if (
        torch.compiler.is_compiling()
        or torch.jit.is_tracing()
        or _functorch_active()
        or not x_seq.is_floating_point()
        or x_seq.shape[0] == 0
        or why_not_fused(neuron) is not None
    ):
        return NotImplemented
    # Set by BaseNode.multi_step_forward when v is the fresh (constant) state.
    fill = getattr(neuron, "_v_init_fill", None)
    v_fill = fill if fill is not None and v is neuron.v and not v.requires_grad else None
    named = [*neuron.named_parameters(recurse=False), *neuron.named_buffers(recurse=False)]
    names = tuple(name for name, _ in named)
    tensors = tuple(t for _, t in named)
    if v.dtype != x_seq.dtype:
        v = v.to(x_seq.dtype)
    grad_on = torch.is_grad_enabled() and (
        x_seq.requires_grad or v.requires_grad or any(t.requires_grad for t in tensors)
    )
    grad_mask = tuple(grad_on and t.requires_grad for t in tensors)
    flat = all(t.numel() == 1 for t in tensors)
    step_shape = tuple(x_seq.shape[1:])
    key = (
        _config_key(neuron),
        names,
        tuple((tuple(t.shape), t.dtype) for t in tensors),
        grad_mask,
        x_seq.dtype,
        x_seq.device.type,
        None if flat else step_shape,
    )
    if key in _PLANS:
        plan = _PLANS[key]
    else:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.pop(next(iter(_PLANS)))
        try:
            plan = _Plan(
                neuron, names, tensors, grad_mask, x_seq.dtype, flat, step_shape, x_seq.device
            )
        except Exception as err:  # the definition cannot be traced: run the loop instead
            plan = None
            warnings.warn(
                f"snn_neurons: {type(neuron).__name__} runs the single-step loop, not the fused "
                f"path: {err if isinstance(err, _NotFusable) else repr(err)}",
                RuntimeWarning,
                stacklevel=4,
            )
        _PLANS[key] = plan
    if plan is None:
        return NotImplemented
    v = v.contiguous()
    if grad_on:
        recompute = getattr(neuron, "fused_recompute", None)
        recompute = settings.recompute if recompute is None else bool(recompute)
        return _FusedFunction.apply(plan, recompute, need_v_seq, v_fill, x_seq, v, *tensors)
    with torch.no_grad():
        x = x_seq.contiguous()
        spikes = torch.empty_like(x)
        v_seq = torch.empty_like(x) if need_v_seq else None
        v_last = plan.forward_loop(x, v, tensors, spikes, None, v_seq)
    return spikes, v_last, v_seq
