r"""STBIF, the signed ternary bipolar IF neuron of SpikeZIP QANN-to-SNN conversion (You et al.,
"SpikeZIP-TF: Conversion is All You Need for Transformer-based SNN", ICML 2024).

With the quantizer scale ``s`` (``q_threshold``), the residual ``q`` and the released integer
``A`` (``acc_q``, bounded by ``[neg_min, pos_max]``), each step emits ``C[t] s`` with
``C[t] = [q' >= 1 and A < pos_max] - [q' < 0 and A > neg_min]``, ``q' = q + X[t] / s``.
The dynamics are :func:`snn_core.functional.stbif_step` / ``stbif_multi_step``.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.base import MemoryModule, check_multi_step_input
from snn_core.functional import stbif_multi_step, stbif_step
from torch import nn

__all__ = ["STBIFNode"]


def _scalar(name: str, value: Any) -> torch.Tensor:
    tensor = value.detach().clone() if isinstance(value, torch.Tensor) else None
    if tensor is None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(
                f"STBIFNode: {name} must be a number or a one-element tensor, got {value!r}"
            )
        tensor = torch.tensor(float(value))
    if tensor.numel() != 1:
        raise ValueError(
            f"STBIFNode: {name} must be a number or a one-element tensor, "
            f"got a tensor of shape {tuple(tensor.shape)}"
        )
    return tensor.reshape(()).float()


class STBIFNode(MemoryModule):
    r"""Signed ternary bipolar IF neuron for running SpikeZIP conversions (inference only).

    .. math::
        q' = q + X[t] / s, \quad
        C[t] = [q' \ge 1 \wedge A < A_{max}] - [q' < 0 \wedge A > A_{min}], \quad
        A \leftarrow A + C[t], \quad q \leftarrow q' - C[t]

    The output is ``C[t] s`` (not a 0/1 spike). ``q`` starts at 0.5 (round-to-nearest
    quantization), ``A`` at 0; over T steps the outputs sum to ``s`` times the QANN's
    quantized activation. States: ``q``, ``acc_q`` (``A``) and ``cur_output`` (``C``);
    :attr:`accumulated` is ``A s``. The transition is discrete and does not support autograd.

    Args:
        q_threshold: quantizer scale ``s`` (number or one-element tensor; a buffer).
        level: number of quantization levels (int ``>= 2``).
        sym: signed symmetric quantization; sets the default bounds.
        pos_max: upper bound ``A_max`` of ``A``; default ``level // 2 - 1`` if ``sym`` else
            ``level - 1``.
        neg_min: lower bound ``A_min``; default ``-level // 2`` if ``sym`` else ``0``.
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(
        self,
        q_threshold: float | torch.Tensor,
        level: int,
        sym: bool = False,
        pos_max: float | torch.Tensor | None = None,
        neg_min: float | torch.Tensor | None = None,
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        if isinstance(level, bool) or not isinstance(level, int) or level < 2:
            raise ValueError(f"STBIFNode: level must be an int >= 2, got {level!r}")
        self.level = level
        self.sym = bool(sym)
        if pos_max is None:
            pos_max = level // 2 - 1 if self.sym else level - 1
        if neg_min is None:
            neg_min = -level // 2 if self.sym else 0
        self.register_buffer("q_threshold", _scalar("q_threshold", q_threshold))
        self.register_buffer("pos_max", _scalar("pos_max", pos_max))
        self.register_buffer("neg_min", _scalar("neg_min", neg_min))
        self.step_mode = step_mode
        self.register_memory("q", None)
        self.register_memory("acc_q", None)
        self.register_memory("cur_output", None)

    @classmethod
    def from_quantizer(cls, quantizer: nn.Module) -> STBIFNode:
        """Build from a QANN quantizer with attributes ``s``, ``sym``, ``pos_max``,
        ``neg_min`` (and optionally ``level``, else ``pos_max - neg_min + 1``)."""
        pos_max, neg_min = quantizer.pos_max, quantizer.neg_min
        default_level = (
            int(_scalar("pos_max", pos_max).item()) - int(_scalar("neg_min", neg_min).item()) + 1
        )
        level = int(getattr(quantizer, "level", default_level))
        return cls(
            quantizer.s, level=level, sym=bool(quantizer.sym), pos_max=pos_max, neg_min=neg_min
        )

    @property
    def accumulated(self) -> torch.Tensor:
        """``A s``: the value released so far (the QANN activation once settled)."""
        if self.acc_q is None:
            raise RuntimeError("STBIFNode: no accumulated state before the first forward")
        return self.acc_q * self.q_threshold.to(self.acc_q.dtype)

    def materialize_states(
        self, inputs: tuple[Any, ...], states: tuple[Any, ...], step_mode: str
    ) -> tuple[Any, ...]:
        x = inputs[0] if step_mode == "s" else inputs[0][0]
        q, acc_q, cur_output = states
        if q is None:
            dtype = torch.promote_types(x.dtype, torch.float32)
            q = torch.full(x.shape, 0.5, dtype=dtype, device=x.device)
            acc_q = torch.zeros(x.shape, dtype=dtype, device=x.device)
            cur_output = torch.zeros(x.shape, dtype=dtype, device=x.device)
        elif q.shape != x.shape:
            raise ValueError(
                f"STBIFNode.q holds state of shape {tuple(q.shape)} from an earlier input, "
                f"but the new input has shape {tuple(x.shape)}; call reset() first"
            )
        return q, acc_q, cur_output

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        out, q, acc_q, cur_output = stbif_step(
            inputs[0], *states[:2], self.q_threshold, self.pos_max, self.neg_min
        )
        return (out,), (q, acc_q, cur_output)

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        check_multi_step_input(inputs[0])
        out_seq, q, acc_q, cur_output = stbif_multi_step(
            inputs[0], *states[:2], self.q_threshold, self.pos_max, self.neg_min
        )
        return (out_seq,), (q, acc_q, cur_output)

    def extra_repr(self) -> str:
        return (
            f"level={self.level}, sym={self.sym}, q_threshold={self.q_threshold.item()}, "
            f"pos_max={self.pos_max.item()}, neg_min={self.neg_min.item()}, "
            f"step_mode={self.step_mode}"
        )
