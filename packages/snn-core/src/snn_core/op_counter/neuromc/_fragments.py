"""Builders of NeuroMC work fragments from module events and optimizer state (a mixin of
:class:`~snn_core.op_counter.neuromc.core.NeuroMCEnergyProfiler`)."""

from __future__ import annotations

from collections import defaultdict
from math import prod
from typing import Any

import torch
import torch.nn as nn

from snn_core.op_counter.neuromc._trace import (
    _grad_input_core_type,
    _is_spike_like,
    _tensor_layout,
    _tensor_numel,
    _weight_grad_core_type,
)
from snn_core.op_counter.neuromc.mapping import _Fragment
from snn_core.op_counter.neuromc.utils import _is_spike


def _first(x: Any) -> Any:
    return x[0] if isinstance(x, (tuple, list)) else x


def _first_or(x: Any, default: Any) -> Any:
    return x[0] if isinstance(x, (tuple, list)) and x else default


def _kernel_2d(module: nn.Module) -> tuple[int, int]:
    kernel = (
        tuple(module.kernel_size)
        if isinstance(module.kernel_size, tuple)
        else (module.kernel_size,)
    )
    return (kernel[0], 1) if len(kernel) == 1 else (kernel[0], kernel[1])


def _spatial_2d(spatial: tuple[int, ...]) -> tuple[int, int]:
    if not spatial:
        return 1, 1
    return (spatial[0], 1) if len(spatial) == 1 else (spatial[0], spatial[1])


class _FragmentBuilder:
    """Fragment constructors; the profiler supplies ``_stage_position``,
    ``_stage_conv_type``, ``_bn_core_type`` and ``_optimizer``."""

    # ------------------------------------------------------------------ fragments
    def _make_loop_dims(
        self,
        *,
        batch_size: int,
        time_steps: int = 1,
        channels_in: int,
        channels_out: int,
        oy: int,
        ox: int,
        fy: int,
        fx: int,
    ) -> dict[str, int]:
        values = (batch_size, time_steps, channels_in, channels_out, oy, ox, fy, fx)
        return {
            k: max(int(v), 1) for k, v in zip(("B", "T", "C", "K", "OY", "OX", "FY", "FX"), values)
        }

    def _mac_count(self, loop_dims: dict[str, int]) -> int:
        return int(prod(loop_dims[k] for k in ("B", "T", "C", "K", "OY", "OX", "FY", "FX")))

    def _fragment(
        self, stage, phase, op_name, core_type, process_key, dims, bits, numels, **extra
    ) -> _Fragment:
        return _Fragment(
            stage=stage,
            phase=phase,
            op_name=op_name,
            core_type=core_type,
            process_key=process_key,
            loop_dims=dims,
            input_precision_bits=bits[0],
            weight_precision_bits=bits[1],
            output_precision_bits=bits[2],
            input_numel=numels[0],
            weight_numel=numels[1],
            output_numel=numels[2],
            source="module",
            **extra,
        )

    def _make_conv_forward_fragment(
        self, stage: str, module: nn.Module, x: Any, out: Any
    ) -> _Fragment:
        b_type, t_type = self._stage_position(stage)
        spike = _is_spike(x)
        t, b, _, _ = _tensor_layout(x, module)
        oy, ox = _spatial_2d(_tensor_layout(out, module)[3])
        fy, fx = _kernel_2d(module)
        dims = self._make_loop_dims(
            batch_size=b,
            time_steps=t,
            channels_in=int(module.in_channels),
            channels_out=int(module.out_channels),
            oy=int(oy),
            ox=int(ox),
            fy=int(fy),
            fx=int(fx),
        )
        return self._fragment(
            stage,
            "forward",
            "conv.forward",
            "fp_soma" if spike else "ann_fe",
            "with_nothing",
            dims,
            (1 if spike else 16, 16, 16),
            (_tensor_numel(x), _tensor_numel(module.weight), _tensor_numel(out)),
            mac_count=self._mac_count(dims),
            b_type=b_type,
            t_type=t_type,
        )

    def _make_linear_forward_fragment(
        self, stage: str, module: nn.Linear, x: Any, out: Any
    ) -> _Fragment:
        b_type, t_type = self._stage_position(stage)
        spike = _is_spike(x)
        t, batch, _, _ = _tensor_layout(x, module)
        dims = self._make_loop_dims(
            batch_size=batch,
            time_steps=t,
            channels_in=int(module.in_features),
            channels_out=int(module.out_features),
            oy=1,
            ox=1,
            fy=1,
            fx=1,
        )
        return self._fragment(
            stage,
            "forward",
            "linear.forward",
            "fp_soma" if spike else "ann_fe",
            "with_nothing",
            dims,
            (1 if spike else 16, 16, 16),
            (_tensor_numel(x), _tensor_numel(module.weight), _tensor_numel(out)),
            mac_count=self._mac_count(dims),
            b_type=b_type,
            t_type=t_type,
        )

    def _channel_dims(self, x: Any, module: nn.Module | None) -> tuple[dict[str, int], int]:
        t, batch, c, spatial = _tensor_layout(x, module)
        positions = max(prod(spatial), 1) if spatial else 1
        dims = self._make_loop_dims(
            batch_size=batch,
            time_steps=t,
            channels_in=c,
            channels_out=c,
            oy=positions,
            ox=1,
            fy=1,
            fx=1,
        )
        return dims, c

    def _make_bn_forward_fragment(
        self, stage: str, module: nn.Module | None, x: Any, out: Any
    ) -> _Fragment:
        dims, c = self._channel_dims(x, module)
        return self._fragment(
            stage,
            "forward",
            "bn.forward",
            self._bn_core_type("forward", _is_spike_like(x)),
            "with_bn",
            dims,
            (16, 16, 16),
            (_tensor_numel(x), c * 2, _tensor_numel(_first(out))),
            mac_count=0,
        )

    def _make_soma_forward_fragment(
        self, stage: str, module: nn.Module | None, x: Any, out: Any
    ) -> _Fragment:
        b_type, t_type = self._stage_position(stage)
        spikes = _first(out)
        if torch.is_tensor(spikes):
            dims, _ = self._channel_dims(spikes, module)
        else:
            dims = self._make_loop_dims(
                batch_size=1, channels_in=1, channels_out=1, oy=1, ox=1, fy=1, fx=1
            )
        return self._fragment(
            stage,
            "forward",
            "soma.forward",
            "fp_soma",
            "with_sg",
            dims,
            (16, 16, 1),
            (_tensor_numel(x), 0, _tensor_numel(spikes)),
            mac_count=0,
            b_type=b_type,
            t_type=t_type,
        )

    def _backward_pair(
        self, stage, op, module, forward_input, grad_in, grad_out, dims
    ) -> list[_Fragment]:
        spike = _is_spike(forward_input)
        fragments = []
        if torch.is_tensor(grad_in):
            fragments.append(
                self._fragment(
                    stage,
                    "backward",
                    f"{op}.backward.grad_input",
                    _grad_input_core_type(spike),
                    "with_nothing",
                    dims,
                    (16, 16, 16),
                    (_tensor_numel(grad_out), _tensor_numel(module.weight), _tensor_numel(grad_in)),
                    mac_count=self._mac_count(dims),
                )
            )
        if module.weight.requires_grad:
            fragments.append(
                self._fragment(
                    stage,
                    "backward",
                    f"{op}.backward.grad_weight",
                    _weight_grad_core_type(spike),
                    "with_nothing",
                    dims,
                    (1 if spike else 16, 16, 16),
                    (
                        _tensor_numel(forward_input),
                        _tensor_numel(grad_out),
                        _tensor_numel(module.weight),
                    ),
                    mac_count=self._mac_count(dims),
                )
            )
        return fragments

    def _make_conv_backward_fragments(self, stage, module, forward_input, grad_input, grad_output):
        grad_out = _first(grad_output)
        t, batch, _, spatial = _tensor_layout(grad_out, module)
        oy, ox = _spatial_2d(spatial)
        fy, fx = _kernel_2d(module)
        dims = self._make_loop_dims(
            batch_size=batch,
            time_steps=t,
            channels_in=int(module.in_channels),
            channels_out=int(module.out_channels),
            oy=int(oy),
            ox=int(ox),
            fy=int(fy),
            fx=int(fx),
        )
        grad_in = _first_or(grad_input, None)
        return self._backward_pair(stage, "conv", module, forward_input, grad_in, grad_out, dims)

    def _make_linear_backward_fragments(
        self, stage, module, forward_input, grad_input, grad_output
    ):
        grad_out = _first(grad_output)
        t, batch, _, _ = _tensor_layout(grad_out, module)
        dims = self._make_loop_dims(
            batch_size=batch,
            time_steps=t,
            channels_in=int(module.in_features),
            channels_out=int(module.out_features),
            oy=1,
            ox=1,
            fy=1,
            fx=1,
        )
        grad_in = _first_or(grad_input, None)
        return self._backward_pair(stage, "linear", module, forward_input, grad_in, grad_out, dims)

    def _make_bn_backward_fragment(self, stage, module, forward_input, grad_input, grad_output):
        spike = _is_spike(forward_input)
        grad_out = _first(grad_output)
        grad_in = _first_or(grad_input, grad_out)
        dims, c = self._channel_dims(grad_out, module)
        return self._fragment(
            stage,
            "backward",
            "bn.backward",
            self._bn_core_type("backward", spike),
            "with_bn",
            dims,
            (16, 16, 16),
            (_tensor_numel(grad_out), c * 2, _tensor_numel(grad_in)),
            mac_count=0,
            conv_type=self._stage_conv_type(stage),
        )

    def _make_soma_backward_fragment(self, stage, module, grad_input, grad_output):
        grad_in = _first_or(grad_input, None)
        grad_out = _first(grad_output)
        tensor = grad_in if torch.is_tensor(grad_in) else grad_out
        dims, _ = self._channel_dims(tensor, module)
        return self._fragment(
            stage,
            "backward",
            "soma.backward",
            "bp_grad",
            "with_sg",
            dims,
            (16, 16, 16),
            (_tensor_numel(grad_out), 0, _tensor_numel(tensor)),
            mac_count=0,
        )

    # ------------------------------------------------------------------ optimizer
    def _validate_sgd_group(self, group: dict[str, Any]) -> None:
        if group.get("nesterov", False):
            raise ValueError("NeuroMC runtime SGD modeling currently supports only nesterov=False.")
        if float(group.get("dampening", 0.0)) != 0.0:
            raise ValueError("NeuroMC runtime SGD modeling currently supports only dampening=0.")
        if group.get("maximize", False):
            raise ValueError("NeuroMC runtime SGD modeling currently supports only maximize=False.")

    def _make_optimizer_fragment(
        self,
        *,
        stage: str,
        op_name: str,
        kt: int,
        fyfxkc: int,
        optimizer_has_momentum: bool = False,
        optimizer_has_weight_decay: bool = False,
        optimizer_has_momentum_buffer: bool = False,
    ) -> _Fragment:
        dims = self._make_loop_dims(
            batch_size=1, channels_in=1, channels_out=1, oy=1, ox=1, fy=1, fx=1
        )
        dims.update(K=kt, C=1, FY=1, FX=fyfxkc)
        return _Fragment(
            stage=stage,
            phase="optimizer",
            op_name=op_name,
            core_type="bp_grad_opt",
            process_key="with_opt",
            loop_dims=dims,
            input_precision_bits=32,
            weight_precision_bits=32,
            output_precision_bits=32,
            input_numel=kt,
            weight_numel=fyfxkc,
            output_numel=kt + fyfxkc,
            mac_count=0,
            source="optimizer",
            optimizer_has_momentum=optimizer_has_momentum,
            optimizer_has_weight_decay=optimizer_has_weight_decay,
            optimizer_has_momentum_buffer=optimizer_has_momentum_buffer,
        )

    def _optimizer_fragments(self, stage: str) -> list[_Fragment]:
        optimizer = self._optimizer
        if optimizer is None:
            raise RuntimeError("Optimizer stage requires a bound optimizer.")
        if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
            params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
            kt = sum(int(p.numel()) for p in params if p.ndim <= 1)
            fyfxkc = sum(int(p.numel()) for p in params if p.ndim > 1)
            name = type(optimizer).__name__.lower()
            return [self._make_optimizer_fragment(stage=stage, op_name=name, kt=kt, fyfxkc=fyfxkc)]
        if isinstance(optimizer, torch.optim.SGD):
            buckets: dict[tuple[bool, bool, bool, str], int] = defaultdict(int)
            for group in optimizer.param_groups:
                self._validate_sgd_group(group)
                momentum = float(group.get("momentum", 0.0)) > 0.0
                decay = float(group.get("weight_decay", 0.0)) > 0.0
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    has_buffer = momentum and "momentum_buffer" in optimizer.state[p]
                    buckets[momentum, decay, has_buffer, "kt" if p.ndim <= 1 else "fyfxkc"] += int(
                        p.numel()
                    )
            return [
                self._make_optimizer_fragment(
                    stage=stage,
                    op_name="sgd",
                    kt=count if bucket == "kt" else 0,
                    fyfxkc=count if bucket == "fyfxkc" else 0,
                    optimizer_has_momentum=momentum,
                    optimizer_has_weight_decay=decay,
                    optimizer_has_momentum_buffer=has_buffer,
                )
                for (momentum, decay, has_buffer, bucket), count in buckets.items()
                if count > 0
            ]
        raise ValueError(
            "NeuroMC runtime optimizer modeling only supports Adam/AdamW and common SGD "
            "(nesterov=False, "
            f"dampening=0, maximize=False); got {type(optimizer).__name__}."
        )
