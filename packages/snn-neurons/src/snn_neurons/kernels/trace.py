"""Trace a single-step function and its derived backward into a :class:`StepGraph`.

The step ``[*inputs, *states, *params] -> [*outputs, *new_states]`` is run under
``torch.fx.experimental.proxy_tensor.make_fx`` (fake tensors, the core-ATen decompositions)
inside a function that also calls ``torch.autograd.grad`` of its results with respect to
its arguments. The recorded ATen graph therefore holds the forward and the backward of one
step: custom ``autograd.Function`` spikes contribute their surrogate derivative, a
``detach`` cuts its gradient path, exactly as in eager torch. Each ATen op is then mapped to
an elementwise op of :mod:`snn_neurons.kernels.ir`; an op without a mapping raises
:class:`KernelGenerationError` naming it.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import fx

from snn_neurons.kernels.ir import (
    KernelGenerationError,
    Node,
    StepGraph,
    apply_op,
)

__all__ = ["trace_step", "TRACE_LENGTH"]

TRACE_LENGTH = (
    7  # elements per traced tensor; any shape other than () / (TRACE_LENGTH,) is rejected
)

_IDENTITY = {
    "alias", "detach", "clone", "view", "_unsafe_view", "reshape", "expand", "squeeze",
    "unsqueeze", "contiguous", "lift_fresh_copy", "lift_fresh",
    "expand_copy", "view_copy", "alias_copy", "squeeze_copy", "unsqueeze_copy", "permute",
    "t", "resolve_conj", "resolve_neg", "positive",
}  # fmt: skip

_UNARY_ALIASES = {
    "neg": "neg", "abs": "abs", "exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log",
    "log2": "log2", "log10": "log10", "log1p": "log1p", "sqrt": "sqrt", "rsqrt": "rsqrt",
    "reciprocal": "recip", "sigmoid": "sigmoid", "tanh": "tanh", "sin": "sin", "cos": "cos",
    "tan": "tan", "atan": "atan", "arctan": "atan", "asin": "asin", "arcsin": "asin",
    "acos": "acos", "arccos": "acos", "sinh": "sinh", "cosh": "cosh", "erf": "erf",
    "floor": "floor", "ceil": "ceil", "trunc": "trunc", "fix": "trunc", "round": "round",
    "sign": "sign", "sgn": "sign", "relu": "relu", "negative": "neg",
}  # fmt: skip

_BINARY_ALIASES = {
    "add": "add", "sub": "sub", "subtract": "sub", "mul": "mul", "multiply": "mul",
    "div": "div", "divide": "div", "true_divide": "div", "pow": "pow", "maximum": "max",
    "minimum": "min", "atan2": "atan2", "arctan2": "atan2",
    "fmod": "fmod", "remainder": "rem",
}  # fmt: skip

_COMPARE_ALIASES = {
    "ge": "ge", "gt": "gt", "le": "le", "lt": "lt", "eq": "eq", "ne": "ne",
    "greater_equal": "ge", "greater": "gt", "less_equal": "le", "less": "lt",
    "not_equal": "ne",
}  # fmt: skip

_BOOL_ALIASES = {
    "logical_and": "and", "logical_or": "or", "logical_xor": "xor", "bitwise_and": "and",
    "bitwise_or": "or", "bitwise_xor": "xor",
}  # fmt: skip

_FLOAT_DTYPES = (torch.float32, torch.float64)
_TORCH_DTYPE = {"f": torch.float32, "b": torch.bool}
# integer tensors are computed as float32 values (exact below 2**24)
_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
_KERNEL_DTYPES = (*_FLOAT_DTYPES, torch.float16, torch.bfloat16, torch.bool, *_INT_DTYPES)


class _Lowering:
    """Maps the nodes of one make_fx graph to :class:`StepGraph` nodes."""

    def __init__(self, graph: StepGraph, gm: fx.GraphModule) -> None:
        self.g = graph
        self.gm = gm
        self.env: dict[fx.Node, int | float | bool | None] = {}

    # ---------------------------------------------------------------- node builders
    def const(self, value: float | bool) -> int:
        if isinstance(value, bool):
            return self.g.add(Node("const", (), value, "b", True))
        return self.g.add(Node("const", (), float(value), "f", True))

    def emit(self, op: str, *args: int, dtype: str = "f") -> int:
        nodes = [self.g.nodes[a] for a in args]
        if nodes and all(n.op == "const" for n in nodes):  # fold constants in float32
            vals = [torch.tensor(n.value, dtype=_TORCH_DTYPE[n.dtype]) for n in nodes]
            folded = apply_op(op, vals).item()
            return self.const(bool(folded) if dtype == "b" else float(folded))
        uniform = all(n.uniform for n in nodes)
        return self.g.add(Node(op, args, None, dtype, uniform))

    def dtype_of(self, i: int) -> str:
        return self.g.nodes[i].dtype

    def as_float(self, i: int) -> int:
        return self.emit("to_f", i) if self.dtype_of(i) == "b" else i

    def as_bool(self, i: int) -> int:
        return self.emit("to_b", i, dtype="b") if self.dtype_of(i) == "f" else i

    def value(self, arg: Any) -> int:
        """An fx argument (node or Python number) as a graph node index."""
        if isinstance(arg, fx.Node):
            v = self.env[arg]
            if v is None:
                raise KernelGenerationError(f"internal: value of {arg.name} used but never set")
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            return self.const(v)  # pragma: no cover - python scalars are stored as nodes
        if isinstance(arg, bool):
            return self.const(arg)
        if isinstance(arg, numbers.Real):
            return self.const(float(arg))
        raise KernelGenerationError(f"cannot use argument {arg!r} of type {type(arg).__name__}")

    # ---------------------------------------------------------------- lowering
    def run(self) -> list[int | None]:
        out: list[int | None] = []
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                continue  # bound by the caller
            if node.op == "get_attr":
                self.env[node] = self.tensor_constant(getattr(self.gm, node.target), node.target)
            elif node.op == "call_function":
                self.env[node] = self.call(node)
            elif node.op == "output":
                for a in node.args[0]:
                    out.append(None if a is None else self.value(a))
            else:
                raise KernelGenerationError(f"unsupported fx node {node.op} ({node.target})")
        return out

    def tensor_constant(self, t: torch.Tensor, name: str) -> int:
        if t.numel() != 1:
            raise KernelGenerationError(
                f"the step function uses a tensor constant {name} of shape {tuple(t.shape)}; "
                "generated kernels accept only one-element constants (use Python numbers)"
            )
        if t.dtype == torch.bool:
            return self.const(bool(t.item()))
        return self.const(float(t.item()))

    def call(self, node: fx.Node) -> int:
        target = node.target
        if target is operator.getitem:
            raise KernelGenerationError(
                f"the kernel generator cannot map op {self.op_name(node)} (multi-output op)"
            )
        self.check_shape(node)
        name = self.packet_name(target)
        if node.meta["val"].dtype not in _KERNEL_DTYPES or (
            name.startswith("bitwise") and node.meta["val"].dtype != torch.bool
        ):
            raise KernelGenerationError(
                f"op {self.op_name(node)} on {node.meta['val'].dtype} tensors has no kernel "
                "mapping; generated kernels compute on float and boolean values"
            )
        result = self.lower(name, node)
        return self.match_dtype(node, result)

    @staticmethod
    def packet_name(target: Any) -> str:
        packet = getattr(target, "overloadpacket", None)
        name = getattr(packet, "__name__", None) or getattr(target, "__name__", str(target))
        name = name.split(".")[-1]
        if name.endswith("_") and not name.startswith("_"):
            name = name[:-1]  # in-place variants: the traced graph binds the result node
        return name

    @staticmethod
    def op_name(node: fx.Node) -> str:
        return str(node.target)

    def check_shape(self, node: fx.Node) -> None:
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            raise KernelGenerationError(
                f"the kernel generator cannot map op {self.op_name(node)}: it does not "
                "return a single tensor"
            )
        shape = tuple(val.shape)
        if shape not in ((), (TRACE_LENGTH,)) and math.prod(shape) != 1:
            raise KernelGenerationError(
                f"op {self.op_name(node)} produces shape {shape} from per-element inputs of "
                f"shape ({TRACE_LENGTH},); generated kernels need elementwise step functions"
            )

    def match_dtype(self, node: fx.Node, i: int) -> int:
        want_bool = node.meta["val"].dtype == torch.bool
        return self.as_bool(i) if want_bool else self.as_float(i)

    def lower(self, name: str, node: fx.Node) -> int:
        args, kwargs = node.args, node.kwargs
        if name in _IDENTITY:
            return self.value(args[0])
        if name in _UNARY_ALIASES:
            return self.emit(_UNARY_ALIASES[name], self.as_float(self.value(args[0])))
        if name in ("add", "sub", "rsub"):
            return self.add_sub(name, args, kwargs)
        if name in _BINARY_ALIASES:
            if name == "div" and kwargs.get("rounding_mode") is not None:
                q = self.emit("div", *self.floats(args[0], args[1]))
                return self.emit("floor" if kwargs["rounding_mode"] == "floor" else "trunc", q)
            return self.emit(_BINARY_ALIASES[name], *self.floats(args[0], args[1]))
        if name in _COMPARE_ALIASES:
            return self.emit(_COMPARE_ALIASES[name], *self.floats(args[0], args[1]), dtype="b")
        if name in _BOOL_ALIASES:
            a, b = self.as_bool(self.value(args[0])), self.as_bool(self.value(args[1]))
            return self.emit(_BOOL_ALIASES[name], a, b, dtype="b")
        if name in ("logical_not", "bitwise_not"):
            return self.emit("not", self.as_bool(self.value(args[0])), dtype="b")
        handler = getattr(self, f"_op_{name}", None)
        if handler is None:
            raise KernelGenerationError(
                f"the kernel generator cannot map op {self.op_name(node)} to a Triton/CUDA "
                "expression; write the step with elementwise torch ops (see "
                "snn_neurons.kernels.ir for the supported set)"
            )
        return handler(node, *args, **kwargs)

    def floats(self, *args: Any) -> tuple[int, ...]:
        return tuple(self.as_float(self.value(a)) for a in args)

    def add_sub(self, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> int:
        a, b = self.floats(args[0], args[1])
        alpha = kwargs.get("alpha", args[2] if len(args) > 2 else 1)
        if alpha != 1:
            b = self.emit("mul", b, self.const(float(alpha)))
        if name == "rsub":
            return self.emit("sub", b, a)
        return self.emit(name, a, b)

    # ---------------------------------------------------------------- special ops
    def _op_copy(self, node: fx.Node, dst: Any, src: Any, *args: Any, **kwargs: Any) -> int:
        # copy_(dst, src): later uses of dst are traced to this node, whose value is src
        return self.value(src)

    def _op_square(self, node: fx.Node, x: Any) -> int:
        (a,) = self.floats(x)
        return self.emit("mul", a, a)

    def _op_clamp(self, node: fx.Node, x: Any, min: Any = None, max: Any = None) -> int:
        out = self.as_float(self.value(x))
        if min is not None:
            out = self.emit("max", out, self.as_float(self.value(min)))
        if max is not None:
            out = self.emit("min", out, self.as_float(self.value(max)))
        return out

    def _op_clip(self, node: fx.Node, *args: Any, **kwargs: Any) -> int:
        return self._op_clamp(node, *args, **kwargs)

    def _op_clamp_min(self, node: fx.Node, x: Any, m: Any) -> int:
        return self.emit("max", *self.floats(x, m))

    def _op_clamp_max(self, node: fx.Node, x: Any, m: Any) -> int:
        return self.emit("min", *self.floats(x, m))

    def _op_where(self, node: fx.Node, cond: Any, a: Any, b: Any) -> int:
        c = self.as_bool(self.value(cond))
        ia, ib = self.value(a), self.value(b)
        if self.dtype_of(ia) == "b" and self.dtype_of(ib) == "b":
            return self.emit("where", c, ia, ib, dtype="b")
        return self.emit("where", c, self.as_float(ia), self.as_float(ib))

    def _op_masked_fill(self, node: fx.Node, x: Any, mask: Any, value: Any) -> int:
        return self._op_where(node, mask, value, x)

    def _op_heaviside(self, node: fx.Node, x: Any, values: Any) -> int:
        (a,) = self.floats(x)
        zero = self.const(0.0)
        step = self.emit("to_f", self.emit("gt", a, zero, dtype="b"))
        return self.emit("where", self.emit("eq", a, zero, dtype="b"), *self.floats(values), step)

    def _op_lerp(self, node: fx.Node, a: Any, b: Any, w: Any) -> int:
        ia, ib, iw = self.floats(a, b, w)
        return self.emit("add", ia, self.emit("mul", iw, self.emit("sub", ib, ia)))

    def _op_isnan(self, node: fx.Node, x: Any) -> int:
        (a,) = self.floats(x)
        return self.emit("ne", a, a, dtype="b")

    def _op_sigmoid_backward(self, node: fx.Node, g: Any, y: Any) -> int:
        ig, iy = self.floats(g, y)
        one_minus = self.emit("sub", self.const(1.0), iy)
        return self.emit("mul", ig, self.emit("mul", iy, one_minus))

    def _op_tanh_backward(self, node: fx.Node, g: Any, y: Any) -> int:
        ig, iy = self.floats(g, y)
        return self.emit("mul", ig, self.emit("sub", self.const(1.0), self.emit("mul", iy, iy)))

    def _op_threshold_backward(self, node: fx.Node, g: Any, x: Any, th: Any) -> int:
        ig, ix = self.floats(g, x)
        le = self.emit("le", ix, self.const(float(th)), dtype="b")
        return self.emit("where", le, self.const(0.0), ig)

    def _cast(self, x: Any, dtype: torch.dtype | None) -> int:
        i = self.value(x)
        if dtype is None or dtype in _FLOAT_DTYPES:
            return self.as_float(i)
        if dtype == torch.bool:
            return self.as_bool(i)
        if dtype == torch.float16:
            return self.emit("round_f16", self.as_float(i))
        if dtype == torch.bfloat16:
            return self.emit("round_bf16", self.as_float(i))
        raise KernelGenerationError(f"cannot cast to {dtype} in a generated kernel")

    def _op__to_copy(self, node: fx.Node, x: Any, **kwargs: Any) -> int:
        return self._cast(x, kwargs.get("dtype"))

    def _op_to(self, node: fx.Node, x: Any, *args: Any, **kwargs: Any) -> int:
        dtype = kwargs.get("dtype")
        for a in args:
            if isinstance(a, torch.dtype):
                dtype = a
        return self._cast(x, dtype)

    def _op_convert_element_type(self, node: fx.Node, x: Any, dtype: torch.dtype) -> int:
        return self._cast(x, dtype)

    def _filled(self, node: fx.Node, value: Any) -> int:
        if node.meta["val"].dtype == torch.bool:
            return self.const(bool(value))
        return self.const(float(value))

    def _op_full_like(self, node: fx.Node, x: Any, value: Any, **kwargs: Any) -> int:
        return self._filled(node, value)

    def _op_zeros_like(self, node: fx.Node, *args: Any, **kwargs: Any) -> int:
        return self._filled(node, 0)

    def _op_ones_like(self, node: fx.Node, *args: Any, **kwargs: Any) -> int:
        return self._filled(node, 1)

    def _op_fill(self, node: fx.Node, x: Any, value: Any) -> int:
        return self._filled(node, value)

    def _op_scalar_tensor(self, node: fx.Node, value: Any, **kwargs: Any) -> int:
        return self._filled(node, value)

    def _op_full(self, node: fx.Node, size: Any, value: Any, **kwargs: Any) -> int:
        return self._filled(node, value)

    def _op_new_full(self, node: fx.Node, x: Any, size: Any, value: Any, **kwargs: Any) -> int:
        return self._filled(node, value)

    def _op_new_zeros(self, node: fx.Node, *args: Any, **kwargs: Any) -> int:
        return self._filled(node, 0)

    def _op_new_ones(self, node: fx.Node, *args: Any, **kwargs: Any) -> int:
        return self._filled(node, 1)

    def _op_zeros(self, node: fx.Node, *args: Any, **kwargs: Any) -> int:
        return self._filled(node, 0)

    def _op_ones(self, node: fx.Node, *args: Any, **kwargs: Any) -> int:
        return self._filled(node, 1)

    def _new_rand(self) -> int:
        k = self.g.num_rand
        self.g.num_rand += 1
        return self.g.add(Node("input", (), ("rand", k), "f", False))

    def _op_rand(self, node: fx.Node, *args: Any, **kwargs: Any) -> int:
        return self._new_rand()

    def _op_rand_like(self, node: fx.Node, *args: Any, **kwargs: Any) -> int:
        return self._new_rand()

    def _op_bernoulli(self, node: fx.Node, x: Any, p: Any = None, **kwargs: Any) -> int:
        prob = self.value(x if p is None else p)
        return self.emit("to_f", self.emit("lt", self._new_rand(), self.as_float(prob), dtype="b"))

    def _op_sum(self, node: fx.Node, x: Any, *args: Any, **kwargs: Any) -> int:
        i = self.as_float(self.value(x))
        if tuple(node.meta["val"].shape) == tuple(x.meta["val"].shape):
            return i
        return self.emit("psum", i)


def _fake_args(n_elem: int, n_param: int, n_tangent: int) -> list[torch.Tensor]:
    vec = [torch.zeros(TRACE_LENGTH) for _ in range(n_elem)]
    par = [torch.zeros(()) for _ in range(n_param)]
    tan = [torch.zeros(TRACE_LENGTH) for _ in range(n_tangent)]
    return [*vec, *par, *tan]


def trace_step(
    step: Callable[..., Sequence[torch.Tensor]],
    num_inputs: int,
    num_states: int,
    num_params: int,
    num_outputs: int,
) -> StepGraph:
    """Trace ``step(*inputs, *states, *params) -> (*outputs, *new_states)`` and its VJP.

    Gradients are derived for every argument; unused ones are left out of the kernels
    later. Raises :class:`KernelGenerationError` if an op cannot be mapped or the step does
    not return ``num_outputs + num_states`` tensors.
    """
    from torch._decomp import core_aten_decompositions
    from torch.fx.experimental.proxy_tensor import make_fx

    n_args = num_inputs + num_states + num_params
    n_res = num_outputs + num_states
    grad_found: list[bool] = []

    def joint(*flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        primals, tangents = flat[:n_args], flat[n_args:]
        with torch.enable_grad():
            leaves = [p.detach().requires_grad_(True) for p in primals]
            res = step(*leaves)
            res = _check_results(res, n_res, num_outputs, num_states)
            pairs = [(r, t) for r, t in zip(res, tangents) if r.requires_grad]
            grads: Sequence[torch.Tensor | None] = [None] * n_args
            if pairs:
                grads = torch.autograd.grad(
                    [r for r, _ in pairs], leaves, [t for _, t in pairs], allow_unused=True
                )
        grad_found[:] = [g is not None for g in grads]
        return (*res, *[g for g in grads if g is not None])

    try:
        gm = make_fx(joint, decomposition_table=core_aten_decompositions(), tracing_mode="fake")(
            *_fake_args(num_inputs + num_states, num_params, n_res)
        )
    except KernelGenerationError:
        raise
    except Exception as err:  # any tracing failure: report it with its cause
        if "FakeTensor" in str(err):
            raise KernelGenerationError(
                "the step function reads a tensor that is not one of its arguments (a global, "
                "closure or module attribute); generated kernels take tensors only as "
                "arguments, so pass it as an input or state, or use a Python number"
            ) from err
        raise KernelGenerationError(
            f"tracing the step function failed ({type(err).__name__}: {err}); generated kernels "
            "need a function of tensors made of elementwise torch ops, without data-dependent "
            "Python control flow"
        ) from err

    graph = StepGraph(num_inputs, num_states, num_params, num_outputs)
    low = _Lowering(graph, gm)
    kinds = [("seq", i) for i in range(num_inputs)]
    kinds += [("state", j) for j in range(num_states)]
    kinds += [("param", p) for p in range(num_params)]
    kinds += [("tangent", k) for k in range(n_res)]
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    for ph, (kind, idx) in zip(placeholders, kinds):
        low.env[ph] = graph.add(Node("input", (), (kind, idx), "f", kind == "param"))
    results = low.run()
    graph.outputs = [_as_float(low, r) for r in results[:num_outputs]]
    graph.new_states = [_as_float(low, r) for r in results[num_outputs:n_res]]
    found = iter(results[n_res:])
    slots = [k for k in kinds[:n_args]]
    for slot, has in zip(slots, grad_found):
        graph.grads[slot] = _as_float(low, next(found)) if has else None
    _validate(graph)
    return graph


def _as_float(low: _Lowering, i: int | None) -> int:
    assert i is not None
    return low.as_float(i)


def _check_results(res: Any, n_res: int, num_outputs: int, num_states: int) -> list[torch.Tensor]:
    if isinstance(res, torch.Tensor):
        res = [res]
    if not isinstance(res, (list, tuple)) or len(res) != n_res:
        got = len(res) if isinstance(res, (list, tuple)) else type(res).__name__
        raise KernelGenerationError(
            f"the step function must return num_outputs + num_states = {num_outputs} + "
            f"{num_states} tensors ([*outputs, *new_states]), got {got}"
        )
    for i, r in enumerate(res):
        if not isinstance(r, torch.Tensor):
            raise KernelGenerationError(
                f"the step function's result {i} is a {type(r).__name__}, not a tensor"
            )
    return [r if r.is_floating_point() else r.to(torch.float32) for r in res]


def _depends(graph: StepGraph, pred: Callable[[Node], bool]) -> list[bool]:
    out: list[bool] = []
    for node in graph.nodes:
        out.append(pred(node) or any(out[a] for a in node.args))
    return out


def _validate(graph: StepGraph) -> None:
    """Reject reductions outside parameter gradients (the step must be elementwise)."""
    tangent = _depends(graph, lambda n: n.op == "input" and n.value[0] == "tangent")  # type: ignore[index]
    psum = _depends(graph, lambda n: n.op == "psum")
    for i, node in enumerate(graph.nodes):
        if node.op == "psum" and not tangent[i]:
            raise KernelGenerationError(
                "the step function reduces over elements (a sum/mean in its forward); "
                "generated kernels need elementwise step functions"
            )
    per_element = [*graph.outputs, *graph.new_states]
    per_element += [i for slot, i in graph.grads.items() if i is not None and slot[0] != "param"]
    for i in per_element:
        if psum[i]:
            raise KernelGenerationError(
                "a per-element result depends on a reduction over elements; generated kernels "
                "need elementwise step functions"
            )
