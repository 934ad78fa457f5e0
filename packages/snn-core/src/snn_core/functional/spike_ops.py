r"""Binary spike storage and spike-input linear layers.

Spikes are 0/1, so eight of them fit in one byte. Bit ``i`` of byte ``j`` holds element
``8 j + i`` (least significant bit first). :func:`bit_spike_compress` packs a whole tensor
(for saving activations, e.g. in checkpointing); :func:`bit_pack_spike_dense` packs each row
of a ``[M, K]`` spike matrix so that :func:`packed_spike_linear` can consume it.

Unlike the reference, whose packed and sparse linear kernels accept CUDA tensors only, these
run on every device; on CUDA they are plain torch ops (no hand-written kernel).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F

__all__ = [
    "bit_spike_compress",
    "bit_spike_decompress",
    "bit_pack_spike_dense",
    "packed_spike_linear",
    "sparse_linear",
]

_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def _bit_weights(device: torch.device) -> torch.Tensor:
    return torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8, device=device)


def _pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """Pack a bool tensor ``[..., K]`` along its last dim into ``[..., ceil(K / 8)]`` uint8."""
    k = bits.shape[-1]
    k8 = (k + 7) // 8
    bits = F.pad(bits.to(torch.uint8), (0, 8 * k8 - k))
    bits = bits.reshape(*bits.shape[:-1], k8, 8)
    return (bits * _bit_weights(bits.device)).sum(-1, dtype=torch.uint8)


def _unpack_bits(packed: torch.Tensor, k: int) -> torch.Tensor:
    """Inverse of :func:`_pack_bits`: ``[..., ceil(k / 8)]`` uint8 -> ``[..., k]`` uint8 0/1."""
    shifts = torch.arange(8, dtype=torch.uint8, device=packed.device)
    bits = (packed.unsqueeze(-1) >> shifts) & 1
    return bits.flatten(-2)[..., :k]


def _check_strided(x: Any, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.layout != torch.strided:
        raise ValueError(f"{name} must be a dense (strided) tensor, got layout {x.layout}")


def bit_spike_compress(spike: torch.Tensor) -> torch.Tensor:
    """Pack a spike tensor of any shape into a flat ``uint8`` tensor, 8 spikes per byte.

    Every nonzero element counts as a spike. The result has ``ceil(spike.numel() / 8)``
    bytes; keep ``spike.shape`` to undo it with :func:`bit_spike_decompress`.
    """
    _check_strided(spike, "spike")
    return _pack_bits(spike.reshape(-1) != 0)


def bit_spike_decompress(
    packed: torch.Tensor, shape: tuple[int, ...], dtype: torch.dtype = torch.uint8
) -> torch.Tensor:
    """Unpack the output of :func:`bit_spike_compress` into a 0/1 tensor of ``shape``.

    Args:
        packed: 1-d ``uint8`` tensor of ``ceil(prod(shape) / 8)`` bytes.
        shape: the shape of the original spike tensor.
        dtype: dtype of the result (``uint8`` by default).
    """
    _check_strided(packed, "packed")
    if packed.dim() != 1 or packed.dtype != torch.uint8:
        raise ValueError(
            f"packed must be a 1-d uint8 tensor, got dtype {packed.dtype} and shape "
            f"{tuple(packed.shape)}"
        )
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must have non-negative sizes, got {shape}")
    numel = math.prod(shape)
    if packed.numel() != (numel + 7) // 8:
        raise ValueError(
            f"packed has {packed.numel()} bytes but shape {shape} needs {(numel + 7) // 8}"
        )
    return _unpack_bits(packed, numel).reshape(shape).to(dtype)


def bit_pack_spike_dense(spike: torch.Tensor) -> torch.Tensor:
    """Pack each row of a ``[M, K]`` spike matrix into ``[M, ceil(K / 8)]`` ``uint8``.

    An element counts as a spike when it is ``> 0.5``. Feed the result to
    :func:`packed_spike_linear`.
    """
    _check_strided(spike, "spike")
    if spike.dim() != 2:
        raise ValueError(f"spike must be 2-d [M, K], got shape {tuple(spike.shape)}")
    if spike.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"spike must have a floating dtype {_FLOAT_DTYPES}, got {spike.dtype}")
    return _pack_bits(spike > 0.5)


def _check_weight_bias(weight: torch.Tensor, bias: torch.Tensor | None, k: int) -> None:
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        raise ValueError("weight must be a 2-d tensor [out_features, in_features]")
    if weight.shape[1] != k:
        raise ValueError(f"weight.shape[1] must equal the input width {k}, got {weight.shape[1]}")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != weight.shape[0]):
        raise ValueError(
            f"bias must be 1-d of size out_features={weight.shape[0]}, got shape "
            f"{tuple(bias.shape)}"
        )


def packed_spike_linear(
    packed: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Linear layer on row-packed spikes: :math:`Y = S W^\top + b`.

    ``S`` is unpacked from ``packed`` (``[M, ceil(K / 8)]`` uint8 from
    :func:`bit_pack_spike_dense`); ``weight`` is ``[N, K]``. The product is accumulated in
    float32 (float64 for a float64 weight) and cast to ``weight.dtype``. Gradients flow to
    ``weight`` and ``bias`` (the packed spikes are not differentiable).
    """
    _check_strided(packed, "packed")
    if packed.dim() != 2 or packed.dtype != torch.uint8:
        raise ValueError(
            f"packed must be a 2-d uint8 tensor [M, ceil(K / 8)], got dtype {packed.dtype} "
            f"and shape {tuple(packed.shape)}"
        )
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        raise ValueError("weight must be a 2-d tensor [out_features, in_features]")
    if weight.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"weight must have a floating dtype {_FLOAT_DTYPES}, got {weight.dtype}")
    k = weight.shape[1]
    if packed.shape[1] != (k + 7) // 8:
        raise ValueError(
            f"packed.shape[1] must equal ceil(weight.shape[1] / 8) = {(k + 7) // 8}, got "
            f"{packed.shape[1]}"
        )
    _check_weight_bias(weight, bias, k)
    acc = torch.float64 if weight.dtype == torch.float64 else torch.float32
    spike = _unpack_bits(packed, k).to(acc)
    y = F.linear(spike, weight.to(acc)).to(weight.dtype)
    return y if bias is None else y + bias


class _BinarizedLinear(torch.autograd.Function):
    """Forward ``(spike > 0.5) @ W^T``; backward as for ``spike @ W^T`` (straight through)."""

    @staticmethod
    def forward(spike: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        binary = spike > 0.5
        if spike.device.type == "cpu" and spike.dtype in (torch.float32, torch.float64):
            # Event-driven: only the rows' active inputs contribute.
            return torch.sparse.mm(binary.to(spike.dtype).to_sparse(), weight.t())
        return binary.to(spike.dtype) @ weight.t()

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        spike, weight = inputs
        ctx.save_for_backward(spike, weight)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        spike, weight = ctx.saved_tensors
        grad_spike = grad @ weight if ctx.needs_input_grad[0] else None
        grad_weight = grad.t() @ spike.to(grad.dtype) if ctx.needs_input_grad[1] else None
        return grad_spike, grad_weight


def sparse_linear(
    spike: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    strategy: Literal["torch", "sparse"] = "torch",
) -> torch.Tensor:
    r"""Linear layer with spike input: :math:`Y = S W^\top + b`.

    Args:
        spike: ``[M, K]`` spikes.
        weight: ``[N, K]``; bias: ``[N]`` or ``None``.
        strategy: ``'torch'`` is exactly ``F.linear(spike, weight, bias)``. ``'sparse'``
            binarizes the input (``spike > 0.5``) and computes only the active inputs' rows
            (a sparse product on CPU); backward is straight-through,
            :math:`\partial L/\partial S = G W`, :math:`\partial L/\partial W = G^\top S`.
            ``spike``, ``weight`` and ``bias`` must then share one floating dtype.
    """
    if strategy not in ("torch", "sparse"):
        raise ValueError(f"strategy must be one of ('torch', 'sparse'), got {strategy!r}")
    if strategy == "torch":
        return F.linear(spike, weight, bias)
    _check_strided(spike, "spike")
    if spike.dim() != 2:
        raise ValueError(f"spike must be 2-d [M, K] for strategy='sparse', got {spike.shape}")
    if spike.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"spike must have a floating dtype {_FLOAT_DTYPES}, got {spike.dtype}")
    _check_weight_bias(weight, bias, spike.shape[1])
    if weight.dtype != spike.dtype or (bias is not None and bias.dtype != spike.dtype):
        raise TypeError(
            f"spike, weight and bias must share a dtype for strategy='sparse', got "
            f"{spike.dtype}, {weight.dtype}, {None if bias is None else bias.dtype}"
        )
    y = _BinarizedLinear.apply(spike, weight)
    return y if bias is None else y + bias
