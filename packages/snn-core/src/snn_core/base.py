"""Step modes, stateful modules and the functional-forward protocol.

Every stateful or wrapped module in the framework derives from :class:`StepModule`
(step-mode bookkeeping) and, if it keeps state over time, from :class:`MemoryModule`.

Tensor layout: single-step input is ``[N, *]``; multi-step input is ``[T, N, *]``.

A stateful module can also run as a pure function of ``(inputs, states)``:
:meth:`MemoryModule.functional_forward` (implemented by defining
:meth:`MemoryModule.single_step_functional_forward`), or :func:`to_functional_forward` for
any module. Such functions work under ``torch.func`` (``functional_call``, ``vmap``,
``grad``) and ``torch.compile``. :func:`named_memories`, :func:`memories`,
:func:`extract_memories` and :func:`load_memories` read and write the states of a whole
network (they live in ``snn_core/_functional_forward.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = [
    "StepModule",
    "SingleStepModule",
    "MultiStepModule",
    "MemoryModule",
    "check_step_mode",
    "check_multi_step_input",
    "named_memories",
    "memories",
    "extract_memories",
    "load_memories",
    "to_functional_forward",
]

STEP_MODES = ("s", "m")


def check_step_mode(step_mode: Any, allowed: tuple[str, ...] = STEP_MODES) -> str:
    """Return ``step_mode`` if it is one of ``allowed``; raise ``ValueError`` otherwise."""
    if isinstance(step_mode, str) and step_mode in STEP_MODES and step_mode not in allowed:
        raise ValueError(
            f"step_mode can only be one of {allowed} for this module (it does not support "
            f"{step_mode!r}), got {step_mode!r}"
        )
    if not isinstance(step_mode, str) or step_mode not in allowed:
        raise ValueError(
            f"step_mode can only be one of {allowed} ('s': single-step, input [N, *]; "
            f"'m': multi-step, input [T, N, *]), got {step_mode!r}"
        )
    return step_mode


def check_multi_step_input(x: torch.Tensor, name: str = "x_seq", min_dim: int = 2) -> None:
    """Raise a clear error unless ``x`` looks like a multi-step tensor ``[T, N, *]``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [T, N, *], got {type(x).__name__}")
    if x.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimensions ([T, N, *]) in multi-step mode, "
            f"got shape {tuple(x.shape)}"
        )


class StepModule:
    """Mixin holding a validated ``step_mode`` in ``supported_step_mode()``.

    ``'s'`` (single-step) modules take ``[N, *]`` and ``'m'`` (multi-step) modules take
    ``[T, N, *]``.
    """

    def supported_step_mode(self) -> tuple[str, ...]:
        """The step modes this module accepts."""
        return STEP_MODES

    @property
    def step_mode(self) -> str:
        """The current step mode, ``'s'`` or ``'m'``."""
        return self._step_mode

    @step_mode.setter
    def step_mode(self, value: str) -> None:
        self._step_mode = check_step_mode(value, self.supported_step_mode())

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}"


class SingleStepModule(StepModule):
    """A module that only supports single-step mode (``'s'``)."""

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("s",)

    def extra_repr(self) -> str:
        return "step_mode=s"


class MultiStepModule(StepModule):
    """A module that only supports multi-step mode (``'m'``)."""

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)

    def extra_repr(self) -> str:
        return "step_mode=m"


class MemoryModule(nn.Module, StepModule):
    """Base class of modules with state over time (membrane potentials, traces, masks).

    State is declared with :meth:`register_memory` together with its reset value;
    :meth:`reset` restores every state to that value, :meth:`detach` cuts the autograd
    graph of tensor states. State registered from a number is turned into a tensor of the
    first input's shape by :meth:`init_memory_like`; a later input of another shape
    without a reset is an error, never a silent broadcast.

    ``forward`` dispatches to :meth:`single_step_forward` (``step_mode='s'``) or
    :meth:`multi_step_forward` (``step_mode='m'``); the default multi-step forward loops
    the single-step forward over the first dimension.

    Functional forward: a subclass may instead define its step as a pure function,
    :meth:`single_step_functional_forward` ``(inputs, states) -> (outputs, new_states)``
    (and optionally :meth:`multi_step_functional_forward` and :meth:`materialize_states`).
    Then the default :meth:`single_step_forward` and :meth:`multi_step_forward` run it on
    the registered states and write the new states back, and :meth:`functional_forward`
    runs it on states the caller passes, leaving the module untouched. ``states`` is a
    tuple in the order of registration (``self._memories``), this module's own states only.
    """

    def __init__(self) -> None:
        super().__init__()
        self._memories: dict[str, Any] = {}
        self._memories_rv: dict[str, Any] = {}
        self._memories_persistent: set[str] = set()
        self._step_mode = "s"

    # ---------------------------------------------------------------- registration
    def register_memory(self, name: str, value: Any, persistent: bool = False) -> None:
        """Declare state ``name`` whose reset value is ``value`` (a number, tensor or None).

        Non-persistent states (the default) are left out of ``state_dict``; persistent
        ones are saved and loaded with it.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"memory name must be a valid identifier, got {name!r}")
        if hasattr(self, name) and name not in self._memories:
            raise AttributeError(f"{type(self).__name__} already has an attribute named {name!r}")
        self._memories_rv[name] = copy.deepcopy(value)
        self._memories[name] = copy.deepcopy(value)
        if persistent:
            self._memories_persistent.add(name)
        else:
            self._memories_persistent.discard(name)

    def set_reset_value(self, name: str, value: Any) -> None:
        """Make ``value`` (deep-copied) the value :meth:`reset` restores state ``name`` to."""
        if name not in self._memories:
            raise KeyError(f"{name} is not a registered memory of {type(self).__name__}")
        self._memories_rv[name] = copy.deepcopy(value)

    def get_reset_value(self, name: str) -> Any:
        """The value :meth:`reset` restores state ``name`` to (not a copy)."""
        if name not in self._memories:
            raise KeyError(f"{name} is not a registered memory of {type(self).__name__}")
        if name not in self._memories_rv:
            raise KeyError(f"{name} has no reset value; call set_reset_value({name!r}, value)")
        return self._memories_rv[name]

    def reset(self) -> None:
        """Restore every state to its registered reset value."""
        for key, rv in self._memories_rv.items():
            self._memories[key] = copy.deepcopy(rv)

    def detach(self) -> None:
        """Detach every tensor state from the autograd graph (truncated BPTT)."""
        for key, value in self._memories.items():
            if isinstance(value, torch.Tensor):
                self._memories[key] = value.detach()

    def memories(self) -> Iterator[Any]:
        """Iterate over the current values of the states."""
        yield from self._memories.values()

    def named_memories(self) -> Iterator[tuple[str, Any]]:
        """Iterate over ``(name, value)`` of the states."""
        yield from self._memories.items()

    def init_memory_like(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Make state ``name`` a tensor shaped like ``x`` if it is still a number.

        A number ``c`` becomes ``torch.full_like(x, c)``. A tensor state whose shape
        differs from ``x`` raises ``ValueError`` (reset the module before feeding a batch
        of another shape). Returns the state tensor.
        """
        value = self._memories[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = torch.full_like(x, float(value))
            self._memories[name] = value
        elif isinstance(value, torch.Tensor):
            if value.shape != x.shape:
                raise ValueError(
                    f"{type(self).__name__}.{name} holds state of shape {tuple(value.shape)} "
                    f"from an earlier input, but the new input has shape {tuple(x.shape)}; "
                    f"call reset() (or functional.reset_net(net)) before feeding a batch "
                    f"of another shape"
                )
        return value

    # ---------------------------------------------------------------- functional forward
    def materialize_states(
        self, inputs: tuple[Any, ...], states: tuple[Any, ...], step_mode: str
    ) -> tuple[Any, ...]:
        """Turn ``states`` into what the functional step needs (default: unchanged).

        Override to build input-dependent tensors from number or ``None`` states, e.g.
        ``torch.zeros_like(x)``. ``inputs`` are the whole inputs of the call: in step mode
        ``'m'`` take the shape of one step, ``inputs[0][0]``. Must not modify the module's
        states or ``states``.
        """
        return states

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """One step as a pure function: ``(inputs, states) -> (outputs, new_states)``.

        ``inputs`` holds the ``[N, *]`` inputs, ``states`` this module's states in
        registration order; both tuples are returned as tuples. Must not modify the
        module's states or ``states``. Subclasses implement it to get
        :meth:`functional_forward`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement single_step_functional_forward; "
            "use snn_core.base.to_functional_forward(module) for a functional form of its "
            "stateful forward"
        )

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """All ``T`` steps as a pure function; dimension 0 of every input is time.

        The default runs :meth:`single_step_functional_forward` on ``inputs[i][t]`` for
        ``t = 0..T-1`` and stacks each output over time. Subclasses with a faster sequence
        path may override it.
        """
        if not inputs:
            raise ValueError("multi_step_functional_forward needs at least one input tensor")
        check_multi_step_input(inputs[0], name="inputs[0]", min_dim=1)
        steps = []
        for t in range(inputs[0].shape[0]):
            outputs, states = self.single_step_functional_forward(
                tuple(x[t] for x in inputs), states, **kwargs
            )
            steps.append(outputs)
        return tuple(torch.stack(seq) for seq in zip(*steps, strict=True)), states

    def functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Run this module on explicit ``states`` without touching its own: returns
        ``(outputs, new_states)``.

        Calls :meth:`materialize_states`, then :meth:`single_step_functional_forward`
        (``step_mode='s'``) or :meth:`multi_step_functional_forward` (``'m'``). ``inputs``
        and ``states`` are tuples, ``states`` in registration order (``self._memories``).
        A pure function of its arguments and the parameters, so it works with
        ``torch.func.functional_call``, ``vmap``, ``grad`` and ``torch.compile``.
        """
        inputs = self._check_functional_args(inputs, states)
        states = self.materialize_states(inputs, tuple(states), self.step_mode)
        if self.step_mode == "s":
            return self.single_step_functional_forward(inputs, states, **kwargs)
        return self.multi_step_functional_forward(inputs, states, **kwargs)

    def _check_functional_args(self, inputs: Any, states: Any) -> tuple[Any, ...]:
        name = type(self).__name__
        if not isinstance(inputs, (tuple, list)):
            raise TypeError(
                f"{name}.functional_forward: inputs must be a tuple of inputs, e.g. (x,), "
                f"got {type(inputs).__name__}"
            )
        if not isinstance(states, (tuple, list)):
            raise TypeError(
                f"{name}.functional_forward: states must be a tuple of {len(self._memories)} "
                f"states {tuple(self._memories)}, got {type(states).__name__}"
            )
        if len(states) != len(self._memories):
            raise ValueError(
                f"{name}.functional_forward: expected {len(self._memories)} states "
                f"{tuple(self._memories)}, got {len(states)}"
            )
        return tuple(inputs)

    def has_functional_forward(self, step_mode: str | None = None) -> bool:
        """Whether :meth:`functional_forward` works for this module in ``step_mode``
        (default: the current one).

        By default, whether the class overrides :meth:`functional_forward` or
        :meth:`single_step_functional_forward` (or, for ``'m'``,
        :meth:`multi_step_functional_forward`). A subclass whose functional step covers
        only some configurations (e.g. not subclasses that change the stateful step)
        overrides this, so that :func:`to_functional_forward` and the default
        :meth:`multi_step_forward` use the stateful path instead.
        """
        mode = self.step_mode if step_mode is None else check_step_mode(step_mode)
        cls = type(self)
        if cls.functional_forward is not MemoryModule.functional_forward:
            return True
        single = (
            cls.single_step_functional_forward is not MemoryModule.single_step_functional_forward
        )
        if mode == "s":
            return single
        return single or (
            cls.multi_step_functional_forward is not MemoryModule.multi_step_functional_forward
        )

    def _run_functional(self, inputs: tuple[Any, ...], step_mode: str, **kwargs: Any) -> Any:
        """Run the functional step on the registered states and store the new states."""
        states = self.materialize_states(inputs, tuple(self._memories.values()), step_mode)
        if step_mode == "s":
            outputs, new_states = self.single_step_functional_forward(inputs, states, **kwargs)
        else:
            outputs, new_states = self.multi_step_functional_forward(inputs, states, **kwargs)
        if len(new_states) != len(self._memories):
            raise ValueError(
                f"{type(self).__name__}: the functional forward returned {len(new_states)} "
                f"states, but the module registers {len(self._memories)} "
                f"{tuple(self._memories)}"
            )
        for name, value in zip(tuple(self._memories), new_states, strict=True):
            self._memories[name] = value
        return outputs[0] if len(outputs) == 1 else outputs

    # ---------------------------------------------------------------- forward
    def single_step_forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        """One step on the registered states.

        The default runs :meth:`single_step_functional_forward` on ``(x, *args)`` and the
        registered states and stores the new states; it returns the single output, or the
        tuple of outputs if there are several.
        """
        if type(self).single_step_functional_forward is not (
            MemoryModule.single_step_functional_forward
        ):
            return self._run_functional((x, *args), "s", **kwargs)
        raise NotImplementedError(
            f"{type(self).__name__} implements neither single_step_forward nor "
            "single_step_functional_forward"
        )

    def multi_step_forward(self, x_seq: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        """All steps of ``x_seq`` (``[T, N, *]``) on the registered states.

        Runs :meth:`multi_step_functional_forward` and stores the new states if the module
        :meth:`has_functional_forward` in ``'m'`` and either overrides
        :meth:`multi_step_functional_forward` or keeps the default
        :meth:`single_step_forward`; otherwise loops :meth:`single_step_forward` over
        ``x_seq[t]`` and stacks the outputs (so a subclass that overrides the stateful
        single step keeps its own semantics in multi-step mode).
        """
        cls = type(self)
        stateful_step = cls.single_step_forward is not MemoryModule.single_step_forward
        own_sequence = (
            cls.multi_step_functional_forward is not MemoryModule.multi_step_functional_forward
        )
        if self.has_functional_forward("m") and (own_sequence or not stateful_step):
            return self._run_functional((x_seq, *args), "m", **kwargs)
        check_multi_step_input(x_seq)
        y_seq = [self.single_step_forward(x_seq[t], *args, **kwargs) for t in range(x_seq.shape[0])]
        return torch.stack(y_seq)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.step_mode == "s":
            return self.single_step_forward(*args, **kwargs)
        return self.multi_step_forward(*args, **kwargs)

    # ---------------------------------------------------------------- nn.Module plumbing
    def __getattr__(self, name: str) -> Any:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            return memories[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            memories[name] = value
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            del memories[name]
            del self._memories_rv[name]
            self._memories_persistent.discard(name)
        else:
            super().__delattr__(name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._memories))

    def _apply(self, fn: Any, recurse: bool = True) -> MemoryModule:  # type: ignore[override]
        # `.to()`, `.cuda()`, `.half()`... also move tensor states and tensor reset values.
        for store in (self._memories, self._memories_rv):
            for key, value in store.items():
                if isinstance(value, torch.Tensor):
                    store[key] = fn(value)
        return super()._apply(fn, recurse)

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for name in sorted(self._memories_persistent):
            value = self._memories[name]
            if isinstance(value, torch.Tensor) and not keep_vars:
                value = value.detach()
            destination[prefix + name] = value

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: Any,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        for name in sorted(self._memories_persistent):
            key = prefix + name
            if key in state_dict:
                value = state_dict[key]
                self._memories[name] = value.clone() if isinstance(value, torch.Tensor) else value
            elif strict:
                missing_keys.append(key)
        # Hide our keys from nn.Module's own loader so it does not report them as unexpected.
        own = {prefix + n for n in self._memories_persistent}
        rest = {k: v for k, v in state_dict.items() if k not in own}
        super()._load_from_state_dict(
            rest, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def extra_repr(self) -> str:
        return StepModule.extra_repr(self)


# The network-level functions need MemoryModule, so they are imported after it is defined.
from snn_core._functional_forward import (  # noqa: E402
    extract_memories,
    load_memories,
    memories,
    named_memories,
    to_functional_forward,
)
