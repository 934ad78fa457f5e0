r"""Encoders: turn analog input into spikes (or an input sequence) for an SNN.

- Stateless encoders (:class:`PoissonEncoder`) draw new spikes at every call.
- Stateful encoders (:class:`PeriodicEncoder`, :class:`LatencyEncoder`,
  :class:`WeightedPhaseEncoder`) compute a whole spike train ``spike[0..T-1]`` from the
  input at their first call and return ``spike[t % T]`` at the ``t``-th call; later calls
  may omit the input. Reset them (``functional.reset_net``) before a new input.
- Population encoders (:class:`PopEncoder`, :class:`PopSpikeEncoderDeterministic`,
  :class:`PopSpikeEncoderRandom`) map each observation dimension onto ``pop_dim`` Gaussian
  receptive fields with learnable means and widths and return ``[spike_ts, B, obs_dim *
  pop_dim]`` (Tang, Kumar, Michmizos & Kumar, "Deep Reinforcement Learning with
  Population-Coded Spiking Neural Network for Continuous Control", CoRL 2020).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from snn_core.base import MemoryModule, StepModule
from snn_core.surrogate import DeterministicPass, PoissonPass

__all__ = [
    "StatelessEncoder",
    "StatefulEncoder",
    "PeriodicEncoder",
    "LatencyEncoder",
    "PoissonEncoder",
    "WeightedPhaseEncoder",
    "PopSpikeEncoderDeterministic",
    "PopSpikeEncoderRandom",
    "PopEncoder",
]


def _check_period(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int (number of time-steps), got {value!r}")
    return value


class StatelessEncoder(nn.Module, StepModule):
    """Base class of encoders without state: ``encoder(x)`` returns spikes shaped like ``x``.

    Subclasses implement ``forward``. Being elementwise, they work unchanged on single-step
    ``[N, *]`` and multi-step ``[T, N, *]`` input.
    """

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__()
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward")


class StatefulEncoder(MemoryModule):
    """Base class of encoders that emit a precomputed spike train ``spike[t % T]``.

    At the first call after a reset, :meth:`single_step_encode` turns ``x`` into ``spike`` of
    shape ``[T, *x.shape]``; the ``t``-th call returns ``spike[t % T]`` (``x`` is then ignored
    and may be omitted). In multi-step mode each step of ``x_seq`` is such a call.

    Args:
        T: the encoding period, usually the number of simulation time-steps.
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(self, T: int, step_mode: str = "s") -> None:
        super().__init__()
        self.T = _check_period("T", T)
        self.step_mode = step_mode
        self.register_memory("spike", None)
        self.register_memory("t", 0)

    def single_step_forward(self, x: torch.Tensor | None = None) -> torch.Tensor:
        return self._run_functional((x,), "s")

    def single_step_functional_forward(
        self, inputs: tuple[Any, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        """Pure step: states ``(spike, t)`` -> output ``spike[t]``, states ``(spike, t + 1
        mod T)``; ``spike`` is encoded from ``inputs[0]`` when it is ``None``."""
        spike, t = states
        if spike is None:
            if inputs[0] is None:
                raise ValueError(
                    f"{type(self).__name__}: the first call after a reset needs the input x "
                    f"to encode"
                )
            spike = self.single_step_encode(inputs[0])
        return (spike[t],), (spike, (t + 1) % spike.shape[0])

    def single_step_encode(self, x: torch.Tensor) -> torch.Tensor:
        """Return the spike train ``[T, *x.shape]`` of ``x``."""
        raise NotImplementedError(f"{type(self).__name__} must implement single_step_encode")

    def extra_repr(self) -> str:
        return f"T={self.T}"


class PeriodicEncoder(StatefulEncoder):
    """Replay a given spike train periodically: the ``t``-th call returns ``spike[t % T]``.

    ``T = spike.shape[0]``. As in the reference, the train is the tensor passed at the first
    call after a reset (``encoder(spike)``); later calls may omit it.

    Args:
        spike: a spike train ``[T, *]`` (sets the period).
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(self, spike: torch.Tensor, step_mode: str = "s") -> None:
        if not isinstance(spike, torch.Tensor) or spike.dim() < 1:
            raise ValueError("spike must be a tensor [T, *] whose first dimension is the period")
        super().__init__(spike.shape[0], step_mode)

    def single_step_encode(self, spike: torch.Tensor) -> torch.Tensor:
        return spike


class LatencyEncoder(StatefulEncoder):
    r"""Time-to-first-spike coding: each input in ``[0, 1]`` fires once, larger ones earlier.

    The firing step (rounded to the nearest integer) is

    .. math::
        t_f(x) = (T - 1)(1 - x) \quad\text{(linear)}, \qquad
        t_f(x) = (T - 1) - \ln(\alpha x + 1),\ \alpha = e^{T-1} - 1 \quad\text{(log)}

    so that :math:`t_f(1) = 0` and :math:`t_f(0) = T - 1`.

    Args:
        T: the number of time-steps (latest firing step is ``T - 1``).
        enc_function: ``'linear'`` or ``'log'``.
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(self, T: int, enc_function: str = "linear", step_mode: str = "s") -> None:
        super().__init__(T, step_mode)
        if enc_function not in ("linear", "log"):
            raise ValueError(f"enc_function must be 'linear' or 'log', got {enc_function!r}")
        if enc_function == "log":
            self.alpha = math.exp(T - 1.0) - 1.0
        self.enc_function = enc_function

    def single_step_encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.enc_function == "log":
            t_f = (self.T - 1.0 - torch.log(self.alpha * x + 1.0)).round().long()
        else:
            t_f = ((self.T - 1.0) * (1.0 - x)).round().long()
        if t_f.numel() and (t_f.min() < 0 or t_f.max() > self.T - 1):
            raise ValueError(
                f"LatencyEncoder: x must lie in [0, 1], got values from {x.min().item()} "
                f"to {x.max().item()}"
            )
        spike = F.one_hot(t_f, num_classes=self.T).to(x)  # [*, T]
        return spike.movedim(-1, 0)

    def extra_repr(self) -> str:
        return f"T={self.T}, enc_function={self.enc_function}"


class PoissonEncoder(StatelessEncoder):
    r"""Bernoulli (rate) coding: each element fires with probability ``x`` at every call.

    .. math::
        s = \mathbb{1}[u \le x], \quad u \sim U[0, 1)

    ``x`` should lie in ``[0, 1]`` (values outside act as 0 or 1). Uses torch's global RNG.
    """

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__(step_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.rand_like(x).le(x).to(x)


class WeightedPhaseEncoder(StatefulEncoder):
    r"""Weighted phase coding: the ``K`` spikes are the binary digits of ``x``.

    Spike :math:`t` (0-based) carries weight :math:`2^{-(t+1)}`, so
    :math:`x = \sum_t s[t]\, 2^{-(t+1)}` for :math:`x \in [0, 1 - 2^{-K}]` on the grid
    :math:`2^{-K}\mathbb{Z}`, e.g. ``K=8``: ``192/256 -> 1,1,0,0,0,0,0,0``.

    Kim et al., "Deep neural networks with weighted spikes", Neurocomputing 311, 2018.

    Args:
        K: the period (number of phases).
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(self, K: int, step_mode: str = "s") -> None:
        super().__init__(_check_period("K", K), step_mode)

    def single_step_encode(self, x: torch.Tensor) -> torch.Tensor:
        upper = 1.0 - 2.0 ** (-self.T)
        if x.numel() and ((x < 0).any() or (x > upper).any()):
            raise ValueError(
                f"WeightedPhaseEncoder: x must lie in [0, 1 - 2^-K] = [0, {upper}], got values "
                f"from {x.min().item()} to {x.max().item()}"
            )
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        rest = x.to(dtype).clone()
        spike = torch.empty((self.T, *x.shape), dtype=dtype, device=x.device)
        weight = 0.5
        for t in range(self.T):
            spike[t] = (rest >= weight).to(dtype)
            rest = rest - weight * spike[t]
            weight *= 0.5
        return spike


# ------------------------------------------------------------------------- population coding
class _PopulationBase(nn.Module):
    """Gaussian receptive fields: ``mean`` spread over ``mean_range``, common width ``std``."""

    def __init__(
        self,
        obs_dim: int,
        pop_dim: int,
        spike_ts: int,
        mean_range: tuple[float, float],
        std: float,
    ) -> None:
        super().__init__()
        self.obs_dim = _check_period("obs_dim", obs_dim)
        self.pop_dim = _check_period("pop_dim", pop_dim)
        self.spike_ts = _check_period("spike_ts", spike_ts)
        if len(tuple(mean_range)) != 2:
            raise ValueError(f"mean_range must be (min, max), got {mean_range!r}")
        self.encoder_neuron_num = obs_dim * pop_dim
        lo, hi = mean_range
        mean = torch.linspace(lo, hi, pop_dim).expand(1, obs_dim, pop_dim).clone()
        self.mean = nn.Parameter(mean)
        self.std = nn.Parameter(torch.full_like(mean, float(std)))

    def population_activity(self, obs: torch.Tensor) -> torch.Tensor:
        r""":math:`a_{b,(i,j)} = \exp(-\tfrac12 ((o_{b,i} - \mu_{i,j}) / \sigma_{i,j})^2)`,
        shape ``[B, obs_dim * pop_dim]``."""
        if obs.numel() % self.obs_dim:
            raise ValueError(
                f"obs has {obs.numel()} elements, not a multiple of obs_dim={self.obs_dim}"
            )
        o = obs.reshape(-1, self.obs_dim, 1)
        return torch.exp(-0.5 * ((o - self.mean) / self.std).square()).flatten(1)

    def extra_repr(self) -> str:
        return f"obs_dim={self.obs_dim}, pop_dim={self.pop_dim}, spike_ts={self.spike_ts}"


class PopEncoder(_PopulationBase):
    """Population coding without spikes: the activity repeated ``spike_ts`` times.

    Returns ``[spike_ts, B, obs_dim * pop_dim]``; differentiable in ``obs``, ``mean``, ``std``.

    Args:
        obs_dim: observation size; pop_dim: receptive fields per dimension;
        spike_ts: number of time-steps; mean_range: ``(min, max)`` of the initial means;
        std: initial width.
    """

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        act = self.population_activity(obs)
        return act.unsqueeze(0).repeat(self.spike_ts, 1, 1)


class PopSpikeEncoderRandom(_PopulationBase):
    r"""Population coding with Bernoulli spikes: :math:`s[t] \sim \mathrm{Bernoulli}(a)`.

    Backward is straight-through (:math:`\partial s / \partial a = 1`). Returns
    ``[spike_ts, B, obs_dim * pop_dim]``. Arguments as :class:`PopEncoder`.
    """

    def __init__(
        self,
        obs_dim: int,
        pop_dim: int,
        spike_ts: int,
        mean_range: tuple[float, float],
        std: float,
    ) -> None:
        super().__init__(obs_dim, pop_dim, spike_ts, mean_range, std)
        self.pseudo_spike = PoissonPass()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        act = self.population_activity(obs)
        return self.pseudo_spike(act.unsqueeze(0).expand(self.spike_ts, *act.shape))


class _StraightThroughIF(MemoryModule):
    r"""Integrate-and-fire with soft reset and a straight-through spike gradient.

    .. math::
        v[t] = v[t-1] + x[t], \quad s[t] = H(v[t] - V_{th}), \quad
        v[t] \leftarrow v[t] - \mathrm{sg}(s[t]) V_{th}

    (``sg``: stop-gradient.) The same dynamics as an ``IFNode(v_reset=None,
    detach_reset=True, surrogate_function=DeterministicPass())``, kept here because
    ``snn_core`` does not depend on the neuron package.
    """

    def __init__(self, v_threshold: float) -> None:
        super().__init__()
        self.v_threshold = v_threshold
        self.surrogate_function = DeterministicPass()
        self.register_memory("v", 0.0)
        self.step_mode = "m"

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.init_memory_like("v", x) + x
        spike = self.surrogate_function(v - self.v_threshold)
        self.v = v - spike.detach() * self.v_threshold
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.single_step_forward(x) for x in x_seq])

    def extra_repr(self) -> str:
        return f"v_threshold={self.v_threshold}, step_mode={self.step_mode}"


class PopSpikeEncoderDeterministic(_PopulationBase):
    r"""Population coding with deterministic spikes from integrate-and-fire neurons.

    The activity :math:`a` drives, for ``spike_ts`` steps, IF neurons with threshold 0.999,
    soft reset and a straight-through gradient (see :class:`_StraightThroughIF`), so a
    field with activity :math:`a` fires about :math:`a \cdot` ``spike_ts`` times. The neuron
    state carries over between calls until ``functional.reset_net``. Returns
    ``[spike_ts, B, obs_dim * pop_dim]``. Arguments as :class:`PopEncoder`.
    """

    def __init__(
        self,
        obs_dim: int,
        pop_dim: int,
        spike_ts: int,
        mean_range: tuple[float, float],
        std: float,
    ) -> None:
        super().__init__(obs_dim, pop_dim, spike_ts, mean_range, std)
        self.neurons = _StraightThroughIF(v_threshold=0.999)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        act = self.population_activity(obs)
        return self.neurons.multi_step_forward(act.unsqueeze(0).repeat(self.spike_ts, 1, 1))
