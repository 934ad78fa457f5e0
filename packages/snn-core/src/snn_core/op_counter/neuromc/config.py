"""Memory instances of the NeuroMC accelerator model (32 nm; NeuroMC reference code,
commit 712c66f): per instance its size, word width, read/write bandwidth (bits per access)
and energy per access (pJ)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MemoryInstanceSpec", "MemoryHierarchyConfig"]


@dataclass(frozen=True)
class MemoryInstanceSpec:
    """One memory: ``size_bits``, ``datawidth``, read / write bandwidth in bits per access
    (``r_bw``, ``w_bw``) and energy per access in pJ (``r_cost``, ``w_cost``)."""

    name: str
    size_bits: int
    datawidth: int
    r_bw: int
    w_bw: int
    r_cost: float
    w_cost: float


def _spec(
    name: str, size_bits: int, width: int, r_bw: int, w_bw: int, r: float, w: float | None = None
):
    return name, MemoryInstanceSpec(name, size_bits, width, r_bw, w_bw, r, r if w is None else w)


_REG_16B = 0.14416 / 7.1 * 2  # a 16-bit register access, scaled from 7.1 to the reference's 2
_SRAM_IN_S = 0.44854798
_SRAM_W = 5.302477904
_SRAM_16 = 5.792676768
_SRAM_U = 92.68282828
_SRAM_1B = 7.176767677
_MEMORY_INSTANCES = dict(
    [
        _spec("reg_1b", 1, 1, 1, 1, 0.00901 / 7.1 * 2),
        _spec("reg_16b", 16, 16, 16, 16, _REG_16B),
        _spec("reg_32b", 32, 32, 32, 32, 0.14416 * 2 / 7.1 * 2),
        _spec("sram_fp_conv_in_s", 18496 * 16, 1, 1, 1, _SRAM_IN_S),
        _spec("sram_fp_conv_in_w", 18432 * 256, 16, 16, 16, _SRAM_W),
        _spec("sram_fp_conv_out_xi", 65536 * 16, 16, 16, 16, _SRAM_16),
        _spec("sram_fp_soma_u", 1048576, 16, 256, 256, _SRAM_U),
        _spec("sram_fp_soma_s", 262144, 1, 16, 16, _SRAM_1B),
        _spec("sram_fp_soma_smask", 65536, 1, 16, 16, _SRAM_1B),
        _spec("sram_bp_conv_in_du", 73984 * 16, 16, 16, 16, _SRAM_16),
        _spec("sram_bp_conv_in_w", 18432 * 256, 16, 16, 16, _SRAM_W),
        _spec("sram_bp_conv_out_res", 65536 * 16, 16, 16, 16, _SRAM_16),
        _spec("sram_bp_grad_in_u", 1048576, 16, 256, 256, _SRAM_U),
        _spec("sram_bp_grad_in_smask", 65536, 1, 16, 16, _SRAM_1B),
        _spec("sram_bp_grad_in_s", 65536, 1, 16, 16, _SRAM_1B),
        _spec("sram_bp_grad_out_du", 1048576, 16, 256, 256, _SRAM_U),
        _spec("sram_wg_conv_in_s", 4624 * 16, 1, 1, 1, _SRAM_IN_S),
        _spec("sram_wg_conv_in_du", 65536 * 16, 16, 16, 16, _SRAM_16),
        _spec("sram_wg_conv_out_dw", 18432 * 256, 16, 16, 16, _SRAM_W),
        _spec("sram_2MB", 1048576 * 16, 16, 256, 256, 46.976, 45.96),
        _spec("sram_6MB", 50331648, 16, 256, 256, 458.1830181, 375.0422185),
        _spec("dram", 134217728 * 64, 16, 64, 64, 1300.0),
    ]
)


@dataclass
class MemoryHierarchyConfig:
    """The memory hierarchy (levels DRAM, SRAM, registers, NoC) and its instances.

    Args:
        level_order: the levels, outermost first.
        memory_instances: ``{name: MemoryInstanceSpec}``; every instance the model maps
            to must be present (:meth:`validate`).
        zero_dram_in_paper_energy / zero_noc_in_paper_energy: leave DRAM / NoC traffic out,
            as the NeuroMC paper's figures do.
        zero_sram_high_directions: leave out SRAM reads towards / writes from the higher
            level (``rl2h``, ``wh2l``).
    """

    level_order: tuple[str, str, str, str] = ("dram", "sram", "reg", "noc")
    memory_instances: dict[str, MemoryInstanceSpec] = field(
        default_factory=lambda: dict(_MEMORY_INSTANCES)
    )
    zero_dram_in_paper_energy: bool = True
    zero_noc_in_paper_energy: bool = True
    zero_sram_high_directions: bool = True

    @property
    def preset_name(self) -> str:
        """Name of this preset."""
        return "neuromc_like_v1"

    @property
    def technology_nm(self) -> int:
        """Process node of the constants."""
        return 32

    def validate(self) -> None:
        """Raise ``ValueError`` naming the memory instances that are missing."""
        missing = sorted(set(_MEMORY_INSTANCES).difference(self.memory_instances))
        if missing:
            raise ValueError(f"Missing required NeuroMC memory instances: {missing}.")
