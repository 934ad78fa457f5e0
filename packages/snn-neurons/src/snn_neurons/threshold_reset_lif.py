r"""LIF neuron that resets to its threshold and decays after the reset.

The cell of the official code of MA-SNN (Yao et al., "Attention Spiking Neural Networks",
IEEE TPAMI 2023; github.com/BICLab/Attention-SNN) and of TA-SNN / LIAF-Net by the same
group. ``V`` is the potential carried to the next step (after reset and decay), from 0:

.. math::
    U[t] = V[t-1] + X[t], \qquad S[t] = \Theta(U[t] - V_{th}),

    V[t] = \alpha \left(V_{th} S[t] + U[t] (1 - S[t])\right) + \beta

A spike sets the potential to the threshold (not to 0) before the decay, so a neuron that
fired starts the next step at ``alpha * V_th + beta``; the code's ``Vreset`` is never read.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.surrogate import Rect, SurrogateFunctionBase

from snn_neurons.base_node import BaseNode

__all__ = ["ThresholdResetLIFNode"]


def _check_real(name: str, value: Any, unit_interval: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"ThresholdResetLIFNode: {name} must be a float, got {value!r}")
    if unit_interval and not 0.0 <= value <= 1.0:
        raise ValueError(f"ThresholdResetLIFNode: {name} must be in [0, 1], got {value!r}")
    return float(value)


class ThresholdResetLIFNode(BaseNode):
    r"""LIF neuron with reset to threshold followed by a multiplicative decay:

    ``U[t] = V[t-1] + X[t]``, ``S[t] = Θ(U[t] - V_th)``,
    ``V[t] = alpha * (V_th S[t] + U[t] (1 - S[t])) + beta``, ``V[-1] = 0``.

    This is MA-SNN's official LIF cell (Yao et al., IEEE TPAMI 2023), with its defaults
    (``alpha = 0.3``, ``beta = 0``, ``V_th = 0.3``, a rectangular surrogate of width 0.5 and
    height 2). The spike is not detached in the reset unless ``detach_reset=True``; the
    official code keeps it, so gradients also flow through ``V_th S + U (1 - S)``.
    ``self.v`` (and ``v_seq``) hold ``V``, the potential after the decay.

    Args:
        alpha: decay factor applied after the reset, in ``[0, 1]``.
        beta: constant added after the decay.
        v_threshold: threshold ``V_th``; also the value a spike resets the potential to.
        surrogate_function: spike function; ``None``: ``Rect(alpha=2.0)``, the official one.
        detach_reset, step_mode, backend, store_v_seq: as :class:`~snn_neurons.BaseNode`.
    """

    def __init__(
        self,
        alpha: float = 0.3,
        beta: float = 0.0,
        v_threshold: float = 0.3,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
    ) -> None:
        if surrogate_function is None:
            surrogate_function = Rect(alpha=2.0)
        # v_reset=None: the state starts at 0; the reset itself is reset_potential below
        super().__init__(
            v_threshold, None, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )
        self.alpha = _check_real("alpha", alpha, unit_interval=True)
        self.beta = _check_real("beta", beta)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``U[t] = V[t-1] + X[t]`` (the decay was applied at the end of the last step)."""
        return v + x

    def reset_potential(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``alpha * (V_th S + U (1 - S)) + beta``: reset to threshold, then decay."""
        return (s * self.v_threshold + (1.0 - s) * h) * self.alpha + self.beta

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, beta={self.beta}, v_threshold={self.v_threshold}, "
            f"detach_reset={self.detach_reset}, step_mode={self.step_mode}, "
            f"backend={self.backend}, store_v_seq={self.store_v_seq}"
        )
