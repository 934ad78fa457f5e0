"""NeuroMC's per-fragment extra work: surrogate-gradient soma, batch norm and optimizer
arithmetic (mux/add/mul/comp/sqrt counts) and the memory traffic of their variables."""

from __future__ import annotations

from collections import defaultdict

from snn_core.op_counter.neuromc.config import MemoryHierarchyConfig
from snn_core.op_counter.neuromc.mapping import _accumulate_memory, _Fragment

# 32 nm energies per operation (pJ); a MAC is an add and a multiply, or with a 1-bit spike
# input an add and a 1/16-width mux.
_EXTRA_OP_COST_PJ = {
    "mux": 0.548 * (1.0 / 16.0),
    "add": 0.548,
    "mul": 0.812,
    "comp": 0.056,
    "sqrt": 0.514,
}
_MAC_COST_PJ = {
    "fp_soma": 0.548 + 0.548 * (1.0 / 16.0),
    "bp_grad": 0.548 + 0.812,
    "wg": 0.548 + 0.548 * (1.0 / 16.0),
    "ann_fe": 0.548 + 0.812,
    "ann_be": 0.548 + 0.812,
    "ann_we": 0.548 + 0.812,
}
_READ_TWICE = {"fp_bn_mean_v", "bp_bn_du_l_pre1", "bp_bn_sqrt", "bp_bn_y", "bp_bn_sigma_mn"}
_READ_THRICE = {"bp_bn_m", "bp_bn_n"}
_NOT_READ = {
    "fp_smask_l",
    "bp_bn_dy",
    "bp_bn_db",
    "bp_bn_du_l_pre2",
    "opt_y_updated",
    "opt_b_updated",
    "opt_w_updated",
}
_WRITTEN = {
    "fp_yi1",
    "fp_u_l",
    "fp_s_l",
    "fp_smask_l",
    "fp_bn_mean_v",
    "fp_bn_variance",
    "fp_bn_n",
    "fp_bn_sqrt",
    "fp_bn_xi_",
    "bp_u_l_pre",
    "bp_du_l_pre",
    "bp_bn_m",
    "bp_bn_sigma_m",
    "bp_bn_sigma_n",
    "bp_bn_sigma_mn",
    "bp_bn_dy",
    "bp_bn_db",
    "bp_bn_du_l_pre2",
    "opt_v_y",
    "opt_v_b",
    "opt_v_w",
    "opt_s_y",
    "opt_s_b",
    "opt_s_w",
    "opt_vbc_y",
    "opt_vbc_b",
    "opt_vbc_w",
    "opt_sbc_y",
    "opt_sbc_b",
    "opt_sbc_w",
    "opt_y_updated",
    "opt_b_updated",
    "opt_w_updated",
}


def _read_multiplier(name: str) -> int:
    if name in _READ_THRICE:
        return 3
    if name in _READ_TWICE:
        return 2
    return 0 if name in _NOT_READ else 1


# Variables per (process, phase): name -> (count key, bits per element, register, SRAM)
_SG_FORWARD = {
    "fp_yi1": ("OYOXKBT", 16, "reg_16b", "sram_fp_conv_out_xi"),
    "fp_u_l": ("OYOXKBT", 16, "reg_16b", "sram_fp_soma_u"),
    "fp_s_l": ("OYOXKBT", 1, "reg_1b", "sram_fp_soma_s"),
    "fp_smask_l": ("OYOXKBT", 1, "reg_1b", "sram_fp_soma_smask"),
}
_SG_BACKWARD = {
    "bp_conv_res": ("OYOXCBT", 16, "reg_16b", "sram_bp_conv_out_res"),
    "bp_u_l_pre": ("OYOXCBT", 16, "reg_16b", "sram_bp_grad_in_u"),
    "bp_s_l_pre": ("OYOXCBT", 1, "reg_1b", "sram_bp_grad_in_s"),
    "bp_smask_l_pre": ("OYOXCBT", 1, "reg_1b", "sram_bp_grad_in_smask"),
    "bp_du_l_pre": ("OYOXCBT", 16, "reg_16b", "sram_bp_grad_out_du"),
}
_BN_FORWARD = {
    name: (key, 16, "reg_16b", "sram_2MB")
    for name, key in (
        ("fp_bn_mean_v", "KT"),
        ("fp_bn_variance", "KT"),
        ("fp_bn_n", "OYOXKBT"),
        ("fp_bn_sqrt", "KT"),
        ("fp_bn_xi_", "OYOXKBT"),
        ("fp_bn_y", "KT"),
        ("fp_bn_b", "KT"),
    )
}
_BN_BACKWARD = {
    name: (key, 16, "reg_16b", "sram_2MB")
    for name, key in (
        ("bp_bn_du_l_pre1", "OYOXCBT"),
        ("bp_bn_sqrt", "CT"),
        ("bp_bn_y", "CT"),
        ("bp_bn_m", "OYOXCBT"),
        ("bp_bn_n", "OYOXCBT"),
        ("bp_bn_sigma_m", "CT"),
        ("bp_bn_sigma_n", "CT"),
        ("bp_bn_sigma_mn", "CT"),
        ("bp_bn_dy", "CT"),
        ("bp_bn_db", "CT"),
        ("bp_bn_du_l_pre2", "OYOXCBT"),
    )
}
_ADAM = {
    f"opt_{var}{p}": ("FYFXKC" if p.endswith("w") else "KT", 32, "reg_32b", "sram_6MB")
    for var in ("", "d", "v_", "s_", "vbc_", "sbc_")
    for p in ("y", "b", "w")
}
_ADAM.update(
    {f"opt_{p}_updated": ("FYFXKC" if p == "w" else "KT", 32, "reg_32b", "sram_6MB") for p in "ybw"}
)


def _optimizer_param_count(fragment: _Fragment) -> int:
    return (
        fragment.loop_dims["K"]
        + fragment.loop_dims["FX"] * fragment.loop_dims["FY"] * fragment.loop_dims["C"]
    )


def _extra_counts(fragment: _Fragment) -> dict[str, int]:
    """Primitive operations beside the MACs: soma (with surrogate gradient), batch norm and
    optimizer arithmetic."""
    counts = dict.fromkeys(("mux", "add", "mul", "comp", "sqrt"), 0)
    ld = fragment.loop_dims
    out_elems = ld["OY"] * ld["OX"] * ld["K"] * ld["B"] * ld["T"]
    in_elems = ld["OY"] * ld["OX"] * ld["C"] * ld["B"] * ld["T"]
    ct = ld["C"] * ld["T"]
    optimizer = fragment.process_key == "with_opt"
    kt = ld["K"] if optimizer else ld["K"] * ld["T"]
    fyfxkc = ld["FX"] * ld["FY"] * ld["C"] if optimizer else ld["FY"] * ld["FX"] * ld["K"] * ld["C"]
    forward = fragment.phase == "forward"
    if fragment.process_key == "with_sg":
        if forward:
            counts.update(mux=out_elems, add=out_elems, mul=out_elems, comp=3 * out_elems)
        else:
            counts.update(mux=in_elems, add=2 * in_elems, mul=4 * in_elems)
    elif fragment.process_key == "with_bn":
        if forward:
            counts.update(add=3 * out_elems + 2 * kt, mul=3 * out_elems + 4 * kt, sqrt=kt)
        elif fragment.conv_type != "without_bp_bn":
            counts.update(add=7 * in_elems, mul=3 * in_elems + 22 * ct)
    elif optimizer:
        if fragment.op_name in {"adam", "adamw"}:
            counts.update(add=8 * kt + 4 * fyfxkc, mul=22 * kt + 11 * fyfxkc, sqrt=2 * kt + fyfxkc)
        elif fragment.op_name == "sgd":
            n = _optimizer_param_count(fragment)
            terms = 1 + int(fragment.optimizer_has_weight_decay)
            terms += int(fragment.optimizer_has_momentum and fragment.optimizer_has_momentum_buffer)
            counts.update(add=terms * n, mul=terms * n)
    return counts


def _extra_memory(fragment: _Fragment, config: MemoryHierarchyConfig):
    """``(bits, energy)`` per level and direction of the fragment's extra variables."""
    totals = defaultdict(lambda: defaultdict(int))
    energy = defaultdict(lambda: defaultdict(float))
    if fragment.process_key == "with_nothing":
        return totals, energy
    cfg = config.memory_instances

    def add(level: str, direction: str, bits: int, spec_name: str) -> None:
        _accumulate_memory(
            totals,
            energy,
            level=level,
            direction=direction,
            bits=bits,
            spec=cfg[spec_name],
            config=config,
        )

    ld = fragment.loop_dims
    optimizer = fragment.process_key == "with_opt"
    if optimizer and fragment.op_name == "sgd":
        bits = _optimizer_param_count(fragment) * 32
        add("sram", "rh2l", bits, "sram_6MB")
        add("sram", "rh2l", bits, "sram_6MB")
        add("sram", "wl2h", bits, "sram_6MB")
        if fragment.optimizer_has_momentum and fragment.optimizer_has_momentum_buffer:
            add("sram", "rh2l", bits, "sram_6MB")
        if fragment.optimizer_has_momentum:
            add("sram", "wl2h", bits, "sram_6MB")
        return totals, energy
    sizes = {
        "OYOXKBT": ld["OY"] * ld["OX"] * ld["K"] * ld["B"] * ld["T"],
        "KT": ld["K"] if optimizer else ld["K"] * ld["T"],
        "OYOXCBT": ld["OY"] * ld["OX"] * ld["C"] * ld["B"] * ld["T"],
        "CT": ld["C"] * ld["T"],
        "FYFXKC": ld["FY"] * ld["FX"] * ld["C"]
        if optimizer
        else ld["FY"] * ld["FX"] * ld["K"] * ld["C"],
    }
    forward = fragment.phase == "forward"
    if fragment.process_key == "with_sg":
        variables = _SG_FORWARD if forward else _SG_BACKWARD
    elif fragment.process_key == "with_bn":
        variables = _BN_FORWARD if forward else _BN_BACKWARD
    elif optimizer and fragment.op_name in {"adam", "adamw"}:
        variables = _ADAM
    else:
        variables = {}
    sg_backward = fragment.process_key == "with_sg" and not forward
    for name, (size_key, width, reg, sram) in variables.items():
        bits = sizes[size_key] * width
        for level, spec_name in (("reg", reg), ("sram", sram)):
            add(level, "rh2l", bits * _read_multiplier(name), spec_name)
            if sg_backward:
                written = (level == "reg" and name == "bp_du_l_pre") or (
                    level == "sram" and name == "bp_u_l_pre"
                )
            else:
                written = name in _WRITTEN
            add(level, "wl2h", bits if written else 0, spec_name)
    return totals, energy
