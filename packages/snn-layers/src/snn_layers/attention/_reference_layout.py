"""Loading the reference framework's fused-projection layout into the attention layers.

The reference framework stores the Q/K/V (or Q/K) projections of its Spikformer / QKFormer
layers as one ``Conv1d`` + ``BatchNorm1d`` over ``n * C`` channels, ordered ``q | k | v``
(``qkv_conv_bn.0.*`` / ``qkv_conv_bn.1.*``, or ``qk_conv_bn.*``), and the output projection as
``proj_conv_bn.0.*`` / ``proj_conv_bn.1.*``. Our layers keep the official repositories' separate
``q_conv, q_bn, ...`` layout; :func:`split_reference_layout` rewrites a state dict from the
reference layout into ours, in place, before the layer's children load from it. Row block
``i`` of the fused tensors is branch ``parts[i]``; ``num_batches_tracked`` goes to every BN.
A learnable neuron shared by the fused branches (``qkv_lif.*`` / ``qk_lif.*``) is copied to
each branch's neuron.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["split_reference_layout"]


def _fit(value: torch.Tensor, target: Any) -> torch.Tensor:
    """A ``Conv1d`` weight ``[C_out, C_in, 1]`` loaded into an ``nn.Linear`` ``[C_out, C_in]``."""
    if (
        isinstance(target, torch.Tensor)
        and target.dim() == 2
        and value.dim() == 3
        and value.shape[-1] == 1
    ):
        return value.squeeze(-1)
    return value


def _target(module: nn.Module, attr: str, name: str) -> Any:
    sub = getattr(module, attr, None)
    if sub is None:
        return None
    return getattr(sub, name, None)


def split_reference_layout(
    module: nn.Module,
    state_dict: dict[str, Any],
    prefix: str,
    fused: str,
    parts: tuple[str, ...],
    proj_attr: str,
    error_msgs: list[str],
) -> None:
    """In place: ``{fused}.{0,1}.*``, ``{fused[:-7]}_lif.*`` and ``proj_conv_bn.{0,1}.*``
    entries under ``prefix`` -> our ``{p}_{proj_attr}``, ``{p}_bn``, ``{p}_lif``, ``proj_*``.

    ``fused`` is ``'qkv_conv_bn'`` or ``'qk_conv_bn'`` and ``parts`` the branch prefixes in the
    fused channel order; ``proj_attr`` is ``'conv'`` or ``'linear'``. Problems (wrong fused
    size, an entry given in both layouts) are appended to ``error_msgs``, which makes
    ``load_state_dict`` raise.
    """
    owner = type(module).__name__
    n = len(parts)
    fused_lif = fused[: -len("_conv_bn")] + "_lif"
    renames: list[tuple[str, list[str], bool]] = []  # (key, new local keys, split rows)
    for key in [k for k in state_dict if k.startswith(prefix)]:
        local = key[len(prefix) :]
        head, _, rest = local.partition(".")
        if head == fused and rest[:2] in ("0.", "1."):
            attr = proj_attr if rest[0] == "0" else "bn"
            name = rest[2:]
            renames.append((key, [f"{p}_{attr}.{name}" for p in parts], True))
        elif head == fused_lif and rest:
            renames.append((key, [f"{p}_lif.{rest}" for p in parts], False))
        elif head == "proj_conv_bn" and rest[:2] in ("0.", "1."):
            attr = proj_attr if rest[0] == "0" else "bn"
            renames.append((key, [f"proj_{attr}.{rest[2:]}"], False))
    for key, new_locals, split in renames:
        value = state_dict.pop(key)
        clash = [prefix + k for k in new_locals if prefix + k in state_dict]
        if clash:
            error_msgs.append(
                f"{owner}: {key} (reference layout) and {clash} (our layout) are both in the "
                f"state dict; give each parameter in one layout only"
            )
            continue
        if split and isinstance(value, torch.Tensor) and value.dim() > 0:
            rows = n * getattr(module, "dim", value.shape[0] // n)
            if value.shape[0] != rows:
                error_msgs.append(
                    f"{owner}: {key} has shape {tuple(value.shape)}; the fused reference layout "
                    f"needs {rows} = {n} * dim rows ({' | '.join(parts)})"
                )
                continue
            chunks = list(value.chunk(n, dim=0))
        else:  # scalars (num_batches_tracked) and shared entries go to every branch
            chunks = [value] * len(new_locals)
        for new_local, chunk in zip(new_locals, chunks):
            attr, _, name = new_local.partition(".")
            if isinstance(chunk, torch.Tensor):
                chunk = _fit(chunk, _target(module, attr, name)).clone()
            state_dict[prefix + new_local] = chunk
