"""Work fragments of the NeuroMC model and their mapping onto the memory hierarchy.

A fragment is one layer's work in one phase (forward ``fp``, backward ``bp`` / weight
gradient ``wg``) on one core type, described by its loop dimensions ``B, T, C, K, OY, OX,
FY, FX`` and operand precisions. Its base memory traffic (bits per level and direction:
``rh2l`` read towards the lower level, ``wl2h`` write back up, ...) follows NeuroMC's
dataflow: operands streamed through registers, reductions in chunks of 16 channels.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from math import ceil

from snn_core.op_counter.neuromc.config import MemoryHierarchyConfig, MemoryInstanceSpec

# Memories per core type: (input reg, weight reg, output reg, input SRAM, weight SRAM, output SRAM)
_CORE_MEMORIES = {
    "fp_soma": (
        "reg_1b",
        "reg_16b",
        "reg_16b",
        "sram_fp_conv_in_s",
        "sram_fp_conv_in_w",
        "sram_fp_conv_out_xi",
    ),
    "ann_fe": (
        "reg_16b",
        "reg_16b",
        "reg_16b",
        "sram_fp_conv_in_w",
        "sram_fp_conv_in_w",
        "sram_fp_conv_out_xi",
    ),
    "bp_grad": (
        "reg_16b",
        "reg_16b",
        "reg_16b",
        "sram_bp_conv_in_du",
        "sram_bp_conv_in_w",
        "sram_bp_conv_out_res",
    ),
    "ann_be": (
        "reg_16b",
        "reg_16b",
        "reg_16b",
        "sram_bp_conv_in_du",
        "sram_bp_conv_in_w",
        "sram_bp_conv_out_res",
    ),
    "wg": (
        "reg_1b",
        "reg_16b",
        "reg_16b",
        "sram_wg_conv_in_s",
        "sram_wg_conv_in_du",
        "sram_wg_conv_out_dw",
    ),
    "ann_we": (
        "reg_16b",
        "reg_16b",
        "reg_16b",
        "sram_wg_conv_in_du",
        "sram_wg_conv_in_du",
        "sram_wg_conv_out_dw",
    ),
}


@dataclass
class _Fragment:
    stage: str
    phase: str
    op_name: str
    core_type: str
    process_key: str
    loop_dims: dict[str, int]
    input_precision_bits: int
    weight_precision_bits: int
    output_precision_bits: int
    input_numel: int
    weight_numel: int
    output_numel: int
    mac_count: int
    conv_type: str = "--"
    b_type: int = 0
    t_type: int = 0
    source: str = "trace"
    optimizer_has_momentum: bool = False
    optimizer_has_weight_decay: bool = False
    optimizer_has_momentum_buffer: bool = False


def _accumulate_memory(
    totals,
    energy,
    *,
    level: str,
    direction: str,
    bits: int,
    spec: MemoryInstanceSpec,
    config: MemoryHierarchyConfig,
) -> None:
    """Add ``bits`` moved at ``level`` in ``direction`` and their energy
    ``bits / bandwidth · cost per access``, unless the configuration leaves that level or
    direction out."""
    if bits <= 0:
        return
    if level == "dram" and config.zero_dram_in_paper_energy:
        return
    if level == "noc" and config.zero_noc_in_paper_energy:
        return
    if level == "sram" and config.zero_sram_high_directions and direction in {"rl2h", "wh2l"}:
        return
    totals[level][direction] += bits
    reading = direction.startswith("r")
    bandwidth = spec.r_bw if reading else spec.w_bw
    if bandwidth > 0:
        energy[level][direction] += bits / bandwidth * (spec.r_cost if reading else spec.w_cost)


def _map_base_memory(fragment: _Fragment, config: MemoryHierarchyConfig):
    """``(bits[level][direction], energy_pj[level][direction])`` of a fragment's operands."""
    totals = defaultdict(lambda: defaultdict(int))
    energy = defaultdict(lambda: defaultdict(float))
    names = _CORE_MEMORIES.get(fragment.core_type)
    if fragment.mac_count == 0 or names is None:
        return totals, energy
    reg_i, reg_w, reg_o, sram_i, sram_w, sram_o = (config.memory_instances[n] for n in names)

    def add(
        level: str, direction: str, elements: int, precision: int, spec: MemoryInstanceSpec
    ) -> None:
        _accumulate_memory(
            totals,
            energy,
            level=level,
            direction=direction,
            bits=elements * precision,
            spec=spec,
            config=config,
        )

    mac, out = fragment.mac_count, fragment.output_numel
    p_in, p_w, p_out = (
        fragment.input_precision_bits,
        fragment.weight_precision_bits,
        fragment.output_precision_bits,
    )
    ld = fragment.loop_dims
    if fragment.core_type in {"wg", "ann_we"}:
        in_reuse, w_reuse = min(ld["K"], 16), min(ld["C"], 16)
        for direction in ("rh2l", "wh2l"):
            add("reg", direction, mac, p_in, reg_i)
            add("reg", direction, mac, p_w, reg_w)
        add("reg", "rl2h", out, p_out, reg_o)
        add("reg", "rh2l", mac - out, p_out, reg_o)
        add("reg", "wl2h", mac, p_out, reg_o)
        add("sram", "rh2l", (mac + in_reuse - 1) // in_reuse, p_in, sram_i)
        add("sram", "rh2l", (mac + w_reuse - 1) // w_reuse, p_w, sram_w)
        add("sram", "wl2h", out, p_out, sram_o)
        return totals, energy
    reduction = ld["K"] if fragment.core_type in {"bp_grad", "ann_be"} else ld["C"]
    chunks = ceil(reduction / 16) * ld["FY"] * ld["FX"]
    partial, streamed = out * (chunks - 1), out * chunks
    for direction in ("rh2l", "wh2l"):
        add("reg", direction, mac, p_in, reg_i)
    reuse_weight = (
        fragment.b_type or fragment.t_type
    ) and fragment.weight_numel * p_w <= sram_w.size_bits
    if not reuse_weight:
        for direction in ("rh2l", "wh2l"):
            add("reg", direction, fragment.weight_numel, p_w, reg_w)
        add("sram", "rh2l", fragment.weight_numel, p_w, sram_w)
    add("reg", "rl2h", mac, p_out, reg_o)
    add("reg", "rh2l", mac - out, p_out, reg_o)
    add("reg", "wh2l", mac, p_out, reg_o)
    add("reg", "wl2h", partial, p_out, reg_o)
    add("sram", "rh2l", streamed, p_in, sram_i)
    add("sram", "rh2l", partial, p_out, sram_o)
    add("sram", "wl2h", streamed, p_out, sram_o)
    return totals, energy
