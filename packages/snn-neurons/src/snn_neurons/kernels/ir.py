"""The elementwise step graph that kernels are generated from.

A traced single-step function becomes a :class:`StepGraph`: a list of :class:`Node` in
topological order, each one elementwise op on float32 (``'f'``) or boolean (``'b'``)
values. Inputs are per-step sequence values (``seq``), states (``state``), scalar
parameters (``param``), uniform random numbers (``rand``, one fresh value per element and
step) and, for backward, the gradients flowing into the step's outputs (``tangent``).

The same graph feeds the Triton and the CUDA code generators and :func:`evaluate` (a
torch interpreter of the graph, used for constant folding and tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

__all__ = [
    "KernelGenerationError",
    "Node",
    "StepGraph",
    "UNARY_OPS",
    "BINARY_OPS",
    "COMPARE_OPS",
    "BOOL_OPS",
    "evaluate",
    "apply_op",
]


class KernelGenerationError(RuntimeError):
    """A step function cannot be turned into a kernel; the message names the reason (op)."""


def _round_to(dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: x.to(dtype).to(torch.float32)


def _sign(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x)


# name -> torch implementation on float32 tensors (the semantics every backend must match)
UNARY_OPS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "neg": torch.neg,
    "abs": torch.abs,
    "exp": torch.exp,
    "exp2": torch.exp2,
    "expm1": torch.expm1,
    "log": torch.log,
    "log2": torch.log2,
    "log10": torch.log10,
    "log1p": torch.log1p,
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "recip": torch.reciprocal,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "atan": torch.atan,
    "asin": torch.asin,
    "acos": torch.acos,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "erf": torch.erf,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "trunc": torch.trunc,
    "round": torch.round,
    "sign": _sign,
    "relu": torch.relu,
    "round_f16": _round_to(torch.float16),
    "round_bf16": _round_to(torch.bfloat16),
}

BINARY_OPS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
    "max": torch.maximum,
    "min": torch.minimum,
    "atan2": torch.atan2,
    "fmod": torch.fmod,
    "rem": torch.remainder,
}

COMPARE_OPS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "ge": torch.ge,
    "gt": torch.gt,
    "le": torch.le,
    "lt": torch.lt,
    "eq": torch.eq,
    "ne": torch.ne,
}

BOOL_OPS: dict[str, Callable[..., torch.Tensor]] = {
    "and": torch.logical_and,
    "or": torch.logical_or,
    "xor": torch.logical_xor,
    "not": torch.logical_not,
}

INPUT_KINDS = ("seq", "state", "param", "rand", "tangent")


@dataclass(frozen=True)
class Node:
    """One value of the step graph.

    ``op`` is ``'input'`` (``value = (kind, index)``), ``'const'`` (``value`` a float or
    bool), ``'where'`` (cond, a, b), ``'to_f'`` / ``'to_b'`` (casts), ``'psum'`` (a
    parameter gradient's per-element contribution, summed over elements by the caller) or
    a name from the op tables. ``args`` are indices of earlier nodes.
    """

    op: str
    args: tuple[int, ...] = ()
    value: object = None
    dtype: str = "f"  # 'f' float32 or 'b' bool
    uniform: bool = False  # depends only on params and constants (same for every element)


@dataclass
class StepGraph:
    """A traced step ``[*inputs, *states, *params] -> [*outputs, *new_states]`` and its VJP.

    ``grads`` maps ``('seq', i)`` / ``('state', j)`` / ``('param', p)`` to the node of the
    gradient of that argument (``None`` when it does not depend on it).
    """

    num_inputs: int
    num_states: int
    num_params: int
    num_outputs: int
    nodes: list[Node] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    new_states: list[int] = field(default_factory=list)
    grads: dict[tuple[str, int], int | None] = field(default_factory=dict)
    num_rand: int = 0
    _index: dict[tuple, int] = field(default_factory=dict, repr=False)

    @property
    def num_tangents(self) -> int:
        return self.num_outputs + self.num_states

    def add(self, node: Node) -> int:
        """Append ``node`` unless an identical one exists (common subexpressions); its index."""
        key = (node.op, node.args, _const_key(node.value), node.dtype)
        found = self._index.get(key)
        if found is not None and node.op != "input":
            return found
        self.nodes.append(node)
        self._index[key] = len(self.nodes) - 1
        return len(self.nodes) - 1

    def input_index(self, kind: str, index: int) -> int:
        for i, node in enumerate(self.nodes):
            if node.op == "input" and node.value == (kind, index):
                return i
        raise KeyError((kind, index))

    def describe(self) -> str:
        """A readable listing, one node per line (for error messages and debugging)."""
        lines = []
        for i, n in enumerate(self.nodes):
            args = ", ".join(f"%{a}" for a in n.args)
            val = "" if n.value is None else f" {n.value!r}"
            lines.append(f"%{i} = {n.op}({args}){val} : {n.dtype}{' uniform' if n.uniform else ''}")
        return "\n".join(lines)


def _const_key(value: object) -> object:
    # distinguish 0.0 / -0.0 / nan and bool from float in the CSE key
    if isinstance(value, float):
        return ("float", math.copysign(1.0, value), value if value == value else "nan")
    return (type(value).__name__, value)


def apply_op(op: str, vals: Sequence[torch.Tensor]) -> torch.Tensor:
    """Apply op ``op`` (not an input or constant) to float32 / bool torch values."""
    if op in UNARY_OPS:
        return UNARY_OPS[op](vals[0])
    if op in BINARY_OPS:
        return BINARY_OPS[op](vals[0], vals[1])
    if op in COMPARE_OPS:
        return COMPARE_OPS[op](vals[0], vals[1])
    if op in BOOL_OPS:
        return BOOL_OPS[op](*vals)
    if op == "where":
        return torch.where(vals[0], vals[1], vals[2])
    if op == "to_f":
        return vals[0].to(torch.float32)
    if op == "to_b":
        return vals[0] != 0
    if op == "psum":
        return vals[0]
    raise KernelGenerationError(f"internal: no evaluator for op {op!r}")


def evaluate(
    graph: StepGraph, inputs: dict[tuple[str, int], torch.Tensor], wanted: Sequence[int]
) -> list[torch.Tensor]:
    """Evaluate nodes ``wanted`` in float32 torch, given input values by ``(kind, index)``."""
    vals: list[torch.Tensor | None] = [None] * len(graph.nodes)
    need = _closure(graph, wanted)
    for i, node in enumerate(graph.nodes):
        if i not in need:
            continue
        if node.op == "input":
            vals[i] = inputs[node.value]  # type: ignore[index]
        elif node.op == "const":
            dtype = torch.bool if node.dtype == "b" else torch.float32
            vals[i] = torch.tensor(node.value, dtype=dtype)
        else:
            vals[i] = apply_op(node.op, [vals[a] for a in node.args])  # type: ignore[misc]
    return [vals[i] for i in wanted]  # type: ignore[misc]


def _closure(graph: StepGraph, roots: Sequence[int]) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack.extend(graph.nodes[i].args)
    return seen
