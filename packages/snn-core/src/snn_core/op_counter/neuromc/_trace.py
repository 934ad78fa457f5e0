"""Aten-level trace of a NeuroMC profile and the fragments recovered from it for work that
module hooks do not see (functional convolutions and matrix products, batch norm)."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from math import prod
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import resolve_name
from torch.utils._python_dispatch import TorchDispatchMode

from snn_core.op_counter.neuromc.mapping import _Fragment
from snn_core.op_counter.neuromc.utils import _is_spike

_IGNORED_OP_PREFIXES = (
    "aten.detach",
    "aten.view",
    "aten.t.default",
    "aten.transpose",
    "aten.permute",
    "aten.expand",
    "aten.slice",
    "aten.select",
    "aten.alias",
    "aten._unsafe_view",
    "aten.as_strided",
    "aten.unsqueeze",
    "aten.squeeze",
    "aten.unbind",
    "aten.clone",
    "aten.copy_",
    "profiler.",
)
_AUXILIARY_ATEN_OPS = {
    f"aten.{name}"
    for name in (
        "all.default",
        "_local_scalar_dense.default",
        "lift_fresh.default",
        "_to_copy.default",
        "add.Tensor",
        "add_.Tensor",
        "add.Scalar",
        "add_.Scalar",
        "sub.Tensor",
        "sub_.Tensor",
        "sub.Scalar",
        "sub_.Scalar",
        "rsub.Tensor",
        "rsub.Scalar",
        "mul.Tensor",
        "mul_.Tensor",
        "mul.Scalar",
        "mul_.Scalar",
        "div.Tensor",
        "div_.Tensor",
        "div.Scalar",
        "div_.Scalar",
        "empty.memory_format",
        "cat.default",
        "stack.default",
        "split.Tensor",
        "index.Tensor",
        "full_like.default",
        "mse_loss.default",
        "mse_loss_backward.default",
        "where.self",
        "where.ScalarOther",
        "where.ScalarSelf",
        "sqrt.default",
        "sqrt_.default",
        "rsqrt.default",
        "sigmoid.default",
        "sigmoid_.default",
        "sum.default",
        "sum.dim_IntList",
        "mean.dim",
        "eq.Tensor",
        "eq.Scalar",
        "ne.Tensor",
        "ne.Scalar",
        "lt.Tensor",
        "lt.Scalar",
        "le.Tensor",
        "le.Scalar",
        "gt.Tensor",
        "gt.Scalar",
        "ge.Tensor",
        "ge.Scalar",
        "logical_and.default",
        "logical_or.default",
        "logical_xor.default",
        "logical_not.default",
        "new_empty_strided.default",
        "ones_like.default",
        "zeros_like.default",
    )
}
_MODELLED_OPS = {
    "aten.convolution.default",
    "aten.addmm.default",
    "aten.mm.default",
    "aten.bmm.default",
    "aten.native_batch_norm.default",
    "aten.native_batch_norm_backward.default",
}


@dataclass
class _TraceTensor:
    """What the trace keeps of a tensor: its shape, dtype, whether it needs grad and
    whether it is a spike tensor."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    requires_grad: bool
    is_spike: bool

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass
class _TraceEvent:
    op_name: str
    stage: str
    phase: str
    args: Any
    kwargs: Any
    out: Any


def _snapshot_trace_value(value: Any) -> Any:
    if torch.is_tensor(value):
        return _TraceTensor(
            tuple(int(v) for v in value.shape),
            value.dtype,
            bool(value.requires_grad),
            _is_spike(value),
        )
    if isinstance(value, tuple):
        return tuple(_snapshot_trace_value(v) for v in value)
    if isinstance(value, list):
        return [_snapshot_trace_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _snapshot_trace_value(v) for k, v in value.items()}
    return value


def _tensor_numel(x: Any) -> int:
    if isinstance(x, _TraceTensor):
        return prod(x.shape)
    return int(x.numel()) if torch.is_tensor(x) else 0


def _is_spike_like(x: Any) -> bool:
    return x.is_spike if isinstance(x, _TraceTensor) else _is_spike(x)


def _shape_tuple(x: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in x.shape) if isinstance(x, (_TraceTensor, torch.Tensor)) else ()


def _tensor_layout(
    x: Any, module: nn.Module | None = None
) -> tuple[int, int, int, tuple[int, ...]]:
    """``(T, B, C, spatial)`` of ``x``: a multi-step module's tensors are ``[T, N, C, ...]``."""
    if module is not None and getattr(module, "step_mode", "s") == "m":
        if x.ndim < 3:
            raise ValueError(
                f"Expected multi-step tensor with shape [T, N, C, ...], got {tuple(x.shape)}."
            )
        return int(x.shape[0]), int(x.shape[1]), int(x.shape[2]), tuple(int(v) for v in x.shape[3:])
    batch = int(x.shape[0]) if x.ndim > 0 else 1
    if x.ndim >= 2:
        return 1, batch, int(x.shape[1]), tuple(int(v) for v in x.shape[2:])
    return 1, batch, _tensor_numel(x), ()


def _forward_core_type(spike_input: bool) -> str:
    return "fp_soma" if spike_input else "ann_fe"


def _grad_input_core_type(spike_input: bool) -> str:
    return "bp_grad" if spike_input else "ann_be"


def _weight_grad_core_type(spike_input: bool) -> str:
    return "wg" if spike_input else "ann_we"


def _as_2d(dims: tuple[int, ...], name: str) -> tuple[int, int]:
    if len(dims) > 2:
        raise ValueError(f"NeuroMC runtime does not support {name} fallback yet.")
    if not dims:
        return 1, 1
    return (dims[0], 1) if len(dims) == 1 else (dims[0], dims[1])


class _TraceMode(TorchDispatchMode):
    """Records every aten op (name and snapshot) while the profiler is active."""

    def __init__(self, profiler: Any) -> None:
        super().__init__()
        self.profiler = profiler
        self.op_counts: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.profiler._suspended:
            return func(*args, **kwargs)
        name = resolve_name(func)
        self.op_counts[name] = self.op_counts.get(name, 0) + 1
        out = func(*args, **kwargs)
        self.profiler._maybe_record_trace_event(name, args, kwargs, out)
        return out


def fallback_fragments(profiler: Any, *, supplemental_only: bool = False) -> list[_Fragment]:
    """Fragments for the convolutions, matrix products and batch norms in ``profiler``'s
    trace (only those kinds when ``supplemental_only``)."""
    fragments: list[_Fragment] = []
    forward_spikes: dict[tuple, deque[bool]] = defaultdict(deque)
    for event in profiler._trace_events:
        op = event.op_name
        b_type, t_type = profiler._stage_position(event.stage)
        if supplemental_only and op not in _MODELLED_OPS:
            continue
        if op in _AUXILIARY_ATEN_OPS or op.startswith(_IGNORED_OP_PREFIXES):
            continue

        def fragment(core_type, x, w, out, loop_dims, in_bits, _event=event, _b=b_type, _t=t_type):
            return _Fragment(
                stage=_event.stage,
                phase=_event.phase,
                op_name=_event.op_name,
                core_type=core_type,
                process_key="with_nothing",
                loop_dims=loop_dims,
                input_precision_bits=in_bits,
                weight_precision_bits=16,
                output_precision_bits=16,
                input_numel=_tensor_numel(x),
                weight_numel=_tensor_numel(w),
                output_numel=_tensor_numel(out),
                mac_count=profiler._mac_count(loop_dims),
                b_type=_b,
                t_type=_t,
            )

        if op == "aten.convolution.default" and event.phase == "forward":
            x, w = event.args[:2]
            out = event.out
            if x.ndim > 4 or out.ndim > 4:
                raise ValueError(
                    "NeuroMC runtime does not support multi-step or 3D Conv trace fallback yet."
                )
            spike = _is_spike_like(x)
            oy, ox = _as_2d(tuple(out.shape[2:]) if out.ndim > 2 else (1, 1), "Conv3d")
            fy, fx = _as_2d(tuple(w.shape[2:]) if w.ndim > 2 else (1, 1), "Conv3d")
            dims = profiler._make_loop_dims(
                batch_size=int(x.shape[0]),
                channels_in=int(x.shape[1]),
                channels_out=int(out.shape[1]),
                oy=oy,
                ox=ox,
                fy=fy,
                fx=fx,
            )
            fragments.append(
                fragment(_forward_core_type(spike), x, w, out, dims, 1 if spike else 16)
            )
        elif op in {"aten.addmm.default", "aten.mm.default", "aten.bmm.default"}:
            x, y, out = event.args[-2], event.args[-1], event.out
            rows = int(x.shape[0]) if x.ndim == 2 else int(x.shape[0] * x.shape[1])
            if event.phase == "forward":
                spike = _is_spike_like(x)
                forward_spikes[op, _shape_tuple(x), _shape_tuple(out)].append(spike)
                dims = profiler._make_loop_dims(
                    batch_size=rows,
                    channels_in=int(x.shape[-1]),
                    channels_out=int(y.shape[-1]),
                    oy=1,
                    ox=1,
                    fy=1,
                    fx=1,
                )
                fragments.append(
                    fragment(_forward_core_type(spike), x, y, out, dims, 1 if spike else 16)
                )
            elif profiler._gemm_backward_fragment_kind(x, y, out) == "wg":
                spike = _is_spike_like(x)
                if x.ndim == 2:
                    batch, c = int(x.shape[-1]), int(x.shape[0])
                else:
                    batch, c = int(x.shape[0] * x.shape[-1]), int(x.shape[1])
                dims = profiler._make_loop_dims(
                    batch_size=batch,
                    channels_in=c,
                    channels_out=int(y.shape[-1]),
                    oy=1,
                    ox=1,
                    fy=1,
                    fx=1,
                )
                fragments.append(
                    fragment(_weight_grad_core_type(spike), x, y, out, dims, 1 if spike else 16)
                )
            else:
                spike = False
                alternative = {
                    "aten.addmm.default": "aten.mm.default",
                    "aten.mm.default": "aten.addmm.default",
                }
                for key_op in (op, alternative.get(op)):
                    queue = forward_spikes.get((key_op, _shape_tuple(out), _shape_tuple(x)))
                    if queue:
                        spike = queue.pop()
                        break
                dims = profiler._make_loop_dims(
                    batch_size=rows,
                    channels_in=int(x.shape[-1]),
                    channels_out=int(y.shape[-1]),
                    oy=1,
                    ox=1,
                    fy=1,
                    fx=1,
                )
                fragments.append(fragment(_grad_input_core_type(spike), x, y, out, dims, 16))
        elif op == "aten.native_batch_norm.default" and event.phase == "forward":
            x = event.args[0]
            if x.ndim > 4:
                raise ValueError(
                    "NeuroMC runtime does not support multi-step or 3D BatchNorm trace "
                    "fallback yet."
                )
            out = event.out[0] if isinstance(event.out, (tuple, list)) else event.out
            fragments.append(profiler._make_bn_forward_fragment(event.stage, None, x, out))
        elif op == "aten.native_batch_norm_backward.default":
            fragments.append(
                profiler._make_bn_backward_fragment(
                    event.stage, None, event.args[1], event.args, event.out
                )
            )
    return fragments


def unsupported_ops(profiler: Any) -> list[str]:
    """Aten ops of the trace that NeuroMC neither models nor ignores, with their counts."""
    found = []
    for name, count in profiler._trace_mode.op_counts.items():
        if (
            name.startswith(_IGNORED_OP_PREFIXES)
            or name in _AUXILIARY_ATEN_OPS
            or name in _MODELLED_OPS
        ):
            continue
        if (
            name == "aten.convolution_backward.default"
            and count <= profiler._module_conv_backward_calls
        ):
            continue
        found.append(f"{name} (calls={count})")
    return sorted(found)
