"""Accumulate (AC) counting: additions, and the synaptic operations driven by spikes.

A product with one binary operand ``s`` (a spike tensor, detected from its values) needs no
multiplication: every non-zero spike adds one weight to each output it reaches, so it costs
``nnz(s) · fan-out`` additions (for a convolution, the exact number of kernel taps each spike
meets inside the padded input, which excludes taps falling outside). With both operands
binary it costs the sum of the product's entries. Real-valued products count 0 here
(:class:`~snn_core.op_counter.MACCounter` counts them).
Element-wise add/sub count ``nnz(a) + nnz(b)`` on two spike operands, else ``|out|``;
reductions ``|x| - |out|``; average pooling ``|out| (prod(k) - 1)``; in-place sigmoid
``|out|``; batch norm its additions.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import torch
import torch.nn as nn

from snn_core.op_counter import _ops
from snn_core.op_counter.base import BaseCounter, binary_nnz

__all__ = ["ACCounter"]

aten = torch.ops.aten


_spike_nnz = binary_nnz  # number of spikes of a binary tensor, else None


class _Uncounted:
    """Runs aten ops without the Python dispatch key, so counting contexts do not see them."""

    def __enter__(self):
        self._guards = (
            torch.no_grad(),
            torch._C._ExcludeDispatchKeyGuard(torch._C.DispatchKeySet(torch._C.DispatchKey.Python)),
        )
        for guard in self._guards:
            guard.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        for guard in reversed(self._guards):
            guard.__exit__(*exc)


def _binary_product_sum(op, x: torch.Tensor, y: torch.Tensor, *extra: Any) -> int:
    with _Uncounted():
        return int(op(x.double(), y.double(), *extra).sum().item())


def conv_weight_uses(
    x: torch.Tensor, w: torch.Tensor, stride, padding, dilation, groups: int
) -> int:
    """Kernel taps met by the non-zero entries of ``x`` in a forward convolution with ``w``:
    each non-zero input meets, per output channel of its group, the taps that land inside
    the output. Computed as a convolution of the indicator ``x != 0`` with a ones kernel."""
    with _Uncounted():
        ones = torch.ones((groups, w.shape[1], *w.shape[2:]), dtype=torch.float32, device=x.device)
        output_padding = tuple(0 for _ in stride)
        occupancy = aten.convolution.default(
            (x != 0).float(), ones, None, stride, padding, dilation, False, output_padding, groups
        )
    return int(occupancy.sum(dtype=torch.float64).item()) * (int(w.shape[0]) // groups)


def _spike_matmul(x: torch.Tensor, y: torch.Tensor, out: Any, op, alpha: Any = 1) -> int:
    nnz_x, nnz_y = _spike_nnz(x), _spike_nnz(y)
    if nnz_x is not None and nnz_y is not None:
        if out is not None:
            return int(out.sum(dtype=torch.float64).item())
        return _binary_product_sum(op, x, y)
    if alpha != 1:
        return 0
    if nnz_x is not None:
        return nnz_x * y.shape[-1]
    if nnz_y is not None:
        return nnz_y * x.shape[-2]
    return 0


def _spike_mm(args, kwargs, out) -> int:
    return _spike_matmul(args[0], args[1], out, aten.mm.default)


def _spike_addmm(args, kwargs, out) -> int:
    return _spike_matmul(args[1], args[2], None, aten.mm.default, kwargs.get("alpha", 1))


def _spike_bmm(args, kwargs, out) -> int:
    return _spike_matmul(args[0], args[1], out, aten.bmm.default)


def _spike_baddbmm(args, kwargs, out) -> int:
    return _spike_matmul(args[1], args[2], None, aten.bmm.default, kwargs.get("alpha", 1))


def _spike_convolution(args, kwargs, out) -> int:
    x, w, _, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    nnz_x, nnz_w = _spike_nnz(x), _spike_nnz(w)
    if nnz_x is not None and nnz_w is not None:
        with _Uncounted():
            full = aten.convolution.default(
                x.double(),
                w.double(),
                None,
                stride,
                padding,
                dilation,
                transposed,
                output_padding,
                groups,
            )
        return int(full.sum(dtype=torch.float64).item())
    if nnz_x is not None:
        if transposed:
            with _Uncounted():
                ones = torch.ones_like(w, dtype=torch.float32)
                full = aten.convolution.default(
                    x.float(), ones, None, stride, padding, dilation, True, output_padding, groups
                )
            return int(full.sum(dtype=torch.float64).item())
        return conv_weight_uses(x, w, stride, padding, dilation, groups)
    if nnz_w is not None:
        ref = x if transposed else out
        return nnz_w * ref.shape[0] * prod(ref.shape[2:])
    return 0


def _ac_elementwise(args, kwargs, out) -> int:
    x = args[0]
    y = args[1] if len(args) > 1 and torch.is_tensor(args[1]) else None
    nnz_x = _spike_nnz(x)
    nnz_y = _spike_nnz(y) if y is not None else None
    if nnz_x is not None and nnz_y is not None:
        return nnz_x + nnz_y
    return out.numel()


def _ac_avg_pool(args, kwargs, out) -> int:
    return out.numel() * (prod(args[1]) - 1)


def _ac_reduce(args, kwargs, out) -> int:
    return args[0].numel() - out.numel()


def _ac_sigmoid(args, kwargs, out) -> int:
    return out.numel()


def _ac_batch_norm(args, kwargs, out) -> int:
    x, training = args[0], args[5]
    n, c = x.numel(), x.shape[1]
    if not training:
        return c + n
    running = 2 * c if args[3] is not None else 0
    return (n - c) + n + c + n + running


SYNAPTIC_RULES: dict[Any, Callable] = {
    aten.mm.default: _spike_mm,
    aten.addmm.default: _spike_addmm,
    aten.bmm.default: _spike_bmm,
    aten.baddbmm.default: _spike_baddbmm,
    aten.convolution.default: _spike_convolution,
}


class ACCounter(BaseCounter):
    """Counts accumulate operations: spike-driven synaptic additions and plain additions
    (see the module doc for each rule).

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
        rules: dict[Any, Callable] = dict(SYNAPTIC_RULES)
        rules[aten.native_batch_norm.default] = _ac_batch_norm
        rules[aten.avg_pool2d.default] = _ac_avg_pool
        rules.update(dict.fromkeys(_ops.REDUCE_OPS, _ac_reduce))
        rules.update(dict.fromkeys(_ops.ADD_OPS, _ac_elementwise))
        rules[aten.sigmoid_.default] = _ac_sigmoid
        self._init_rules(rules, extra_rules, extra_ignore_modules)
