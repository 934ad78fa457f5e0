"""The base class of the multi-layer, optionally bidirectional spiking RNNs."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from snn_layers.rnn._checks import check_dropout_p, check_flag, check_sequence, check_size
from snn_layers.rnn._time_loop import bidirectional_rnn_cell_forward, directional_rnn_cell_forward

__all__ = ["SpikingRNNBase"]

States = torch.Tensor | tuple[torch.Tensor, ...]


class SpikingRNNBase(nn.Module):
    r"""Base class of a stacked spiking RNN, optionally bidirectional.

    Layer ``l`` reads the output sequence of layer ``l - 1`` (layer 0 reads ``x``). A
    bidirectional layer runs a forward cell over :math:`t = 0, \dots, T-1` and a reverse
    cell over :math:`t = T-1, \dots, 0` and concatenates their outputs, so the next layer
    reads ``2 * hidden_size`` features. In training, a dropout of probability ``dropout_p``
    acts on the output of every layer but the last.

    A subclass gives :meth:`base_cell` (the cell class, built as
    ``cell(input_size, hidden_size, bias, *args, **kwargs)``) and :meth:`states_num`.

    Args:
        input_size: number of features of the input ``x``.
        hidden_size: number of features of the hidden state ``h``.
        num_layers: number of stacked recurrent layers.
        bias: if ``False`` the cells have no biases.
        dropout_p: drop probability between layers, in ``[0, 1]``; ``0`` disables it.
        invariant_dropout_mask: if ``True`` one dropout mask per layer is drawn per forward
            and used at every time step (as :class:`snn_layers.Dropout`); if ``False`` each
            element of the sequence is dropped independently.
        bidirectional: if ``True`` each layer has a reverse cell too.
        args: further positional arguments of the cell.
        kwargs: further keyword arguments of the cell.

    The cells are ``self.cells`` (``nn.Sequential``, one per layer) and, if bidirectional,
    ``self.cells_reverse``. States are indexed ``[layer]`` for the forward cells and
    ``[num_layers + layer]`` for the reverse ones.
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
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = check_size(owner, "input_size", input_size)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size)
        self.num_layers = check_size(owner, "num_layers", num_layers)
        self.bias = check_flag(owner, "bias", bias)
        self.dropout_p = check_dropout_p(owner, dropout_p)
        self.invariant_dropout_mask = check_flag(
            owner, "invariant_dropout_mask", invariant_dropout_mask
        )
        self.bidirectional = check_flag(owner, "bidirectional", bidirectional)
        if self.bidirectional:
            self.cells, self.cells_reverse = self.create_cells(*args, **kwargs)
        else:
            self.cells = self.create_cells(*args, **kwargs)

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"num_layers={self.num_layers}, bias={self.bias}, dropout_p={self.dropout_p}, "
            f"invariant_dropout_mask={self.invariant_dropout_mask}, "
            f"bidirectional={self.bidirectional}"
        )

    def create_cells(self, *args: Any, **kwargs: Any) -> nn.Sequential | tuple[nn.Sequential, ...]:
        """One cell per layer (``nn.Sequential``); a pair of them if bidirectional."""
        cell_type = self.base_cell()
        directions = 2 if self.bidirectional else 1
        sizes = [self.input_size] + [self.hidden_size * directions] * (self.num_layers - 1)

        def stack() -> nn.Sequential:
            return nn.Sequential(
                *(cell_type(n, self.hidden_size, self.bias, *args, **kwargs) for n in sizes)
            )

        if not self.bidirectional:
            return stack()
        return stack(), stack()

    @staticmethod
    def base_cell() -> type[nn.Module]:
        """The cell class of each layer (set by the subclass)."""
        raise NotImplementedError

    @staticmethod
    def states_num() -> int:
        """Number of state tensors of a cell: 2 for the LSTM (``h``, ``c``), else 1."""
        raise NotImplementedError

    def _states_tensor(self, x: torch.Tensor, states: Any) -> torch.Tensor:
        """``states`` as one tensor ``[states_num, num_layers * directions, N, hidden]``."""
        owner = type(self).__name__
        count = self.states_num()
        layers = self.num_layers * (2 if self.bidirectional else 1)
        batch_size = x.shape[1]
        if states is None:
            return x.new_zeros(count, layers, batch_size, self.hidden_size)
        if isinstance(states, (tuple, list)):
            if not all(isinstance(s, torch.Tensor) for s in states):
                raise TypeError(f"{owner}: states must be a tuple of tensors, got {states!r}")
            if len({tuple(s.shape) for s in states}) > 1:
                raise ValueError(
                    f"{owner}: the tensors of states must have one shape, got "
                    f"{[tuple(s.shape) for s in states]}"
                )
            tensor = torch.stack(tuple(states))
        elif isinstance(states, torch.Tensor) and states.dim() == 3:
            tensor = states.unsqueeze(0)
        else:
            got = tuple(states.shape) if isinstance(states, torch.Tensor) else type(states)
            raise TypeError(
                f"{owner}: states must be None, a 3-D tensor [num_layers * directions, "
                f"batch_size, hidden_size] or a tuple of {count} such tensors, got {got}"
            )
        expected = (count, layers, batch_size, self.hidden_size)
        if tuple(tensor.shape) != expected:
            form = "a tuple of {count} tensors" if count > 1 else "a tensor"
            raise ValueError(
                f"{owner}: states must be {form.format(count=count)} of shape "
                f"[num_layers * directions={layers}, batch_size={batch_size}, "
                f"hidden_size={self.hidden_size}]; stacked: expected {expected}, "
                f"got {tuple(tensor.shape)}"
            )
        return tensor

    def forward(self, x: torch.Tensor, states: States | None = None) -> tuple[torch.Tensor, States]:
        """Run all layers over the sequence ``x``.

        Args:
            x: ``[T, batch_size, input_size]``.
            states: initial states, ``None`` for zeros. With one state per cell (GRU,
                vanilla RNN): a tensor ``[num_layers * directions, batch_size,
                hidden_size]``; with several (LSTM): a tuple ``(h_0, c_0)`` of such tensors.

        Returns:
            ``(output, final_states)``: ``output`` is ``[T, batch_size, hidden_size *
            directions]``, the last layer's outputs; ``final_states`` has the form and
            shapes of ``states``.
        """
        owner = type(self).__name__
        check_sequence(owner, x)
        if x.shape[2] != self.input_size:
            raise ValueError(
                f"{owner}: x must have shape [T, batch_size, input_size={self.input_size}], "
                f"got {tuple(x.shape)}"
            )
        initial = self._states_tensor(x, states)
        count = self.states_num()
        directions = 2 if self.bidirectional else 1
        dropping = self.training and self.dropout_p > 0
        masks = None
        if dropping and self.invariant_dropout_mask and self.num_layers > 1:
            # one mask per layer boundary, shared by all time steps
            ones = x.new_ones(self.num_layers - 1, x.shape[1], self.hidden_size * directions)
            masks = F.dropout(ones, p=self.dropout_p, training=True)

        def cell_states(index: int) -> torch.Tensor:
            return initial[0, index] if count == 1 else initial[:, index]

        def as_tensor(final: States) -> torch.Tensor:
            # [count, N, hidden], whatever the cell returned
            if isinstance(final, (tuple, list)):
                return torch.stack(tuple(final))
            return final.unsqueeze(0) if count == 1 else final

        finals: list[torch.Tensor | None] = [None] * (self.num_layers * directions)
        y = x
        for layer in range(self.num_layers):
            if self.bidirectional:
                back = layer + self.num_layers
                y, final, final_reverse = bidirectional_rnn_cell_forward(
                    self.cells[layer],
                    self.cells_reverse[layer],
                    y,
                    cell_states(layer),
                    cell_states(back),
                )
                finals[back] = as_tensor(final_reverse)
            else:
                y, final = directional_rnn_cell_forward(self.cells[layer], y, cell_states(layer))
            finals[layer] = as_tensor(final)
            if dropping and layer < self.num_layers - 1:
                if masks is None:
                    y = F.dropout(y, p=self.dropout_p, training=True)
                else:
                    y = y * masks[layer]
        out_states = torch.stack(finals, dim=1)  # [count, layers * directions, N, hidden]
        if count == 1:
            return y, out_states[0]
        return y, tuple(out_states)
