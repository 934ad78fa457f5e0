"""FlexSN: a multi-step spiking neuron, with generated kernels, from any single-step function.

The user writes one step ``core(*inputs, *states) -> (*outputs, *new_states)`` in torch.
:class:`FlexSNKernel` traces it with its derived backward and generates Triton kernels that
run all T steps in one launch (one program per block of neurons, states in registers);
:class:`FlexSN` wraps that as a stateful neuron module with the usual step modes.

Backends of :class:`FlexSN` (multi-step mode):

- ``'triton'`` and ``'inductor'``: peer labels of the same generated-Triton path (CUDA
  tensors; CPU tensors under Triton's interpreter, ``TRITON_INTERPRET=1``);
- ``'hop'``: torch's higher-order ``scan`` operator (a traced, compiled-friendly loop);
- ``'torch'``: a Python loop over ``core``; always available.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from snn_core.base import MemoryModule

from snn_neurons.backends import BackendUnavailableError
from snn_neurons.kernels.compilers import compiler_for
from snn_neurons.kernels.launch import STORAGE_DTYPES, StepProgram
from snn_neurons.kernels.trace import trace_step

__all__ = ["FlexSNKernel", "FlexSN", "FLEXSN_BACKENDS"]

FLEXSN_BACKENDS = ("triton", "inductor", "hop", "torch")


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _default_examples(n: int) -> tuple[torch.Tensor, ...]:
    return tuple(torch.zeros(1) for _ in range(n))


def _check_examples(
    example_inputs: Sequence[torch.Tensor] | None, n_args: int
) -> tuple[torch.Tensor, ...]:
    if example_inputs is None:
        return _default_examples(n_args)
    examples = tuple(example_inputs)
    if len(examples) != n_args or not all(isinstance(t, torch.Tensor) for t in examples):
        raise ValueError(
            f"example_inputs must be num_inputs + num_states = {n_args} tensors "
            f"([*inputs, *states]), got {len(examples)} items"
        )
    return examples


def _check_requires_grad(requires_grad: Sequence[bool] | None, n_args: int) -> tuple[bool, ...]:
    if requires_grad is None:
        return (True,) * n_args
    flags = tuple(requires_grad)
    if len(flags) != n_args or not all(isinstance(f, bool) for f in flags):
        raise ValueError(
            f"requires_grad must be {n_args} bools (one per argument [*inputs, *states]), "
            f"got {requires_grad!r}"
        )
    return flags


def _check_core_results(res: Any, n_outputs: int, n_states: int) -> list[torch.Tensor]:
    if isinstance(res, torch.Tensor):
        res = [res]
    n = n_outputs + n_states
    if not isinstance(res, (list, tuple)) or len(res) != n:
        got = len(res) if isinstance(res, (list, tuple)) else type(res).__name__
        raise ValueError(
            f"core must return num_outputs + num_states = {n_outputs} + {n_states} tensors "
            f"([*outputs, *new_states]), got {got}"
        )
    for i, r in enumerate(res):
        if not isinstance(r, torch.Tensor):
            raise TypeError(f"core's result {i} is a {type(r).__name__}, not a tensor")
    return list(res)


class FlexSNKernel:
    """Generated Triton multi-step kernels for a single-step function ``core``.

    Called as ``kernel(*input_seqs, *states)`` with ``num_inputs`` sequences ``[T, *S]``
    and ``num_states`` initial states ``[*S]``; returns ``[*output_seqs, *state_seqs]``, all
    ``[T, *S]``. Differentiable: the backward kernel is derived from ``core`` by autograd.

    Args:
        core: ``[*inputs, *states] -> [*outputs, *new_states]``, elementwise torch ops.
        num_inputs / num_states / num_outputs: how many of each ``core`` takes / returns.
        example_inputs: example ``[*inputs, *states]``; used to check ``core`` once
            (``None``: one-element zero tensors).
        requires_grad: per argument of ``core``, whether gradients flow to it (``None``:
            all do).

    Raises:
        RuntimeError: (:class:`~snn_neurons.BackendUnavailableError`) if Triton cannot run
            here (no Triton, or neither CUDA nor ``TRITON_INTERPRET=1``).
    """

    def __init__(
        self,
        core: Callable[..., Any],
        num_inputs: int,
        num_states: int,
        num_outputs: int,
        example_inputs: tuple[torch.Tensor, ...] | None = None,
        requires_grad: tuple[bool, ...] | None = None,
    ) -> None:
        if not callable(core):
            raise TypeError(f"core must be callable, got {type(core).__name__}")
        self.num_inputs = _check_count("num_inputs", num_inputs, 1)
        self.num_states = _check_count("num_states", num_states, 0)
        self.num_outputs = _check_count("num_outputs", num_outputs, 0)
        n_args = num_inputs + num_states
        self.example_inputs = _check_examples(example_inputs, n_args)
        self.requires_grad = _check_requires_grad(requires_grad, n_args)
        compiler = compiler_for("triton")
        reason = compiler.why_not(None)
        if reason is not None:
            raise BackendUnavailableError(
                f"FlexSNKernel cannot build Triton kernels here: {reason}. Use FlexSN with "
                "backend='torch' or 'hop' instead"
            )
        with torch.no_grad():
            _check_core_results(core(*self.example_inputs), num_outputs, num_states)
        self.core = core
        self.graph = trace_step(core, num_inputs, num_states, 0, num_outputs)
        self.program = StepProgram(self.graph, compiler, self.requires_grad)

    def __call__(self, *args: torch.Tensor) -> list[torch.Tensor]:
        ni, ns = self.num_inputs, self.num_states
        if len(args) != ni + ns:
            raise ValueError(
                f"FlexSNKernel takes num_inputs + num_states = {ni} + {ns} tensors "
                f"([*input_seqs, *states]), got {len(args)}"
            )
        seqs, states = args[:ni], args[ni:]
        for i, t in enumerate(args):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"argument {i} must be a tensor, got {type(t).__name__}")
            if t.dtype not in STORAGE_DTYPES:
                raise TypeError(
                    f"argument {i} has dtype {t.dtype}; the kernels store "
                    f"{[str(d) for d in STORAGE_DTYPES]}"
                )
        first = seqs[0]
        if first.dim() < 1:
            raise ValueError("input sequences must be [T, *S] tensors, got a 0-dim tensor")
        T, shape = first.shape[0], first.shape[1:]
        for i, t in enumerate(seqs):
            if t.shape != first.shape:
                raise ValueError(
                    f"input sequence {i} has shape {tuple(t.shape)}, but input 0 has "
                    f"{tuple(first.shape)}; all input sequences must share one shape [T, *S]"
                )
        for j, t in enumerate(states):
            if t.shape != shape:
                raise ValueError(
                    f"state {j} has shape {tuple(t.shape)}; states must have the per-step "
                    f"shape of the inputs {tuple(shape)}"
                )
        reason = self.program.compiler.why_not(first.device)
        if reason is not None:
            raise BackendUnavailableError(f"FlexSNKernel cannot run here: {reason}")
        if T == 0:
            outs = [first.new_empty((0, *shape)) for _ in range(self.num_outputs)]
            return outs + [s.new_empty((0, *shape)) for s in states]
        flat_in = [t.contiguous().view(T, -1) for t in seqs]
        flat_st = [t.contiguous().view(-1) for t in states]
        res = self.program.run(flat_in, flat_st, [], (True,) * ns)
        return [r.view(T, *shape) for r in res]


class FlexSN(MemoryModule):
    """A spiking neuron defined by a single-step function ``core`` (see module docstring).

    Single-step mode calls ``core(*inputs, *states)``; multi-step mode runs all T steps on
    ``backend``. States start from :meth:`init_states` (zeros; override it to change that)
    and persist between calls until :meth:`reset`.

    Args:
        core: ``[*inputs, *states] -> [*outputs, *new_states]``, tensors in and out.
        num_inputs / num_states / num_outputs: how many of each.
        example_inputs: example ``[*inputs, *states]`` for the kernel builder (``None``:
            one-element zero tensors).
        requires_grad: per argument of ``core``, whether gradients flow to it in the
            generated kernels (``None``: all do).
        step_mode: ``'s'`` or ``'m'`` (default).
        backend: ``'triton'`` (default), ``'inductor'``, ``'hop'`` or ``'torch'``.
        store_state_seqs: keep ``state_seqs`` (a list of ``[T, *S]`` tensors) after each
            multi-step call.
        example_outputs: per-step output templates, needed for ``T == 0`` on the ``torch``
            and ``hop`` backends; for ``triton`` / ``inductor`` each must match the first
            example input's shape and dtype.

    Forward returns the output (``num_outputs == 1``) or a tuple of outputs.
    """

    def __init__(
        self,
        core: Callable[..., Any],
        num_inputs: int,
        num_states: int,
        num_outputs: int,
        example_inputs: tuple[torch.Tensor, ...] | None = None,
        requires_grad: tuple[bool, ...] | None = None,
        step_mode: str = "m",
        backend: str = "triton",
        store_state_seqs: bool = False,
        example_outputs: tuple[torch.Tensor, ...] | None = None,
    ) -> None:
        super().__init__()
        if not callable(core):
            raise TypeError(f"core must be callable, got {type(core).__name__}")
        self.core = core
        self.num_inputs = _check_count("num_inputs", num_inputs, 1)
        self.num_states = _check_count("num_states", num_states, 0)
        self.num_outputs = _check_count("num_outputs", num_outputs, 0)
        n_args = num_inputs + num_states
        self.example_inputs = _check_examples(example_inputs, n_args)
        self.requires_grad = _check_requires_grad(requires_grad, n_args)
        if not isinstance(store_state_seqs, bool):
            raise TypeError(f"store_state_seqs must be a bool, got {store_state_seqs!r}")
        self.store_state_seqs = store_state_seqs
        self.example_outputs = self._check_example_outputs(example_outputs, backend)
        self.step_mode = step_mode
        self._kernel: FlexSNKernel | None = None
        self.backend = backend
        self.register_memory("states", None)
        self.register_memory("state_seqs", None)

    # ---------------------------------------------------------------- configuration
    def _check_example_outputs(
        self, example_outputs: Sequence[torch.Tensor] | None, backend: str
    ) -> tuple[torch.Tensor, ...] | None:
        if example_outputs is None:
            return None
        templates = tuple(example_outputs)
        if len(templates) != self.num_outputs or not all(
            isinstance(t, torch.Tensor) for t in templates
        ):
            raise ValueError(
                f"example_outputs must be num_outputs = {self.num_outputs} tensors, "
                f"got {example_outputs!r}"
            )
        if backend in ("triton", "inductor"):
            ref = self.example_inputs[0]
            for i, t in enumerate(templates):
                if t.shape != ref.shape or t.dtype != ref.dtype:
                    raise ValueError(
                        f"example_outputs[{i}] has shape {tuple(t.shape)} and dtype {t.dtype}; "
                        f"with backend={backend!r} it must match example_inputs[0] "
                        f"({tuple(ref.shape)}, {ref.dtype})"
                    )
        return templates

    @property
    def backend(self) -> str:
        """The multi-step backend: ``'triton'``, ``'inductor'``, ``'hop'`` or ``'torch'``."""
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        if value not in FLEXSN_BACKENDS:
            raise ValueError(f"backend must be one of {FLEXSN_BACKENDS}, got {value!r}")
        if value in ("triton", "inductor") and self._kernel is None:
            self._kernel = FlexSNKernel(
                self.core,
                self.num_inputs,
                self.num_states,
                self.num_outputs,
                self.example_inputs,
                self.requires_grad,
            )
        self._backend = value

    @property
    def kernel(self) -> FlexSNKernel | None:
        """The generated-kernel callable used by ``'triton'`` / ``'inductor'`` (else ``None``)."""
        return self._kernel if self._backend in ("triton", "inductor") else None

    @property
    def supported_backends(self) -> tuple[str, ...]:
        """Backends usable in the current step mode and environment (``'torch'`` always)."""
        if self.step_mode == "s":
            return ("torch",)
        names = ["torch"]
        if _scan_op() is not None:
            names.insert(0, "hop")
        if compiler_for("triton").why_not(None) is None:
            names[:0] = ["triton", "inductor"]
        return tuple(names)

    @staticmethod
    def init_states(num_states: int, step_mode: str, *args: torch.Tensor) -> list[torch.Tensor]:
        """Initial states: zeros shaped like one step of the first input.

        Override to change the rule; ``args`` are the forward inputs ``[*inputs]``
        (``[T, *S]`` each in multi-step mode, ``[*S]`` in single-step mode).
        """
        shape = args[0].shape[1:] if step_mode == "m" else args[0].shape
        return [args[0].new_zeros(shape) for _ in range(num_states)]

    def _ensure_states(
        self, args: Sequence[torch.Tensor], step: Sequence[int]
    ) -> list[torch.Tensor]:
        if self.states is None:
            states = list(self.init_states(self.num_states, self.step_mode, *args))
            if len(states) != self.num_states:
                raise ValueError(
                    f"init_states returned {len(states)} tensors, expected num_states = "
                    f"{self.num_states}"
                )
            self.states = states
        for j, s in enumerate(self.states):
            if tuple(s.shape) != tuple(step):
                raise ValueError(
                    f"state {j} has shape {tuple(s.shape)} from an earlier input, but the "
                    f"new input's step shape is {tuple(step)}; call reset() first"
                )
        return list(self.states)

    def _check_inputs(self, args: Sequence[Any]) -> None:
        if len(args) != self.num_inputs:
            raise ValueError(f"FlexSN takes num_inputs = {self.num_inputs} inputs, got {len(args)}")
        for i, t in enumerate(args):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"input {i} must be a tensor, got {type(t).__name__}")

    @staticmethod
    def _pack(outputs: Sequence[torch.Tensor]) -> Any:
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    # ---------------------------------------------------------------- forward
    def single_step_forward(self, *args: torch.Tensor) -> Any:
        self._check_inputs(args)
        states = self._ensure_states(args, args[0].shape)
        res = _check_core_results(self.core(*args, *states), self.num_outputs, self.num_states)
        self.states = res[self.num_outputs :]
        return self._pack(res[: self.num_outputs])

    def multi_step_forward(self, *args: torch.Tensor) -> Any:
        self._check_inputs(args)
        if args[0].dim() < 1:
            raise ValueError("multi-step inputs must be [T, *S] tensors")
        T = args[0].shape[0]
        states = self._ensure_states(args, args[0].shape[1:])
        if self._backend in ("triton", "inductor"):
            assert self._kernel is not None
            res = self._kernel(*args, *states)
        elif T == 0:
            res = self._empty_results(args[0], states)
        elif self._backend == "hop":
            res = self._hop(args, states)
        else:
            res = self._loop(args, states)
        outputs, state_seqs = res[: self.num_outputs], res[self.num_outputs :]
        if T > 0:
            self.states = [s[-1] for s in state_seqs]
        if self.store_state_seqs:
            self.state_seqs = list(state_seqs)
        return self._pack(outputs)

    def _empty_results(self, first: torch.Tensor, states: Sequence[torch.Tensor]) -> list:
        if self.example_outputs is None and self.num_outputs > 0:
            raise ValueError(
                f"an empty sequence (T == 0) with backend={self._backend!r} needs "
                "example_outputs to know the outputs' shapes and dtypes"
            )
        outs = [
            torch.empty((0, *t.shape), dtype=t.dtype, device=first.device)
            for t in (self.example_outputs or ())
        ]
        return outs + [s.new_empty((0, *s.shape)) for s in states]

    def _loop(self, args: Sequence[torch.Tensor], states: list[torch.Tensor]) -> list:
        per_step: list[list[torch.Tensor]] = []
        for t in range(args[0].shape[0]):
            res = _check_core_results(
                self.core(*[a[t] for a in args], *states), self.num_outputs, self.num_states
            )
            states = res[self.num_outputs :]
            per_step.append(res)
        return [torch.stack([r[k] for r in per_step]) for k in range(len(per_step[0]))]

    def _hop(self, args: Sequence[torch.Tensor], states: list[torch.Tensor]) -> list:
        scan = _scan_op()
        if scan is None:
            raise BackendUnavailableError(
                "backend='hop' needs torch's higher-order scan (torch._higher_order_ops.scan)"
            )
        n_out, n_st = self.num_outputs, self.num_states
        core = self.core

        def combine(carry: list[torch.Tensor], xs: list[torch.Tensor]) -> tuple[list, list]:
            res = _check_core_results(core(*xs, *carry), n_out, n_st)
            new = [r.clone() for r in res[n_out:]]
            return new, [r.clone() for r in res[:n_out]] + [r.clone() for r in res[n_out:]]

        _, ys = scan(combine, list(states), list(args))
        return list(ys)

    # ---------------------------------------------------------------- state plumbing
    def detach(self) -> None:
        super().detach()
        for name in ("states", "state_seqs"):
            value = getattr(self, name)
            if isinstance(value, list):
                setattr(self, name, [v.detach() for v in value])

    def _apply(self, fn: Any, recurse: bool = True) -> FlexSN:  # type: ignore[override]
        for name in ("states", "state_seqs"):
            value = getattr(self, name, None)
            if isinstance(value, list):
                setattr(self, name, [fn(v) for v in value])
        return super()._apply(fn, recurse)

    def extra_repr(self) -> str:
        return (
            f"num_inputs={self.num_inputs}, num_states={self.num_states}, "
            f"num_outputs={self.num_outputs}, step_mode={self.step_mode}, "
            f"backend={self._backend}, store_state_seqs={self.store_state_seqs}"
        )


def _scan_op() -> Any:
    try:
        from torch._higher_order_ops.scan import scan
    except ImportError:  # pragma: no cover - older torch
        return None
    return scan
