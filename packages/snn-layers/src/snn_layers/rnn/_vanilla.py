"""Spiking vanilla RNN: one spiking layer fed back to itself."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from snn_layers.rnn._cell_base import SpikingRNNCellBase
from snn_layers.rnn._checks import check_surrogate
from snn_layers.rnn._defaults import DEFAULT_ERF, fresh
from snn_layers.rnn._stack import SpikingRNNBase

__all__ = ["SpikingVanillaRNNCell", "SpikingVanillaRNN"]

Surrogate = Callable[[torch.Tensor], torch.Tensor]


class SpikingVanillaRNNCell(SpikingRNNCellBase):
    r"""Single-step spiking vanilla RNN cell.

    .. math::
        h_t = \Theta(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

    :math:`\Theta` is the Heaviside step forward and ``surrogate_function``'s derivative
    backward.

    Args:
        input_size: number of features of ``x``.
        hidden_size: number of features of ``h``.
        bias: if ``False`` the linear layers have no biases.
        surrogate_function: the spike function; the default ``surrogate.Erf()`` is a new
            instance for each cell.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        surrogate_function: Surrogate = DEFAULT_ERF,
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        check_surrogate(type(self).__name__, "surrogate_function", surrogate_function)
        self._make_linears(1)
        self.surrogate_function = fresh(surrogate_function)
        self.reset_parameters()

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One step: ``x`` ``[N, input_size]``, ``h`` ``[N, hidden_size]`` (``None``: zeros);
        returns the next ``h``."""
        h = self._check_step(x, h)
        return self.surrogate_function(self.linear_ih(x) + self.linear_hh(h))


class SpikingVanillaRNN(SpikingRNNBase):
    r"""Stacked spiking vanilla RNN, optionally bidirectional; cells
    :class:`SpikingVanillaRNNCell`, one state ``h`` per layer.

    Args:
        input_size: number of features of ``x``.
        hidden_size: number of features of ``h``.
        num_layers: number of stacked layers.
        bias: if ``False`` the cells have no biases.
        dropout_p: drop probability between layers (training only).
        invariant_dropout_mask: one dropout mask for all time steps.
        bidirectional: add a reverse cell to every layer.
        surrogate_function: the spike function, shared by all cells; the default
            ``surrogate.Erf()`` is a new instance for each model.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool = True,
        dropout_p: float = 0,
        invariant_dropout_mask: bool = False,
        bidirectional: bool = False,
        surrogate_function: Surrogate = DEFAULT_ERF,
    ) -> None:
        check_surrogate(type(self).__name__, "surrogate_function", surrogate_function)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            dropout_p,
            invariant_dropout_mask,
            bidirectional,
            fresh(surrogate_function),
        )

    @staticmethod
    def base_cell() -> type[nn.Module]:
        return SpikingVanillaRNNCell

    @staticmethod
    def states_num() -> int:
        return 1
