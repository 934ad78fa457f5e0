"""LIF neurons for online training: OTTT and SLTT.

Both run the LIF neuron forward (see :mod:`snn_neurons.lif`) one step at a time and, in
training mode, cut the temporal path of the gradient: the previous potential enters the
charge detached, ``H[t] = f(sg(V[t-1]), X[t])``, so the gradient of a step's loss flows
only through that step (constant memory in ``T``). In evaluation mode they are plain LIF
neurons.

- OTTT (Xiao et al., 2022, "Online Training Through Time for Spiking
  Neural Networks", NeurIPS; arXiv:2210.04195) also keeps the presynaptic trace
  ``a[t] = (1 - 1/tau) a[t-1] + S[t]`` (without gradient) and, in training, returns
  ``[spike, trace]`` so that the next layer can form the weight gradient
  ``dL/dW = sum_t (dL/dI[t]) a[t]^T`` (OTTT_A) from the trace instead of the spike.
- SLTT (Meng et al., 2023, "Towards Memory- and Time-Efficient
  Backpropagation for Training Spiking Neural Networks", ICCV; arXiv:2302.14311) returns
  only the spike: the spatial-only gradient.
"""

from __future__ import annotations

import torch
from snn_core.surrogate import SurrogateFunctionBase

from snn_neurons.lif import LIFNode

__all__ = ["OTTTLIFNode", "SLTTLIFNode"]


class _OnlineLIFNode(LIFNode):
    """Single-step LIF whose training forward detaches the previous membrane potential."""

    def __init__(
        self,
        tau: float,
        decay_input: bool,
        v_threshold: float,
        v_reset: float | None,
        surrogate_function: SurrogateFunctionBase | None,
        detach_reset: bool,
        step_mode: str,
        backend: str,
        store_v_seq: bool,
    ) -> None:
        super().__init__(
            tau,
            decay_input,
            v_threshold,
            v_reset,
            surrogate_function,
            detach_reset,
            step_mode,
            backend,
            store_v_seq,
        )
        if backend != "torch":
            raise ValueError(
                f"{type(self).__name__} supports only backend='torch', got {backend!r}"
            )

    def supported_step_mode(self) -> tuple[str, ...]:
        # One step at a time keeps the memory of online training constant in T.
        return ("s",)

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def _training_output(self, spike: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        return spike

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """One step; in training the previous ``v`` is detached (no temporal gradient)."""
        self.init_memory_like("v", x)
        if not self.training:
            return super().single_step_forward(x)
        self.v = self.charge(x, self.v.detach())
        spike = self.neuronal_fire()
        self.neuronal_reset(spike)
        return self._training_output(spike)


class OTTTLIFNode(_OnlineLIFNode):
    """LIF neuron for online training through time (OTTT); single-step only.

    In training mode ``forward(x)`` returns ``[spike, trace]`` with the trace
    ``a[t] = (1 - 1/tau) a[t-1] + S[t]`` (held in ``self.trace``, no gradient); in
    evaluation mode it returns the spike. Defaults follow the reference (soft reset,
    no input decay, ``detach_reset=True``; ``detach_reset`` and ``store_v_seq`` have no
    effect here since ``v`` is detached each step and there is no multi-step mode).

    Args: as :class:`~snn_neurons.LIFNode`; ``step_mode`` must be ``'s'`` and ``backend``
    ``'torch'``.
    """

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = False,
        v_threshold: float = 1.0,
        v_reset: float | None = None,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = True,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__(
            tau,
            decay_input,
            v_threshold,
            v_reset,
            surrogate_function,
            detach_reset,
            step_mode,
            backend,
            store_v_seq,
        )
        self.register_memory("trace", None)  # None until the first training step, as 2.0.0

    @staticmethod
    def track_trace(spike: torch.Tensor, trace: torch.Tensor, tau: float) -> torch.Tensor:
        """``trace (1 - 1/tau) + spike``, without gradient."""
        with torch.no_grad():
            return trace * (1.0 - 1.0 / tau) + spike

    def _training_output(self, spike: torch.Tensor) -> list[torch.Tensor]:
        if self.trace is None:
            self.trace = 0.0
        trace = self.init_memory_like("trace", spike)
        self.trace = self.track_trace(spike, trace, self.tau)
        return [spike, self.trace]


class SLTTLIFNode(_OnlineLIFNode):
    """LIF neuron for spatial learning through time (SLTT); single-step only.

    Returns the spike; in training mode the previous potential is detached, so the
    gradient of each step is spatial only. Defaults follow the reference (hard reset to 0,
    input decay, ``detach_reset=True``).

    Args: as :class:`~snn_neurons.LIFNode`; ``step_mode`` must be ``'s'`` and ``backend``
    ``'torch'``.
    """

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = True,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__(
            tau,
            decay_input,
            v_threshold,
            v_reset,
            surrogate_function,
            detach_reset,
            step_mode,
            backend,
            store_v_seq,
        )
