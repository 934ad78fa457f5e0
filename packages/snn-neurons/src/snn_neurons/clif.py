r"""Complementary LIF neuron (Huang et al., "CLIF: Complementary Leaky Integrate-and-Fire Neuron
for Spiking Neural Networks", ICML 2024).

.. math::
    H[t] = (1 - 1/\tau) V[t-1] + X[t], \quad S[t] = \Theta(H[t] - V_{th}),

    M[t] = M[t-1] \odot \sigma(H[t] / \tau) + S[t], \quad
    V[t] = H[t] - S[t] \odot (V_{th} + \sigma(M[t]))

The dynamics are :func:`snn_core.functional.clif_step`.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.base import check_multi_step_input
from snn_core.functional import clif_step
from snn_core.surrogate import Rect, SurrogateFunctionBase, heaviside

from snn_neurons._functional_node import _FunctionalStepNode
from snn_neurons._stepping import _check_torch_only
from snn_neurons.base_node import BaseNode
from snn_neurons.lif import _check_tau

__all__ = ["ComplementaryLIFNode"]


class ComplementaryLIFNode(_FunctionalStepNode, BaseNode):
    r"""CLIF neuron: LIF (no input decay, soft reset) plus a complementary potential ``M``.

    .. math::
        H[t] = (1 - 1/\tau) V[t-1] + X[t], \quad S[t] = \Theta(H[t] - V_{th}),

        M[t] = M[t-1] \odot \sigma(H[t] / \tau) + S[t], \quad
        V[t] = H[t] - S[t] \odot (V_{th} + \sigma(M[t]))

    ``M`` records recent firing and deepens the reset of a neuron that fires often; it adds
    no learnable parameter. States ``v`` and ``m`` (both reset to 0). In ``eval()`` mode a
    spiking surrogate is replaced by the plain Heaviside step. ``store_v_seq`` /
    ``v_seq`` are not used: ``store_state_seqs=True`` keeps ``state_seqs = [v_seq, m_seq]``
    (each ``[T, N, *]``) after a multi-step forward.

    Args:
        tau: membrane time constant (> 1).
        v_threshold: threshold ``V_th``.
        surrogate_function: spike function (default ``Rect(alpha=1.0)``).
        step_mode: ``'s'`` or ``'m'`` (multi-step loops the single step; backend ``torch``).
        store_state_seqs: keep ``[v_seq, m_seq]`` in ``state_seqs`` in multi-step mode.
    """

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        step_mode: str = "s",
        store_state_seqs: bool = False,
    ) -> None:
        if surrogate_function is None:
            surrogate_function = Rect(alpha=1.0)
        super().__init__(v_threshold, None, surrogate_function, False, step_mode, "torch", False)
        self.tau = _check_tau("ComplementaryLIFNode: tau", tau)
        self.register_memory("m", 0.0)
        self.store_state_seqs = store_state_seqs

    @property
    def store_state_seqs(self) -> bool:
        """Keep ``[v_seq, m_seq]`` after a multi-step forward; setting it clears them."""
        return self._store_state_seqs

    @store_state_seqs.setter
    def store_state_seqs(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"store_state_seqs must be a bool, got {value!r}")
        self._store_state_seqs = value
        self.state_seqs: list[torch.Tensor] | None = None

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def reset(self) -> None:
        super().reset()
        self.state_seqs = None

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "ComplementaryLIFNode's reset also reads and updates m; call forward or "
            "snn_core.functional.clif_step(x, v, m, tau, v_threshold, spike_function)"
        )

    def locate_non_finite_step(self, x_seq: torch.Tensor, v_init: Any) -> int | None:
        """Anomaly mode cannot replay this neuron from ``v`` alone (it also needs ``m``)."""
        return None

    def loop_multi_step(self, x_seq: Any, v: Any, need_v_seq: bool) -> Any:
        raise NotImplementedError("ComplementaryLIFNode also keeps the state m; call forward")

    def _spike_function(self) -> Any:
        sg = self.surrogate_function
        return sg if self.training or not sg.spiking else heaviside

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        v, m = states
        spike, v, m = clif_step(inputs[0], v, m, self.tau, self.v_threshold, self._spike_function())
        return (spike,), (v, m)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not self.store_state_seqs:
            return super().multi_step_forward(x_seq)
        check_multi_step_input(x_seq)
        _check_torch_only(self)
        states = self.materialize_states((x_seq,), (self.v, self.m), "m")
        spikes, v_seq, m_seq = [], [], []
        for t in range(x_seq.shape[0]):
            (spike,), states = self.single_step_functional_forward((x_seq[t],), states)
            spikes.append(spike)
            v_seq.append(states[0])
            m_seq.append(states[1])
        self.v, self.m = states
        self.state_seqs = [torch.stack(v_seq), torch.stack(m_seq)]
        return torch.stack(spikes)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}"
