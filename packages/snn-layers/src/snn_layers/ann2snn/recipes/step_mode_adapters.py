"""Make a converted fx graph follow ``functional.set_step_mode``.

After conversion every node sees one time-step ``[N, *]`` (``'s'``) or the whole sequence
``[T, N, *]`` (``'m'``). Stateless torch layers become their :mod:`snn_layers` step-mode
twins (same parameters, class swapped); elementwise arithmetic works on either layout;
shape and reduction operations are replaced by :class:`_StepModeTensorOp`, which in
``'m'`` mode applies the per-step operation with its dimensions shifted past ``T`` (a
per-step op along dim ``d >= 0`` is the sequence op along ``d + 1``). Anything else is an
error that names the node, so nothing is silently left in the wrong layout.
"""

from __future__ import annotations

import builtins
import copy
import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from snn_core.base import MemoryModule, StepModule
from torch import fx, nn

from snn_layers import conv, dropout, pooling, wrappers


class _Layers:  # the step-mode twins, by the reference's ``layer.<Name>``
    Conv1d, Conv2d, Conv3d = conv.Conv1d, conv.Conv2d, conv.Conv3d
    ConvTranspose1d, ConvTranspose2d = conv.ConvTranspose1d, conv.ConvTranspose2d
    ConvTranspose3d = conv.ConvTranspose3d
    MaxPool1d, MaxPool2d, MaxPool3d = pooling.MaxPool1d, pooling.MaxPool2d, pooling.MaxPool3d
    AvgPool1d, AvgPool2d, AvgPool3d = pooling.AvgPool1d, pooling.AvgPool2d, pooling.AvgPool3d
    AdaptiveAvgPool1d, AdaptiveAvgPool2d = pooling.AdaptiveAvgPool1d, pooling.AdaptiveAvgPool2d
    AdaptiveAvgPool3d, Upsample = pooling.AdaptiveAvgPool3d, pooling.Upsample
    Linear, Flatten, GroupNorm = wrappers.Linear, wrappers.Flatten, wrappers.GroupNorm
    BatchNorm1d, BatchNorm2d = wrappers.BatchNorm1d, wrappers.BatchNorm2d
    BatchNorm3d = wrappers.BatchNorm3d
    Dropout, Dropout2d = dropout.Dropout, dropout.Dropout2d


layer = _Layers

__all__ = ["adapt_step_mode_graph"]

_STEP_MODULE_TYPES: tuple[tuple[type[nn.Module], type[nn.Module]], ...] = (
    (nn.Conv1d, layer.Conv1d), (nn.Conv2d, layer.Conv2d), (nn.Conv3d, layer.Conv3d),
    (nn.ConvTranspose1d, layer.ConvTranspose1d), (nn.ConvTranspose2d, layer.ConvTranspose2d),
    (nn.ConvTranspose3d, layer.ConvTranspose3d), (nn.Linear, layer.Linear),
    (nn.MaxPool1d, layer.MaxPool1d), (nn.MaxPool2d, layer.MaxPool2d),
    (nn.MaxPool3d, layer.MaxPool3d), (nn.AvgPool1d, layer.AvgPool1d),
    (nn.AvgPool2d, layer.AvgPool2d), (nn.AvgPool3d, layer.AvgPool3d),
    (nn.AdaptiveAvgPool1d, layer.AdaptiveAvgPool1d),
    (nn.AdaptiveAvgPool2d, layer.AdaptiveAvgPool2d),
    (nn.AdaptiveAvgPool3d, layer.AdaptiveAvgPool3d), (nn.BatchNorm1d, layer.BatchNorm1d),
    (nn.BatchNorm2d, layer.BatchNorm2d), (nn.BatchNorm3d, layer.BatchNorm3d),
    (nn.GroupNorm, layer.GroupNorm), (nn.Upsample, layer.Upsample),
    (nn.Flatten, layer.Flatten), (nn.Dropout, layer.Dropout), (nn.Dropout2d, layer.Dropout2d),
)  # fmt: skip
STATELESS_MODULE_TYPES = tuple(source for source, _ in _STEP_MODULE_TYPES)

# elementwise (or broadcasting) calls: the same code is right for [N, *] and [T, N, *]
_ELEMENTWISE_FUNCTIONS = {
    operator.add, operator.sub, operator.mul, operator.truediv, operator.neg, operator.eq,
    operator.floordiv, operator.pos, torch.add, torch.sub, torch.mul, torch.div, torch.neg,
    torch._assert, F.dropout,
}  # fmt: skip
_ELEMENTWISE_METHODS = {
    "add", "sub", "mul", "div", "neg", "contiguous", "clone", "detach", "float", "double",
    "half", "to", "type_as", "add_", "mul_", "masked_fill",
}  # fmt: skip
# functional layers that treat samples independently: fold T into the batch
_FOLD_FUNCTIONS = {
    F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.max_pool1d, F.max_pool2d, F.max_pool3d,
    F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d,
    F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.linear, F.conv1d, F.conv2d, F.conv3d,
    F.interpolate,
}  # fmt: skip
_SHAPE_FUNCTIONS: dict[Any, str] = {
    torch.flatten: "flatten", torch.mean: "mean", torch.sum: "sum", torch.reshape: "reshape",
    torch.transpose: "transpose", torch.unsqueeze: "unsqueeze", torch.squeeze: "squeeze",
    torch.cat: "cat", torch.stack: "stack", torch.permute: "permute", F.softmax: "softmax",
    torch.softmax: "softmax", operator.getitem: "getitem", builtins.getattr: "getattr",
}  # fmt: skip
_SHAPE_METHODS = {
    "size", "dim", "view", "reshape", "flatten", "mean", "sum", "transpose", "unsqueeze",
    "squeeze", "permute", "expand", "softmax", "unflatten",
}  # fmt: skip


def _shift(dim: Any, rank: int) -> Any:
    """Per-step dim -> sequence dim (``rank``: per-step rank)."""
    if isinstance(dim, (tuple, list)):
        return type(dim)(_shift(d, rank) for d in dim)
    if dim is None:
        return None
    if not isinstance(dim, int):
        raise ValueError(f"step-mode adapter needs literal integer dimensions, got {dim!r}")
    return dim + 1 if dim >= 0 else dim


def _shape_args(args: tuple) -> tuple:
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _fold_call(fn: Callable, x_seq: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    y = fn(x_seq.flatten(0, 1), *args, **kwargs)
    return y.unflatten(0, x_seq.shape[:2])


class _StepModeTensorOp(nn.Module, StepModule):
    """A shape / reduction call of the ANN graph that follows the step mode.

    ``'s'``: the original call. ``'m'``: the same call on ``[T, N, *]`` with per-step
    dimensions shifted by one (sizes and shapes report one step's).
    """

    def __init__(self, op_name: str, op: Any, step_mode: str = "s") -> None:
        super().__init__()
        self.op_name = op_name
        self.op = op  # a callable or a method name
        self.step_mode = step_mode

    def extra_repr(self) -> str:
        return f"op_name={self.op_name}, step_mode={self.step_mode}"

    def _call(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self.op, str):
            return getattr(x, self.op)(*args, **kwargs)
        return self.op(x, *args, **kwargs)

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        multi = self.step_mode == "m"
        name = self.op_name
        if name == "cat_stack":
            return self._cat(x, *args, **kwargs)
        if name == "fold" and multi:
            return _fold_call(lambda t: self._call(t, *args, **kwargs), x)
        if not multi or not isinstance(x, torch.Tensor):
            return self._call(x, *args, **kwargs)
        rank = x.dim() - 1
        if name == "getattr":
            if args[0] == "shape":
                return x.shape[1:]
            raise ValueError(f"step-mode adapter: unsupported tensor attribute {args[0]!r}")
        if name == "size":
            dim = args[0] if args else kwargs.get("dim")
            return x.shape[1:] if dim is None else x.size(_shift(dim, rank))
        if name == "dim":
            return rank
        if name in ("view", "reshape"):
            return x.reshape(x.shape[0], *_shape_args(args))
        if name == "expand":
            return x.expand(x.shape[0], *_shape_args(args))
        if name == "permute":
            dims = [d % rank for d in _shape_args(args)]
            return x.permute(0, *(d + 1 for d in dims))
        if name == "getitem":
            item = args[0]
            if item is Ellipsis or (isinstance(item, tuple) and item and item[0] is Ellipsis):
                return x[item]
            item = item if isinstance(item, tuple) else (item,)
            return x[(slice(None), *item)]
        if name == "flatten":
            start = args[0] if args else kwargs.get("start_dim", 0)
            end = args[1] if len(args) > 1 else kwargs.get("end_dim", -1)
            return torch.flatten(x, _shift(start, rank), _shift(end, rank))
        if name in ("mean", "sum"):
            dim = args[0] if args else kwargs.get("dim")
            keepdim = args[1] if len(args) > 1 else kwargs.get("keepdim", False)
            if dim is None:
                dim = tuple(range(rank))
            extra = {k: v for k, v in kwargs.items() if k not in ("dim", "keepdim")}
            return getattr(torch, name)(x, _shift(dim, rank), keepdim, **extra)
        if name == "unflatten":
            dim = args[0] if args else kwargs["dim"]
            sizes = args[1] if len(args) > 1 else kwargs.get("sizes")
            return x.unflatten(_shift(dim, rank), sizes)
        if name in ("transpose", "unsqueeze", "squeeze", "softmax"):
            dims = list(args)
            if name == "unsqueeze" and dims and dims[0] < 0:
                return x.unsqueeze(dims[0])
            kwargs = {k: v for k, v in kwargs.items() if k != "_stacklevel"}
            for key in ("dim", "dim0", "dim1"):
                if key in kwargs:
                    kwargs = {**kwargs, key: _shift(kwargs[key], rank)}
            n = 2 if name == "transpose" else 1
            dims[:n] = [_shift(d, rank) for d in dims[:n]]
            return getattr(x, name)(*dims, **kwargs)
        raise ValueError(f"step-mode adapter: unsupported op {name!r}")  # pragma: no cover

    def _cat(self, tensors: Any, dim: int = 0, **kwargs: Any) -> torch.Tensor:
        dim = kwargs.pop("dim", dim)
        if self.step_mode == "m":
            dim = _shift(dim, tensors[0].dim() - 1)
        return self.op(tensors, dim, **kwargs)


def _make_step_module(module: nn.Module, context: str, name: str) -> nn.Module:
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)) and module.return_indices:
        raise ValueError(f"{context}: module {name!r} uses return_indices=True; not supported.")
    if isinstance(module, (nn.Dropout, nn.Dropout2d)):
        if module.inplace:
            raise ValueError(
                f"{context} does not support {type(module).__name__} with inplace=True "
                f"(module {name!r}); use inplace=False."
            )
        cls = layer.Dropout2d if isinstance(module, nn.Dropout2d) else layer.Dropout
        return cls(p=module.p).train(module.training)
    for source, step_type in _STEP_MODULE_TYPES:
        if isinstance(module, source):
            replacement = copy.deepcopy(module)
            replacement.__class__ = step_type  # the twin only adds step_mode handling
            replacement.step_mode = "s"
            return replacement
    raise TypeError(type(module).__name__)  # pragma: no cover


def adapt_step_mode_graph(
    fx_model: fx.GraphModule,
    *,
    context: str,
    wrap_module_types: tuple[type[nn.Module], ...] = STATELESS_MODULE_TYPES,
    safe_module_types: tuple[type[nn.Module], ...] = (),
    safe_call_functions: tuple[Callable[..., Any], ...] = (),
) -> fx.GraphModule:
    """Rewrite ``fx_model`` in place so that ``functional.set_step_mode`` switches it
    between ``[N, *]`` and ``[T, N, *]`` inputs (see the module doc)."""
    modules = dict(fx_model.named_modules())
    names = set(modules)
    index = 0

    def insert(node: fx.Node, op_name: str, op: Any, args: tuple, kwargs: dict) -> None:
        nonlocal index
        while f"step_mode_tensor_op_{index}" in names:
            index += 1
        target = f"step_mode_tensor_op_{index}"
        names.add(target)
        fx_model.add_submodule(target, _StepModeTensorOp(op_name, op))
        with fx_model.graph.inserting_after(node):
            new = fx_model.graph.call_module(target, args=args, kwargs=kwargs)
        node.replace_all_uses_with(new)
        fx_model.graph.erase_node(node)

    for node in list(fx_model.graph.nodes):
        if node.op == "call_module":
            module = modules[node.target]
            if isinstance(module, (StepModule, MemoryModule, nn.Identity, *safe_module_types)):
                continue
            if isinstance(module, wrap_module_types):
                replacement = _make_step_module(module, context, node.target)
                parent, _, child = node.target.rpartition(".")
                setattr(fx_model.get_submodule(parent) if parent else fx_model, child, replacement)
                modules[node.target] = replacement
                continue
            raise ValueError(
                f"{context} does not support module node {node.target!r} of type "
                f"{type(module).__name__}: it has no step-mode equivalent. Replace it with "
                "supported layers, or wrap it in a module with step_mode."
            )
        if node.op == "call_function":
            target = node.target
            if target in _ELEMENTWISE_FUNCTIONS or target in safe_call_functions:
                continue
            if target in (torch.cat, torch.stack):
                insert(node, "cat_stack", target, node.args, dict(node.kwargs))
            elif target in _FOLD_FUNCTIONS:
                insert(node, "fold", target, node.args, dict(node.kwargs))
            elif target in _SHAPE_FUNCTIONS:
                insert(node, _SHAPE_FUNCTIONS[target], target, node.args, dict(node.kwargs))
            else:
                raise ValueError(
                    f"{context} does not support function node {node.name!r} calling "
                    f"{getattr(target, '__name__', target)!r}. Use supported layers "
                    "(nn modules) or sequence-preserving operations."
                )
        elif node.op == "call_method":
            if node.target in _ELEMENTWISE_METHODS:
                continue
            if node.target in _SHAPE_METHODS:
                insert(node, node.target, node.target, node.args, dict(node.kwargs))
            else:
                raise ValueError(
                    f"{context} does not support tensor method {node.target!r} "
                    f"(node {node.name!r}). Rewrite the model with supported "
                    "sequence-preserving operations."
                )
    fx_model.graph.lint()
    fx_model.delete_all_unused_submodules()
    fx_model.recompile()
    return fx_model
