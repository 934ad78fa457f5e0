"""Step kernels of the fused multi-step path (see :mod:`snn_neurons.fused`).

A :class:`_Plan` holds, for one neuron configuration, input dtype and step layout, the
forward and backward step functions derived from the neuron's ``charge`` /
``reset_potential`` and its surrogate (``torch.func.vjp`` for the partial derivatives),
traced with ``make_fx`` into aten graphs that write their outputs in place, compiled by
inductor on first use, and the Python loops over T that run them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import ctypes
import functools
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from snn_neurons import _compile_worker

_HALF = (torch.float16, torch.bfloat16)
# a step function and the maker of its example inputs
_StepAndExamples = tuple[Callable[..., None], Callable[[], list[torch.Tensor]]]
_FLAT_EXAMPLE = 8  # length of the 1-D example tensors the steps are traced with
_compile_warnings: set[str] = set()  # reasons already reported


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


def _trace(
    fn: Callable[..., None], examples: Callable[[], list[torch.Tensor]]
) -> torch.fx.GraphModule:
    """``fn`` as an aten graph with symbolic sizes; outputs are in-place ``copy_`` nodes.

    ``examples()`` makes the example inputs (on the tracing thread, so that they are not
    inference tensors).
    """

    def trace() -> torch.fx.GraphModule:
        from torch.fx.experimental.proxy_tensor import make_fx

        gm = make_fx(fn, tracing_mode="symbolic")(*examples())
        gm.graph.eliminate_dead_code()
        gm.recompile()
        return gm

    return _in_fresh_thread(trace)


def _direct_call(compiled: Callable[..., Any]) -> Callable[..., Any] | None:
    """The generated code inside ``compile_fx``'s result, to call without its wrappers.

    ``compile_fx`` returns the generated wrapper code inside dynamo's ``disable`` and
    AOTAutograd's runtime wrappers (grad mode, mutation bookkeeping, pytree), which cost
    more than a small step and several times more inside a ``torch.compile``'d model. A
    step graph needs none of them: it takes plain tensors, writes its outputs in place
    (in the generated code) and returns nothing. ``None`` if the result is not laid out
    as expected (another torch version): the caller then keeps the wrapped function.
    """
    try:
        from torch._inductor.output_code import CompiledFxGraph
    except ImportError:
        return None
    seen: set[int] = set()
    todo = [compiled]
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if isinstance(fn, CompiledFxGraph):
            runner = getattr(fn, "current_callable", None)
            if runner is None or getattr(fn, "inputs_to_check", None) or fn.constants:
                return None

            def call_direct(*args: torch.Tensor, _run: Callable[..., Any] = runner) -> Any:
                return _run(list(args))

            return call_direct
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if callable(value) and not isinstance(value, type):
                todo.append(value)
    return None


def _compile(gm: torch.fx.GraphModule, half: bool, device_type: str) -> Callable[..., Any]:
    """Compile one step graph with inductor, for any length of its (symbolic) sizes.

    On CPU the graph goes straight to inductor (no dynamo guards: the caller's cache key
    fixes dtypes and ranks, and every tensor is contiguous), which keeps the per-call
    overhead to a few microseconds; elsewhere ``torch.compile(dynamic=True)`` also guards
    pointer alignment.
    """
    from torch._inductor import config as inductor_config

    # compile_threads=1: no pool of compile workers to start; dynamic_threads: the kernels
    # use torch.get_num_threads() of the calling thread when they run (this function runs
    # on a helper thread, whose own count would otherwise be baked in).
    patches: dict[str, Any] = {"compile_threads": 1, "cpp.dynamic_threads": True}
    if half:  # round H to its storage dtype exactly where the graph says so
        patches["emulate_precision_casts"] = True
    if device_type != "cpu":
        compiled = torch.compile(gm, dynamic=True, fullgraph=True, options=patches)
        return compiled
    from torch._inductor.compile_fx import compile_fx

    fakes = [node.meta["val"] for node in gm.graph.nodes if node.op == "placeholder"]
    with inductor_config.patch(patches):
        return compile_fx(gm, fakes)


_HUGE_PAGE = 2 << 20
_madvise: Any = None  # libc's madvise (Linux), looked up on first use; False if unavailable


def _advise_huge_pages(t: torch.Tensor) -> None:
    """Ask Linux to back ``t``'s (untouched) memory with transparent huge pages.

    A fresh ``[T, N]`` buffer is otherwise filled by one page fault per 4 KiB on its first
    write, which costs about as much as a forward step (PyTorch's own allocator does the
    same with ``THP_MEM_ALLOC_ENABLE=1``). A hint only: contents are unaffected.
    """
    global _madvise
    if _madvise is None:
        _madvise = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                _madvise = libc.madvise
            except (OSError, AttributeError):
                pass
    if _madvise:
        start = -(-t.data_ptr() // _HUGE_PAGE) * _HUGE_PAGE
        end = (t.data_ptr() + t.nbytes) // _HUGE_PAGE * _HUGE_PAGE
        if end > start:
            _madvise(start, end - start, 14)  # MADV_HUGEPAGE


def _empty_like(x: torch.Tensor) -> torch.Tensor:
    """An uninitialised contiguous tensor like ``x`` (huge pages for big CPU buffers)."""
    t = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    if t.device.type == "cpu" and t.nbytes >= 4 * _HUGE_PAGE:
        _advise_huge_pages(t)
    return t


_PARALLEL_MIN = 32768  # elements per step below which one thread runs it (ATen's grain size)


@contextlib.contextmanager
def _threads_for(step_numel: int, device: torch.device) -> Iterator[None]:
    """Run small steps on one thread: a compiled step opens an OpenMP parallel region
    whatever its size, whose barrier costs more than the work below ATen's grain size (and
    a scheduler time slice when the cores are shared)."""
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1 or step_numel >= _PARALLEL_MIN:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _kernel_tensors(tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The neuron's tensors as the step graphs take them: detached, at least 1-D."""
    return tuple(t.detach().reshape(1) if t.dim() == 0 else t.detach() for t in tensors)


class _Kernel:
    """One step graph, run compiled or eagerly.

    ``mode``: ``False`` runs the traced graph eagerly; ``True`` compiles it on its first
    call (eager if that fails); ``"deferred"`` does the same through
    :mod:`snn_neurons._compile_worker` (on a fresh thread, while the caller waits).
    """

    def __init__(
        self,
        gm: torch.fx.GraphModule,
        retrace: Callable[[], torch.fx.GraphModule],
        examples: Callable[[], list[torch.Tensor]],
        half: bool,
        mode: bool | str,
    ) -> None:
        self._gm: torch.fx.GraphModule | None = gm
        self._retrace = retrace
        self._examples = examples
        self._half = half
        self._mode = mode
        self._fn: Callable[..., Any] | None = gm if mode is False else None
        self._queued = False

    @property
    def compiled(self) -> bool:
        """Whether calls now run the compiled graph (or the eager one, for good)."""
        return self._fn is not None

    def __call__(self, *args: torch.Tensor) -> None:
        fn = self._fn
        if fn is None:
            if self._mode == "deferred":
                if not self._queued:
                    self._queued = True
                    _compile_worker.submit(self.build)
                fn = self._fn or self._gm
            else:
                self.build(args)
                fn = self._fn
        fn(*args)

    def build(self, args: tuple[torch.Tensor, ...] | None = None) -> None:
        """Compile now, on this thread (checked on copies of ``args``, or on examples)."""
        if self._fn is not None:
            return
        background = self._mode == "deferred"  # already on the worker's fresh thread
        gm = self._gm

        def build() -> Callable[..., Any]:
            probe = [a.detach().clone() for a in args] if args else self._examples()
            twin = [p.clone() for p in probe]
            compiled = _compile(gm, self._half, probe[0].device.type)
            with torch.no_grad():
                compiled(*probe)  # compile (torch.compile) and check on copies / examples
                direct = _direct_call(compiled)
                if direct is not None:  # the same writes without the wrappers, or not used
                    direct(*twin)
                    if not all(torch.equal(a, b) for a, b in zip(probe, twin)):
                        direct = None
            return direct or compiled

        try:
            fn = build() if background else _in_fresh_thread(build)
        except Exception as err:  # no C++ compiler, no Triton, an inductor limitation...
            lines = str(err).strip().splitlines()
            reason = f"{type(err).__name__}: {lines[0] if lines else ''}"
            if reason not in _compile_warnings:
                _compile_warnings.add(reason)
                warnings.warn(
                    "snn_neurons: compiling a fused neuron step failed, so it runs eagerly "
                    f"(same results, slower). Reason: {reason}. Set "
                    "snn_neurons.fused.settings.compile = False to skip compiling.",
                    RuntimeWarning,
                    stacklevel=5,
                )
            fn = self._retrace()  # compile_fx may have changed gm in place
        self._fn = fn
        self._gm = None


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
        compile: bool | str,
    ) -> None:
        self.device = device
        self.compile = compile
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

        def trace() -> torch.fx.GraphModule:
            from torch.fx.experimental.proxy_tensor import make_fx

            c, dev = self.cdtype, self.device
            ex = [torch.zeros(self.example_shape, dtype=c, device=dev) for _ in range(7)]
            ex += [torch.zeros(shape, dtype=dt, device=dev) for shape, dt in self.tensor_meta]
            return make_fx(probe, tracing_mode="fake")(*ex)

        gm = _in_fresh_thread(trace)
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
            retrace = functools.partial(_trace, fn, examples)
            kernel = _Kernel(retrace(), retrace, examples, self.dtype in _HALF, self.compile)
            self._kernels[key] = kernel
        return kernel

    def kernel_keys(
        self, grad: bool, recompute: bool, need_v_seq: bool, need_gx: bool
    ) -> list[tuple[Any, ...]]:
        """The step variants a call with these options runs (see ``fused._FusedFunction``)."""
        if not grad:
            return [("fwd", False, need_v_seq)]
        keep_v = need_v_seq or (self.needs_values and not recompute)
        keys = [("fwd", not (self.needs_values or recompute), keep_v), ("bwd", False, need_gx)]
        if recompute:
            keys.append(("fwd", not self.needs_values, self.needs_values))
        return keys

    def build_kernels(self, keys: list[tuple[Any, ...]]) -> None:
        """Trace and compile the step variants ``keys`` now, on this thread."""
        for key in keys:
            self._kernel(key).build()

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

    def _fwd_fn(self, save_h: bool, save_v: bool) -> _StepAndExamples:
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

        def examples() -> list[torch.Tensor]:
            ex = self._examples("dd") + self._tensor_examples()
            return ex + self._examples("dd" + "d" * save_h + "d" * save_v)

        return step, examples

    def _bwd_fn(self, has_gvseq: bool, need_gx: bool) -> _StepAndExamples:
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

        def examples() -> list[torch.Tensor]:
            ex = self._examples(state + "dc" + "d" * has_gvseq) + self._tensor_examples()
            return ex + self._examples("c" + "d" * need_gx) + self._tensor_examples(acc=True)

        return step, examples

    # ---- loops over T ------------------------------------------------------------------------
    def forward_loop(
        self,
        x: torch.Tensor,
        v0: torch.Tensor,
        tensors: tuple[torch.Tensor, ...],
        spikes: torch.Tensor | None,
        h_seq: torch.Tensor | None,
        v_seq: torch.Tensor | None,
    ) -> torch.Tensor:
        """Run T fused forward steps; returns ``V[T-1]`` (a fresh tensor shaped like ``v0``).

        ``spikes=None`` discards the spikes (a recompute in backward).
        """
        x, v0 = x.detach(), v0.detach()
        kernel = self._kernel(("fwd", h_seq is not None, v_seq is not None))
        flat = self._flat
        tensors = _kernel_tensors(tensors)
        carry = [torch.empty_like(v0), torch.empty_like(v0) if x.shape[0] > 1 else None]
        scratch = torch.empty_like(x[0]) if spikes is None else None
        v = v0
        with _threads_for(v0.numel(), v0.device):
            for t in range(x.shape[0]):
                out = carry[t % 2]
                s_out = scratch if spikes is None else spikes[t]
                args = [flat(x[t]), flat(v), *tensors, flat(s_out), flat(out)]
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
        with _threads_for(g_v.numel(), g_v.device):
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
