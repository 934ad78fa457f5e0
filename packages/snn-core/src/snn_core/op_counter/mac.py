"""Multiply-accumulate counting for real-valued (non-spike) operands.

A product with a binary operand (a spike tensor, detected from its values) costs no
multiplication and counts 0 here (see :class:`~snn_core.op_counter.ACCounter`);
otherwise ``mm``: ``mkn``, ``bmm``: ``bmkn``, ``convolution``:
``C_in/g · prod(kernel) · C_out · N · prod(out spatial)`` (input spatial when transposed);
batch norm: ``|x|`` for the affine scale plus ``2C`` for the running-stat update in training.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import torch
import torch.nn as nn

from snn_core.op_counter.base import BaseCounter, is_binary_tensor

__all__ = ["MACCounter"]

aten = torch.ops.aten


def _any_spike(*tensors: torch.Tensor) -> bool:
    return any(is_binary_tensor(t) for t in tensors)


def _mac_mm(args, kwargs, out) -> int:
    x, y = args[:2]
    return 0 if _any_spike(x, y) else x.shape[0] * x.shape[1] * y.shape[1]


def _mac_addmm(args, kwargs, out) -> int:
    return _mac_mm(args[1:3], kwargs, out)


def _mac_bmm(args, kwargs, out) -> int:
    x, y = args[:2]
    return 0 if _any_spike(x, y) else x.shape[0] * x.shape[1] * x.shape[2] * y.shape[2]


def _mac_baddbmm(args, kwargs, out) -> int:
    return _mac_bmm(args[1:3], kwargs, out)


def _mac_convolution(args, kwargs, out) -> int:
    x, w, transposed = args[0], args[1], args[6]
    if _any_spike(x, w):
        return 0
    positions = prod(x.shape[2:] if transposed else out.shape[2:])
    return prod(w.shape[1:]) * positions * w.shape[0] * x.shape[0]


def _mac_batch_norm(args, kwargs, out) -> int:
    x, training = args[0], args[5]
    affine = x.numel() if args[1] is not None else 0
    running = 2 * x.shape[1] if training and args[3] is not None else 0
    return affine + running


class MACCounter(BaseCounter):
    """Counts multiply-accumulates of products whose operands are both real-valued.

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
        rules = {
            aten.mm.default: _mac_mm,
            aten.addmm.default: _mac_addmm,
            aten.bmm.default: _mac_bmm,
            aten.baddbmm.default: _mac_baddbmm,
            aten.convolution.default: _mac_convolution,
            aten.native_batch_norm.default: _mac_batch_norm,
        }
        self._init_rules(rules, extra_rules, extra_ignore_modules)
