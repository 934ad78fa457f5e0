"""FLOP counting: one multiply or add is one FLOP, so a multiply-accumulate is 2 FLOPs.

Formulas (out = output tensor, ``|x|`` = number of elements):

- ``mm [m,k]@[k,n]``: ``2mkn``; ``bmm``: ``2bmkn``; ``addmm``/``baddbmm`` add ``|out|`` for
  ``beta == 1``, ``|bias| + |out|`` for other non-zero ``beta`` and ``|out|`` for ``alpha != 1``;
- ``convolution``: ``2 C_in/g·prod(kernel) · C_out · N · prod(out spatial)`` (input spatial
  when transposed) ``+ |out|`` with a bias;
- element-wise arithmetic and comparisons: ``|out|`` (``+|other|`` for add/sub with
  ``alpha != 1``); sigmoid ``4|out|``; ``sum``: ``|x| - |out|``; ``mean``: ``|x|``;
- max pooling ``|out|(prod(k) - 1)``, average pooling ``|out| prod(k)``;
- scaled dot-product attention ``2 B H S_q S_k (d_q + d_v)`` (backward
  ``2 B H S_q S_k (3 d_q + 2 d_v)``); batch norm per its arithmetic (see the rules).
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import torch
import torch.nn as nn

from snn_core.op_counter import _ops
from snn_core.op_counter.base import BaseCounter

__all__ = ["FlopCounter"]

aten = torch.ops.aten


def _zero(args, kwargs, out) -> int:
    return 0


def _check_inner(name: str, x: torch.Tensor, y: torch.Tensor, batched: bool) -> None:
    ok = x.shape[-1] == y.shape[-2] and (not batched or x.shape[0] == y.shape[0])
    if not ok:
        raise AssertionError(f"{name}: inner dimensions mismatch [{x.shape} and {y.shape}]")


def _flop_mm(args, kwargs, out) -> int:
    x, y = args[:2]
    _check_inner("mm", x, y, False)
    (m, k), n = x.shape, y.shape[1]
    return 2 * m * k * n


def _addmm_extra(elems: int, bias: torch.Tensor, kwargs: dict) -> int:
    alpha, beta = kwargs.get("alpha", 1), kwargs.get("beta", 1)
    extra = elems if alpha != 1 else 0
    if beta == 1:
        extra += elems
    elif beta != 0:
        extra += bias.numel() + elems
    return extra


def _flop_addmm(args, kwargs, out) -> int:
    bias, x, y = args[:3]
    _check_inner("addmm", x, y, False)
    (m, k), n = x.shape, y.shape[1]
    return 2 * m * k * n + _addmm_extra(m * n, bias, kwargs)


def _flop_bmm(args, kwargs, out) -> int:
    x, y = args[:2]
    _check_inner("bmm", x, y, True)
    (b, m, k), n = x.shape, y.shape[2]
    return 2 * b * m * k * n


def _flop_baddbmm(args, kwargs, out) -> int:
    bias, x, y = args[:3]
    _check_inner("baddbmm", x, y, True)
    (b, m, k), n = x.shape, y.shape[2]
    return 2 * b * m * k * n + _addmm_extra(b * m * n, bias, kwargs)


def _flop_convolution(args, kwargs, out) -> int:
    x, w, bias = args[:3]
    transposed = kwargs.get("transposed", args[6] if len(args) > 6 else False)
    positions = prod(x.shape[2:] if transposed else out.shape[2:])
    c_out, c_in_per_group = w.shape[:2]
    flops = 2 * c_in_per_group * prod(w.shape[2:]) * positions * c_out * x.shape[0]
    return flops + (out.numel() if bias is not None else 0)


def _flop_convolution_backward(args, kwargs, out) -> int:
    grad_out, x, w, bias = args[:4]
    transposed, mask = args[7], args[10]
    flops = 0
    if mask[0]:  # grad_input: a convolution of grad_out with w in the opposite direction
        flops += _flop_convolution([grad_out, w, None], {"transposed": not transposed}, out[0])
    if mask[1]:  # grad_weight: a convolution of the input with grad_out over the batch
        a, b = (grad_out, x) if transposed else (x, grad_out)
        flops += _flop_convolution(
            [a.transpose(0, 1), b.transpose(0, 1), None], {"transposed": False}, out[1]
        )
    if mask[2] and bias is not None:  # grad_bias: a reduction over batch and positions
        flops += grad_out.shape[1] * (grad_out.shape[0] * prod(grad_out.shape[2:]) - 1)
    return flops


def _flop_max_pool(args, kwargs, out) -> int:
    return out[0].numel() * (prod(args[1]) - 1)


def _flop_avg_pool(args, kwargs, out) -> int:
    return out.numel() * prod(args[1])


def _flop_sum(args, kwargs, out) -> int:
    return args[0].numel() - out.numel()


def _flop_mean(args, kwargs, out) -> int:
    return args[0].numel()


def _flop_add(args, kwargs, out) -> int:
    if kwargs.get("alpha", 1.0) == 1.0:
        return out.numel()
    scaled = args[1].numel() if torch.is_tensor(args[1]) else 1
    return scaled + out.numel()


def _flop_elementwise(args, kwargs, out) -> int:
    return out.numel()


def _flop_sigmoid(args, kwargs, out) -> int:
    return 4 * out.numel()


def _sdpa_dims(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
) -> tuple[int, int, int, int, int, int]:
    b, h, s_q, d_q = q.shape
    return b, h, s_q, k.shape[2], d_q, v.shape[3]


def _flop_sdpa(args, kwargs, out) -> int:
    b, h, s_q, s_k, d_q, d_v = _sdpa_dims(*args[:3])
    return 2 * b * h * s_q * s_k * (d_q + d_v)


def _flop_sdpa_backward(args, kwargs, out) -> int:
    b, h, s_q, s_k, d_q, d_v = _sdpa_dims(*args[1:4])
    return 2 * b * h * s_q * s_k * (3 * d_q + 2 * d_v)


def _flop_batch_norm(args, kwargs, out) -> int:
    x, training = args[0], args[5]
    n, c = x.numel(), x.shape[1]
    affine = 2 * n if args[1] is not None else 0
    if not training:  # scale = 1/sqrt(var + eps) per channel, then (x - mean) * scale
        return 2 * c + 2 * n + affine
    # mean (n), variance (2n + 2c), rsqrt (2c), normalise (2n), affine, running stats (6c)
    running = 6 * c if args[3] is not None else 0
    return n + (2 * n + 2 * c) + 2 * c + 2 * n + affine + running


def _flop_batch_norm_backward(args, kwargs, out) -> int:
    grad_out, gamma, training, mask = args[0], args[2], args[-3], args[-1]
    n, c = grad_out.numel(), gamma.numel()
    flops = 0
    if training:
        if mask[0]:
            flops += 2 * n + (n - c) + (2 * n - c) + (5 * n + 2 * c)
        else:
            if mask[1]:
                flops += 2 * n + (2 * n - c)
            if mask[2]:
                flops += n - c
        return flops
    if mask[0]:
        flops += 2 * n
    if mask[1]:
        flops += 2 * n + (2 * n - c)
    if mask[2]:
        flops += n - c
    return flops


def _flop_rules() -> dict[Any, Callable]:
    rules: dict[Any, Callable] = {
        aten.mm.default: _flop_mm,
        aten.addmm.default: _flop_addmm,
        aten.bmm.default: _flop_bmm,
        aten.baddbmm.default: _flop_baddbmm,
        aten.convolution.default: _flop_convolution,
        aten.convolution_backward.default: _flop_convolution_backward,
        aten.native_batch_norm.default: _flop_batch_norm,
        aten.native_batch_norm_backward.default: _flop_batch_norm_backward,
        aten.max_pool2d_with_indices.default: _flop_max_pool,
        aten.max_pool2d_with_indices_backward.default: _zero,
        aten.avg_pool2d.default: _flop_avg_pool,
        aten.sum.default: _flop_sum,
        aten.sum.dim_IntList: _flop_sum,
        aten.mean.dim: _flop_mean,
    }
    rules.update(dict.fromkeys(_ops.ADD_OPS, _flop_add))
    elementwise = _ops.NEG_OPS + _ops.MUL_DIV_OPS + _ops.COMPARE_OPS + _ops.LOGICAL_OPS
    rules.update(dict.fromkeys(elementwise, _flop_elementwise))
    rules.update(dict.fromkeys(_ops.SIGMOID_OPS, _flop_sigmoid))
    free = _ops.FREE_OPS + [
        aten.stack.default, aten.clone.default, aten._to_copy.default, aten.full_like.default,
        aten.ones_like.default, aten.select_backward.default,
    ]  # fmt: skip
    rules.update(dict.fromkeys(free, _zero))
    rules.update(dict.fromkeys(_ops.SDPA_OPS, _flop_sdpa))
    for ops in _ops.SDPA_BACKWARD_OPS.values():
        rules.update(dict.fromkeys(ops, _flop_sdpa_backward))
    return rules


class FlopCounter(BaseCounter):
    """Counts floating-point operations of aten ops (a MAC is 2 FLOPs; see the module doc).

    Args:
        extra_rules: ``{aten_op: rule(args, kwargs, out) -> int}`` added to (or overriding)
            the built-in rules.
        extra_ignore_modules: module types inside which nothing is counted.
    """

    def __init__(
        self,
        extra_rules: dict[Any, Callable] | None = None,
        extra_ignore_modules: list[type[nn.Module]] | None = None,
    ) -> None:
        super().__init__()
        self._init_rules(_flop_rules(), extra_rules, extra_ignore_modules)
