"""The sequence contract of the STA step-mode backend.

:class:`~snn_layers.ann2snn.STATransformerRecipe` accepts a narrower set of graph
operations than the generic step-mode adapter: elementwise ``+``/``-``/``*``/negation,
shape and reduction ops whose dimensions are literals and leave the batch dimension alone,
static slicing that keeps the batch dimension, ``masked_fill`` and namedtuple outputs.
:func:`check_sequence_contract` refuses anything else before the adapter runs, and
:func:`harden_tensor_ops` makes the adapter's shape ops refuse, in ``'m'`` mode, a call
that would merge time and batch (e.g. ``reshape(2 * N, -1)`` or ``cat`` along dim 0).
"""

from __future__ import annotations

import builtins
import operator
from typing import Any

import torch
from torch import fx, nn

from snn_layers.ann2snn.operators import TDMultiheadAttention
from snn_layers.ann2snn.recipes.step_mode_adapters import _shape_args, _StepModeTensorOp

__all__ = ["check_sequence_contract", "harden_tensor_ops", "namedtuple_constructors"]

_PASSTHROUGH_FUNCTIONS = {
    operator.add, operator.eq, operator.floordiv, operator.neg, operator.mul, operator.sub,
    torch.add, torch.neg, torch.sub, torch._assert,
}  # fmt: skip
_SHAPE_FUNCTIONS = {
    operator.getitem, torch.cat, builtins.getattr, torch.flatten, torch.mean, torch.reshape,
    torch.transpose, torch.unsqueeze,
}  # fmt: skip
_METHODS = {
    "size", "dim", "view", "reshape", "expand", "mean", "flatten", "transpose", "unsqueeze",
    "unflatten", "permute", "masked_fill",
}  # fmt: skip
#: modules whose output is a tuple, so ``out[0]`` is not a tensor index
_TUPLE_MODULES = (TDMultiheadAttention,)
_BATCH_ERROR = (
    "in multi-step mode merges the time and batch dimensions; operations that touch the "
    "original batch dimension are not sequence-preserving and are not supported"
)


def namedtuple_constructors(fx_model: fx.GraphModule) -> tuple[Any, ...]:
    """The namedtuple classes the graph calls (model outputs): safe in both step modes."""
    calls = {n.target for n in fx_model.graph.nodes if n.op == "call_function"}
    return tuple(t for t in calls if hasattr(t, "_fields"))


def _is_literal_dim(dim: Any) -> bool:
    if isinstance(dim, (tuple, list)):
        return all(isinstance(d, int) for d in dim)
    return isinstance(dim, int)


def _check_literal_dims(node: fx.Node, context: str, *dims: Any) -> None:
    for dim in dims:
        if not _is_literal_dim(dim):
            raise ValueError(
                f"{context} requires literal integer dimensions (node {node.name!r}), "
                f"but got {dim!r}."
            )


def _contains_node(value: Any) -> bool:
    if isinstance(value, fx.Node):
        return True
    if isinstance(value, slice):
        return any(_contains_node(v) for v in (value.start, value.stop, value.step))
    if isinstance(value, tuple):
        return any(_contains_node(v) for v in value)
    return False


def _keeps_batch(item: Any) -> bool:
    full = slice(None, None, None)
    if item is Ellipsis or (isinstance(item, slice) and item == full):
        return True
    if isinstance(item, tuple) and item:
        first = item[0]
        return first is Ellipsis or (isinstance(first, slice) and first == full)
    return False


def _indexes_non_tensor(source: Any, modules: dict[str, nn.Module]) -> bool:
    """``source`` is a shape / size, or the tuple output of a module (``attn(...)[0]``)."""
    if not isinstance(source, fx.Node):
        return False
    if source.op == "call_module" and isinstance(modules.get(source.target), _TUPLE_MODULES):
        return True
    if source.op == "call_function" and source.target is builtins.getattr:
        return len(source.args) == 2 and source.args[1] == "shape"
    if source.op == "call_method" and source.target == "size":
        return True
    return source.op == "call_module" and any(
        u.op == "call_function"
        and u.target is operator.getitem
        and len(u.args) >= 2
        and u.args[0] is source
        and u.args[1] == 1
        and not u.users
        for u in source.users
    )


def _check_getitem(node: fx.Node, context: str, modules: dict[str, nn.Module]) -> None:
    item = node.args[1]
    if isinstance(item, int):
        if not _indexes_non_tensor(node.args[0], modules):
            raise ValueError(
                f"{context} does not support integer tensor getitem (node {node.name!r}): it "
                "is not sequence-preserving."
            )
        return
    if not isinstance(item, (slice, tuple)) and item is not Ellipsis:
        raise ValueError(f"{context} does not support getitem index {item!r}.")
    if _contains_node(item):
        raise ValueError(
            f"{context} requires tensor getitem indices to be static literals (node {node.name!r})."
        )
    if not _keeps_batch(item):
        raise ValueError(
            f"{context} requires tensor getitem to preserve the original batch dimension "
            f"(node {node.name!r}, index {item!r})."
        )


def _arg(node: fx.Node, position: int, name: str, default: Any = None) -> Any:
    if len(node.args) > position:
        return node.args[position]
    return node.kwargs.get(name, default)


def _check_shape_call(node: fx.Node, context: str, modules: dict[str, nn.Module]) -> None:
    target = node.target
    if target is operator.getitem:
        _check_getitem(node, context, modules)
    elif target in ("mean", torch.mean):
        if len(node.args) < 2 and "dim" not in node.kwargs:
            raise ValueError(f"{context} does not support mean without an explicit dim.")
        keepdim = _arg(node, 2, "keepdim", False)
        if keepdim not in (False, True):
            raise ValueError(f"{context} requires a literal bool keepdim, got {keepdim!r}.")
        _check_literal_dims(node, context, _arg(node, 1, "dim"))
    elif target in ("flatten", torch.flatten):
        _check_literal_dims(
            node, context, _arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1)
        )
    elif target in ("transpose", torch.transpose):
        _check_literal_dims(node, context, _arg(node, 1, "dim0"), _arg(node, 2, "dim1"))
    elif target in ("unsqueeze", "unflatten", torch.unsqueeze):
        if len(node.args) < 2 and "dim" not in node.kwargs:
            raise ValueError(f"{context} does not support {node.target} without a dim.")
        _check_literal_dims(node, context, _arg(node, 1, "dim"))
    elif target == "permute":
        dims = _shape_args(tuple(node.args[1:]))
        _check_literal_dims(node, context, *dims)
        if not dims or dims[0] % len(dims) != 0:
            raise ValueError(
                f"{context} requires permute to preserve the original batch dimension "
                f"(node {node.name!r}, dims {dims!r})."
            )
    elif target is torch.cat:
        _check_literal_dims(node, context, _arg(node, 1, "dim", 0))


def check_sequence_contract(fx_model: fx.GraphModule, context: str) -> None:
    """Refuse, naming the node, every call outside the STA sequence contract (and pass a
    tensor given as ``input=`` to a shape function positionally)."""
    modules = dict(fx_model.named_modules())
    for node in fx_model.graph.nodes:
        if node.op == "call_function":
            target = node.target
            if target in _SHAPE_FUNCTIONS and not node.args and "input" in node.kwargs:
                kwargs = dict(node.kwargs)
                node.args, node.kwargs = (kwargs.pop("input"),), kwargs
            if hasattr(target, "_fields") or target in _PASSTHROUGH_FUNCTIONS:
                continue
            if target not in _SHAPE_FUNCTIONS:
                raise ValueError(
                    f"{context} does not support function node {target!r} "
                    f"(node {node.name!r}); use nn modules (e.g. nn.Linear) instead."
                )
            if target is builtins.getattr and node.args[1] != "shape":
                raise ValueError(
                    f"{context} does not support tensor attribute {node.args[1]!r} "
                    f"(node {node.name!r})."
                )
            _check_shape_call(node, context, modules)
        elif node.op == "call_method":
            if node.target not in _METHODS:
                raise ValueError(
                    f"{context} does not support tensor method {node.target!r} "
                    f"(node {node.name!r}). Rewrite the model with supported "
                    "sequence-preserving operations."
                )
            _check_shape_call(node, context, modules)


def _touches_batch(dims: Any, rank: int, allow_end: bool = False) -> bool:
    size = rank + int(allow_end)
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    return any((d + size if d < 0 else d) == 0 for d in dims)


class _STAStepModeTensorOp(_StepModeTensorOp):
    """:class:`_StepModeTensorOp` that refuses, in ``'m'`` mode, to mix time and batch."""

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if self.step_mode == "m" and isinstance(x, torch.Tensor):
            self._check_batch(x, args, kwargs)
        return super().forward(x, *args, **kwargs)

    def _check_batch(self, x: torch.Tensor, args: tuple, kwargs: dict) -> None:
        name, rank = self.op_name, x.dim() - 1
        where = f"{type(self).__name__}({name})"
        if name in ("view", "reshape", "expand"):
            sizes = _shape_args(args) if args else tuple(kwargs.get("shape", ()))
            keeps = sizes and (sizes[0] == x.shape[1] or (sizes[0] == -1 and len(sizes) > 1))
            if name == "expand":
                keeps = sizes and (sizes[0] in (x.shape[1], -1) or x.shape[1] == 1)
            if not keeps:
                raise ValueError(
                    f"{where} only supports {name} calls that preserve the original batch "
                    f"dimension in multi-step mode, got sizes {tuple(sizes)!r} for a batch "
                    f"of {x.shape[1]}."
                )
            return
        if name == "mean":
            dims = args[0] if args else kwargs.get("dim")
        elif name == "flatten":
            dims = args[0] if args else kwargs.get("start_dim", 0)
        elif name == "unflatten":
            dims = args[0] if args else kwargs.get("dim")
        elif name == "transpose":
            dims = tuple(args[:2]) or (kwargs.get("dim0"), kwargs.get("dim1"))
        elif name == "unsqueeze":
            dim = args[0] if args else kwargs.get("dim")
            if _touches_batch(dim, rank, allow_end=True):
                raise ValueError(f"{where} {_BATCH_ERROR}.")
            return
        else:
            return
        if dims is not None and _touches_batch(dims, rank):
            raise ValueError(f"{where} {_BATCH_ERROR}.")

    def _cat(self, tensors: Any, dim: int = 0, **kwargs: Any) -> torch.Tensor:
        dim = kwargs.get("dim", dim)
        if self.step_mode == "m" and _touches_batch(dim, tensors[0].dim() - 1):
            raise ValueError(f"{type(self).__name__}(cat) {_BATCH_ERROR}.")
        return super()._cat(tensors, dim, **{k: v for k, v in kwargs.items() if k != "dim"})


def harden_tensor_ops(fx_model: fx.GraphModule) -> fx.GraphModule:
    """Give every adapter shape op of ``fx_model`` the multi-step batch checks."""
    for module in fx_model.modules():
        if type(module) is _StepModeTensorOp:
            module.__class__ = _STAStepModeTensorOp
    return fx_model
