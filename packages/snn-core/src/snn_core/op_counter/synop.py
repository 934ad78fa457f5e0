"""Synaptic-operation (SynOp) counting: the spike-driven part of
:class:`~snn_core.op_counter.ACCounter`, i.e. only matrix products and convolutions.

``SynOps = sum over spike-driven products of nnz(spikes) · fan-out`` (the count of
Merolla et al. 2014 / Spikformer's "SOPs"); products with real-valued operands count 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.nn as nn

from snn_core.op_counter.ac import SYNAPTIC_RULES
from snn_core.op_counter.base import BaseCounter

__all__ = ["SynOpCounter"]


class SynOpCounter(BaseCounter):
    """Counts synaptic operations of spike-driven ``mm``/``addmm``/``bmm``/``baddbmm``/
    ``convolution``.

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
        self._init_rules(dict(SYNAPTIC_RULES), extra_rules, extra_ignore_modules)
