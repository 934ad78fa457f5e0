"""Leaky integrate and analog fire neuron (Wu et al., 2021,
"LIAF-Net: Leaky Integrate and Analog Fire Network for Lightweight and Efficient
Spatiotemporal Information Processing", IEEE TNNLS; arXiv:2011.06176).

The membrane potential follows the LIF neuron (charge, spike, reset), but the neuron
outputs an analog value instead of the spike:

- ``Y[t] = act(H[t] - V_th)`` (``threshold_related=True``, the paper's TR mode) or
  ``Y[t] = act(H[t])`` (NTR mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from snn_core.functional import liaf_step

from snn_neurons._stepping import _loop_single_steps
from snn_neurons.lif import LIFNode, _check_bool

__all__ = ["LIAFNode"]


class LIAFNode(LIFNode):
    """LIAF neuron: LIF dynamics with the analog output ``act(H - V_th)`` or ``act(H)``.

    Warning: the outputs are not binary spikes.

    Args:
        act: the activation function applied to the charged potential (e.g. ``torch.relu``).
        threshold_related: TR mode (``act(H - V_th)``) if ``True``, else ``act(H)``.
        *args, **kwargs: those of :class:`~snn_neurons.LIFNode` (``backend`` must be
            ``'torch'``).
    """

    def __init__(
        self,
        act: Callable[[torch.Tensor], torch.Tensor],
        threshold_related: bool,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if not callable(act):
            raise TypeError(f"act must be callable (e.g. torch.relu), got {act!r}")
        self.act = act
        self.threshold_related = _check_bool("threshold_related", threshold_related)
        if self.backend != "torch":
            raise ValueError(f"LIAFNode supports only backend='torch', got {self.backend!r}")

    _loops_single_steps = True

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``((X,), (V,)) -> ((Y,), (V',))`` by :func:`snn_core.functional.liaf_step`."""
        y, v = liaf_step(
            inputs[0], states[0], self.tau, self.decay_input, self.v_threshold, self.v_reset,
            self.act, self.threshold_related, self.surrogate_function, self.detach_reset,
        )  # fmt: skip
        return (y,), (v,)

    def analog_output(self, h: torch.Tensor) -> torch.Tensor:
        """``act(H - V_th)`` (TR mode) or ``act(H)``."""
        return self.act(h - self.v_threshold if self.threshold_related else h)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """One step of :func:`snn_core.functional.liaf_step`; returns ``act(...)``."""
        self.init_memory_like("v", x)
        y, self.v = liaf_step(
            x,
            self.v,
            self.tau,
            self.decay_input,
            self.v_threshold,
            self.v_reset,
            self.act,
            self.threshold_related,
            self.surrogate_function,
            self.detach_reset,
        )
        return y

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return _loop_single_steps(self, x_seq)

    def loop_multi_step(self, x_seq, v, need_v_seq):  # type: ignore[override]
        # BaseNode's loop returns spikes; LIAF outputs the analog act(H).
        raise NotImplementedError("LIAFNode outputs act(H), not spikes; call forward instead")

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, act={self.act}, threshold_related={self.threshold_related}"
