"""Neurons with time-correlated (colored) noise, for exploration in reinforcement learning.

Chen, Peng, Huang & Tian, 2024, "Noisy Spiking Actor Network for Exploration" (NoisySAN,
arXiv:2403.04162): during training, colored Gaussian noise ``eps`` (see
:func:`~snn_neurons.powerlaw_psd_gaussian`, correlated over the time-steps of a whole
episode) perturbs the charge and the transmitted spikes,

- ``H[t] = f(V[t-1], X[t] + sigma_v eps_v[t])``, ``S[t] = Θ(H[t] - V_th)``, reset of ``H``;
- output ``S[t] + sigma_s eps_s[t]``;

and the non-spiking readout integrates ``X[t] + sigma eps[t]`` with a learnable
per-neuron ``sigma`` (the paper's noise reduction: training can shrink it). With
``is_training=False`` the neurons are noise-free.

Noise bookkeeping (as in the reference): :meth:`reset_noise` draws the noise of
``num_rl_step`` environment steps of ``T`` time-steps each, every ``forward`` in training
consumes the next step's noise (drawing a fresh block when none is left), and
:meth:`get_colored_noise` / :meth:`load_colored_noise` store and replay the noise of a
step (e.g. from a replay buffer, one noise sample per batch element). Each ``forward``
runs its sequence from rest.
"""

from __future__ import annotations

import math

import torch
from snn_core.surrogate import Rect, SurrogateFunctionBase
from torch import nn

from snn_neurons._stepping import _check_int, _check_number, _check_sequence
from snn_neurons.base_node import BaseNode, NonSpikingBaseNode
from snn_neurons.colored_noise import powerlaw_psd_gaussian
from snn_neurons.cuba import _CUBACharge
from snn_neurons.ilc import _apply_population_connection, _population_connection
from snn_neurons.integrate_and_fire import if_charge

__all__ = [
    "NoisyBaseNode",
    "NoisyCUBALIFNode",
    "NoisyILCBaseNode",
    "NoisyILCCUBALIFNode",
    "NoisyNonSpikingBaseNode",
    "NoisyNonSpikingIFNode",
]


class _NoiseSchedule:
    """Pre-drawn colored noise streams ``[num_rl_step, T, num_node]`` and a step counter."""

    _streams: tuple[str, ...] = ()

    def _init_noise(self, num_node: int, is_training: bool, T: int, beta: float) -> None:
        owner = type(self).__name__
        self.num_node = _check_int(owner, "num_node", num_node)
        if not isinstance(is_training, bool):
            raise TypeError(f"{owner}: is_training must be a bool, got {is_training!r}")
        self.is_training = is_training
        self.T = _check_int(owner, "T", T)
        self.beta = _check_number(owner, "beta", beta)
        for name in self._streams:
            setattr(self, name, None)
        self.noise_step = -1

    def _draw(self, num_rl_step: int) -> torch.Tensor:
        eps = powerlaw_psd_gaussian(self.beta, (self.num_node, num_rl_step * self.T))
        return eps.reshape(self.num_node, num_rl_step, self.T).permute(1, 2, 0).float()

    def reset_noise(self, num_rl_step: int) -> None:
        """Draw the noise of ``num_rl_step`` steps (colored over all their time-steps)."""
        num_rl_step = _check_int(type(self).__name__, "num_rl_step", num_rl_step)
        for name in self._streams:
            setattr(self, name, self._draw(num_rl_step))
        self.noise_step = -1

    def _next_noise_step(self) -> None:
        first = getattr(self, self._streams[0])
        if first is None or self.noise_step + 1 >= first.shape[0]:
            self.reset_noise(1)
        self.noise_step += 1

    def _current(self, name: str) -> torch.Tensor:
        if self.noise_step < 0 or getattr(self, name) is None:
            raise RuntimeError(
                f"{type(self).__name__}: no noise has been used yet; run a forward pass in "
                "training (is_training=True) after reset_noise(num_rl_step)"
            )
        return getattr(self, name)[self.noise_step]

    def _check_loaded(self, cn: torch.Tensor, width: int) -> None:
        if not isinstance(cn, torch.Tensor) or cn.dim() != 3 or cn.shape[1:] != (self.T, width):
            got = tuple(cn.shape) if isinstance(cn, torch.Tensor) else type(cn).__name__
            raise ValueError(
                f"{type(self).__name__}: colored noise must be [N, T={self.T}, {width}], got {got}"
            )


class NoisyBaseNode(_NoiseSchedule, BaseNode):
    """Base class of spiking neuron layers with noisy charge and output (NoisySAN).

    Subclasses define :meth:`charge` (or :meth:`neuronal_charge` for extra states).

    Args:
        num_node: number of neurons; inputs are ``[T, N, num_node]``.
        is_training: add the noise (``False``: noise-free).
        T: number of time-steps per forward.
        sigma_init: the noise scales are ``sigma_v = sigma_s = sigma_init / sqrt(num_node)``.
        beta: spectral exponent of the noise (0 white, 1 pink, 2 brown).
        v_threshold: threshold voltage.
        v_reset: reset voltage (``None``: soft reset).
        surrogate_function: spike function (default :class:`~snn_core.surrogate.Rect`).
    """

    _streams = ("eps_v_seq", "eps_s_seq")

    def __init__(
        self,
        num_node: int,
        is_training: bool = True,
        T: int = 5,
        sigma_init: float = 0.5,
        beta: float = 0.0,
        v_threshold: float = 0.5,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
    ) -> None:
        if surrogate_function is None:
            surrogate_function = Rect()
        super().__init__(v_threshold, v_reset, surrogate_function, step_mode="m")
        self._init_noise(num_node, is_training, T, beta)
        sigma_init = _check_number(type(self).__name__, "sigma_init", sigma_init)
        self.sigma_v = sigma_init / math.sqrt(self.num_node)
        self.sigma_s = sigma_init / math.sqrt(self.num_node)
        self.cn_v: torch.Tensor | None = None
        self.cn_s: torch.Tensor | None = None

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def _after_spike(self, t: int, spike: torch.Tensor) -> torch.Tensor | None:
        """Extra input of step ``t + 1`` computed from the output of step ``t`` (none here)."""
        return None

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_sequence(type(self).__name__, x_seq, self.T, self.num_node)
        self.reset()
        self.init_memory_like("v", x_seq[0])
        loaded = self.cn_v is not None
        if self.is_training and not loaded:
            self._next_noise_step()
        outputs, recurrent = [], None
        for t in range(self.T):
            x = x_seq[t] if recurrent is None else x_seq[t] + recurrent
            if self.is_training:
                eps_v = self.cn_v[:, t] if loaded else self.eps_v_seq[self.noise_step, t]
                x = x + self.sigma_v * eps_v.to(x)
            self.neuronal_charge(x)
            spike = self.neuronal_fire()
            self.neuronal_reset(spike)
            if self.is_training:
                eps_s = self.cn_s[:, t] if loaded else self.eps_s_seq[self.noise_step, t]
                spike = spike + self.sigma_s * eps_s.to(spike)
            outputs.append(spike)
            recurrent = self._after_spike(t, spike)
        return torch.stack(outputs)

    def loop_multi_step(self, x_seq, v, need_v_seq):  # type: ignore[override]
        # BaseNode's loop would leave out the noise.
        raise NotImplementedError(f"{type(self).__name__}: call forward / multi_step_forward")

    def get_colored_noise(self) -> torch.Tensor:
        """The noise of the current step, ``[T, 2 num_node]`` (charge noise, then output)."""
        return torch.cat([self._current("eps_v_seq"), self._current("eps_s_seq")], dim=1)

    def load_colored_noise(self, cn: torch.Tensor) -> None:
        """Use the stored noise ``cn`` (``[N, T, 2 num_node]``) until :meth:`cancel_load`."""
        self._check_loaded(cn, 2 * self.num_node)
        self.cn_v = cn[:, :, : self.num_node]
        self.cn_s = cn[:, :, self.num_node :]

    def cancel_load(self) -> None:
        """Drop the noise of :meth:`load_colored_noise`; the scheduled noise is used again."""
        self.cn_v = None
        self.cn_s = None

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, num_node={self.num_node}, T={self.T}, beta={self.beta}, "
            f"is_training={self.is_training}, sigma_v={self.sigma_v:g}, sigma_s={self.sigma_s:g}"
        )


class NoisyCUBALIFNode(_CUBACharge, NoisyBaseNode):
    """Noisy current-based LIF layer (see :mod:`snn_neurons.cuba` for the charge).

    Args:
        num_node: number of neurons.
        c_decay: decay factor of the synaptic current, in [0, 1].
        v_decay: decay factor of the membrane potential, in [0, 1].
        Other args as :class:`NoisyBaseNode`.
    """

    def __init__(
        self,
        num_node: int,
        c_decay: float = 0.5,
        v_decay: float = 0.75,
        is_training: bool = True,
        T: int = 5,
        sigma_init: float = 0.5,
        beta: float = 0.0,
        v_threshold: float = 0.5,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
    ) -> None:
        super().__init__(
            num_node, is_training, T, sigma_init, beta, v_threshold, v_reset, surrogate_function
        )
        self._init_cuba(c_decay, v_decay)


class NoisyILCBaseNode(NoisyBaseNode):
    """Noisy layer with intra-population connections (see :mod:`snn_neurons.ilc`): the noisy
    output of step ``t`` feeds step ``t + 1`` through ``self.conn``.

    Args:
        act_dim: number of populations; dec_pop_dim: neurons per population
            (``num_node = act_dim * dec_pop_dim``).
        Other args as :class:`NoisyBaseNode` (default threshold 1.0).
    """

    def __init__(
        self,
        act_dim: int,
        dec_pop_dim: int,
        is_training: bool = True,
        T: int = 5,
        sigma_init: float = 0.5,
        beta: float = 0.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
    ) -> None:
        owner = type(self).__name__
        act_dim = _check_int(owner, "act_dim", act_dim)
        dec_pop_dim = _check_int(owner, "dec_pop_dim", dec_pop_dim)
        super().__init__(
            act_dim * dec_pop_dim,
            is_training,
            T,
            sigma_init,
            beta,
            v_threshold,
            v_reset,
            surrogate_function,
        )
        self.act_dim, self.dec_pop_dim = act_dim, dec_pop_dim
        self.conn = _population_connection(act_dim, dec_pop_dim)

    def _after_spike(self, t: int, spike: torch.Tensor) -> torch.Tensor | None:
        if t + 1 == self.T:
            return None
        return _apply_population_connection(self.conn, spike, self.act_dim, self.dec_pop_dim)


class NoisyILCCUBALIFNode(_CUBACharge, NoisyILCBaseNode):
    """Noisy current-based LIF layer with intra-population connections.

    Args:
        act_dim, dec_pop_dim: as :class:`NoisyILCBaseNode`.
        c_decay: decay factor of the synaptic current, in [0, 1].
        v_decay: decay factor of the membrane potential, in [0, 1].
        Other args as :class:`NoisyILCBaseNode`.
    """

    def __init__(
        self,
        act_dim: int,
        dec_pop_dim: int,
        c_decay: float = 0.5,
        v_decay: float = 0.75,
        is_training: bool = True,
        T: int = 5,
        sigma_init: float = 0.5,
        beta: float = 0.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
    ) -> None:
        super().__init__(
            act_dim,
            dec_pop_dim,
            is_training,
            T,
            sigma_init,
            beta,
            v_threshold,
            v_reset,
            surrogate_function,
        )
        self._init_cuba(c_decay, v_decay)


class NoisyNonSpikingBaseNode(_NoiseSchedule, NonSpikingBaseNode):
    """Base class of non-spiking readouts with noisy input and learnable noise scale.

    ``V[t] = f(V[t-1], X[t] + sigma eps[t])`` from ``V = 0``; the output is the potential
    sequence ``[T, N, num_node]`` or its ``decode`` (see
    :class:`~snn_neurons.NonSpikingBaseNode`).

    Args:
        num_node: number of neurons; inputs are ``[T, N, num_node]``.
        is_training: add the noise (``False``: noise-free).
        T: number of time-steps per forward.
        sigma_init: the learnable ``sigma`` (one per neuron) starts at
            ``sigma_init / sqrt(num_node)``.
        beta: spectral exponent of the noise.
        decode: ``None`` or a decode mode of :class:`~snn_neurons.NonSpikingBaseNode`.
    """

    _streams = ("eps_seq",)

    def __init__(
        self,
        num_node: int,
        is_training: bool = True,
        T: int = 5,
        sigma_init: float = 0.5,
        beta: float = 0.0,
        decode: str | None = None,
    ) -> None:
        super().__init__(decode)
        self._init_noise(num_node, is_training, T, beta)
        sigma_init = _check_number(type(self).__name__, "sigma_init", sigma_init)
        # float32 as in the reference, whatever the default dtype
        self.sigma = nn.Parameter(
            torch.full((self.num_node,), sigma_init / math.sqrt(num_node), dtype=torch.float32)
        )
        self.cn: torch.Tensor | None = None

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_sequence(type(self).__name__, x_seq, self.T, self.num_node)
        self.reset()
        self.init_memory_like("v", x_seq[0])
        loaded = self.cn is not None
        if self.is_training and not loaded:
            self._next_noise_step()
        v_seq = []
        for t in range(self.T):
            x = x_seq[t]
            if self.is_training:
                eps = self.cn[:, t] if loaded else self.eps_seq[self.noise_step, t]
                x = x + self.sigma.to(x) * eps.to(x)
            self.neuronal_charge(x)
            v_seq.append(self.v)
        return self.decode_v_seq(torch.stack(v_seq))

    def get_colored_noise(self) -> torch.Tensor:
        """The noise of the current step, ``[T, num_node]``."""
        return self._current("eps_seq")

    def load_colored_noise(self, cn: torch.Tensor) -> None:
        """Use the stored noise ``cn`` (``[N, T, num_node]``) until :meth:`cancel_load`."""
        self._check_loaded(cn, self.num_node)
        self.cn = cn

    def cancel_load(self) -> None:
        """Drop the noise of :meth:`load_colored_noise`; the scheduled noise is used again."""
        self.cn = None

    def extra_repr(self) -> str:
        return (
            f"num_node={self.num_node}, T={self.T}, beta={self.beta}, "
            f"is_training={self.is_training}, {super().extra_repr()}"
        )


class NoisyNonSpikingIFNode(NoisyNonSpikingBaseNode):
    """Noisy non-spiking IF readout: ``V[t] = V[t-1] + X[t] + sigma eps[t]``."""

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return if_charge(x, v)
