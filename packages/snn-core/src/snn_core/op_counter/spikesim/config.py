"""Hardware constants of SpikeSim (Moitra et al., IEEE TCAD 2023), an IMC crossbar SNN
accelerator at 65 nm, as in its reference code (commit c2627bc)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["SpikeSimEnergyConfig"]

_ROW_DIVISOR = 8.0  # crossbar rows are read 8 at a time (one ADC per 8 columns)


@dataclass
class SpikeSimEnergyConfig:
    """SpikeSim energies (pJ) and mode.

    Args:
        xbar_size: crossbar rows/columns ``b``.
        device: ``'rram'`` or ``'sram'`` crossbar.
        activity_mode: ``'dense'`` (every PE cycle, SpikeSim's own count) or ``'event'``
            (only patches, rows and sites with input spikes).
        require_if_lif_neurons: reject models with neurons other than IF/LIF.
        tile_buffer_pj ... sram_xbar_pj: per-access energies of the components.
    """

    xbar_size: int = 64
    device: str = "rram"
    activity_mode: str = "dense"
    require_if_lif_neurons: bool = True
    tile_buffer_pj: float = 397.0
    temp_buffer_pj: float = 0.2
    sub_pj: float = 1.15e-06
    adc_pj: float = 2.03084
    htree_pj: float = 19.64 * 8.0
    mux_pj: float = 0.094245
    mem_fetch_pj: float = 4.64
    neuron_pj: float = 1.274 * 4.0
    rram_xbar_pj: float = 1.76423
    sram_xbar_pj: float = 671.089

    def copy(self) -> SpikeSimEnergyConfig:
        """A shallow copy."""
        return replace(self)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid field."""
        if self.xbar_size <= 0:
            raise ValueError(f"xbar_size must be positive, got {self.xbar_size}.")
        if self.device not in ("rram", "sram"):
            raise ValueError(f"device must be 'rram' or 'sram', got {self.device}.")
        if self.activity_mode not in ("dense", "event"):
            raise ValueError(f"activity_mode must be 'dense' or 'event', got {self.activity_mode}.")
        for name in (
            "tile_buffer_pj", "temp_buffer_pj", "sub_pj", "adc_pj", "htree_pj", "mux_pj",
            "mem_fetch_pj", "neuron_pj", "rram_xbar_pj", "sram_xbar_pj",
        ):  # fmt: skip
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and nonnegative, got {value!r}.")

    @property
    def xbar_array_energy_pj(self) -> float:
        """Energy of one crossbar array read for the chosen device."""
        if self.device == "rram":
            return self.rram_xbar_pj
        if self.device == "sram":
            return self.sram_xbar_pj
        raise ValueError(f"device must be 'rram' or 'sram', got {self.device}.")

    @property
    def patch_control_energy_pj(self) -> float:
        """Per patch: H-tree, memory fetch, tile buffer, ``b/8·16`` subtractions, ``b/8``
        temporary-buffer accesses and ``(b/8)^2`` ADC + MUX conversions."""
        rows = float(self.xbar_size) / _ROW_DIVISOR
        return (
            self.htree_pj
            + self.mem_fetch_pj
            + self.tile_buffer_pj
            + rows * 16.0 * self.sub_pj
            + rows * self.temp_buffer_pj
            + rows * rows * (self.adc_pj + self.mux_pj)
        )

    def pe_cycle_energy_for_kernel_pj(self, kernel_size: tuple[int, int]) -> float:
        """One PE cycle: patch control + neuron + ``b/8 · k_h · k_w`` crossbar reads."""
        if len(kernel_size) != 2:
            raise ValueError(f"kernel_size must be a tuple of length 2, got {kernel_size}.")
        k_h, k_w = kernel_size
        if k_h <= 0 or k_w <= 0:
            raise ValueError(f"kernel_size dimensions must be positive, got ({k_h}, {k_w}).")
        xbar = self.xbar_size / _ROW_DIVISOR * float(k_h) * float(k_w) * self.xbar_array_energy_pj
        return self.patch_control_energy_pj + self.neuron_pj + xbar

    def xbar_row_energy_pj(self, tile_channels: int) -> float:
        """Crossbar energy per active row of a tile holding ``tile_channels`` channels
        (the tile is padded to a multiple of ``xbar_size``)."""
        if tile_channels <= 0:
            raise ValueError(f"tile_channels must be positive, got {tile_channels}.")
        if self.xbar_size <= 0:
            raise ValueError(f"xbar_size must be positive, got {self.xbar_size}.")
        padded = math.ceil(tile_channels / self.xbar_size) * self.xbar_size / float(tile_channels)
        return self.xbar_array_energy_pj / _ROW_DIVISOR * padded
