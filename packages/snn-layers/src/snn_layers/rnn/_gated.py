"""What the two-surrogate cells and networks (GRU, LSTM) share: their constructors."""

from __future__ import annotations

from collections.abc import Callable

import torch

from snn_layers.rnn._cell_base import SpikingRNNCellBase
from snn_layers.rnn._checks import check_surrogate_pair
from snn_layers.rnn._defaults import DEFAULT_ERF, fresh
from snn_layers.rnn._stack import SpikingRNNBase

__all__: list[str] = []

Surrogate = Callable[[torch.Tensor], torch.Tensor]


class _GatedCell(SpikingRNNCellBase):
    """A cell whose ``linear_ih`` / ``linear_hh`` hold ``_gates`` blocks, spiking through
    ``surrogate_function1`` and, for one block, ``surrogate_function2`` (``None``: the first)."""

    _gates: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        surrogate_function1: Surrogate = DEFAULT_ERF,
        surrogate_function2: Surrogate | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        check_surrogate_pair(type(self).__name__, surrogate_function1, surrogate_function2)
        self._make_linears(self._gates)
        self.surrogate_function1 = fresh(surrogate_function1)
        self.surrogate_function2 = surrogate_function2
        self.reset_parameters()


class _GatedRNN(SpikingRNNBase):
    """A stack of :class:`_GatedCell` s sharing ``surrogate_function1`` and
    ``surrogate_function2``."""

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
        check_surrogate_pair(type(self).__name__, surrogate_function1, surrogate_function2)
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
