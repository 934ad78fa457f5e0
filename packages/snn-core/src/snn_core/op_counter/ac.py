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
from snn_core.op_counter._binary import (
    binary_nnz,
    exact_integer_sum,
    is_binary_tensor,
    per_output,
)
from snn_core.op_counter.base import BaseCounter

__all__ = ["ACCounter"]

aten = torch.ops.aten


_spike_nnz = binary_nnz  # number of spikes of a binary tensor, else None
_is_spike = is_binary_tensor


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


def _taps_in_range(size: int, kernel: int, stride: int, padding: int, dilation: int) -> list[int]:
    """Per input position along one dimension: the kernel taps that map it to an output
    position (``o * stride - padding + k * dilation = i`` with ``0 <= o < out``)."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    taps = [0] * size
    for i in range(size):
        for k in range(kernel):
            o, rest = divmod(i + padding - k * dilation, stride)
            taps[i] += rest == 0 and 0 <= o < out
    return taps


def conv_weight_uses(
    x: torch.Tensor, w: torch.Tensor, stride, padding, dilation, groups: int
) -> int:
    """Kernel taps met by the non-zero entries of ``x`` in a forward convolution with ``w``:
    each non-zero input meets, per output channel of its group, the taps that land inside
    the output. The taps an input position meets are a product over the spatial dimensions,
    so this is the per-position count of non-zeros (over batch and channels) weighted by
    that product."""
    spatial = w.dim() - 2
    with _Uncounted():
        batch_and_channels = tuple(range(x.dim() - spatial))
        if is_binary_tensor(x):  # a sum is much faster than count_nonzero on CPU
            per_position = exact_integer_sum(x, dim=batch_and_channels).long()
        else:
            per_position = torch.count_nonzero(x, dim=batch_and_channels)
        weights = torch.ones((), dtype=torch.int64, device=x.device)
        for d in range(spatial):
            taps = _taps_in_range(
                int(x.shape[x.dim() - spatial + d]),
                int(w.shape[2 + d]),
                int(stride[d]),
                int(padding[d]),
                int(dilation[d]),
            )
            column = torch.tensor(taps, dtype=torch.int64, device=x.device)
            weights = weights.unsqueeze(-1) * column
        total = int((per_position * weights).sum().item())
    if torch._C._len_torch_dispatch_stack():
        # Called where counting modes see ops (a module counter's hook): the reference sums
        # its occupancy map [N, groups, *out] there, in sight of the modes; issue that sum.
        out_shape = [
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, k, s, p, d in zip(x.shape[-spatial:], w.shape[2:], stride, padding, dilation)
        ]
        with _Uncounted():
            occupancy = x.new_zeros((x.shape[0], groups, *out_shape), dtype=torch.float32)
        int(occupancy.sum(dtype=torch.float64).item())
    return total * (int(w.shape[0]) // groups)


def _spike_matmul(x: torch.Tensor, y: torch.Tensor, out: Any, op, alpha: Any = 1) -> int:
    spike_x, spike_y = _is_spike(x), _is_spike(y)
    if spike_x and spike_y:
        if out is not None:  # entries are counts of at most the inner size (2x: rounding)
            return int(exact_integer_sum(out, 2 * int(x.shape[-1])).item())
        return _binary_product_sum(op, x, y)
    if alpha != 1:
        return 0
    if spike_x:
        return _spike_nnz(x) * y.shape[-1]
    if spike_y:
        return _spike_nnz(y) * x.shape[-2]
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
    spike_x, spike_w = _is_spike(x), _is_spike(w)
    if spike_x and spike_w:
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
    if spike_x:
        if transposed:
            with _Uncounted():
                ones = torch.ones_like(w, dtype=torch.float32)
                full = aten.convolution.default(
                    x.float(), ones, None, stride, padding, dilation, True, output_padding, groups
                )
            return int(full.sum(dtype=torch.float64).item())
        return conv_weight_uses(x, w, stride, padding, dilation, groups)
    if spike_w:
        ref = x if transposed else out
        return _spike_nnz(w) * ref.shape[0] * prod(ref.shape[2:])
    return 0


def _ac_elementwise(args, kwargs, out) -> int:
    x = args[0]
    y = args[1] if len(args) > 1 and torch.is_tensor(args[1]) else None
    if y is None or not (_is_spike(x) and _is_spike(y)):
        return out.numel()
    return _spike_nnz(x) + _spike_nnz(y)


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


def _once_per_call(rule: Callable) -> Callable:
    """``rule``, evaluated once per op call however many counters use it (ACCounter and
    SynOpCounter share these rules)."""

    def shared(args, kwargs, out) -> int:
        return per_output(out, rule, lambda: rule(args, kwargs, out))

    shared.__name__ = shared.__qualname__ = rule.__name__
    shared.__doc__ = rule.__doc__
    return shared


SYNAPTIC_RULES: dict[Any, Callable] = {
    aten.mm.default: _once_per_call(_spike_mm),
    aten.addmm.default: _once_per_call(_spike_addmm),
    aten.bmm.default: _once_per_call(_spike_bmm),
    aten.baddbmm.default: _once_per_call(_spike_baddbmm),
    aten.convolution.default: _once_per_call(_spike_convolution),
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
