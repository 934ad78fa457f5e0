"""The cache of resettable modules behind :func:`snn_core.functional.reset_net`.

Resetting a network between sequences must call ``reset()`` on each stateful module. Finding
them walks ``net.modules()`` and looks up ``reset`` on every module, which for a large
network costs far more than the resets themselves. So ``reset_net`` remembers, per network,
the modules to reset (as weak references) and a snapshot of the module tree: for every module
with children, a weak reference to each child in order.

Before a cached list is used, the snapshot is compared with the live tree (one identity
check per parent-child edge, about ten times cheaper than collecting again). Any change —
a module added, removed, replaced or reordered anywhere in the tree, by ``setattr``,
``add_module``, ``del``, ``nn.Sequential``/``ModuleList``/``ModuleDict`` edits, or a module
garbage-collected — makes the cache stale and the list is collected again. So, unlike the
reference, whose cache keeps resetting a swapped-out module until
:func:`invalidate_reset_cache` is called, a stale list is never used;
:func:`invalidate_reset_cache` remains for dropping an entry explicitly.

Networks are keyed by identity in a ``WeakKeyDictionary`` (an entry disappears with its
network); a network class that overrides ``__eq__`` or ``__hash__`` is never cached.
"""

from __future__ import annotations

from collections.abc import Iterable
from weakref import ReferenceType, WeakKeyDictionary, ref

from torch import nn

__all__ = [
    "collect_reset_modules",
    "reset_collected_modules",
    "invalidate_reset_cache",
    "cached_reset_modules",
]

# net -> weak references to its resettable modules, in ``net.modules()`` order.
_RESET_MODULE_CACHE: WeakKeyDictionary[nn.Module, tuple[ReferenceType[nn.Module], ...]] = (
    WeakKeyDictionary()
)
# net -> snapshot of its tree: ((parent, (child or None, ...)), ...) as weak references.
_Snapshot = tuple[tuple[ReferenceType[nn.Module], tuple[ReferenceType[nn.Module] | None, ...]], ...]
_TREE_SNAPSHOT: WeakKeyDictionary[nn.Module, _Snapshot] = WeakKeyDictionary()


def _check_net(net: object) -> None:
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")


def collect_reset_modules(net: nn.Module) -> tuple[nn.Module, ...]:
    """The modules of ``net`` (``net`` included, ``net.modules()`` order) with a callable
    ``reset``. Walks the whole network every call; nothing is cached."""
    _check_net(net)
    return tuple(m for m in net.modules() if callable(getattr(m, "reset", None)))


def reset_collected_modules(modules: Iterable[nn.Module]) -> None:
    """Call ``reset()`` on each module of ``modules`` (e.g. from :func:`collect_reset_modules`).

    Exceptions raised by a ``reset()`` propagate unchanged.
    """
    for m in modules:
        m.reset()


def _cacheable(net: nn.Module) -> bool:
    cls = type(net)
    return cls.__eq__ is object.__eq__ and cls.__hash__ is object.__hash__


def invalidate_reset_cache(net: nn.Module) -> None:
    """Forget the cached resettable modules of ``net`` (no effect if there are none).

    ``reset_net`` already notices structural changes by itself; call this to release the
    entry early or after changing a module's ``reset`` attribute in place.
    """
    _check_net(net)
    if _cacheable(net):
        _RESET_MODULE_CACHE.pop(net, None)
        _TREE_SNAPSHOT.pop(net, None)


def _snapshot(net: nn.Module) -> _Snapshot:
    entries = []
    stack = [net]
    seen: set[int] = set()
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        children = m._modules
        if children:
            entries.append(
                (ref(m), tuple(None if c is None else ref(c) for c in children.values()))
            )
            stack.extend(c for c in children.values() if c is not None)
    return tuple(entries)


def _unchanged(snapshot: _Snapshot) -> bool:
    for parent_ref, child_refs in snapshot:
        parent = parent_ref()
        if parent is None:
            return False
        children = parent._modules
        if len(children) != len(child_refs):
            return False
        for child_ref, child in zip(child_refs, children.values()):
            if child_ref is None:
                if child is not None:
                    return False
            elif child_ref() is not child:
                return False
    return True


def _resolve(net: nn.Module) -> tuple[nn.Module, ...] | None:
    cached = _RESET_MODULE_CACHE.get(net)
    if cached is None:
        return None
    snapshot = _TREE_SNAPSHOT.get(net)
    if snapshot is None or not _unchanged(snapshot):
        return None
    modules = tuple(r() for r in cached)
    if any(m is None for m in modules):
        return None
    return modules  # type: ignore[return-value]


def cached_reset_modules(net: nn.Module) -> tuple[nn.Module, ...]:
    """The resettable modules of ``net``, from the cache when ``net``'s tree is unchanged,
    otherwise collected again (and cached)."""
    _check_net(net)
    if not _cacheable(net):
        return collect_reset_modules(net)
    modules = _resolve(net)
    if modules is None:
        modules = collect_reset_modules(net)
        _RESET_MODULE_CACHE[net] = tuple(ref(m) for m in modules)
        _TREE_SNAPSHOT[net] = _snapshot(net)
    return modules
