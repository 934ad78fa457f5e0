r"""Integer spike counts as binary spike slots, and back.

Integer-valued training, spike-driven inference (I-LIF; Luo et al., "Integer-Valued Training
and Spike-Driven Inference Spiking Neural Network for High-performance and Energy-efficient
Object Detection", ECCV 2024): a neuron emits an integer count :math:`c \in [0, S]` per
time-step while training; for inference each count is expanded into :math:`S` binary
*slots* (virtual time-steps), a bias-free weight layer runs on the slots, and the slots of
each step are summed again:

.. math::
    s[tS + k] = [k < c[t]] \;(k = 0..S-1), \qquad
    W c[t] = \sum_{k} W s[tS + k].

So ``TemporalBinSum(S)(layer(SpikeCountToBinary(S)(c))) == layer(c)`` for a bias-free linear
``layer`` (bias, normalization and nonlinearities go after :class:`TemporalBinSum`).
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.base import MultiStepModule
from torch import nn

__all__ = ["SpikeCountToBinary", "TemporalBinSum"]


def _check_num_slots(num_slots: Any) -> int:
    if isinstance(num_slots, bool) or not isinstance(num_slots, int) or num_slots < 1:
        raise ValueError(f"num_slots must be >= 1 (a positive int), got {num_slots!r}")
    return num_slots


def _check_flag(always_convert: Any) -> bool:
    if not isinstance(always_convert, bool):
        raise TypeError(f"always_convert must be a bool, got {always_convert!r}")
    return always_convert


def _check_seq(owner: str, x_seq: Any) -> None:
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{owner} expects a torch.Tensor x_seq, got {type(x_seq).__name__}")
    if x_seq.dim() < 2 or x_seq.shape[0] == 0:
        raise ValueError(
            f"{owner} expects x_seq of shape [T, N, *] with T > 0, got {list(x_seq.shape)}"
        )


class _SlotModule(nn.Module, MultiStepModule):
    def __init__(self, num_slots: int, always_convert: bool = False) -> None:
        super().__init__()
        self.num_slots = _check_num_slots(num_slots)
        self.always_convert = _check_flag(always_convert)
        self.step_mode = "m"

    def _active(self) -> bool:
        return self.always_convert or not self.training

    def extra_repr(self) -> str:
        return f"num_slots={self.num_slots}, always_convert={self.always_convert}, step_mode=m"


class SpikeCountToBinary(_SlotModule):
    r"""Expand integer spike counts ``[T, N, *]`` into binary slots ``[T * num_slots, N, *]``.

    .. math::
        s[t S + k] = [k < c[t]], \qquad k = 0, \dots, S - 1,

    so the slots of step ``t`` hold ``c[t]`` ones first, then zeros (counts above ``S`` give
    ``S`` ones; counts are expected in ``[0, S]``). Backward is a straight-through
    estimator: :math:`\partial s[tS+k] / \partial c[t] = 1/S`, which averages the slot
    gradients of a step, so that with a bias-free weight layer and :class:`TemporalBinSum`
    the forward values and the input and weight gradients equal those of the weight layer
    on the counts. See the module doc (I-LIF, Luo et al., ECCV 2024).

    Multi-step only. Active in evaluation mode, or always with ``always_convert=True``; when
    inactive (training mode by default) the input is returned unchanged (the same object).
    The output keeps the input's dtype and device.

    Args:
        num_slots: :math:`S`, the binary slots per time-step (``>= 1``).
        always_convert: expand in training mode too.
    """

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not self._active():
            return x_seq
        _check_seq(type(self).__name__, x_seq)
        counts = x_seq.unsqueeze(1)  # [T, 1, N, *]
        shape = (1, self.num_slots) + (1,) * (x_seq.dim() - 1)
        slot = torch.arange(self.num_slots, device=x_seq.device).view(shape)
        hard = (slot < counts).to(x_seq.dtype)  # [T, S, N, *]
        share = counts / self.num_slots
        # value: exactly `hard`; gradient: 1/S per slot
        return (hard + (share - share.detach())).flatten(0, 1)


class TemporalBinSum(_SlotModule):
    r"""Sum every ``num_slots`` consecutive time-steps: ``[T, N, *]`` to
    ``[ceil(T / num_slots), N, *]``.

    .. math::
        y[b] = \sum_{k=0}^{S-1} x[b S + k],

    with ``x`` padded at the end by zeros when ``T`` is not a multiple of ``S``. The inverse
    of :class:`SpikeCountToBinary` after a bias-free weight layer; use the same
    ``num_slots`` and ``always_convert`` for both. Multi-step only; active in evaluation
    mode, or always with ``always_convert=True`` (inactive: the input is returned as is).

    Args:
        num_slots: :math:`S`, the time-steps summed into one (``>= 1``).
        always_convert: sum in training mode too.
    """

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not self._active():
            return x_seq
        _check_seq(type(self).__name__, x_seq)
        S, T = self.num_slots, x_seq.shape[0]
        if T % S:
            pad = x_seq.new_zeros((S - T % S, *x_seq.shape[1:]))
            x_seq = torch.cat((x_seq, pad))
        return x_seq.unflatten(0, (-1, S)).sum(dim=1)
