"""Spiking GRU: the GRU's gates and candidate state as spikes."""

from __future__ import annotations

import torch
from torch import nn

from snn_layers.rnn._checks import check_same_spiking
from snn_layers.rnn._gated import _GatedCell, _GatedRNN

__all__ = ["SpikingGRUCell", "SpikingGRU"]


class SpikingGRUCell(_GatedCell):
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

    _gates = 3

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One step: ``x`` ``[N, input_size]``, ``h`` ``[N, hidden_size]`` (``None``: zeros);
        returns the next ``h``."""
        h = self._check_step(x, h)
        sg1, sg2 = self.surrogate_function1, self.surrogate_function2
        check_same_spiking(type(self).__name__, sg1, sg2)
        y_ih = torch.split(self.linear_ih(x), self.hidden_size, dim=1)
        y_hh = torch.split(self.linear_hh(h), self.hidden_size, dim=1)
        r = sg1(y_ih[0] + y_hh[0])
        z = sg1(y_ih[1] + y_hh[1])
        n = (sg1 if sg2 is None else sg2)(y_ih[2] + r * y_hh[2])
        return (1.0 - z) * n + z * h


class SpikingGRU(_GatedRNN):
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

    @staticmethod
    def base_cell() -> type[nn.Module]:
        return SpikingGRUCell

    @staticmethod
    def states_num() -> int:
        return 1
