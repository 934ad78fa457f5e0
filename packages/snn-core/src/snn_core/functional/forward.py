"""Forward helpers: run single-step or stateless modules over a sequence.

``multi_step_forward`` loops a stateful single-step module over ``T``;
``seq_to_ann_forward`` folds time into the batch (``[T, N, *] -> [T*N, *]``) for stateless
modules, which is exact and runs all steps at once. The ``t_last_*`` variants take
``[N, *, T]`` (time last); ``chunk_multi_step_forward`` bounds memory for long ``T``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

__all__ = [
    "multi_step_forward",
    "t_last_multi_step_forward",
    "chunk_multi_step_forward",
    "seq_to_ann_forward",
    "t_last_seq_to_ann_forward",
]

Modules = nn.Module | Sequence[Callable] | Callable


def _as_chain(module: Modules, name: str) -> list[Callable]:
    """``module`` as a list of callables applied in order.

    A list or tuple (or an ``nn.ModuleList``, which torch cannot call) is a chain; any other
    callable, ``nn.Sequential`` included, is called itself, so its forward hooks run.
    """
    chain = list(module) if isinstance(module, (list, tuple, nn.ModuleList)) else [module]
    for i, m in enumerate(chain):
        if not callable(m):
            where = name if len(chain) == 1 else f"{name}[{i}]"
            raise TypeError(f"{where} must be a module or callable, got {type(m).__name__}")
    return chain


def _run_chain(chain: list[Callable], x: torch.Tensor | tuple[torch.Tensor, ...]) -> Any:
    """Apply ``chain`` in order; a tuple ``x`` is unpacked into the first callable's arguments."""
    args = x if isinstance(x, tuple) else (x,)
    for m in chain:
        x = m(*args)
        args = (x,)
    return x


# ----------------------------------------------------------------------------- input checks
# What a torch layer run on folded steps ``[T*N, *]`` needs of the unfolded input
# ``[T, N, *]``. Checked before folding: once folded, a missing ``T`` or a wrong feature size
# is reported by torch with ``T*N`` shapes, or (unbatched conv / pooling) not at all.
class _Spec:
    """Allowed numbers of dimensions of a multi-step input and the feature size it must have.

    ``ndims``: allowed ``x.dim()`` (``None``: at least ``min_ndim``); ``feature``: the name of
    the module attribute holding the size of dimension ``axis`` (``None``: no size check);
    ``layouts``: the dimensions after ``T, N`` of each allowed layout, ``{}`` standing for
    the feature size.
    """

    __slots__ = ("ndims", "min_ndim", "feature", "axis", "layouts")

    def __init__(
        self,
        ndims: tuple[int, ...] | None,
        layouts: tuple[tuple[str, ...], ...],
        feature: str | None = None,
        axis: int = 2,
        min_ndim: int = 2,
    ) -> None:
        self.ndims, self.layouts = ndims, layouts
        self.feature, self.axis, self.min_ndim = feature, axis, min_ndim

    def fits(self, x: torch.Tensor, module: Any) -> bool:
        """Whether ``x`` (``[T, N, *]``) is a valid multi-step input of ``module``."""
        n = x.dim()
        if (n not in self.ndims) if self.ndims is not None else n < self.min_ndim:
            return False
        if self.feature is None:
            return True
        size = getattr(module, self.feature, 0)
        # lazy modules hold 0 until their first call: nothing to check yet
        return not (isinstance(size, int) and size > 0) or x.shape[self.axis] == size

    def describe(self, module: Any, t_last: bool = False) -> tuple[str, str]:
        """``(module name with its feature size, the expected layout(s))``."""
        size = getattr(module, self.feature, 0) if self.feature else 0
        known = isinstance(size, int) and size > 0
        rendered = []
        for layout in self.layouts:
            if known:
                dims = [d.format(size) for d in layout]
            else:
                dims = [d.replace("={}", "").replace("{}", str(self.feature)) for d in layout]
            full = ["N", *dims, "T"] if t_last else ["T", "N", *dims]
            rendered.append(f"[{', '.join(full)}]")
        name = type(module).__name__
        if self.feature and known:
            name = f"{name}({self.feature}={size})"
        return name, " or ".join(rendered)


def _pool_specs(kinds: tuple[type, ...], nd: int) -> dict[type, _Spec]:
    spatial = (("L",), ("H", "W"), ("D", "H", "W"))[nd - 1]
    return {k: _Spec((3 + nd,), (("C", *spatial),)) for k in kinds}


def _build_spec_table() -> dict[type, _Spec]:
    table: dict[type, _Spec] = {
        nn.Linear: _Spec(None, (("*", "{}"),), "in_features", -1, min_ndim=3),
        nn.Flatten: _Spec(None, (("*",),), min_ndim=3),
        nn.GroupNorm: _Spec(None, (("C={}", "*"),), "num_channels", min_ndim=3),
        nn.BatchNorm1d: _Spec((3, 4), (("C={}",), ("C={}", "L")), "num_features"),
        nn.BatchNorm2d: _Spec((5,), (("C={}", "H", "W"),), "num_features"),
        nn.BatchNorm3d: _Spec((6,), (("C={}", "D", "H", "W"),), "num_features"),
        nn.Upsample: _Spec((4, 5, 6), (("C", "L"), ("C", "H", "W"), ("C", "D", "H", "W"))),
    }
    for nd, spatial in enumerate((("L",), ("H", "W"), ("D", "H", "W")), start=1):
        conv = _Spec((3 + nd,), (("C={}", *spatial),), "in_channels")
        table[(nn.Conv1d, nn.Conv2d, nn.Conv3d)[nd - 1]] = conv
        table[(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[nd - 1]] = conv
    pools = (
        (
            nn.MaxPool1d,
            nn.AvgPool1d,
            nn.AdaptiveAvgPool1d,
            nn.AdaptiveMaxPool1d,
            nn.MaxUnpool1d,
            nn.LPPool1d,
        ),
        (
            nn.MaxPool2d,
            nn.AvgPool2d,
            nn.AdaptiveAvgPool2d,
            nn.AdaptiveMaxPool2d,
            nn.MaxUnpool2d,
            nn.LPPool2d,
            nn.FractionalMaxPool2d,
        ),
        (
            nn.MaxPool3d,
            nn.AvgPool3d,
            nn.AdaptiveAvgPool3d,
            nn.AdaptiveMaxPool3d,
            nn.MaxUnpool3d,
            nn.FractionalMaxPool3d,
        ),
    )
    for nd, kinds in enumerate(pools, start=1):
        table.update(_pool_specs(kinds, nd))
    return table


_SPEC_TABLE = _build_spec_table()
_SPEC_CACHE: dict[type, _Spec | None] = {}


def _input_spec(cls: type) -> _Spec | None:
    """The input spec of the torch layer class ``cls`` derives from (``None``: unknown)."""
    try:
        return _SPEC_CACHE[cls]
    except KeyError:
        spec = next((_SPEC_TABLE[b] for b in cls.__mro__ if b in _SPEC_TABLE), None)
        _SPEC_CACHE[cls] = spec
        return spec


def _first_layer(modules: Any) -> Any:
    """The callable that first receives the input of ``modules`` (looking into lists, tuples
    and plain ``nn.Sequential``), or ``None``."""
    for _ in range(16):  # nesting depth bound
        if isinstance(modules, (list, tuple, nn.ModuleList)) or (
            isinstance(modules, nn.Sequential) and type(modules).forward is nn.Sequential.forward
        ):
            if len(modules) == 0:
                return None
            modules = modules[0]
        else:
            return modules
    return None


def _shape_error(
    who: str,
    arg: str,
    x: torch.Tensor,
    spec: _Spec,
    module: Any,
    t_last: bool = False,
    shape: tuple[int, ...] | None = None,
    suffix: str = "",
) -> ValueError:
    """The error for a multi-step input ``x`` that does not fit ``module``: ``who`` (the
    caller) + the module's name + ``suffix`` + the expected and the given shape. ``shape``: the
    shape to show, if ``x`` was already moved to time-first."""
    name, layout = spec.describe(module, t_last)
    shown = list(x.shape if shape is None else shape)
    n = x.dim()
    dims_ok = (n in spec.ndims) if spec.ndims is not None else n >= spec.min_ndim
    size = getattr(module, spec.feature, 0) if spec.feature else 0
    if not dims_ok:
        missing_t = (n + 1 in spec.ndims) if spec.ndims is not None else n + 1 == spec.min_ndim
    else:  # e.g. [N, C, L] given to a BatchNorm1d: C sits where N is expected
        missing_t = spec.axis == 2 and isinstance(size, int) and size > 0 and x.shape[1] == size
    hint = ""
    if missing_t:
        hint = (
            "; is the time dimension T missing? (a multi-step input is "
            f"{'[N, *, T]' if t_last else '[T, N, *]'}; for one step [N, *] use step_mode='s')"
        )
    return ValueError(f"{who}{name}{suffix} expected {arg} with shape {layout}, got {shown}{hint}")


def _check_layer_input(
    x: torch.Tensor,
    modules: Any,
    who: str,
    arg: str,
    t_last: bool = False,
    shape: tuple[int, ...] | None = None,
) -> None:
    """Raise a clear ``ValueError`` if the multi-step input ``x`` ``[T, N, *]`` does not fit
    the first layer of ``modules`` (a torch layer whose needs are known; others pass)."""
    layer = _first_layer(modules)
    if layer is None:
        return
    spec = _input_spec(type(layer))
    if spec is not None and not spec.fits(x, layer):
        raise _shape_error(who, arg, x, spec, layer, t_last, shape)


def _check_seq(x_seq: object, name: str, layout: str, min_dim: int, time_dim: int) -> None:
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {layout}, got {type(x_seq)}")
    if x_seq.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimensions ({layout}), "
            f"got shape {tuple(x_seq.shape)}"
        )
    if x_seq.shape[time_dim] == 0:
        raise ValueError(f"{name} has no time-steps (T = 0) in shape {tuple(x_seq.shape)}")


def multi_step_forward(x_seq: torch.Tensor, single_step_module: Modules) -> torch.Tensor:
    """Run single-step module(s) once per time-step and stack: ``y[t] = f(x[t])``.

    Args:
        x_seq: input ``[T, N, *]``.
        single_step_module: a module or callable (an ``nn.Sequential`` is called itself, so
            its hooks run), or a list / tuple (or ``nn.ModuleList``) of them applied in order
            at each step; state is carried by the modules.

    Returns:
        ``[T, N, *]`` output.
    """
    _check_seq(x_seq, "x_seq", "[T, N, *]", 2, 0)
    chain = _as_chain(single_step_module, "single_step_module")
    return torch.stack([_run_chain(chain, x_seq[t]) for t in range(x_seq.shape[0])])


def t_last_multi_step_forward(x_seq: torch.Tensor, single_step_module: Modules) -> torch.Tensor:
    """:func:`multi_step_forward` for time-last data: input and output are ``[N, *, T]``."""
    _check_seq(x_seq, "x_seq", "[N, *, T]", 2, -1)
    chain = _as_chain(single_step_module, "single_step_module")
    y = [_run_chain(chain, x_seq[..., t]) for t in range(x_seq.shape[-1])]
    return torch.stack(y, dim=-1)


def chunk_multi_step_forward(
    split_size: int, x_seq: torch.Tensor, multi_step_module: nn.Module | Callable
) -> torch.Tensor:
    """Feed ``x_seq`` (``[T, *]``) to a multi-step module in chunks of ``split_size`` steps and
    concatenate the outputs along time (the last chunk is shorter if ``T % split_size``).

    State carries over between chunks, so the result equals ``multi_step_module(x_seq)``
    while peak memory scales with ``split_size`` (useful for inference with a large ``T``).
    """
    if isinstance(split_size, bool) or not isinstance(split_size, int) or split_size < 1:
        raise ValueError(f"split_size must be a positive int, got {split_size!r}")
    _check_seq(x_seq, "x_seq", "[T, *]", 1, 0)
    if not callable(multi_step_module):
        raise TypeError(
            f"multi_step_module must be a module or callable, got {type(multi_step_module)}"
        )
    return torch.cat([multi_step_module(x) for x in torch.split(x_seq, split_size)], dim=0)


def _fold_run(
    x_seq: torch.Tensor | tuple[torch.Tensor, ...],
    stateless_module: Modules,
    who: str,
    t_last: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """:func:`seq_to_ann_forward` with ``who`` (the caller's name) in its error messages;
    ``t_last``: ``x_seq`` was moved from ``[N, *, T]`` (errors show that layout)."""
    if isinstance(x_seq, tuple):
        if not x_seq:
            raise ValueError("x_seq must be a tensor or a non-empty tuple of tensors [T, N, *]")
        for i, item in enumerate(x_seq):
            _check_seq(item, f"x_seq[{i}]", "[T, N, *]", 2, 0)
        lead = tuple(x_seq[0].shape[:2])
        if any(tuple(item.shape[:2]) != lead for item in x_seq[1:]):
            raise ValueError(
                "all tensors of x_seq must share the same [T, batch_size] leading dimensions "
                f"([T, N]), got shapes {[tuple(item.shape) for item in x_seq]}"
            )
        first = x_seq[0]
        x: torch.Tensor | tuple[torch.Tensor, ...] = tuple(item.flatten(0, 1) for item in x_seq)
    else:
        _check_seq(x_seq, "x_seq", "[N, *, T]" if t_last else "[T, N, *]", 2, 0)
        first = x_seq
        lead = tuple(x_seq.shape[:2])
        x = x_seq.flatten(0, 1)
    chain = _as_chain(stateless_module, "stateless_module")
    shown = (*first.shape[1:], first.shape[0]) if t_last else None
    _check_layer_input(first, chain, who, "x_seq", t_last, shown)
    T, N = lead
    y = _run_chain(chain, x)
    outputs = y if isinstance(y, tuple) else (y,)
    for item in outputs:
        if not isinstance(item, torch.Tensor) or item.dim() < 1 or item.shape[0] != T * N:
            got = tuple(item.shape) if isinstance(item, torch.Tensor) else type(item).__name__
            raise ValueError(
                f"stateless_module must map [T*N, *] = [{T * N}, ...] to tensor(s) with first "
                f"dimension T*N = {T * N} (T={T}, N={N}), got {got}"
            )
    unfolded = tuple(item.unflatten(0, (T, N)) for item in outputs)
    return unfolded if isinstance(y, tuple) else unfolded[0]


def seq_to_ann_forward(
    x_seq: torch.Tensor | tuple[torch.Tensor, ...], stateless_module: Modules
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """Apply stateless module(s) to all time-steps at once.

    ``[T, N, *]`` is folded into ``[T*N, *]``, passed through ``stateless_module`` (a module
    or callable, called itself, so an ``nn.Sequential``'s hooks run; or a list / tuple of
    them, applied in order) and unfolded to ``[T, N, *out]``. Equal to looping the module
    over ``t`` for any module that treats samples independently (not for batch norm in
    training mode, whose statistics then cover all ``T*N`` samples).

    ``x_seq`` may also be a tuple of tensors sharing ``[T, N]``: each is folded and they are
    passed as the first module's positional arguments; a tuple output is unfolded item by
    item (as in the reference).

    If the first layer is a torch layer with known input needs (``Linear``, convolutions,
    batch / group norm, pooling, ``Upsample``, ``Flatten``), ``x_seq`` is checked against
    them before folding, so a missing ``T`` or a wrong feature size is reported with the
    ``[T, N, *]`` shapes rather than torch's folded ``[T*N, *]`` ones.
    """
    return _fold_run(x_seq, stateless_module, "seq_to_ann_forward: stateless_module ")


def t_last_seq_to_ann_forward(
    x_seq: torch.Tensor, stateless_module: Modules
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """:func:`seq_to_ann_forward` for time-last data: input ``[N, *, T]``, output ``[N, *out, T]``
    (each tensor of a tuple output gets its time dimension moved back last).

    Time is moved to the front and folded into the batch, so the result equals applying the
    module to each ``x_seq[..., t]`` for per-sample modules (not batch norm in training mode).
    The reference maps the module over ``T`` with ``torch.vmap`` instead: the values are the
    same, the strides of the outputs may differ, and modules that vmap cannot run (dropout in
    training mode, batch norm updating running statistics) work here.
    """
    _check_seq(x_seq, "x_seq", "[N, *, T]", 2, -1)
    y = _fold_run(
        x_seq.movedim(-1, 0),
        stateless_module,
        "t_last_seq_to_ann_forward: stateless_module ",
        t_last=True,
    )
    if isinstance(y, tuple):
        return tuple(item.movedim(0, -1) for item in y)
    return y.movedim(0, -1)
