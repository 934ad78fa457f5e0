"""Miscellaneous layers: synapse filter, shape printer, voting layer, delay.

:class:`SpikeCountToBinary` and :class:`TemporalBinSum` (in :mod:`snn_layers.spike_slots`)
are re-exported here too, as in the reference framework's ``layer.misc``.
"""

from __future__ import annotations

import math

import torch
from snn_core.base import MemoryModule, StepModule, check_multi_step_input
from snn_core.functional import delay_step, synapse_filter_step
from torch import nn

from snn_layers.spike_slots import SpikeCountToBinary, TemporalBinSum

__all__ = [
    "SynapseFilter",
    "PrintShapeModule",
    "VotingLayer",
    "Delay",
    "SpikeCountToBinary",
    "TemporalBinSum",
]


class SynapseFilter(MemoryModule):
    r"""A synapse whose current decays exponentially and jumps by 1 at each input spike.

    .. math::
        τ \frac{dI}{dt} = -I, \qquad I \leftarrow I + 1 \text{ on a spike};

    discretised with input spikes :math:`S[t]`:

    .. math::
        I[t] = I[t-1] - (1 - S[t]) \frac{1}{τ} I[t-1] + S[t], \qquad I[-1] = 0.

    It smooths a spike train; it is also a LIF neuron with an infinite threshold, whose
    final potential counts the input spikes (used as a readout in Lee et al. 2020).
    Each step is :func:`snn_core.functional.synapse_filter_step`.

    Args:
        tau: the time constant :math:`τ`. With ``learnable=True`` it is the initial value of
            :math:`τ = 1 / \mathrm{sigmoid}(w)`, parameter ``w = -log(τ - 1)``.
        learnable: learn :math:`τ` (through ``w``).
        step_mode: ``'s'`` or ``'m'`` (loops the single step over ``T``).
    """

    def __init__(self, tau: float = 100.0, learnable: bool = False, step_mode: str = "s") -> None:
        super().__init__()
        if not isinstance(learnable, bool):
            raise TypeError(f"learnable must be a bool, got {learnable!r}")
        low_ok = (tau > 1.0) if learnable else (tau >= 1.0)
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not low_ok:
            need = "> 1 (learnable, w = -log(tau - 1))" if learnable else ">= 1"
            raise ValueError(f"tau must be a number {need}, got {tau!r}")
        self.step_mode = step_mode
        self.learnable = learnable
        if learnable:
            self.w = nn.Parameter(torch.as_tensor(-math.log(tau - 1.0)))
        else:
            self.tau = float(tau)
        self.register_memory("out_i", 0.0)

    def extra_repr(self) -> str:
        tau = 1.0 / torch.sigmoid(self.w.detach()).item() if self.learnable else self.tau
        return f"tau={tau}, learnable={self.learnable}, step_mode={self.step_mode}"

    @staticmethod
    def js_single_step_forward_learnable(
        x: torch.Tensor, w: torch.Tensor, out_i: torch.Tensor
    ) -> torch.Tensor:
        """One step with :math:`1/τ = \\mathrm{sigmoid}(w)`."""
        return synapse_filter_step(x, out_i, torch.sigmoid(w))

    @staticmethod
    def js_single_step_forward(x: torch.Tensor, tau: float, out_i: torch.Tensor) -> torch.Tensor:
        """One step with a fixed :math:`τ`."""
        return synapse_filter_step(x, out_i, 1.0 / tau)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        out_i = self.init_memory_like("out_i", x)
        if self.learnable:
            self.out_i = self.js_single_step_forward_learnable(x, self.w, out_i)
        else:
            self.out_i = self.js_single_step_forward(x, self.tau, out_i)
        return self.out_i


class PrintShapeModule(nn.Module):
    """Identity that prints ``ext_str`` and the input's shape (for debugging).

    Args:
        ext_str: the text printed before the shape.
    """

    def __init__(self, ext_str: str = "PrintShapeModule") -> None:
        super().__init__()
        self.ext_str = ext_str

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        print(self.ext_str, x.shape)
        return x


class VotingLayer(nn.Module, StepModule):
    """Average every ``voting_size`` consecutive entries of the last dimension.

    Input ``[..., C * voting_size]``, output ``[..., C]``: the mean of each group of
    ``voting_size`` neurons votes for one class (an average pooling with kernel and stride
    ``voting_size`` on the last dimension). The same in both step modes.

    Args:
        voting_size: the number of neurons voting for one class.
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(self, voting_size: int = 10, step_mode: str = "s") -> None:
        super().__init__()
        if isinstance(voting_size, bool) or not isinstance(voting_size, int) or voting_size < 1:
            raise ValueError(f"voting_size must be a positive int, got {voting_size!r}")
        self.voting_size = voting_size
        self.step_mode = step_mode

    def extra_repr(self) -> str:
        return f"voting_size={self.voting_size}, step_mode={self.step_mode}"

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] % self.voting_size:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"VotingLayer expects an input whose last dimension is a multiple of "
                f"voting_size={self.voting_size} ([..., C * voting_size]), got shape {got}"
            )
        return x.unflatten(-1, (-1, self.voting_size)).mean(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "m":
            check_multi_step_input(x)
        return self.single_step_forward(x)


class Delay(MemoryModule):
    """Delay a sequence: ``y[t] = x[t - delay_steps]``, and 0 for ``t < delay_steps``.

    The inputs not yet emitted are kept as state: ``queue``, a list of tensors, oldest
    first (at most ``delay_steps`` of them), updated in place as in the reference
    framework. Consecutive calls continue the same sequence in both step modes, so ``'m'``
    equals the single-step loop; ``reset()`` starts a new sequence. Each step is
    :func:`snn_core.functional.delay_step`.

    Args:
        delay_steps: the number of delayed time-steps (``>= 0``). ``delay=`` is accepted as
            a keyword alias (the name used in the reference's example).
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(
        self, delay_steps: int | None = None, step_mode: str = "s", *, delay: int | None = None
    ) -> None:
        super().__init__()
        if (delay_steps is None) == (delay is None):
            raise TypeError(
                f"Delay needs exactly one of delay_steps or its alias delay, got "
                f"delay_steps={delay_steps!r}, delay={delay!r}"
            )
        d = delay_steps if delay is None else delay
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise ValueError(f"delay_steps must be an int >= 0, got {d!r}")
        self._delay_steps = d
        self.step_mode = step_mode
        self.register_memory("queue", [])

    @property
    def delay_steps(self) -> int:
        """The number of delayed time-steps (read-only)."""
        return self._delay_steps

    def extra_repr(self) -> str:
        return f"delay_steps={self.delay_steps}, step_mode={self.step_mode}"

    def _waiting(self, step: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The queue as a tuple, after checking that it holds steps of ``step``'s shape."""
        queue = tuple(self.queue)
        if queue and queue[0].shape != step.shape:
            raise ValueError(
                f"Delay holds inputs of shape {tuple(queue[0].shape)} from an earlier call, "
                f"but a step of the new input has shape {tuple(step.shape)}; call reset() "
                f"(or functional.reset_net) before a batch of another shape"
            )
        return queue

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        y, queue = delay_step(x, self._waiting(x), self.delay_steps)
        self.queue[:] = queue
        return y

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq, min_dim=1)
        if x_seq.shape[0] == 0:
            return x_seq
        queue = self._waiting(x_seq[0])
        y_seq = []
        for x in x_seq:
            y, queue = delay_step(x, queue, self.delay_steps)
            y_seq.append(y)
        self.queue[:] = queue
        return torch.stack(y_seq)

    def detach(self) -> None:
        """Detach the queued inputs from the autograd graph (the list stays the same object)."""
        super().detach()
        self.queue[:] = [q.detach() for q in self.queue]
