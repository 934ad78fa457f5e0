"""Per-stage event statistics of Conv2d inference for the SpikeSim energy model.

A stage is the innermost module scope of a ``Conv2d`` forward. Dense statistics, per call
with ``S = N · H_out · W_out`` output sites and input tiles of ``xbar_size`` channels:
patch tiles ``S · tiles``, rows ``S · C_tile · k_h · k_w`` per tile, output-tile sites
``out_tiles · S`` and PE cycles ``ceil(C_in/b) · ceil(C_out/b) · S``. Event statistics
(``activity_mode='event'`` with a spike input) count only patches holding spikes: the
spikes summed per input tile, convolved with a ones kernel, give each patch's row count.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from snn_core.op_counter.ac import _Uncounted
from snn_core.op_counter.base import BaseCounter, is_binary_tensor
from snn_core.op_counter.spikesim.config import SpikeSimEnergyConfig

__all__ = ["SpikeSimCounter"]

aten = torch.ops.aten


def _shape_tuple(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(v) for v in x.shape)


def _pair_tuple(x: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(x, int):
        return int(x), int(x)
    if len(x) != 2:
        raise ValueError(f"expected a pair, but got {x}.")
    return int(x[0]), int(x[1])


@dataclass
class _StageStats:
    dense_pe_cycle_count: int = 0
    active_patch_tile_count: int = 0
    active_row_count: int = 0
    active_row_count_by_tile: list[int] | None = None
    active_output_tile_site_count: int = 0
    dense_patch_tile_count: int = 0
    dense_row_count: int = 0
    dense_row_count_by_tile: list[int] | None = None
    dense_output_tile_site_count: int = 0


@dataclass
class _StageMetadata:
    scope: str
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    out_channel_tiles: int
    input_tile_channels: list[int]
    total_calls: int = 0
    event_driven_calls: int = 0
    dense_fallback_calls: int = 0
    shape_mismatch_detected: bool = False


def _accumulate(total: list[int] | None, values: list[int]) -> list[int] | None:
    """Element-wise running sum; ``None`` once two calls disagree on the tile count."""
    if total is None:
        return list(values)
    if len(total) != len(values):
        return None
    return [a + b for a, b in zip(total, values)]


class SpikeSimCounter(BaseCounter):
    """Collects SpikeSim stage statistics of ``aten.convolution`` calls from ``nn.Conv2d``
    modules in eval mode without autograd; other convolutions are warned about (or raise
    ``NotImplementedError`` with ``strict``). :meth:`get_total` is the dense PE cycles.

    Args:
        config: SpikeSim configuration (tile size, activity mode).
        strict: raise instead of warning on convolutions outside the model's scope.
    """

    def __init__(self, *, config: SpikeSimEnergyConfig, strict: bool) -> None:
        super().__init__()
        self.config = config
        self.strict = strict
        self.stage_stats: dict[str, _StageStats] = defaultdict(_StageStats)
        self.stage_metadata: dict[str, _StageMetadata] = {}
        self.warnings: list[str] = []
        self._warning_keys: set[str] = set()
        self._ones_kernel_cache: dict[tuple[Any, ...], torch.Tensor] = {}
        self.rules = {aten.convolution.default: self._count_convolution}

    def reset(self) -> None:
        super().reset()
        self.stage_stats.clear()
        self.stage_metadata.clear()
        self.warnings.clear()
        self._warning_keys.clear()
        self._ones_kernel_cache.clear()

    def count(
        self, func, args: tuple, kwargs: dict, out, active_modules=None, parent_names=None
    ) -> int:
        return int(
            self.rules[func](
                args, kwargs, out, active_modules=active_modules, parent_names=parent_names
            )
        )

    def _warn_or_raise(self, key: str, message: str) -> None:
        if key in self._warning_keys:
            return
        self._warning_keys.add(key)
        if self.strict:
            raise NotImplementedError(message)
        self.warnings.append(message)

    @staticmethod
    def _leaf_scope(parent_names: set[str] | None) -> str:
        names = [n for n in parent_names or () if n != "Global"]
        return max(names, key=lambda n: (n.count("."), len(n))) if names else "Global"

    def _input_tile_channels(self, in_channels: int) -> list[int]:
        b = self.config.xbar_size
        return [min(b, in_channels - start) for start in range(0, in_channels, b)]

    def _dense_event_counts(self, *, w: torch.Tensor, out: torch.Tensor, out_channel_tiles: int):
        sites = int(out.shape[0] * out.shape[2] * out.shape[3])
        tiles = self._input_tile_channels(int(w.shape[1]))
        rows_by_tile = [sites * c * w.shape[2] * w.shape[3] for c in tiles]
        return sites * len(tiles), sum(rows_by_tile), rows_by_tile, out_channel_tiles * sites

    def _dense_pe_cycles(self, *, w: torch.Tensor, out: torch.Tensor) -> int:
        b = self.config.xbar_size
        sites = int(out.shape[0] * out.shape[2] * out.shape[3])
        return int(math.ceil(int(w.shape[1]) / b) * math.ceil(int(w.shape[0]) / b) * sites)

    def _spike_event_counts(self, *, x, w, stride, padding, dilation, out, out_channel_tiles):
        b = self.config.xbar_size
        c_in = x.shape[1]
        tiles = math.ceil(c_in / b)
        k_h, k_w = w.shape[2], w.shape[3]
        with _Uncounted():
            padded = x if tiles * b == c_in else F.pad(x, (0, 0, 0, 0, 0, tiles * b - c_in))
            tile_sums = (
                padded.reshape(x.shape[0], tiles, b, x.shape[2], x.shape[3]).sum(dim=2).float()
            )
            key = (tiles, k_h, k_w, tile_sums.device)
            if key not in self._ones_kernel_cache:
                self._ones_kernel_cache[key] = tile_sums.new_ones((tiles, 1, k_h, k_w))
            occupancy = F.conv2d(
                tile_sums, self._ones_kernel_cache[key], None, stride, padding, dilation, tiles
            )
            active = occupancy.gt(0)
            patch_tiles = int(active.sum().item())
            rows_by_tile = [
                int(v) for v in occupancy.sum(dim=(0, 2, 3), dtype=torch.float64).tolist()
            ]
            sites = out_channel_tiles * int(active.any(dim=1).sum().item())
        return patch_tiles, int(sum(rows_by_tile)), rows_by_tile, sites

    def _update_stage(
        self, *, scope, x, w, out, stride, padding, dilation, spike_like_input
    ) -> int:
        out_tiles = math.ceil(w.shape[0] / self.config.xbar_size)
        kernel = (int(w.shape[2]), int(w.shape[3]))
        meta = self.stage_metadata.get(scope)
        if meta is None:
            meta = self.stage_metadata[scope] = _StageMetadata(
                scope=scope, in_channels=int(w.shape[1]), out_channels=int(w.shape[0]),
                kernel_size=kernel,
                stride=stride, padding=padding, dilation=dilation, input_shape=_shape_tuple(x),
                output_shape=_shape_tuple(out), out_channel_tiles=out_tiles,
                input_tile_channels=self._input_tile_channels(int(w.shape[1])),
            )  # fmt: skip
        elif (meta.input_shape, meta.output_shape, meta.kernel_size) != (
            _shape_tuple(x), _shape_tuple(out), kernel
        ) or (meta.stride, meta.padding, meta.dilation) != (stride, padding, dilation):  # fmt: skip
            meta.shape_mismatch_detected = True
            self._warn_or_raise(
                f"shape-mismatch:{scope}",
                f"SpikeSim stage '{scope}' was invoked with inconsistent shapes; runtime energy is "
                "accumulated across calls anyway.",
            )
        meta.total_calls += 1
        dense = self._dense_event_counts(w=w, out=out, out_channel_tiles=out_tiles)
        if self.config.activity_mode == "event" and spike_like_input:
            meta.event_driven_calls += 1
            active = self._spike_event_counts(
                x=x,
                w=w,
                stride=stride,
                padding=padding,
                dilation=dilation,
                out=out,
                out_channel_tiles=out_tiles,
            )
        else:
            meta.dense_fallback_calls += 1
            active = dense
        cycles = self._dense_pe_cycles(w=w, out=out)
        stats = self.stage_stats[scope]
        stats.dense_pe_cycle_count += cycles
        stats.active_patch_tile_count += active[0]
        stats.active_row_count += active[1]
        stats.active_row_count_by_tile = _accumulate(stats.active_row_count_by_tile, active[2])
        stats.active_output_tile_site_count += active[3]
        stats.dense_patch_tile_count += dense[0]
        stats.dense_row_count += dense[1]
        stats.dense_row_count_by_tile = _accumulate(stats.dense_row_count_by_tile, dense[2])
        stats.dense_output_tile_site_count += dense[3]
        return cycles

    def _handle_convolution(self, scope: str, args: tuple, out, active_modules) -> int:
        x, w = args[0], args[1]
        if bool(args[6]):
            self._warn_or_raise(
                f"transposed-conv:{scope}",
                "SpikeSim energy only covers original SpikeSim Conv2d inference stages; transposed "
                f"convolutions are outside scope: {scope}.",
            )
            return 0
        if not self._is_forward_inference_conv(active_modules):
            self._warn_or_raise(
                f"outside-scope:{scope}",
                "SpikeSim energy only covers Conv2d forward inference stages from nn.Conv2d "
                f"modules: {scope}.",
            )
            return 0
        if int(args[8]) != 1:
            self._warn_or_raise(
                f"grouped-conv:{scope}",
                f"SpikeSim event energy does not support grouped/depthwise convolutions: {scope}.",
            )
            return 0
        if x.dim() != 4 or w.dim() != 4 or out.dim() != 4:
            self._warn_or_raise(
                f"conv-rank:{scope}",
                "SpikeSim event energy only supports Conv2d-like calls, but got "
                f"x.shape={tuple(x.shape)}, w.shape={tuple(w.shape)}, "
                f"out.shape={tuple(out.shape)}.",
            )
            return 0
        return self._update_stage(
            scope=scope, x=x, w=w, out=out, stride=_pair_tuple(args[3]),
            padding=_pair_tuple(args[4]),
            dilation=_pair_tuple(args[5]), spike_like_input=is_binary_tensor(x),
        )  # fmt: skip

    def _count_convolution(
        self, args, kwargs, out, *, active_modules=None, parent_names=None
    ) -> int:
        return self._handle_convolution(self._leaf_scope(parent_names), args, out, active_modules)

    @staticmethod
    def _is_forward_inference_conv(active_modules: set[nn.Module] | None) -> bool:
        convs = [m for m in active_modules or () if isinstance(m, nn.Conv2d)]
        return len(convs) == 1 and not convs[0].training and not torch.is_grad_enabled()

    def get_stage_stats(self) -> dict[str, dict[str, Any]]:
        """Per-stage statistics as dicts."""
        return {stage: asdict(stats) for stage, stats in self.stage_stats.items()}

    def get_stage_metadata(self) -> dict[str, dict[str, Any]]:
        """Per-stage shapes and tiling as dicts."""
        return {stage: asdict(meta) for stage, meta in self.stage_metadata.items()}
