"""Counting machinery: counters (an op -> formula registry with per-scope records) and the
contexts that feed them (aten dispatch, ``__torch_function__`` or module hooks).

Each event (an aten op, a torch function, or a ``(phase, module)`` pair) is counted once by
every counter that has a rule for it and credited to every active module scope: ``"Global"``,
the root module's class name and each dotted submodule path (``"Net.fc1"``), as
:class:`torch.utils.module_tracker.ModuleTracker` names them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.autograd.graph import register_multi_grad_hook
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.module_tracker import ModuleTracker

from snn_core.op_counter._binary import is_binary_tensor, note_result
from snn_core.op_counter._binary import use_analysis_cache as _use_analysis_cache

__all__ = [
    "ActiveModuleTracker",
    "BaseCounter",
    "ModuleCounter",
    "EnergyModelInfo",
    "is_binary_tensor",
    "DispatchCounterMode",
    "FunctionCounterMode",
    "ModuleCounterMode",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnergyModelInfo:
    """Provenance of an energy model.

    Args:
        model_id: stable identifier of the model.
        fidelity: how closely it follows its source (``'paper'``, ``'reference-code'``, ...).
        source_urls: papers or code it follows.
        technology_nm: process node in nm, ``None`` if unspecified.
        precision: arithmetic and storage precision assumed.
        scope: what hardware and execution it covers.
    """

    model_id: str
    fidelity: str
    source_urls: tuple[str, ...]
    technology_nm: int | None
    precision: str
    scope: str


def _collect_tensors(tree: Any) -> list[torch.Tensor]:
    leaves, _ = tree_flatten(tree)
    return [leaf for leaf in leaves if torch.is_tensor(leaf)]


def _tensor_bits(x: Any) -> int:
    return int(x.numel() * x.element_size() * 8) if torch.is_tensor(x) else 0


def call_model(model: nn.Module, inputs: Any) -> Any:
    """Call ``model`` with ``inputs``: a tuple/list is expanded as positional arguments, a
    dict as keyword arguments, anything else is passed as the single argument."""
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    return model(inputs)


class ActiveModuleTracker(ModuleTracker):
    """:class:`~torch.utils.module_tracker.ModuleTracker` that also keeps the module objects
    currently running (:attr:`active_modules`, beside the names in :attr:`parents`)."""

    def __init__(self) -> None:
        super().__init__()
        self.active_modules: set[nn.Module] = set()

    def _get_append_fn(self, mod: nn.Module, name: str, is_bw: bool) -> Callable[..., None]:
        def enter(*_: Any) -> None:
            if is_bw:
                self._maybe_set_engine_callback()
            if name in self.parents:
                _log.debug(
                    "module %s entered twice during %s", name, "backward" if is_bw else "forward"
                )
            self.parents.add(name)
            self.active_modules.add(mod)

        return enter

    def _get_pop_fn(self, mod: nn.Module, name: str, is_bw: bool) -> Callable[..., None]:
        def leave(*_: Any) -> None:
            self.parents.discard(name)
            if not self.active_modules:
                raise RuntimeError("active_modules stack underflow")
            self.active_modules.discard(mod)

        return leave

    def _fw_pre_hook(self, mod: nn.Module, input: Any) -> None:
        name = self._get_mod_name(mod)
        self._get_append_fn(mod, name, False)()
        grads = [t for t in _collect_tensors(input) if t.requires_grad]
        if grads:
            self._hooks.append(register_multi_grad_hook(grads, self._get_pop_fn(mod, name, True)))

    def _fw_post_hook(self, mod: nn.Module, input: Any, output: Any) -> None:
        name = self._get_mod_name(mod)
        self._get_pop_fn(mod, name, False)()
        grads = [t for t in _collect_tensors(output) if t.requires_grad]
        if grads:
            self._hooks.append(
                register_multi_grad_hook(grads, self._get_append_fn(mod, name, True))
            )


class BaseCounter:
    """Base class of counters.

    Attributes:
        records: ``records[scope][op] = count``.
        rules: ``rules[op](args, kwargs, out) -> int``, the formula of each supported op.
        ignore_modules: module types inside which nothing is counted.
    """

    def __init__(self) -> None:
        self.records = defaultdict(lambda: defaultdict(int))
        self.rules: dict[Any, Callable] = {}
        self.ignore_modules: list[type[nn.Module]] = []

    # Counting contexts add counts of plain counters to ``_pending`` (keyed by the op's id
    # and its scopes: no hashing of op objects per call); any read of ``records`` adds them
    # in first, so what ``records`` shows is always every count so far.
    @property
    def records(self) -> dict[str, dict[Any, int]]:
        """``records[scope][op] = count``."""
        if self._pending:
            self._add_pending()
        return self._records

    @records.setter
    def records(self, value: dict[str, dict[Any, int]]) -> None:
        self._pending: dict[tuple, list] = {}
        self._records = value

    def _add_pending(self) -> None:
        pending, self._pending = self._pending, {}
        records = self._records
        for func, scopes, value in pending.values():
            for scope in scopes:
                records[scope][func] += value

    def _init_rules(
        self,
        rules: dict[Any, Callable],
        extra_rules: dict[Any, Callable] | None,
        extra_ignore_modules: list[type[nn.Module]] | None,
    ) -> None:
        self.rules = {**rules, **(extra_rules or {})}
        self.ignore_modules = list(extra_ignore_modules or [])

    def has_rule(self, func: Any) -> bool:
        """Whether ``func`` has a counting rule."""
        return func in self.rules

    def count(
        self,
        func: Any,
        args: tuple,
        kwargs: dict,
        out: Any,
        active_modules: set[nn.Module] | None = None,
        parent_names: set[str] | None = None,
    ) -> int:
        """The count of one call of ``func`` by its rule."""
        return int(self.rules[func](args, kwargs, out))

    def record(self, scope: str, func: Any, value: int) -> None:
        """Add ``value`` to ``records[scope][func]``."""
        self.records[scope][func] += value

    def get_counts(self) -> dict[str, dict[Any, int]]:
        """All records as plain dicts, ``{scope: {op: count}}``."""
        return {scope: dict(ops) for scope, ops in self.records.items()}

    def get_total(self) -> int:
        """Sum of the counts in the ``"Global"`` scope."""
        return sum(self.records["Global"].values())

    def reset(self) -> None:
        """Clear all records."""
        self.records = defaultdict(lambda: defaultdict(int))


def _is_module_event(event: Any) -> bool:
    return (
        isinstance(event, tuple)
        and len(event) == 2
        and event[0] in ("forward", "backward")
        and isinstance(event[1], nn.Module)
    )


class ModuleCounter(BaseCounter):
    """Counter of module events ``(phase, module)``, ``phase`` in ``{'forward', 'backward'}``.

    Rules are keyed by ``(phase, module_type)`` and called as
    ``rule(module, args, kwargs, out)``; the most specific type of the module's MRO wins
    (then any key type the module is an instance of, for virtual base classes).
    """

    def _rule_key(self, event: tuple[str, nn.Module]) -> tuple[str, type[nn.Module]]:
        phase, module = event
        for module_type in type(module).__mro__:
            if (phase, module_type) in self.rules:
                return phase, module_type
        for key in self.rules:
            if key[0] == phase and isinstance(module, key[1]):
                return key
        raise KeyError(event)

    def has_rule(self, event: Any) -> bool:
        if not _is_module_event(event):
            return False
        try:
            self._rule_key(event)
        except KeyError:
            return False
        return True

    def count(
        self,
        func: Any,
        args: tuple,
        kwargs: dict,
        out: Any,
        active_modules: set[nn.Module] | None = None,
        parent_names: set[str] | None = None,
    ) -> int:
        phase, module = func
        return int(self.rules[self._rule_key(func)](module, args, kwargs, out))

    def record(self, scope: str, func: Any, value: int) -> None:
        self.records[scope][self._rule_key(func)] += value


class _CounterMode:
    """What the three counting contexts share: skipping, unsupported bookkeeping, recording."""

    module_tracker: ActiveModuleTracker

    def __init__(self, counters: list[BaseCounter], strict: bool = False) -> None:
        super().__init__()
        if not isinstance(counters, (list, tuple)) or not all(
            isinstance(c, BaseCounter) for c in counters
        ):
            raise TypeError(f"counters must be a list of BaseCounter instances, got {counters!r}")
        self.counters = list(counters)
        self.strict = strict
        self._unsupported: dict[BaseCounter, dict[str, int]] = {}
        self._plans: dict[Any, tuple[tuple, ...]] = {}

    def __enter__(self):
        self._unsupported = {counter: {} for counter in self.counters}
        self._plans = {}
        self.module_tracker.__enter__()
        try:
            super().__enter__()
        except BaseException:
            self.module_tracker.__exit__(None, None, None)
            raise
        _use_analysis_cache(True)
        return self

    def __exit__(self, *args: Any):
        try:
            return super().__exit__(*args)
        finally:
            self.module_tracker.__exit__(*args)
            _use_analysis_cache(False)
            for counter in self.counters:
                counter.records  # noqa: B018 (adds the pending counts)

    def get_unsupported(self, counter: BaseCounter) -> dict[str, int]:
        """Ops (or module events) ``counter`` had no rule for in the latest context, with
        their call counts. Raises ``ValueError`` for a counter not given to this mode."""
        if counter not in self._unsupported:
            raise ValueError(f"counter {counter!r} does not belong to this counter mode")
        return dict(self._unsupported[counter])

    @staticmethod
    def _subject_name(subject: Any) -> str:
        if _is_module_event(subject):
            phase, module = subject
            cls = type(module)
            return f"{phase}:{cls.__module__}.{cls.__qualname__}"
        return resolve_name(subject) or str(subject)

    def _should_skip(
        self, counter: BaseCounter, func: Any, active_modules: set[nn.Module] | None = None
    ) -> bool:
        if active_modules is None:
            active_modules = self.module_tracker.active_modules
        if counter.ignore_modules:
            ignored = tuple(counter.ignore_modules)
            if any(isinstance(m, ignored) for m in active_modules):
                return True
        if counter.has_rule(func):
            return False
        name = self._subject_name(func)
        unsupported = self._unsupported[counter]
        unsupported[name] = unsupported.get(name, 0) + 1
        if self.strict:
            raise NotImplementedError(
                f"{type(self).__name__}: {name} not defined by {type(counter).__name__}. "
                "To disable this error, set strict=False."
            )
        return True

    def _plan(self, func: Any) -> tuple[tuple, ...]:
        """How each counter takes ``func``, worked out once per context: ``(counter,
        supported, name, rule, inline_record, finalize)``. ``rule`` is the counter's formula
        when its ``count`` is :class:`BaseCounter`'s (then called directly), ``inline_record``
        whether its ``record`` is; ``name`` is kept for the unsupported list."""
        plan = []
        for counter in self.counters:
            cls = type(counter)
            supported = counter.has_rule(func)
            rule = None
            if supported and cls.count is BaseCounter.count:
                rule = counter.rules[func]
            plan.append(
                (
                    counter,
                    supported,
                    None if supported else self._subject_name(func),
                    rule,
                    cls.record is BaseCounter.record,
                    getattr(counter, "finalize_record", None),
                )
            )
        self._plans[func] = plan = tuple(plan)
        return plan

    def _record_counts(
        self,
        func: Any,
        args: tuple,
        kwargs: dict,
        out: Any,
        active_modules: set[nn.Module] | None = None,
        parent_names: set[str] | None = None,
    ) -> None:
        # The same steps as _should_skip, count and record for every counter, with what
        # depends only on ``func`` looked up once per context (this runs for every aten op).
        plan = self._plans.get(func)
        if plan is None:
            plan = self._plan(func)
        if active_modules is None:
            active_modules = set(self.module_tracker.active_modules)
        if parent_names is None:
            parent_names = set(self.module_tracker.parents)
        scopes = key = None
        for counter, supported, name, rule, inline_record, finalize in plan:
            if counter.ignore_modules:
                ignored = tuple(counter.ignore_modules)
                if any(isinstance(m, ignored) for m in active_modules):
                    continue
            if not supported:
                unsupported = self._unsupported[counter]
                unsupported[name] = unsupported.get(name, 0) + 1
                if self.strict:
                    raise NotImplementedError(
                        f"{type(self).__name__}: {name} not defined by "
                        f"{type(counter).__name__}. To disable this error, set strict=False."
                    )
                continue
            if rule is not None:
                value = int(rule(args, kwargs, out))
            else:
                value = counter.count(
                    func,
                    args,
                    kwargs,
                    out,
                    active_modules=active_modules,
                    parent_names=parent_names,
                )
            if inline_record:
                if scopes is None:
                    scopes = tuple(parent_names)
                    key = (id(func), scopes)
                pending = counter._pending
                entry = pending.get(key)
                if entry is None:
                    pending[key] = [func, scopes, value]
                else:
                    entry[2] += value
            else:
                for scope in parent_names:
                    counter.record(scope, func, value)
            if finalize is not None:
                finalize()


class ModuleCounterMode(_CounterMode):
    """Counting context on module forward and full-backward hooks.

    Hooks are installed only on the modules (and phases) some counter has a rule for; each
    event is credited to ``"Global"``, the root's class name and every enclosing submodule.

    Args:
        counters: module counters.
        model: the model whose modules are hooked.
        strict: raise ``NotImplementedError`` on a matched event a counter does not cover.
    """

    def __init__(
        self, counters: list[ModuleCounter], *, model: nn.Module, strict: bool = False
    ) -> None:
        super().__init__(counters, strict)
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self._handles: list[Any] = []
        self._scopes: dict[nn.Module, tuple[set[nn.Module], set[str]]] = {}
        self._active = False

    def _build_scopes(self) -> None:
        modules = dict(self.model.named_modules())
        root = type(self.model).__name__
        for name, module in modules.items():
            active = {self.model}
            names = {"Global", root}
            if name:
                parts = name.split(".")
                for end in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:end])
                    names.add(f"{root}.{prefix}")
                    active.add(modules[prefix])
            self._scopes[module] = active, names

    def _forward_hook(self, module: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
        active, names = self._scopes[module]
        self._record_counts(
            ("forward", module), args, kwargs, out, active_modules=active, parent_names=names
        )

    def _backward_hook(self, module: nn.Module, grad_input: Any, grad_output: Any) -> None:
        active, names = self._scopes[module]
        self._record_counts(
            ("backward", module),
            grad_input,
            {},
            grad_output,
            active_modules=active,
            parent_names=names,
        )

    def __enter__(self) -> ModuleCounterMode:
        if self._active:
            raise RuntimeError("ModuleCounterMode is already active.")
        self._active = True
        self._unsupported = {counter: {} for counter in self.counters}
        self._plans = {}
        try:
            self._build_scopes()
            for module in self.model.modules():
                if any(c.has_rule(("forward", module)) for c in self.counters):
                    self._handles.append(
                        module.register_forward_hook(self._forward_hook, with_kwargs=True)
                    )
                if any(c.has_rule(("backward", module)) for c in self.counters):
                    self._handles.append(module.register_full_backward_hook(self._backward_hook))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            for handle in self._handles:
                handle.remove()
        finally:
            self._handles.clear()
            self._active = False


class DispatchCounterMode(_CounterMode, TorchDispatchMode):
    """Context that counts every aten op at the dispatch level.

    Whatever Python API produced an op (a module, ``torch.matmul``, ``x @ y``, ``F.linear``),
    its aten call passes through ``__torch_dispatch__``; each counter with a rule for it
    computes its count, which is credited to every active module scope. Ops without a rule
    are skipped (listed by :meth:`get_unsupported`) or, with ``strict=True``, raise
    ``NotImplementedError``.

    Args:
        counters: counters to feed.
        strict: raise on an op a counter has no rule for.

    Example::

        counter = FlopCounter()
        with DispatchCounterMode([counter]):
            model(x)
        counter.get_total()
    """

    def __init__(self, counters: list[BaseCounter], strict: bool = False) -> None:
        super().__init__(counters, strict)
        self.module_tracker = ActiveModuleTracker()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        note_result(func, args, kwargs, out)  # what the op decides about spike outputs
        self._record_counts(func, args, kwargs, out)
        return out


class FunctionCounterMode(_CounterMode, TorchFunctionMode):
    """Context that counts torch functions at the ``__torch_function__`` level; counters'
    rules are keyed by the torch functions (``torch.matmul``, ``F.conv2d``, ...).

    Args:
        counters: counters to feed.
        strict: raise on a function a counter has no rule for.
    """

    def __init__(self, counters: list[BaseCounter], strict: bool = False) -> None:
        super().__init__(counters, strict)
        self.module_tracker = ActiveModuleTracker()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self._record_counts(func, args, kwargs, out)
        return out
