"""The states of a whole network, and its forward as a pure function of (inputs, states).

Public through :mod:`snn_core.base`: :func:`named_memories`, :func:`memories`,
:func:`extract_memories`, :func:`load_memories` and :func:`to_functional_forward`.

State order everywhere is the order of :func:`named_memories`: depth first over
``named_children``, a module's own states (in registration order) before its children's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from torch import nn

from snn_core.base import MemoryModule

__all__ = [
    "named_memories",
    "memories",
    "extract_memories",
    "load_memories",
    "to_functional_forward",
]

FunctionalForward = Callable[..., tuple[tuple[Any, ...], tuple[Any, ...]]]


def _check_module(module: object, where: str) -> None:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{where}: module must be a torch.nn.Module, got {type(module).__name__}")


def named_memories(module: nn.Module, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(name, value)`` for every state in ``module`` and its submodules.

    Names are dotted paths like ``"1.v"`` (``"<prefix>.1.v"`` with a ``prefix``), as in
    ``named_parameters``; ``module``'s own states come first, then each child's in order.
    """
    _check_module(module, "named_memories")
    if isinstance(module, MemoryModule):
        for name, value in module.named_memories():
            yield (f"{prefix}.{name}" if prefix else name), value
    for child_name, child in module.named_children():
        yield from named_memories(child, f"{prefix}.{child_name}" if prefix else child_name)


def memories(module: nn.Module) -> Iterator[Any]:
    """Yield the value of every state in ``module`` and its submodules (order of
    :func:`named_memories`)."""
    for _, value in named_memories(module):
        yield value


def extract_memories(module: nn.Module) -> list[Any]:
    """The values of all states of ``module`` as a list (order of :func:`named_memories`);
    the values themselves, not copies."""
    return list(memories(module))


def load_memories(module: nn.Module, memory_list: Sequence[Any]) -> None:
    """Set every state of ``module`` from ``memory_list`` (order of :func:`named_memories`).

    The inverse of :func:`extract_memories`; values are assigned as given (not copied).
    Raises ``ValueError`` ("Memory length mismatch") unless there is one value per state.
    """
    _check_module(module, "load_memories")
    named = list(named_memories(module))
    if len(named) != len(memory_list):
        raise ValueError(
            f"Memory length mismatch: {type(module).__name__} has {len(named)} memories "
            f"{[name for name, _ in named]} but the list holds {len(memory_list)} values"
        )
    for (name, _), value in zip(named, memory_list, strict=True):
        *path, attr = name.split(".")
        owner = module
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, attr, value)


def _as_tuple(result: Any) -> tuple[Any, ...]:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def to_functional_forward(
    module: nn.Module, fn: Callable[..., Any] | None = None
) -> FunctionalForward:
    """Return ``module``'s forward as a function ``(inputs, states, **kwargs) -> (outputs,
    new_states)`` that leaves ``module``'s own states unchanged.

    ``inputs`` and ``outputs`` are tuples (one element for a single tensor); ``states`` holds
    one value per state of the whole network, in the order of :func:`extract_memories`,
    and ``new_states`` the values after the forward pass. ``kwargs`` go to the forward
    (in an ``nn.Sequential``, to its first module).

    How it runs:

    - a :class:`MemoryModule` with its own functional step and no stateful submodules, and
      an ``nn.Sequential`` whose stateful modules are such direct children: through their
      :meth:`~MemoryModule.functional_forward`, a pure function (so ``torch.func`` and
      ``torch.compile`` see no module mutation);
    - anything else: ``fn`` (default ``module.forward``; an ``nn.Sequential`` passes
      tuples between its children as several arguments) runs with the given states loaded
      into the module; the module's previous states are put back afterwards, even if it
      raises. A tensor state must then not be modified in place by the forward, or the
      caller's tensor changes too.

    Args:
        module: the network.
        fn: the stateful forward to convert, e.g. ``module.custom_forward``; ``None`` means
            ``module.forward``.

    Raises:
        ValueError: when called with a number of states other than the network's.
    """
    _check_module(module, "to_functional_forward")
    if fn is not None and not callable(fn):
        raise TypeError(f"to_functional_forward: fn must be callable or None, got {fn!r}")
    stateful = [m for m in module.modules() if isinstance(m, MemoryModule)]
    num_states = sum(len(m._memories) for m in stateful)

    def check_states(states: Any) -> None:
        if not isinstance(states, (tuple, list)):
            raise TypeError(
                f"{type(module).__name__}: states must be a tuple of {num_states} states, got "
                f"{type(states).__name__}"
            )
        if len(states) != num_states:
            raise ValueError(
                f"{type(module).__name__} expected {num_states} states, but got {len(states)}"
            )

    def check_inputs(inputs: Any) -> tuple[Any, ...]:
        if not isinstance(inputs, (tuple, list)):
            raise TypeError(
                f"{type(module).__name__}: inputs must be a tuple of inputs, e.g. (x,), got "
                f"{type(inputs).__name__}"
            )
        return tuple(inputs)

    if fn is None and isinstance(module, MemoryModule):
        if len(stateful) == 1 and module.has_functional_forward():

            def direct_forward(
                inputs: tuple[Any, ...], states: tuple[Any, ...], **kwargs: Any
            ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
                check_states(states)
                return module.functional_forward(check_inputs(inputs), tuple(states), **kwargs)

            return direct_forward

    forward_fn: Callable[..., Any]
    if fn is None and type(module).forward is nn.Sequential.forward:
        assert isinstance(module, nn.Sequential)
        children = list(module)
        counts = [
            len(c._memories) if isinstance(c, MemoryModule) and c.has_functional_forward() else 0
            for c in children
        ]
        if sum(counts) == num_states:

            def sequential_forward(
                inputs: tuple[Any, ...], states: tuple[Any, ...], **kwargs: Any
            ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
                check_states(states)
                outputs = check_inputs(inputs)
                new_states: list[Any] = []
                offset = 0
                for index, (child, count) in enumerate(zip(children, counts, strict=True)):
                    child_kwargs = kwargs if index == 0 else {}
                    if count:
                        outputs, child_states = child.functional_forward(
                            outputs, tuple(states[offset : offset + count]), **child_kwargs
                        )
                        new_states.extend(child_states)
                        offset += count
                    else:
                        outputs = _as_tuple(child(*outputs, **child_kwargs))
                return tuple(outputs), tuple(new_states)

            return sequential_forward

        def chained_forward(*inputs: Any, **kwargs: Any) -> Any:
            outputs: tuple[Any, ...] = inputs
            for index, child in enumerate(children):
                outputs = _as_tuple(child(*outputs, **(kwargs if index == 0 else {})))
            return outputs[0] if len(outputs) == 1 else outputs

        forward_fn = chained_forward
    else:
        forward_fn = module.forward if fn is None else fn

    def swapped_state_forward(
        inputs: tuple[Any, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        check_states(states)
        inputs = check_inputs(inputs)
        saved = extract_memories(module)
        load_memories(module, list(states))
        try:
            outputs = _as_tuple(forward_fn(*inputs, **kwargs))
            new_states = tuple(extract_memories(module))
        finally:
            load_memories(module, saved)
        return outputs, new_states

    return swapped_state_forward
