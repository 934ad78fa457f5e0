"""Spiking GRU: the GRU's gates and candidate state as spikes."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from snn_layers.rnn._cell_base import SpikingRNNCellBase
from snn_layers.rnn._checks import (
    check_same_spiking,
    check_step_input,
    check_step_state,
    check_surrogate,
)
from snn_layers.rnn._defaults import DEFAULT_ERF, fresh
from snn_layers.rnn._stack import SpikingRNNBase

__all__ = ["SpikingGRUCell", "SpikingGRU"]

Surrogate = Callable[[torch.Tensor], torch.Tensor]


class SpikingGRUCell(SpikingRNNCellBase):
    r"""Single-step spiking GRU cell.

    .. math::
        r_t &= \Theta(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \Theta(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \Theta(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    the GRU of Cho et al. (2014) with :math:`\Theta` (Heaviside forward, a surrogate
    derivative backward) in place of the sigmoid and tanh: ``surrogate_function1`` for
    :math:`r, z`, ``surrogate_function2`` for :math:`n` (``None``: ``surrogate_function1``).
    ``linear_ih`` / ``linear_hh`` hold ``r, z, n`` in this order.

    Args:
        input_size: number of features of ``x``.
        hidden_size: number of features of ``h``.
        bias: if ``False`` the linear layers have no biases.
        surrogate_function1: spike function of the gates (default ``surrogate.Erf()``,
            a new instance for each cell).
        surrogate_function2: spike function of :math:`n`, or ``None``; must have the same
            ``spiking`` mode as ``surrogate_function1``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        surrogate_function1: Surrogate = DEFAULT_ERF,
        surrogate_function2: Surrogate | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        owner = type(self).__name__
        check_surrogate(owner, "surrogate_function1", surrogate_function1)
        check_surrogate(owner, "surrogate_function2", surrogate_function2, optional=True)
        check_same_spiking(owner, surrogate_function1, surrogate_function2)
        self.linear_ih = nn.Linear(input_size, 3 * hidden_size, bias=bias)
        self.linear_hh = nn.Linear(hidden_size, 3 * hidden_size, bias=bias)
        self.surrogate_function1 = fresh(surrogate_function1)
        self.surrogate_function2 = surrogate_function2
        self.reset_parameters()

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One step: ``x`` ``[N, input_size]``, ``h`` ``[N, hidden_size]`` (``None``: zeros);
        returns the next ``h``."""
        owner = type(self).__name__
        check_step_input(owner, x, self.input_size)
        if h is None:
            h = self._zero_state(x)
        check_step_state(owner, "h", h, x.shape[0], self.hidden_size)
        sg1, sg2 = self.surrogate_function1, self.surrogate_function2
        check_same_spiking(owner, sg1, sg2)
        y_ih = torch.split(self.linear_ih(x), self.hidden_size, dim=1)
        y_hh = torch.split(self.linear_hh(h), self.hidden_size, dim=1)
        r = sg1(y_ih[0] + y_hh[0])
        z = sg1(y_ih[1] + y_hh[1])
        n = (sg1 if sg2 is None else sg2)(y_ih[2] + r * y_hh[2])
        return (1.0 - z) * n + z * h


class SpikingGRU(SpikingRNNBase):
    r"""Stacked spiking GRU, optionally bidirectional; cells :class:`SpikingGRUCell`,
    one state ``h`` per layer.

    Args:
        input_size: number of features of ``x``.
        hidden_size: number of features of ``h``.
        num_layers: number of stacked layers.
        bias: if ``False`` the cells have no biases.
        dropout_p: drop probability between layers (training only).
        invariant_dropout_mask: one dropout mask for all time steps.
        bidirectional: add a reverse cell to every layer.
        surrogate_function1: spike function of the gates, shared by all cells; the default
            ``surrogate.Erf()`` is a new instance for each model.
        surrogate_function2: spike function of :math:`n`, or ``None``.
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
        surrogate_function1: Surrogate = DEFAULT_ERF,
        surrogate_function2: Surrogate | None = None,
    ) -> None:
        owner = type(self).__name__
        check_surrogate(owner, "surrogate_function1", surrogate_function1)
        check_surrogate(owner, "surrogate_function2", surrogate_function2, optional=True)
        check_same_spiking(owner, surrogate_function1, surrogate_function2)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            dropout_p,
            invariant_dropout_mask,
            bidirectional,
            fresh(surrogate_function1),
            surrogate_function2,
        )

    @staticmethod
    def base_cell() -> type[nn.Module]:
        return SpikingGRUCell

    @staticmethod
    def states_num() -> int:
        return 1
