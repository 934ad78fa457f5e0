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
  ``charge`` and ``reset_potential`` (whose own parameters also get gradients);
  ``g_theta`` (the neuron's parameters, e.g. PLIF's ``w``) is summed over neurons and time.
  No derivative is written per neuron.

**Recompute.** With recompute on, forward saves only the input (no copy) and the initial
``V[-1]``, and backward reruns the forward loop first. (``V[-1]`` is never saved when it is
the fresh reset value, as after ``reset()``.) Turn it on for all neurons with
``snn_neurons.fused.settings.recompute = True``, or for one with ``node.fused_recompute = True``
(``None``, the default, follows the global setting).

**Compilation.** Each step is traced once per neuron configuration (class, hyper-parameters,
surrogate, dtypes, which tensors need gradients) with ``make_fx`` into an aten graph with
symbolic sizes that writes its outputs in place (:mod:`snn_neurons._fused_steps`), and
inductor compiles that graph (on CPU directly, without dynamo guards; elsewhere through
``torch.compile(dynamic=True)``): one fused kernel per step, looped over T in Python, so a
new T or N does not recompile, and inductor's on-disk cache serves later processes. If
compiling fails (e.g. no C++ compiler), one warning is issued and the same graphs run
eagerly. Half-precision inputs are computed in float32 within a step and stored in their
own dtype (``H`` is rounded to that dtype before the spike is taken from it).

**Tiers** (``settings.compile``). Tracing and inductor's start-up take seconds (about 12 s
with empty caches, 3.4 s with warm ones, on 2 cores; 17 s when inductor's precompiled
header must be built too), so by default (``"deferred"``) a
configuration runs the single-step loop, importing no compiler, until it has been in use for
``settings.compile_after`` seconds (2 s by default, counted from its first call): a short
script never waits for a compiler, and a long run pays the compile once, when it pays off.
The call that crosses that time traces and compiles the steps (on a fresh thread,
:mod:`snn_neurons._compile_worker`, while the caller waits: ``torch.fx`` tracing patches
``nn.Module`` process-wide, so it must not overlap the caller's own module calls) and runs
them; later calls run the compiled steps. Every tier computes the same values. ``True``
traces and compiles on the first call; ``False`` runs the traced steps eagerly.

**Layouts.** Neurons whose tensors are all scalars keep an input whose time steps are dense
blocks (channels-last, token-major views) in its own layout: no copy in, outputs and
gradients with the input's strides (:mod:`snn_neurons._layouts`); other inputs go through
contiguous buffers.

**torch.compile.** Inside ``torch.compile`` tracing, the fused path is recorded as one opaque
operator per neuron layer (:mod:`snn_neurons._fused_op`), not T unrolled steps. It returns
``NotImplemented`` (the caller then runs the single-step loop) when :func:`why_not_fused`
gives a reason, under ``torch.jit`` tracing and under ``torch.func`` transforms.
"""

from __future__ import annotations

import contextlib
import time
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.modules.module as _module
from snn_core.surrogate import SurrogateFunctionBase
from torch.autograd.function import once_differentiable
from torch.utils._python_dispatch import _disable_current_modes, _get_current_dispatch_mode_stack

from snn_neurons import _compile_worker
from snn_neurons._fused_run import run_backward, run_forward
from snn_neurons._fused_steps import _NotFusable, _Plan, _snapshot

__all__ = [
    "FusedSettings",
    "settings",
    "fused_multi_step",
    "why_not_fused",
    "clear_cache",
    "wait_for_compile",
]


@dataclass
class FusedSettings:
    """Process-wide switches of the fused path (``snn_neurons.fused.settings``).

    Attributes:
        enabled: use the fused path (``False``: every neuron runs the single-step loop).
        recompute: save only the input and recompute the forward in backward (a neuron's
            ``fused_recompute`` attribute, if not ``None``, overrides this).
        compile: ``"deferred"`` (default): a configuration runs the single-step loop and
            compiles nothing until ``compile_after`` seconds have passed since its first
            call; the next call then traces and compiles the fused steps (results are equal
            either way); ``True``: trace and compile on the first call; ``False``: trace on
            the first call and run the traced steps eagerly.
        compile_after: seconds a configuration runs the loop before ``"deferred"`` compiles
            its fused steps (``0``: on its second call).
    """

    enabled: bool = True
    recompute: bool = False
    compile: bool | str = "deferred"
    compile_after: float = 2.0

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "compile" and value not in (True, False, "deferred"):
            raise ValueError(
                f"snn_neurons.fused.settings.compile must be True, False or 'deferred', "
                f"got {value!r}"
            )
        if name == "compile_after" and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0
        ):
            raise ValueError(
                "snn_neurons.fused.settings.compile_after must be a number of seconds >= 0, "
                f"got {value!r}"
            )
        super().__setattr__(name, value)


settings = FusedSettings()

# Attributes that do not change a neuron's dynamics; left out of the cache key.
_BOOKKEEPING = frozenset(
    {"training", "_backend", "_step_mode", "store_v_seq", "fused_recompute", "_v_init_fill"}
)
_SIMPLE = (bool, int, float, str, type(None))
_MAX_PLANS = 512


def clear_cache() -> None:
    """Forget every traced and compiled step (they are rebuilt on next use)."""
    _compile_worker.wait()
    _PLANS.clear()
    _CALL_SITES.clear()
    _PENDING.clear()
    _SEEN.clear()


def wait_for_compile(timeout: float | None = None) -> bool:
    """Block until pending compiles of the fused path are done (``False`` if ``timeout``
    seconds ran out first). Compiles currently run while their caller waits, so this
    returns at once; scripts that time a neuron can call it after its first calls.
    """
    return _compile_worker.wait(timeout)


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
    """The neuron's configuration as a plan key, reused while nothing in its (or its
    surrogate's) attributes changed: a cheap check on every call instead of a rebuild."""
    sg = neuron.surrogate_function
    stamp = (type(neuron), sg, tuple(vars(neuron).values()), tuple(vars(sg).values()))
    hit = _CONFIG_KEYS.get(neuron)
    if hit is not None:
        try:
            if hit[0] == stamp:
                return hit[1]
        except (RuntimeError, TypeError, ValueError):  # e.g. a new tensor attribute
            pass
    attrs = sorted(
        (k, v) for k, v in vars(neuron).items() if k not in _BOOKKEEPING and _is_simple(v)
    )
    key = (type(neuron), tuple(attrs), type(sg), sg.cache_key())
    _CONFIG_KEYS[neuron] = (stamp, key)
    return key


_CONFIG_KEYS: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()


_PLANS: dict[tuple[Any, ...], _Plan | None] = {}  # None: tracing failed, run the loop
# per neuron: call site (dtypes, shapes, grad mask, mode) -> (config key, plan), see plan_for
_CALL_SITES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary()
)
_PENDING: set[tuple[Any, ...]] = set()  # keys whose plan is being built
_SEEN: dict[tuple[Any, ...], float] = {}  # key -> time of its first call (deferred tier)


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
        keep_v = need_v_seq or (plan.needs_values and not recompute)
        keep_h = not (plan.needs_values or recompute)
        spikes, v_last, h_seq, v_seq = run_forward(
            plan, x_seq, v_init, None, tensors, plan.flat, keep_h, keep_v
        )
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
            x, v0 = saved[0], saved[1]
            seq, tensors = (saved[2], saved[3:]) if ctx.mode == "values" else (None, saved[2:])
        g_x, g_v0, g_tensors = run_backward(
            plan,
            plan.flat,
            x,
            v0,
            ctx.v_fill,
            seq,
            tensors,
            g_spikes,
            g_v_last,
            g_v_seq,
            ctx.needs_input_grad[4],
            ctx.needs_input_grad[5],
        )
        return (None, None, None, None, g_x, g_v0, *g_tensors)


# --------------------------------------------------------------------------- entry point
def _user_dispatch_mode_active() -> bool:
    """Whether a dispatch mode from outside torch (an operation counter such as
    ``snn_core.op_counter``'s) is active that counts inside neurons: it sees the single-step
    loop, the neuron's own definition step by step, as the reference framework's torch
    backend runs it. A mode whose ``neuron_steps_visible`` is ``False`` (the papers' energy
    convention, which counts synaptic operations only) leaves the fused path on."""
    return any(
        not type(mode).__module__.startswith("torch.")
        and getattr(mode, "neuron_steps_visible", True)
        for mode in _get_current_dispatch_mode_stack()
    )


def _functorch_active() -> bool:
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(active()) if active is not None else False


@contextlib.contextmanager
def _no_global_module_hooks() -> Iterator[None]:
    """Set aside the hooks registered for every module (``register_module_forward_hook``
    and friends) while the neuron's steps are traced; they are put back afterwards."""
    names = [n for n in dir(_module) if n.startswith("_global_") and n.endswith("hooks")]
    saved = {n: getattr(_module, n) for n in names}
    for n, hooks in saved.items():
        setattr(_module, n, type(hooks)())
    try:
        yield
    finally:
        for n, hooks in saved.items():
            setattr(_module, n, hooks)


def _make_plan(neuron: Any, args: tuple[Any, ...]) -> _Plan | None:
    """Trace ``neuron``'s steps (``None``, with a warning, if its definition cannot be)."""
    try:
        # A dispatch mode or global module hooks active at the first call (an operation counter,
        # a module tracker) must not see, nor break, the tracing: the plan is the neuron's
        # definition, not this call's work.
        with _disable_current_modes(), _no_global_module_hooks():
            return _Plan(neuron, *args)
    except Exception as err:  # the definition cannot be traced: run the loop instead
        warnings.warn(
            f"snn_neurons: {type(neuron).__name__} runs the single-step loop, not the fused "
            f"path: {err if isinstance(err, _NotFusable) else repr(err)}",
            RuntimeWarning,
            stacklevel=5,
        )
        return None


def _store(key: tuple[Any, ...], plan: _Plan | None) -> None:
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.pop(next(iter(_PLANS)))
    _PLANS[key] = plan


def _remember(neuron: Any, site: tuple[Any, ...], config: Any, plan: Any) -> Any:
    sites = _CALL_SITES.get(neuron)
    if sites is None:
        sites = _CALL_SITES[neuron] = {}
    elif len(sites) >= 8:  # a few shapes per neuron at most in practice
        sites.clear()
    sites[site] = (config, plan)
    return plan


def saves_h_only(neuron: Any, dtype: torch.dtype, grad_mask: Any) -> bool:
    """Whether the plans made so far for ``neuron`` on ``dtype`` with this gradient mask
    save ``H`` for backward and never read the input or ``V`` (False while none was made)."""
    sites = _CALL_SITES.get(neuron) or {}
    plans = [
        plan
        for site, (_, plan) in sites.items()
        if site[0] == dtype and site[3] == tuple(grad_mask) and isinstance(plan, _Plan)
    ]
    return bool(plans) and not any(p.needs_values for p in plans)


def plan_for(
    neuron: Any, x_seq: torch.Tensor, tensors: tuple[torch.Tensor, ...], grad_mask: Any, **opts: Any
) -> _Plan | None | Any:
    """The plan of ``neuron`` on ``x_seq``'s dtype and layout; ``None`` if it cannot be
    traced; ``NotImplemented`` on its first call (``opts``: the call's
    ``grad``, ``recompute``, ``need_v_seq`` and ``need_gx``, or ``block=True``)."""
    mode = settings.compile
    config = _config_key(neuron)
    # the call site's last plan, while the configuration key (the same object while the
    # neuron's attributes are unchanged) and the tensors' layout are those it was made for
    site = (
        x_seq.dtype,
        x_seq.device,
        x_seq.shape[1:],
        tuple(grad_mask),
        tuple((t.dtype, t.shape) for t in tensors),
        mode,
    )
    sites = _CALL_SITES.get(neuron)
    hit = None if sites is None else sites.get(site)
    if hit is not None and hit[0] is config:
        return hit[1]
    named = [*neuron.named_parameters(recurse=False), *neuron.named_buffers(recurse=False)]
    names = tuple(name for name, _ in named)
    flat = all(t.numel() == 1 for t in tensors)
    step_shape = tuple(x_seq.shape[1:])
    key = (
        config,
        names,
        tuple((tuple(t.shape), t.dtype) for t in tensors),
        tuple(grad_mask),
        x_seq.dtype,
        str(x_seq.device),
        None if flat else step_shape,
        mode,
    )
    if key in _PLANS:
        return _remember(neuron, site, config, _PLANS[key])
    args = (names, tensors, tuple(grad_mask), x_seq.dtype, flat, step_shape, x_seq.device, mode)
    if mode != "deferred" or opts.get("block"):
        plan = _make_plan(neuron, args)
        _store(key, plan)
        return _remember(neuron, site, config, plan)
    first = _SEEN.get(key)
    if first is None:  # the loop only, no compile work, until compile_after has passed
        if len(_SEEN) >= _MAX_PLANS:
            _SEEN.pop(next(iter(_SEEN)))
        _SEEN[key] = time.perf_counter()
    elif time.perf_counter() - first >= settings.compile_after and key not in _PENDING:
        # this call traces and compiles, then runs the compiled steps
        _PENDING.add(key)
        proto = _snapshot(neuron)
        meta = tuple(torch.empty(t.shape, dtype=t.dtype, device="meta") for t in tensors)

        def job() -> None:
            plan = _make_plan(proto, (*args[:1], meta, *args[2:]))
            try:
                if plan is not None:
                    keys = plan.kernel_keys(
                        opts["grad"], opts["recompute"], opts["need_v_seq"], opts["need_gx"]
                    )
                    plan.build_kernels(keys)
            finally:
                _store(key, plan)
                _PENDING.discard(key)

        _compile_worker.submit(job)  # returns when the job is done
        return _PLANS.get(key, NotImplemented)
    return NotImplemented


def fused_multi_step(
    neuron: Any, x_seq: torch.Tensor, v: torch.Tensor, need_v_seq: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | Any:
    """Run ``neuron`` over ``x_seq`` (``[T, N, *]``) from state ``v`` on the fused path.

    Returns ``(spike_seq, v_last, v_seq or None)``, or ``NotImplemented`` where the fused
    path does not apply (see the module docstring).
    """
    if torch.jit.is_tracing() or not x_seq.is_floating_point() or x_seq.shape[0] == 0:
        return NotImplemented
    if torch.compiler.is_compiling():
        if not hasattr(torch.library, "register_autograd"):  # torch < 2.4: no custom ops
            return NotImplemented  # dynamo unrolls the single-step loop
        from snn_neurons._fused_op import compiled_multi_step

        return compiled_multi_step(neuron, x_seq, v, need_v_seq)
    if _functorch_active() or _user_dispatch_mode_active():
        return NotImplemented
    if why_not_fused(neuron) is not None:
        return NotImplemented
    # Set by BaseNode.multi_step_forward when v is the fresh (constant) state.
    fill = getattr(neuron, "_v_init_fill", None)
    v_fill = fill if fill is not None and v is neuron.v and not v.requires_grad else None
    tensors = (
        *(t for _, t in neuron.named_parameters(recurse=False)),
        *(t for _, t in neuron.named_buffers(recurse=False)),
    )
    if v.dtype != x_seq.dtype:
        v = v.to(x_seq.dtype)
    grad_on = torch.is_grad_enabled() and (
        x_seq.requires_grad or v.requires_grad or any(t.requires_grad for t in tensors)
    )
    grad_mask = tuple(grad_on and t.requires_grad for t in tensors)
    recompute = getattr(neuron, "fused_recompute", None)
    recompute = settings.recompute if recompute is None else bool(recompute)
    plan = plan_for(
        neuron,
        x_seq,
        tensors,
        grad_mask,
        grad=grad_on,
        recompute=recompute,
        need_v_seq=need_v_seq,
        need_gx=x_seq.requires_grad,
    )
    if plan is None or plan is NotImplemented:
        return NotImplemented
    if grad_on:
        return _FusedFunction.apply(plan, recompute, need_v_seq, v_fill, x_seq, v, *tensors)
    with torch.no_grad():
        spikes, v_last, _, v_seq = run_forward(
            plan, x_seq, v, None, tensors, plan.flat, False, need_v_seq
        )
    return spikes, v_last, v_seq
