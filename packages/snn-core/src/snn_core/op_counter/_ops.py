"""Groups of aten overloads that several counters share (one list per kind of op)."""

from __future__ import annotations

import torch

aten = torch.ops.aten


def _overloads(*names: str) -> list:
    """``'add.Tensor'`` -> ``aten.add.Tensor``; names missing from this torch build are skipped."""
    found = []
    for name in names:
        packet_name, overload = name.split(".")
        packet = getattr(aten, packet_name, None)
        if packet is not None and hasattr(packet, overload):
            found.append(getattr(packet, overload))
    return found


ADD_OPS = _overloads(
    "add.Tensor", "add_.Tensor", "add.Scalar", "add_.Scalar",
    "sub.Tensor", "sub_.Tensor", "sub.Scalar", "sub_.Scalar",
    "rsub.Tensor", "rsub.Scalar",
)  # fmt: skip
MUL_DIV_OPS = _overloads(
    "mul.Tensor", "mul_.Tensor", "mul.Scalar", "mul_.Scalar",
    "div.Tensor", "div_.Tensor", "div.Scalar", "div_.Scalar",
)  # fmt: skip
COMPARE_OPS = _overloads(
    "eq.Tensor", "eq.Scalar", "ne.Tensor", "ne.Scalar", "lt.Tensor", "lt.Scalar",
    "le.Tensor", "le.Scalar", "gt.Tensor", "gt.Scalar", "ge.Tensor", "ge.Scalar",
)  # fmt: skip
LOGICAL_OPS = _overloads(
    "logical_and.default", "logical_or.default", "logical_xor.default", "logical_not.default"
)
NEG_OPS = _overloads("neg.default", "neg_.default")
SIGMOID_OPS = _overloads("sigmoid.default", "sigmoid_.default")
REDUCE_OPS = _overloads("sum.default", "sum.dim_IntList", "mean.dim")
# Ops that move or reshape data without arithmetic.
FREE_OPS = _overloads(
    "view.default", "unsqueeze.default", "squeeze.dim", "unbind.int", "empty.memory_format",
    "select.int", "detach.default", "t.default", "expand.default",
)  # fmt: skip
SDPA_OPS = _overloads(
    "_scaled_dot_product_flash_attention_for_cpu.default",
    "_scaled_dot_product_flash_attention.default",
    "_scaled_dot_product_efficient_attention.default",
    "_scaled_dot_product_cudnn_attention.default",
)
SDPA_BACKWARD_OPS = {
    name: _overloads(f"{name}.default")
    for name in (
        "_scaled_dot_product_flash_attention_for_cpu_backward",
        "_scaled_dot_product_flash_attention_backward",
        "_scaled_dot_product_efficient_attention_backward",
        "_scaled_dot_product_cudnn_attention_backward",
    )
}
