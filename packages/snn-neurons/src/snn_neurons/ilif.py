r"""I-LIF: integer-valued LIF neuron (Luo et al., "Integer-Valued Training and Spike-Driven
Inference Spiking Neural Network for High-performance and Energy-efficient Object Detection",
ECCV 2024, arXiv:2407.20708).

.. math::
    H[t] = (1 - 1/\tau) V[t-1] + X[t], \quad
    C[t] = \mathrm{round}(\mathrm{clip}(H[t] / V_{th}, 0, D)), \quad
    V[t] = H[t] - C[t] V_{th}

The dynamics are :func:`snn_core.functional.ilif_step` / ``ilif_multi_step``.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.functional import ilif_multi_step, ilif_step
from snn_core.surrogate import SurrogateFunctionBase

from snn_neurons._functional_node import _FunctionalStepNode
from snn_neurons.lif import LIFNode

__all__ = ["ILIFNode"]


def _multi_level_spike_count_class() -> type:
    from snn_core.surrogate import MultiLevelSpikeCount

    return MultiLevelSpikeCount


class ILIFNode(_FunctionalStepNode, LIFNode):
    r"""Integer-valued LIF neuron (I-LIF, ECCV 2024): emits spike counts
    ``C[t] in {0, 1, ..., D}`` per step.

    .. math::
        H[t] = (1 - 1/\tau) V[t-1] + X[t], \quad
        C[t] = \mathrm{round}(\mathrm{clip}(H[t] / V_{th}, 0, D)), \quad
        V[t] = H[t] - C[t] V_{th}

    A :class:`LIFNode` with ``decay_input=False`` and soft reset (``v_reset=None``) whose
    fire is the multi-level count ``C = surrogate_function(H / V_th)``; ``D`` and the
    rectangular straight-through gradient window (default ``[0, D]`` in units of ``H / V_th``)
    come from ``surrogate_function``. Train and eval compute the same forward. The paper's
    default decay ``β = 1 - 1/tau = 0.25`` is ``tau = 4/3``. For spike-driven inference a
    deployment expands each count into ``D`` binary slots (``C = Σ_d S[t, d]``).

    Args:
        tau: membrane time constant (> 1).
        v_threshold: threshold ``V_th`` (one count per ``V_th`` of potential).
        surrogate_function: a spiking :class:`~snn_core.surrogate.MultiLevelSpikeCount`
            (default ``MultiLevelSpikeCount(4)``).
        detach_reset: detach ``C`` in the reset.
        step_mode: ``'s'`` or ``'m'`` (backend ``torch``).
        store_v_seq: in multi-step mode keep ``v_seq`` (``[T, N, *]``).
    """

    def __init__(
        self,
        tau: float = 4.0 / 3.0,
        v_threshold: float = 1.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        cls = _multi_level_spike_count_class()
        if surrogate_function is None:
            surrogate_function = cls(4)
        if not isinstance(surrogate_function, cls) or not surrogate_function.spiking:
            raise ValueError(
                "ILIFNode: surrogate_function must be a spiking "
                f"snn_core.surrogate.MultiLevelSpikeCount, got {surrogate_function!r}"
            )
        super().__init__(
            tau=tau,
            decay_input=False,
            v_threshold=v_threshold,
            v_reset=None,
            surrogate_function=surrogate_function,
            detach_reset=detach_reset,
            step_mode=step_mode,
            backend="torch",
            store_v_seq=store_v_seq,
        )

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def fire(self, h: torch.Tensor) -> torch.Tensor:
        """The spike count ``C = round(clip(H / V_th, 0, D))`` with the window gradient."""
        return self.surrogate_function(h / self.v_threshold)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        count, v = ilif_step(
            inputs[0],
            states[0],
            self.tau,
            self.v_threshold,
            self.surrogate_function,
            self.detach_reset,
        )
        return (count,), (v, *states[1:])

    def _functional_sequence(
        self, x_seq: torch.Tensor, states: tuple[Any, ...], need_v_seq: bool
    ) -> tuple[torch.Tensor, tuple[Any, ...], torch.Tensor | None]:
        counts, v, v_seq = ilif_multi_step(
            x_seq,
            states[0],
            self.tau,
            self.v_threshold,
            self.surrogate_function,
            self.detach_reset,
            need_v_seq,
        )
        return counts, (v, *states[1:]), v_seq
