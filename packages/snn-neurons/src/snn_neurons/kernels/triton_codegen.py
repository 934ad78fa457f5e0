"""Emit Triton source for a forward or backward kernel over all T steps.

One program handles ``BLOCK`` neurons: it loads their initial states into registers, loops
over ``t`` (backward: from ``T - 1`` down to 0) loading one value per input, evaluating the
step graph and storing the outputs, and keeps the states (backward: their gradients) in
registers between steps. Parameter gradients are summed in registers over ``t`` and over
the block, and written as one partial sum per program. Values are float32 in registers
whatever the storage dtype. Only ``triton.language`` core functions are used (those the
Triton interpreter also runs); other math functions are small ``@triton.jit`` helpers.
"""

from __future__ import annotations

import math

import torch

from snn_neurons.kernels.ir import KernelGenerationError, StepGraph
from snn_neurons.kernels.layout import KernelLayout
from snn_neurons.kernels.partition import closure

__all__ = ["triton_source", "KERNEL_NAME"]

KERNEL_NAME = "snn_kernel"

_HELPERS = {
    "_snn_rne_bf16": """
@triton.jit
def _snn_rne_bf16(x):
    # float32 -> nearest bfloat16 value (ties to even), kept in float32
    u = x.to(tl.uint32, bitcast=True)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.to(tl.float32, bitcast=True)
""",
    "_snn_cast_to": """
@triton.jit
def _snn_cast_to(v, ptr):
    # round to nearest even for bfloat16 storage (Triton's interpreter truncates otherwise)
    if ptr.dtype.element_ty == tl.bfloat16:
        v = _snn_rne_bf16(v)
    return v.to(ptr.dtype.element_ty)
""",
    "_snn_expm1": """
@triton.jit
def _snn_expm1(x):
    u = tl.exp(x)
    um1 = u - 1.0
    r = tl.where(um1 == -1.0, -1.0, um1 * x / tl.log(u))
    return tl.where(u == 1.0, x, tl.where(u == _INF, u, r))
""",
    "_snn_log1p": """
@triton.jit
def _snn_log1p(x):
    u = 1.0 + x
    r = tl.log(u) * x / (u - 1.0)
    return tl.where(u == 1.0, x, tl.where(u == _INF, u, r))
""",
    "_snn_tanh": """
@triton.jit
def _snn_tanh(x):
    e = _snn_expm1(-2.0 * tl.abs(x))
    r = -e / (e + 2.0)
    return tl.where(x < 0.0, -r, r)
""",
    "_snn_sinh": """
@triton.jit
def _snn_sinh(x):
    e = _snn_expm1(tl.abs(x))
    r = 0.5 * (e + e / (e + 1.0))
    return tl.where(x < 0.0, -r, r)
""",
    "_snn_cosh": """
@triton.jit
def _snn_cosh(x):
    e = tl.exp(tl.abs(x))
    return 0.5 * (e + 1.0 / e)
""",
    "_snn_atan": """
@triton.jit
def _snn_atan(x):
    a = tl.abs(x)
    big = a > 2.414213562373095
    mid = a > 0.41421356237309503
    y0 = tl.where(big, 1.5707963267948966, tl.where(mid, 0.7853981633974483, 0.0))
    z = tl.where(big, -1.0 / a, tl.where(mid, (a - 1.0) / (a + 1.0), a))
    zz = z * z
    p = ((0.0805374449538 * zz - 0.138776856032) * zz + 0.199777106478) * zz - 0.333329491539
    r = y0 + (p * zz * z + z)
    return tl.where(x < 0.0, -r, r)
""",
    "_snn_asin": """
@triton.jit
def _snn_asin(x):
    return _snn_atan(x / tl.sqrt_rn((1.0 - x) * (1.0 + x)))
""",
    "_snn_acos": """
@triton.jit
def _snn_acos(x):
    return 2.0 * _snn_atan(tl.sqrt_rn((1.0 - x) / (1.0 + x)))
""",
    "_snn_atan2": """
@triton.jit
def _snn_atan2(y, x):
    a = _snn_atan(y / x)
    return tl.where(x < 0.0, tl.where(y < 0.0, a - 3.141592653589793, a + 3.141592653589793), a)
""",
    "_snn_trunc": """
@triton.jit
def _snn_trunc(x):
    return tl.where(x < 0.0, tl.ceil(x), tl.floor(x))
""",
    "_snn_round": """
@triton.jit
def _snn_round(x):
    f = tl.floor(x)
    d = x - f
    odd = f - 2.0 * tl.floor(f * 0.5)
    return tl.where(d > 0.5, f + 1.0, tl.where(d < 0.5, f, f + odd))
""",
    "_snn_sign": """
@triton.jit
def _snn_sign(x):
    return tl.where(x > 0.0, 1.0, tl.where(x < 0.0, -1.0, x))
""",
    "_snn_pow": """
@triton.jit
def _snn_pow(a, b):
    r = tl.exp2(b * tl.log2(tl.abs(a)))
    is_int = b == tl.floor(b)
    odd = (b - 2.0 * tl.floor(b * 0.5)) == 1.0
    neg = tl.where(is_int, tl.where(odd, -r, r), _NAN)
    return tl.where(b == 0.0, 1.0, tl.where(a < 0.0, neg, r))
""",
    "_snn_fmod": """
@triton.jit
def _snn_fmod(a, b):
    q = a / b
    return a - b * tl.where(q < 0.0, tl.ceil(q), tl.floor(q))
""",
    "_snn_rem": """
@triton.jit
def _snn_rem(a, b):
    r = _snn_fmod(a, b)
    return tl.where((r != 0.0) & ((r < 0.0) != (b < 0.0)), r + b, r)
""",
}
_HELPER_DEPS = {
    "_snn_cast_to": ("_snn_rne_bf16",),
    "_snn_tanh": ("_snn_expm1",),
    "_snn_sinh": ("_snn_expm1",),
    "_snn_asin": ("_snn_atan",),
    "_snn_acos": ("_snn_atan",),
    "_snn_atan2": ("_snn_atan",),
    "_snn_rem": ("_snn_fmod",),
}

_UNARY = {
    "neg": "(-{0})",
    "abs": "tl.abs({0})",
    "exp": "tl.exp({0})",
    "exp2": "tl.exp2({0})",
    "expm1": "_snn_expm1({0})",
    "log": "tl.log({0})",
    "log2": "tl.log2({0})",
    "log10": "(tl.log({0}) * 0.4342944819032518)",
    "log1p": "_snn_log1p({0})",
    "sqrt": "tl.sqrt_rn({0})",
    "rsqrt": "(1.0 / tl.sqrt_rn({0}))",
    "recip": "(1.0 / {0})",
    "sigmoid": "tl.sigmoid({0})",
    "tanh": "_snn_tanh({0})",
    "sin": "tl.sin({0})",
    "cos": "tl.cos({0})",
    "tan": "(tl.sin({0}) / tl.cos({0}))",
    "atan": "_snn_atan({0})",
    "asin": "_snn_asin({0})",
    "acos": "_snn_acos({0})",
    "sinh": "_snn_sinh({0})",
    "cosh": "_snn_cosh({0})",
    "erf": "tl.erf({0})",
    "floor": "tl.floor({0})",
    "ceil": "tl.ceil({0})",
    "trunc": "_snn_trunc({0})",
    "round": "_snn_round({0})",
    "sign": "_snn_sign({0})",
    "relu": "tl.where({0} < 0.0, 0.0, {0})",
    "round_f16": "{0}.to(tl.float16).to(tl.float32)",
    "round_bf16": "_snn_rne_bf16({0})",
    "not": "({0} == 0)",
    "to_f": "{0}.to(tl.float32)",
    "to_b": "({0} != 0.0)",
    "psum": "{0}",
}
_BINARY = {
    "add": "({0} + {1})",
    "sub": "({0} - {1})",
    "mul": "({0} * {1})",
    "div": "({0} / {1})",
    "max": "tl.maximum({0}, {1}, propagate_nan=tl.PropagateNan.ALL)",
    "min": "tl.minimum({0}, {1}, propagate_nan=tl.PropagateNan.ALL)",
    "atan2": "_snn_atan2({0}, {1})",
    "fmod": "_snn_fmod({0}, {1})",
    "rem": "_snn_rem({0}, {1})",
    "ge": "({0} >= {1})",
    "gt": "({0} > {1})",
    "le": "({0} <= {1})",
    "lt": "({0} < {1})",
    "eq": "({0} == {1})",
    "ne": "({0} != {1})",
    "and": "({0} & {1})",
    "or": "({0} | {1})",
    "xor": "({0} ^ {1})",
}
_POW_SPECIAL = {
    0.0: "1.0",
    1.0: "{0}",
    2.0: "({0} * {0})",
    3.0: "({0} * {0} * {0})",
    0.5: "tl.sqrt_rn({0})",
    -0.5: "(1.0 / tl.sqrt_rn({0}))",
    -1.0: "(1.0 / {0})",
    -2.0: "(1.0 / ({0} * {0}))",
}
_INPUT_PREFIX = {"seq": "x", "state": "s", "param": "p", "rand": "r", "tangent": "g"}


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    v = float(torch.tensor(float(value), dtype=torch.float32).item())  # type: ignore[arg-type]
    if math.isnan(v):
        return "_NAN"
    if math.isinf(v):
        return "_INF" if v > 0 else "(-_INF)"
    return repr(v)


class _Emitter:
    def __init__(self, layout: KernelLayout) -> None:
        self.layout = layout
        self.g: StepGraph = layout.plan.graph
        self.helpers: set[str] = set()
        self.lines: list[str] = []
        self.names: dict[int, str] = {}

    def name(self, i: int) -> str:
        if i in self.names:
            return self.names[i]
        node = self.g.nodes[i]
        if node.op == "input":
            kind, idx = node.value  # type: ignore[misc]
            return f"{_INPUT_PREFIX[kind]}{idx}"
        if node.op == "const":
            return _literal(node.value)
        return f"v{i}"

    def expr(self, i: int) -> str:
        node = self.g.nodes[i]
        a = [self.name(x) for x in node.args]
        if node.op == "pow":
            base, exponent = self.g.nodes[node.args[0]], self.g.nodes[node.args[1]]
            if exponent.op == "const" and float(exponent.value) in _POW_SPECIAL:  # type: ignore[arg-type]
                return _POW_SPECIAL[float(exponent.value)].format(a[0])  # type: ignore[arg-type]
            del base
            return self.helper("_snn_pow", a)
        if node.op == "where":
            return f"tl.where({a[0]}, {a[1]}, {a[2]})"
        template = _UNARY.get(node.op) or _BINARY.get(node.op)
        if template is None:
            raise KernelGenerationError(f"no Triton expression for op {node.op!r}")
        for h in _HELPERS:
            if h + "(" in template:
                self.use(h)
        return template.format(*a)

    def helper(self, name: str, args: list[str]) -> str:
        self.use(name)
        return f"{name}({', '.join(args)})"

    def use(self, name: str) -> None:
        self.helpers.add(name)
        for dep in _HELPER_DEPS.get(name, ()):
            self.use(dep)

    def f32_block(self, i: int) -> str:
        """Node ``i`` as a float32 ``[BLOCK]`` tensor (casts bools, broadcasts uniforms)."""
        node = self.g.nodes[i]
        text = self.name(i)
        if node.dtype == "b":
            text = f"({text}).to(tl.float32)" if node.op != "const" else _literal(float(node.value))  # type: ignore[arg-type]
        if node.uniform:
            text = f"(_zero + {text})"
        return text

    def emit_nodes(self, indices: list[int], indent: str) -> None:
        for i in indices:
            node = self.g.nodes[i]
            if node.op in ("input", "const") or i in self.names:
                continue
            self.lines.append(f"{indent}v{i} = {self.expr(i)}")


def _ptr(arg_name: str) -> str:
    return f"{arg_name}_ptr"


def _forward_body(em: _Emitter) -> None:
    lay, g, L = em.layout, em.g, em.lines
    roots = [*g.outputs, *g.new_states, *(a.node for a in lay.stored_saved())]
    needed = closure(g, roots)
    uniform = [i for i in needed if g.nodes[i].uniform]
    per_step = [i for i in needed if not g.nodes[i].uniform]
    for j in range(g.num_states):
        L.append(
            f"    s{j} = tl.load({_ptr(f'init{j}')} + offs, mask=mask, other=0.0).to(tl.float32)"
        )
    for p in range(g.num_params):
        L.append(f"    p{p} = tl.load({_ptr(f'par{p}')}).to(tl.float32)")
    em.emit_nodes(uniform, "    ")
    seq_ptrs = [a.name for a in lay.args if a.seq]
    for name in seq_ptrs:
        L.append(f"    {_ptr(name)} += offs")
    L.append("    for _t in range(T):")
    ind = "        "
    for i in range(g.num_inputs):
        L.append(f"{ind}x{i} = tl.load({_ptr(f'in{i}')}, mask=mask, other=0.0).to(tl.float32)")
    for k in range(g.num_rand):
        L.append(f"{ind}r{k} = tl.load({_ptr(f'rnd{k}')}, mask=mask, other=0.0)")
    em.emit_nodes(per_step, ind)
    for o, i in enumerate(g.outputs):
        ptr = _ptr(f"out{o}")
        L.append(f"{ind}tl.store({ptr}, _snn_cast_to({em.f32_block(i)}, {ptr}), mask=mask)")
    for a in lay.stored_saved():
        L.append(f"{ind}tl.store({_ptr(a.name)}, {em.f32_block(a.node)}, mask=mask)")  # type: ignore[arg-type]
    for j, i in enumerate(g.new_states):
        L.append(f"{ind}n{j} = {em.f32_block(i)}")
    for j in range(g.num_states):
        L.append(f"{ind}s{j} = n{j}")
        if lay.state_seq[j]:
            ptr = _ptr(f"st{j}")
            L.append(f"{ind}tl.store({ptr}, _snn_cast_to(s{j}, {ptr}), mask=mask)")
    for name in seq_ptrs:
        L.append(f"{ind}{_ptr(name)} += N")
    for j in range(g.num_states):
        if not lay.state_seq[j]:
            ptr = _ptr(f"st{j}")
            L.append(f"    tl.store({ptr} + offs, _snn_cast_to(s{j}, {ptr}), mask=mask)")


def _backward_body(em: _Emitter) -> None:
    lay, g, L = em.layout, em.g, em.lines
    plan = lay.plan
    grad_roots = {slot: g.grads[slot] for slot in plan.grad_slots}
    roots = [i for i in grad_roots.values() if i is not None]
    saved = set(plan.saved)
    needed = closure(g, roots, stop=saved)
    for i in saved:  # saved values are loaded, never recomputed
        if g.nodes[i].op != "input":
            em.names[i] = f"v{i}"
    uniform = [i for i in needed if g.nodes[i].uniform and i not in saved]
    per_step = [i for i in needed if not g.nodes[i].uniform and i not in saved]
    n_out = g.num_outputs
    for p in range(g.num_params):
        L.append(f"    p{p} = tl.load({_ptr(f'par{p}')}).to(tl.float32)")
    em.emit_nodes(uniform, "    ")
    for j in range(g.num_states):
        gst = lay.arg("gst", j)
        if gst is not None and not gst.seq:
            L.append(
                f"    gs{j} = tl.load({_ptr(gst.name)} + offs, mask=mask, other=0.0).to(tl.float32)"
            )
        else:
            L.append(f"    gs{j} = _zero")
    for kind, idx in plan.grad_slots:
        if kind == "param":
            L.append(f"    acc{idx} = _zero")
    seq_ptrs = [a.name for a in lay.args if a.seq]
    for name in seq_ptrs:
        L.append(f"    {_ptr(name)} += offs")
        L.append(f"    {_ptr(name)} += tl.cast(T - 1, tl.int64) * N")
    L.append("    for _t in range(T):")
    ind = "        "
    for a in lay.args:
        if a.role in ("in", "rnd", "sav"):
            node = g.nodes[a.node]  # type: ignore[index]
            load = f"tl.load({_ptr(a.name)}, mask=mask, other=0.0).to(tl.float32)"
            if node.dtype == "b":
                load = f"({load} != 0.0)"
            L.append(f"{ind}{em.name(a.node)} = {load}")  # type: ignore[arg-type]
    for o in range(n_out):
        src = f"tl.load({_ptr(f'gout{o}')}, mask=mask, other=0.0).to(tl.float32)"
        L.append(f"{ind}g{o} = {src if lay.tangents[o] else '_zero'}")
    for j in range(g.num_states):
        gst = lay.arg("gst", j)
        if gst is not None and gst.seq:
            src = f"tl.load({_ptr(gst.name)}, mask=mask, other=0.0).to(tl.float32)"
            L.append(f"{ind}g{n_out + j} = gs{j} + {src}")
        else:
            L.append(f"{ind}g{n_out + j} = gs{j}")
    em.emit_nodes(per_step, ind)
    for kind, idx in plan.grad_slots:
        node = grad_roots[(kind, idx)]
        value = "_zero" if node is None else em.f32_block(node)
        if kind == "seq":
            ptr = _ptr(f"gin{idx}")
            L.append(f"{ind}tl.store({ptr}, _snn_cast_to({value}, {ptr}), mask=mask)")
        elif kind == "state":
            L.append(f"{ind}ns{idx} = {value}")
        else:
            L.append(f"{ind}acc{idx} += {value}")
    for kind, idx in plan.grad_slots:
        if kind == "state":
            L.append(f"{ind}gs{idx} = ns{idx}")
    for name in seq_ptrs:
        L.append(f"{ind}{_ptr(name)} -= N")
    for kind, idx in plan.grad_slots:
        if kind == "state":
            ptr = _ptr(f"ginit{idx}")
            L.append(f"    tl.store({ptr} + offs, _snn_cast_to(gs{idx}, {ptr}), mask=mask)")
        elif kind == "param":
            total = f"tl.sum(tl.where(mask, acc{idx}, 0.0), axis=0)"
            L.append(f"    tl.store({_ptr(f'gpar{idx}')} + pid, {total})")


def triton_source(layout: KernelLayout) -> str:
    """The Python module text defining ``@triton.jit`` kernel :data:`KERNEL_NAME`."""
    em = _Emitter(layout)
    params = [_ptr(a.name) for a in layout.args]
    em.lines += [
        "@triton.jit",
        f"def {KERNEL_NAME}({', '.join([*params, 'N', 'T', 'BLOCK: tl.constexpr'])}):",
        "    pid = tl.program_id(0)",
        "    offs = pid * BLOCK + tl.arange(0, BLOCK)",
        "    mask = offs < N",
        "    _zero = tl.zeros([BLOCK], dtype=tl.float32)",
    ]
    (_forward_body if layout.direction == "fwd" else _backward_body)(em)
    em.use("_snn_cast_to")  # every store goes through it
    head = [
        f"# generated by snn_neurons.kernels ({layout.direction} kernel); do not edit",
        "import triton",
        "import triton.language as tl",
        "",
        '_INF = tl.constexpr(float("inf"))',
        '_NAN = tl.constexpr(float("nan"))',
    ]
    helpers = [_HELPERS[h] for h in _HELPERS if h in em.helpers]
    return "\n".join(head) + "\n" + "".join(helpers) + "\n\n" + "\n".join(em.lines) + "\n"
