r"""The neuron pieces of SpikeDHS (re-exported by :mod:`snn_zoo.models.spike_dhs`): the
Dspike surrogate (Li et al., "Differentiable Spike: Rethinking Gradient-Descent for Training
Spiking Neural Networks", NeurIPS 2021) and a LIF neuron that records how far its charged
potential is from the threshold (Che et al., NeurIPS 2022)."""

from __future__ import annotations

import math
from typing import Any

import torch
from snn_core.base import check_multi_step_input
from snn_core.surrogate import SurrogateFunctionBase
from snn_core.surrogate._params import _positive
from snn_neurons import LIFNode
from snn_neurons.base_node import SimpleBaseNode

__all__ = ["DSpike", "save_v_LIFNode"]


class DSpike(SurrogateFunctionBase):
    r"""Differentiable-spike (Dspike) surrogate (Li et al., NeurIPS 2021).

    .. math::
        g(x) = \frac{\tanh(\alpha x)}{2\tanh(\alpha / 2)} + \frac12, \qquad
        g'(x) = \frac{\alpha}{2\tanh(\alpha/2)\cosh^2(\alpha x)}
        \quad\text{for } |x| \le \tfrac12,

    with ``g = 0`` / ``1`` and ``g' = 0`` for ``|x| > 1/2``. ``alpha`` is the temperature:
    large values approach the step, small ones a straight line (SpikeDHS searches it).

    Args:
        alpha: temperature, ``> 0``.
        spiking: ``True``: heaviside forward, ``g'`` backward; ``False``: forward is ``g``.
    """

    _param_names = ("alpha",)

    def __init__(self, alpha: float = 3, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)
        self.alpha = _positive(type(self).__name__, "alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        inside = torch.tanh(a * x) * (0.5 / math.tanh(0.5 * a)) + 0.5
        return torch.where(torch.abs(x) <= 0.5, inside, 0.5 + 0.5 * torch.sign(x))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        inside = (a / (2.0 * math.tanh(0.5 * a))) / torch.cosh(a * x) ** 2
        return torch.where(torch.abs(x) <= 0.5, inside, 0.0)


class save_v_LIFNode(LIFNode):
    """:class:`~snn_neurons.LIFNode` that also records, at each step, the mean distance of
    the charged potential to the threshold, ``mean(H[t] - V_th)``.

    ``v_before_spike`` holds that number for the last step (``None`` before the first
    stateful call). With ``store_v_seq=True``, a multi-step call stores the ``[T]``
    sequence of those means in ``v_seq`` (instead of the potentials). The observation is not
    a state: :meth:`functional_forward` computes the spikes and ``v`` only and leaves it
    unchanged. Arguments as :class:`~snn_neurons.LIFNode`.
    """

    _loops_single_steps = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.v_before_spike: torch.Tensor | None = None

    def _observed_step(
        self, x: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.charge(x, v)
        observation = (h - self.v_threshold).mean()
        spike = self.fire(h)
        v = self.reset_potential(h, spike.detach() if self.detach_reset else spike)
        return spike, v, observation

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor, ...], tuple[Any, ...]]:
        spike, v, _ = self._observed_step(inputs[0], states[0])
        return (spike,), (v, *states[1:])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        # v_seq holds the observations (set in multi_step_forward), not BaseNode's
        # per-step potentials.
        return SimpleBaseNode.forward(self, *args, **kwargs)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.init_memory_like("v", x)
        spike, self.v, self.v_before_spike = self._observed_step(x, self.v)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq)
        if x_seq.shape[0] == 0:
            raise ValueError(
                f"{type(self).__name__}: x_seq must have at least one time step, got shape "
                f"{tuple(x_seq.shape)}"
            )
        self.init_memory_like("v", x_seq[0])
        v = self.v
        spikes, observations = [], []
        for x in x_seq:
            spike, v, observation = self._observed_step(x, v)
            spikes.append(spike)
            observations.append(observation)
        self.v = v
        self.v_before_spike = observations[-1]
        if self.store_v_seq:
            self.v_seq = torch.stack(observations)
        return torch.stack(spikes)
