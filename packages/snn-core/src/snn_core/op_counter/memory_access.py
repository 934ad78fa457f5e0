"""Memory-traffic counting: bytes read and written by each aten op, assuming every operand
is read once from and every result written once to memory (no cache reuse).

``mm``/``bmm``/``convolution``: ``|x| + |w| + |out|`` bytes (+ bias, unless ``beta == 0``);
element-wise ops read their operands and write their result; reductions and pooling read
the input and write the output (max pooling also its indices); views are free; creation
ops (``full_like``) write their output; backward ops read their saved tensors and write
the gradients they compute.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn as nn

from snn_core.op_counter import _ops
from snn_core.op_counter.base import BaseCounter

__all__ = ["MemoryAccessCounter"]

aten = torch.ops.aten


def _bytes(x: Any) -> int:
    return x.element_size() * x.numel() if torch.is_tensor(x) else 0


def _mem_zero(args, kwargs, out) -> int:
    return 0


def _check(name: str, x: torch.Tensor, y: torch.Tensor, batched: bool) -> None:
    if x.shape[-1] != y.shape[-2] or (batched and x.shape[0] != y.shape[0]):
        raise AssertionError(f"{name}: inner dimensions mismatch [{x.shape} and {y.shape}]")


def _mem_mm(args, kwargs, out) -> int:
    x, y = args[:2]
    _check("mm", x, y, False)
    return _bytes(x) + _bytes(y) + _bytes(out)


def _mem_bmm(args, kwargs, out) -> int:
    x, y = args[:2]
    _check("bmm", x, y, True)
    return _bytes(x) + _bytes(y) + _bytes(out)


def _mem_addmm(args, kwargs, out, batched: bool = False) -> int:
    bias, x, y = args[:3]
    _check("baddbmm" if batched else "addmm", x, y, batched)
    total = _bytes(x) + _bytes(y) + _bytes(out)
    return total + (_bytes(bias) if kwargs.get("beta", 1.0) != 0 else 0)


def _mem_convolution(args, kwargs, out) -> int:
    x, w, bias = args[:3]
    return _bytes(x) + _bytes(w) + _bytes(out) + (_bytes(bias) if bias is not None else 0)


def _mem_convolution_backward(args, kwargs, out) -> int:
    grad_out, x, w = args[:3]
    mask = args[10]
    total = _bytes(grad_out)
    if mask[0]:
        total += _bytes(w) + _bytes(out[0])
    if mask[1]:
        total += _bytes(x) + _bytes(out[1])
    if mask[2]:
        total += _bytes(out[2])
    return total


def _mem_max_pool(args, kwargs, out) -> int:
    return _bytes(args[0]) + _bytes(out[0]) + _bytes(out[1])


def _mem_max_pool_backward(args, kwargs, out) -> int:
    return _bytes(args[0]) + _bytes(args[1]) + _bytes(out)


def _mem_unary(args, kwargs, out) -> int:
    return _bytes(args[0]) + _bytes(out)


def _mem_binary(args, kwargs, out) -> int:
    other = args[1] if len(args) > 1 else None
    return _bytes(args[0]) + _bytes(other) + _bytes(out)


def _mem_stack(args, kwargs, out) -> int:
    return sum(_bytes(x) for x in args[0]) + _bytes(out)


def _mem_write_only(args, kwargs, out) -> int:
    return _bytes(out)


def _sdpa_bias(args: tuple, kwargs: dict, index: int | None) -> Any:
    if index is not None and len(args) > index and torch.is_tensor(args[index]):
        return args[index]
    return kwargs.get("attn_mask", kwargs.get("attn_bias"))


def _mem_sdpa(args, kwargs, out) -> int:
    result = out[0] if isinstance(out, (tuple, list)) else out
    return sum(_bytes(x) for x in (*args[:3], _sdpa_bias(args, kwargs, 3), result))


def _mem_sdpa_backward(args, kwargs, out, *, bias_index: int | None) -> int:
    results = out if isinstance(out, (tuple, list)) else (out,)
    return sum(_bytes(x) for x in (*args[:4], _sdpa_bias(args, kwargs, bias_index), *results))


def _mem_batch_norm(args, kwargs, out) -> int:
    x, weight, bias, running_mean, running_var, training = args[:6]
    total = sum(_bytes(t) for t in (x, weight, bias, running_mean, running_var))
    written = out[:3] if training else out[:1]
    return total + sum(_bytes(t) for t in written)


def _mem_batch_norm_backward(args, kwargs, out) -> int:
    grad_out, x, gamma = args[:3]
    mean, invstd = args[5:7]
    training, mask = args[-3], args[-1]
    if training:
        if mask[0]:
            return sum(_bytes(t) for t in (grad_out, x, mean, invstd, gamma))
        if mask[1]:
            return sum(_bytes(t) for t in (grad_out, x, mean, invstd))
        return _bytes(grad_out) if mask[2] else 0
    total = 0
    if mask[0]:
        total += _bytes(grad_out) + _bytes(invstd) + _bytes(gamma)
    if mask[1]:
        total += _bytes(x) + _bytes(mean)
        if not mask[0]:
            total += _bytes(invstd) + _bytes(grad_out)
    if mask[2] and not mask[0] and not mask[1]:
        total += _bytes(grad_out)
    return total


_SDPA_BACKWARD_BIAS_INDEX = {
    "_scaled_dot_product_flash_attention_for_cpu_backward": None,
    "_scaled_dot_product_flash_attention_backward": None,
    "_scaled_dot_product_efficient_attention_backward": 4,
    "_scaled_dot_product_cudnn_attention_backward": 8,
}


def _memory_rules() -> dict[Any, Callable]:
    rules: dict[Any, Callable] = {
        aten.mm.default: _mem_mm,
        aten.addmm.default: _mem_addmm,
        aten.bmm.default: _mem_bmm,
        aten.baddbmm.default: partial(_mem_addmm, batched=True),
        aten.convolution.default: _mem_convolution,
        aten.convolution_backward.default: _mem_convolution_backward,
        aten.native_batch_norm.default: _mem_batch_norm,
        aten.native_batch_norm_backward.default: _mem_batch_norm_backward,
        aten.max_pool2d_with_indices.default: _mem_max_pool,
        aten.max_pool2d_with_indices_backward.default: _mem_max_pool_backward,
        aten.avg_pool2d.default: _mem_unary,
        aten.stack.default: _mem_stack,
        aten.clone.default: _mem_unary,
        aten._to_copy.default: _mem_unary,
        aten.full_like.default: _mem_write_only,
        aten.ones_like.default: _mem_write_only,
        aten.select_backward.default: _mem_unary,
    }
    rules.update(dict.fromkeys(_ops.REDUCE_OPS + _ops.NEG_OPS + _ops.SIGMOID_OPS, _mem_unary))
    binary = _ops.ADD_OPS + _ops.MUL_DIV_OPS + _ops.COMPARE_OPS + _ops.LOGICAL_OPS
    rules.update(dict.fromkeys(binary, _mem_binary))
    rules.update(dict.fromkeys(_ops.FREE_OPS, _mem_zero))
    rules.update(dict.fromkeys(_ops.SDPA_OPS, _mem_sdpa))
    for name, ops in _ops.SDPA_BACKWARD_OPS.items():
        rule = partial(_mem_sdpa_backward, bias_index=_SDPA_BACKWARD_BIAS_INDEX[name])
        rules.update(dict.fromkeys(ops, rule))
    return rules


class MemoryAccessCounter(BaseCounter):
    """Counts bytes of memory traffic of aten ops (see the module doc).

    Args:
        extra_rules: ``{aten_op: rule(args, kwargs, out) -> int}`` added to the built-ins.
        extra_ignore_modules: module types inside which nothing is counted.
    """

    def __init__(
        self,
        extra_rules: dict[Any, Callable] | None = None,
        extra_ignore_modules: list[type[nn.Module]] | None = None,
    ) -> None:
        super().__init__()
        self._init_rules(_memory_rules(), extra_rules, extra_ignore_modules)
