"""Neuron layers with learnable connections inside each output population (ILC).

From the fully spiking actor network of Chen, Peng, Huang & Tian, 2024, "Fully Spiking
Actor Network with Intra-layer Connections for Reinforcement Learning" (IEEE TNNLS;
arXiv:2401.05444): the layer's ``act_dim * dec_pop_dim`` neurons form ``act_dim``
populations of ``dec_pop_dim`` neurons, and the spikes of a population at step ``t`` feed
the inputs of the same population at step ``t + 1`` through a learnable full connection
(a grouped ``Conv1d``, one group per population):

``X'[t] = X[t] + Conn(S[t-1])`` for ``t >= 1``, then charge, fire and reset.

Each call runs a whole sequence from rest (the state is re-initialised at every forward,
as in the reference), so these layers are multi-step only.
"""

from __future__ import annotations

import torch
from snn_core.surrogate import Rect, SurrogateFunctionBase
from torch import nn

from snn_neurons._stepping import _check_int
from snn_neurons.base_node import BaseNode
from snn_neurons.cuba import _CUBACharge
from snn_neurons.integrate_and_fire import if_charge
from snn_neurons.lif import lif_charge

__all__ = ["ILCBaseNode", "ILCIFNode", "ILCLIFNode", "ILCCUBALIFNode"]


def _population_connection(act_dim: int, dec_pop_dim: int) -> nn.Conv1d:
    """Full connection inside each of ``act_dim`` populations of ``dec_pop_dim`` neurons."""
    return nn.Conv1d(act_dim, act_dim * dec_pop_dim, dec_pop_dim, groups=act_dim)


def _apply_population_connection(
    conn: nn.Conv1d, spike: torch.Tensor, act_dim: int, dec_pop_dim: int
) -> torch.Tensor:
    """``[N, act_dim * dec_pop_dim]`` spikes -> the same-shaped input of the next step."""
    return conn(spike.reshape(-1, act_dim, dec_pop_dim)).reshape(-1, act_dim * dec_pop_dim)


def _check_population_input(owner: str, x_seq: torch.Tensor, num_node: int) -> None:
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() != 3 or x_seq.shape[-1] != num_node:
        got = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq).__name__
        raise ValueError(f"{owner}: x_seq must be [T, N, {num_node}], got {got}")


class ILCBaseNode(BaseNode):
    """Base class of neuron layers with intra-population connections (see module docstring).

    Subclasses define :meth:`charge` (or :meth:`neuronal_charge` for extra states).

    Args:
        act_dim: number of populations (actions).
        dec_pop_dim: neurons per population; inputs are ``[T, N, act_dim * dec_pop_dim]``.
        v_threshold: threshold voltage.
        v_reset: reset voltage (``None``: soft reset).
        surrogate_function: spike function (default :class:`~snn_core.surrogate.Rect`).

    The connection is the ``Conv1d`` ``self.conn``.
    """

    def __init__(
        self,
        act_dim: int,
        dec_pop_dim: int,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
    ) -> None:
        if surrogate_function is None:
            surrogate_function = Rect()
        super().__init__(v_threshold, v_reset, surrogate_function, step_mode="m")
        owner = type(self).__name__
        self.act_dim = _check_int(owner, "act_dim", act_dim)
        self.dec_pop_dim = _check_int(owner, "dec_pop_dim", dec_pop_dim)
        self.out_pop_dim = self.act_dim * self.dec_pop_dim
        self.conn = _population_connection(self.act_dim, self.dec_pop_dim)

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_population_input(type(self).__name__, x_seq, self.out_pop_dim)
        self.reset()
        self.init_memory_like("v", x_seq[0])
        spikes = []
        for t in range(x_seq.shape[0]):
            x = x_seq[t]
            if t > 0:
                x = x + _apply_population_connection(
                    self.conn, spikes[-1], self.act_dim, self.dec_pop_dim
                )
            self.neuronal_charge(x)
            spike = self.neuronal_fire()
            self.neuronal_reset(spike)
            spikes.append(spike)
        return torch.stack(spikes)

    def loop_multi_step(self, x_seq, v, need_v_seq):  # type: ignore[override]
        # BaseNode's loop would leave out the intra-population connection.
        raise NotImplementedError(f"{type(self).__name__}: call forward / multi_step_forward")

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, act_dim={self.act_dim}, dec_pop_dim={self.dec_pop_dim}"


class ILCIFNode(ILCBaseNode):
    """ILC layer of IF neurons: ``H[t] = V[t-1] + X'[t]``."""

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return if_charge(x, v)


class ILCLIFNode(ILCBaseNode):
    """ILC layer of LIF neurons: ``H[t] = d_v V[t-1] + X'[t]``.

    Args:
        act_dim, dec_pop_dim: as :class:`ILCBaseNode`.
        v_decay: decay factor ``d_v`` of the membrane potential, in [0, 1].
        Other args as :class:`ILCBaseNode`.
    """

    def __init__(
        self,
        act_dim: int,
        dec_pop_dim: int,
        v_decay: float = 0.75,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
    ) -> None:
        super().__init__(act_dim, dec_pop_dim, v_threshold, v_reset, surrogate_function)
        if isinstance(v_decay, bool) or not isinstance(v_decay, (int, float)):
            raise ValueError(f"ILCLIFNode: v_decay must be a number in [0, 1], got {v_decay!r}")
        if not 0.0 <= v_decay <= 1.0:
            raise ValueError(f"ILCLIFNode: v_decay must be a number in [0, 1], got {v_decay!r}")
        self.v_decay = float(v_decay)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return lif_charge(x, v, 1.0 - self.v_decay, False, None)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, v_decay={self.v_decay}"


class ILCCUBALIFNode(_CUBACharge, ILCBaseNode):
    """ILC layer of current-based LIF neurons (see :mod:`snn_neurons.cuba`):
    ``C[t] = d_c C[t-1] + X'[t]``, ``H[t] = d_v V[t-1] + C[t]``.

    Args:
        act_dim, dec_pop_dim: as :class:`ILCBaseNode`.
        c_decay: decay factor of the synaptic current, in [0, 1].
        v_decay: decay factor of the membrane potential, in [0, 1].
        Other args as :class:`ILCBaseNode` (default threshold 0.5).
    """

    def __init__(
        self,
        act_dim: int,
        dec_pop_dim: int,
        c_decay: float = 0.5,
        v_decay: float = 0.75,
        v_threshold: float = 0.5,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
    ) -> None:
        super().__init__(act_dim, dec_pop_dim, v_threshold, v_reset, surrogate_function)
        self._init_cuba(c_decay, v_decay)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, c_decay={self.c_decay}, v_decay={self.v_decay}"
