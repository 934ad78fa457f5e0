"""SpikeSim energy of one Conv2d stage from its event statistics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from snn_core.op_counter.spikesim.config import SpikeSimEnergyConfig

__all__ = ["compute_spikesim_dense_energy_breakdown", "compute_spikesim_event_energy_breakdown"]


def compute_spikesim_dense_energy_breakdown(
    stats: Mapping[str, Any], metadata: Mapping[str, Any], config: SpikeSimEnergyConfig
) -> dict[str, float]:
    """``E = dense PE cycles · E_cycle(kernel)`` (SpikeSim's own accounting)."""
    total = float(stats["dense_pe_cycle_count"]) * config.pe_cycle_energy_for_kernel_pj(
        metadata["kernel_size"]
    )
    return {"pe_cycle_pj": total, "total_pj": total}


def compute_spikesim_event_energy_breakdown(
    stats: Mapping[str, Any], metadata: Mapping[str, Any], config: SpikeSimEnergyConfig
) -> dict[str, float]:
    """Event-driven variant: patch control per active (patch, input tile) and output tile,
    crossbar energy per active row, neuron energy per active output site and input tile.
    Falls back to the dense formula unless ``config.activity_mode == 'event'``."""
    if config.activity_mode != "event":
        return compute_spikesim_dense_energy_breakdown(stats, metadata, config)
    out_tiles = float(metadata["out_channel_tiles"])
    in_tiles = math.ceil(metadata["in_channels"] / config.xbar_size)
    patch_control = (
        out_tiles * float(stats["active_patch_tile_count"]) * config.patch_control_energy_pj
    )
    rows_by_tile = stats.get("active_row_count_by_tile")
    tile_channels = metadata.get("input_tile_channels")
    if (rows_by_tile is None) != (tile_channels is None):
        raise ValueError(
            "active_row_count_by_tile and input_tile_channels must either both be present or "
            "both be absent."
        )
    if rows_by_tile is not None and tile_channels is not None:
        if len(rows_by_tile) != len(tile_channels):
            raise ValueError(
                "active_row_count_by_tile and input_tile_channels must have the same length, "
                "but got "
                f"len(active_row_count_by_tile)={len(rows_by_tile)} and "
                f"len(input_tile_channels)={len(tile_channels)}."
            )
        rows = sum(
            float(n) * config.xbar_row_energy_pj(int(c))
            for n, c in zip(rows_by_tile, tile_channels)
        )
        xbar = out_tiles * rows
    else:
        xbar = (
            out_tiles
            * float(stats["active_row_count"])
            * config.xbar_row_energy_pj(metadata["in_channels"])
        )
    neuron = float(in_tiles) * float(stats["active_output_tile_site_count"]) * config.neuron_pj
    return {
        "patch_control_pj": patch_control,
        "xbar_pj": xbar,
        "neuron_pj": neuron,
        "total_pj": patch_control + xbar + neuron,
    }
