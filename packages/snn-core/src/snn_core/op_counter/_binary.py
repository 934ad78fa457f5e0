"""Spike-tensor analysis shared by the counters: whether a tensor is binary (every element 0
or 1, or ``bool``) and how many non-zeros it has.

Several counters ask about the same operands (the MACs, ACs and SynOps of one convolution), so
inside counting contexts each answer is kept per tensor version (storage, offset, shape,
strides, dtype, ``_version``) until the tensor dies. The answer is also carried from an op's
inputs to its output where the op decides it, without reading values (:func:`note_result`):

- a cast of a ``bool`` tensor (``heaviside``'s ``(h >= 0).to(h.dtype)``) is binary;
- views, copies and transposes have the same elements as their input;
- slices, selections, broadcasts and max pooling of a binary tensor are binary;
- a stack or concatenation of binary tensors is binary (its non-zeros are theirs, summed);
- ``full_like`` / ``zeros_like`` / ``ones_like`` hold one known value.

A tensor nothing is known about is read: first a small leading block, where a real-valued
tensor (a membrane potential, an activation) almost always shows a non-binary element and is
settled at once, then, only if that block is binary, the whole tensor.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch

__all__ = [
    "is_binary_tensor",
    "binary_nnz",
    "exact_integer_sum",
    "note_result",
    "use_analysis_cache",
    "per_output",
]

aten = torch.ops.aten

# Cache value: the number of non-zeros (binary), None (not binary), or _BINARY (binary,
# non-zeros not counted yet).
_BINARY = "binary"
_MISSING = object()
_CACHE: dict[tuple, Any] = {}
_REFS: list[weakref.ref] = []
_USERS = 0
# Elements of a large tensor's leading block looked at before the whole tensor is.
_PROBE_SIZE = 64


def use_analysis_cache(enter: bool) -> None:
    """Count a counting context in (``True``) or out; the cache lives while one is active."""
    global _USERS
    _USERS += 1 if enter else -1
    if _USERS == 0:
        _CACHE.clear()
        _REFS.clear()


def _cache_key(x: torch.Tensor) -> tuple | None:
    """Identity of ``x``'s elements: where they start, their layout and the version of its
    memory (bumped by every in-place write, through any view)."""
    if x.is_meta or x.is_inference() or x.numel() == 0:  # inference tensors have no version
        return None
    try:
        pointer = x.data_ptr()
    except (RuntimeError, NotImplementedError):  # no storage (sparse, some subclasses)
        return None
    return pointer, x.shape, x.stride(), x.dtype, x.device, x._version


def _store(x: torch.Tensor, key: tuple, value: Any) -> Any:
    _CACHE[key] = value
    # forget the answer when the memory's owner dies (the base of a view: another view of it
    # with the same layout meets the same answer), before the memory can be reused
    owner = x._base if x._base is not None else x
    _REFS.append(weakref.ref(owner, lambda _, key=key: _CACHE.pop(key, None)))
    return value


def _leading_values(x: torch.Tensor) -> list:
    """Up to ``_PROBE_SIZE`` leading elements of ``x`` (its first row if not contiguous)."""
    row = x.view(-1) if x.is_contiguous() else x[(0,) * (x.dim() - 1)]
    return row[:_PROBE_SIZE].tolist()


# Below this many elements, float32 sums of 0/1 values (or of other small non-negative
# integers, as long as the total stays below it) are exact whatever the order of additions.
_EXACT_FLOAT32 = 2**24


def exact_integer_sum(t: torch.Tensor, max_value: int = 1, dim: Any = None) -> torch.Tensor:
    """Exact sum (over ``dim``, or all) of a tensor of non-negative integers that are at
    most ``max_value`` (spikes: 1): in float32 while every partial sum is below 2**24 (a
    fast reduction), else in float64 or int64."""
    if not (t.is_floating_point() or t.dtype == torch.bool):
        return t.sum(dim=dim, dtype=torch.int64)
    reduced = t.numel() if dim is None else t.numel() // max(1, _numel_after(t, dim))
    wide = torch.float64 if t.dtype == torch.float64 else torch.float32
    if reduced * max_value >= _EXACT_FLOAT32:
        wide = torch.float64
    return t.sum(dtype=wide) if dim is None else t.sum(dim=dim, dtype=wide)


def _numel_after(t: torch.Tensor, dim: Any) -> int:
    dims = {d % t.dim() for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
    kept = 1
    for d, size in enumerate(t.shape):
        if d not in dims:
            kept *= size
    return kept


def _analyse(x: torch.Tensor) -> Any:
    """``_BINARY`` if every element of ``x`` is 0 or 1 (or ``x`` is ``bool``), else ``None``
    (reads the values; the non-zeros are counted by ``_count`` when asked for)."""
    if x.dtype == torch.bool or x.numel() == 0:
        return _BINARY
    if x.is_meta:  # no values: not known to be spikes (counted as dense)
        return None
    if x.is_complex():
        binary = bool(torch.logical_or(x == 0, x == 1).all().item())
        return _BINARY if binary else None
    if x.numel() > 2 * _PROBE_SIZE and not all(v == 0 or v == 1 for v in _leading_values(x)):
        return None
    low, high = torch.aminmax(x)
    if not (low.item() >= 0 and high.item() <= 1):  # NaN fails too
        return None
    # in [0, 1]: binary exactly when no element has a fractional part (frac(1) = 0)
    if x.is_floating_point() and x.frac().amax().item() != 0:
        return None
    return _BINARY


def _count(x: torch.Tensor) -> int:
    """Non-zeros of a binary tensor (its sum, exactly)."""
    if x.dtype == torch.bool:
        return int(x.count_nonzero().item())
    return int(exact_integer_sum(x).item())


def _state(x: torch.Tensor) -> Any:
    """The cached answer for ``x`` (``_MISSING`` if none); outside counting contexts always
    ``_MISSING``."""
    if not _USERS or (key := _cache_key(x)) is None:
        return _MISSING
    return _CACHE.get(key, _MISSING)


def _known(x: torch.Tensor) -> tuple[tuple | None, Any]:
    """``(cache key, state)`` of ``x``, reading its values if nothing is known yet."""
    key = _cache_key(x) if _USERS else None
    if key is None:
        return None, _analyse(x)
    state = _CACHE.get(key, _MISSING)
    if state is _MISSING:
        state = _store(x, key, _analyse(x))
    return key, state


def _visible() -> bool:
    """Whether ops run now reach a dispatch mode (called from a module hook inside a counting
    context, not from within a mode's own ``__torch_dispatch__``)."""
    return torch._C._len_torch_dispatch_stack() > 0


def _binary_as_seen(x: torch.Tensor) -> bool:
    # where modes see it, the check is the reference's own expression, op for op, so that
    # they count what they count in the reference
    return bool((x.eq(0) | x.eq(1)).all().item())


def binary_nnz(x: torch.Tensor) -> int | None:
    """The number of non-zeros of ``x`` if it is binary (all 0 or 1, or ``bool``), else
    ``None``; remembered per tensor version while a counting context is active."""
    if _visible():
        binary = x.dtype == torch.bool or _binary_as_seen(x)
        return int(x.count_nonzero().item()) if binary else None
    key, state = _known(x)
    if state is _BINARY:
        state = _count(x)
        if key is not None:
            _store(x, key, state)
    return state


def is_binary_tensor(x: torch.Tensor) -> bool:
    """``True`` if ``x`` is a ``bool`` tensor or all its elements are 0 or 1 (a spike tensor)."""
    if x.dtype == torch.bool:
        return True
    return _binary_as_seen(x) if _visible() else _known(x)[1] is not None


def per_output(out: torch.Tensor, tag: Any, compute: Callable[[], int]) -> int:
    """``compute()``, remembered per version of the op output ``out`` and ``tag`` while a
    counting context is active: counters sharing a rule (ACs and SynOps of one product) then
    read the operands once. ``out`` identifies the call (a fresh tensor per call)."""
    if not _USERS or not torch.is_tensor(out) or (key := _cache_key(out)) is None:
        return compute()
    key = (*key, tag)
    value = _CACHE.get(key, _MISSING)
    if value is _MISSING:
        value = _store(out, key, compute())
    return value


# ----------------------------------------------------------------- carrying answers along ops
def _first(args: tuple) -> Any:
    return args[0] if args and torch.is_tensor(args[0]) else None


def _same(args: tuple, kwargs: dict, out: Any) -> Any:
    """The output holds exactly the input's elements (a view, copy or transpose)."""
    x = _first(args)
    if x is None or out.dtype != x.dtype:
        return _MISSING
    return _state(x)


def _part(args: tuple, kwargs: dict, out: Any) -> Any:
    """The output's elements are some of the input's (slices, broadcasts, max pooling)."""
    x = _first(args)
    if x is None or out.dtype != x.dtype:
        return _MISSING
    return _BINARY if _state(x) not in (None, _MISSING) else _MISSING


def _cast(args: tuple, kwargs: dict, out: Any) -> Any:
    """A cast of a ``bool`` tensor is binary; a cast keeps a binary tensor's elements (0 and
    1 exist in every dtype), but may round a real-valued one to 0s and 1s."""
    x = _first(args)
    if x is None:
        return _MISSING
    if x.dtype == torch.bool:
        return _BINARY
    state = _state(x)
    return state if state is not None or out.dtype == x.dtype else _MISSING


def _joined(args: tuple, kwargs: dict, out: Any) -> Any:
    """A stack or concatenation."""
    tensors = args[0]
    if not tensors or any(t.dtype != out.dtype for t in tensors):
        return _MISSING
    states = [_state(t) if t.numel() else 0 for t in tensors]
    if all(isinstance(s, int) for s in states):
        return sum(states)
    if any(s is None or s is _MISSING for s in states):
        return _MISSING
    return _BINARY


def _filled(args: tuple, kwargs: dict, out: Any) -> Any:
    """``full_like`` and friends: one value everywhere (read back from the output)."""
    if out.numel() == 0:
        return _MISSING
    value = out[(0,) * out.dim()].item()
    return 0 if value == 0 else out.numel() if value == 1 else None


def _pooled(args: tuple, kwargs: dict, out: Any) -> Any:
    """Max pooling without padding: each window's maximum is one of its elements."""
    padding = args[3] if len(args) > 3 else kwargs.get("padding", 0)
    if any(p != 0 for p in (padding if isinstance(padding, (list, tuple)) else [padding])):
        return _MISSING
    return _part(args, kwargs, out)


def _overloads(names: str) -> list:
    found = []
    for name in names.split():
        packet, overload = name.split(".")
        op = getattr(getattr(aten, packet, None), overload, None)
        if op is not None:
            found.append(op)
    return found


_SAME = (
    "view.default _unsafe_view.default _reshape_alias.default clone.default alias.default "
    "detach.default t.default transpose.int permute.default unsqueeze.default squeeze.default "
    "squeeze.dim squeeze.dims"
)
_RULES: dict[Any, Callable[[tuple, dict, Any], Any]] = {
    **dict.fromkeys(_overloads(_SAME), _same),
    **dict.fromkeys(_overloads("select.int slice.Tensor expand.default"), _part),
    **dict.fromkeys(_overloads("stack.default cat.default"), _joined),
    **dict.fromkeys(_overloads("full_like.default zeros_like.default ones_like.default"), _filled),
    aten._to_copy.default: _cast,
}
# ops returning (values, indices)
_POOLS = dict.fromkeys(
    _overloads("max_pool1d_with_indices.default max_pool2d_with_indices.default"), _pooled
)


def note_result(func: Any, args: tuple, kwargs: dict, out: Any) -> None:
    """Carry what is known about ``func``'s inputs to its output (see the module doc); a
    no-op outside counting contexts and for ops that decide nothing."""
    rule = _RULES.get(func)
    if rule is None:
        rule = _POOLS.get(func)
        if rule is None:
            return
        out = out[0]
    if not _USERS or not torch.is_tensor(out) or out.dtype == torch.bool:
        return
    key = _cache_key(out)  # None: nothing to remember (meta, inference or empty tensors)
    if key is None or key in _CACHE:
        return
    state = rule(args, kwargs, out)
    if state is not _MISSING:
        _store(out, key, state)
