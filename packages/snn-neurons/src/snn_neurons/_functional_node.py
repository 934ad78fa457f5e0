"""Shared plumbing of the neurons whose step is a pure function ``(x, states) -> (out, states)``.

Such a neuron implements ``single_step_functional_forward`` by calling its step function in
:mod:`snn_core.functional`; :class:`_FunctionalStepNode` then gives it the multi-step
functional forward and the regular ``forward`` run through them (``torch`` backend only,
``v_seq`` recorded with ``store_v_seq``; states materialised by
``SimpleBaseNode.materialize_states``), so the functional and the stateful forward are one
code path.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.base import check_multi_step_input

from snn_neurons._stepping import _check_torch_only

__all__: list[str] = []


class _FunctionalStepNode:
    """Mixin (placed before the node's base class) for neurons with a functional step."""

    def _functional_sequence(
        self, x_seq: torch.Tensor, states: tuple[Any, ...], need_v_seq: bool
    ) -> tuple[torch.Tensor, tuple[Any, ...], torch.Tensor | None]:
        """Loop the single step over ``x_seq``: ``(out_seq, states, v_seq or None)``."""
        outputs, voltages = [], []
        for t in range(x_seq.shape[0]):
            (out,), states = self.single_step_functional_forward((x_seq[t],), states)  # type: ignore[attr-defined]
            outputs.append(out)
            if need_v_seq:
                voltages.append(states[0])
        return torch.stack(outputs), states, (torch.stack(voltages) if need_v_seq else None)

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        check_multi_step_input(inputs[0])
        out, states, _ = self._functional_sequence(inputs[0], states, False)
        return (out,), states

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run_functional((x,), "s")  # type: ignore[attr-defined]

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq)
        _check_torch_only(self)
        memories = self._memories  # type: ignore[attr-defined]
        states = self.materialize_states((x_seq,), tuple(memories.values()), "m")
        need_v_seq = bool(getattr(self, "store_v_seq", False))
        out, states, v_seq = self._functional_sequence(x_seq, states, need_v_seq)
        for name, value in zip(tuple(memories), states, strict=True):
            memories[name] = value
        if need_v_seq:
            self.v_seq = v_seq
        return out
