"""State-dict names of the reference framework for blocks reused from :mod:`snn_zoo.families`.

Where a reference model computes exactly what a family block computes but names (or fuses)
its tensors differently, the block is reused and :func:`use_reference_keys` makes its
``state_dict()`` write the reference names and its ``load_state_dict`` read them, so
checkpoints move both ways with ``strict=True``:

- ``renames``: our sub-path -> the reference's (``{"fc1_conv": "fc1"}`` turns
  ``fc1_conv.weight`` into ``fc1.weight``);
- ``fused``: a reference sub-path -> our sub-paths whose tensors it concatenates along dim 0
  (``{"qkv.0": ("q_conv", "k_conv", "v_conv")}``, the reference's one ``Conv1d`` over
  ``q | k | v``). A 0-dim entry (``num_batches_tracked``, the scalar of a learnable neuron
  shared by the fused branches) is written from the first part and read into every part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["MLP_NAMES", "use_reference_keys"]

#: the family MLPs' attribute names (``fc1_conv``, ``fc1_bn``, ``fc1_lif``, ``fc2_...``) -> the
#: reference's (``fc1``, ``bn1``, ``lif1``, ``fc2``, ...), shared by QKFormer, the
#: Spike-driven Transformer and MaxFormer
MLP_NAMES = {
    f"fc{i}_{ours}": f"{ref}{i}"
    for i in (1, 2)
    for ours, ref in (("conv", "fc"), ("bn", "bn"), ("lif", "lif"))
}


def _sub(name: str, table: Mapping[str, str]) -> str | None:
    for src, dst in table.items():
        if name == src or name.startswith(src + "."):
            return dst + name[len(src) :]
    return None


def _fused_part(name: str, fused: Mapping[str, Sequence[str]]) -> tuple[str, int, str] | None:
    for ref, parts in fused.items():
        for i, part in enumerate(parts):
            if name.startswith(part + "."):
                return ref, i, name[len(part) :]
    return None


def use_reference_keys(
    module: nn.Module,
    renames: Mapping[str, str],
    fused: Mapping[str, Sequence[str]] | None = None,
) -> nn.Module:
    """Make ``module`` save and load the reference's names (see the module docstring)."""
    renames, fused = dict(renames), dict(fused or {})
    inverse = {ref: ours for ours, ref in renames.items()}

    def save(mod: nn.Module, state: dict[str, Any], prefix: str, meta: Any) -> None:
        local = {k[len(prefix) :]: state.pop(k) for k in [k for k in state if k.startswith(prefix)]}
        for name, value in local.items():
            hit = _fused_part(name, fused)
            if hit is None:
                state[prefix + (_sub(name, renames) or name)] = value
            elif hit[1] == 0:
                ref, _, suffix = hit
                values = [local[part + suffix] for part in fused[ref]]
                state[prefix + ref + suffix] = value if value.dim() == 0 else torch.cat(values)

    def load(
        mod: nn.Module,
        state: dict[str, Any],
        prefix: str,
        meta: Any,
        strict: bool,
        missing: list[str],
        unexpected: list[str],
        errors: list[str],
    ) -> None:
        for key in [k for k in state if k.startswith(prefix)]:
            name = key[len(prefix) :]
            targets: list[tuple[str, Any]] = []
            for ref, parts in fused.items():
                if name.startswith(ref + "."):
                    value, suffix = state[key], name[len(ref) :]
                    if value.dim() == 0:
                        targets = [(p + suffix, value) for p in parts]
                    elif value.shape[0] % len(parts) == 0:
                        chunks = value.chunk(len(parts))
                        targets = [(p + suffix, c) for p, c in zip(parts, chunks, strict=True)]
                    break
            else:
                ours = _sub(name, inverse)
                if ours is not None:
                    targets = [(ours, state[key])]
            clash = [prefix + t for t, _ in targets if prefix + t in state]
            if clash:
                errors.append(f"{type(mod).__name__}: {key!r} and {clash} are the same tensor")
            elif targets:
                del state[key]
                state.update((prefix + t, v) for t, v in targets)

    module.register_state_dict_post_hook(save)
    module.register_load_state_dict_pre_hook(load)
    return module
