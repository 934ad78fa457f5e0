"""Spiking LSTM (Lotfi Rezaabad & Vishwanath, 2020)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snn_layers.rnn._checks import check_same_spiking, check_step_input, check_step_state
from snn_layers.rnn._gated import _GatedCell, _GatedRNN

__all__ = ["SpikingLSTMCell", "SpikingLSTM"]


class _ClampMaxOne(torch.autograd.Function):
    """``min(c, 1)`` forward, the gradient passed unchanged backward."""

    generate_vmap_rule = True

    @staticmethod
    def forward(c: torch.Tensor) -> torch.Tensor:
        return c.clamp_max(1.0)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
        return grad_output


class SpikingLSTMCell(_GatedCell):
    r"""Single-step spiking LSTM cell (Lotfi Rezaabad & Vishwanath, "Long Short-Term
    Memory Spiking Networks and Their Applications", ICONS 2020, arXiv:2007.04779).

    .. math::
        i_t &= \Theta(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t &= \Theta(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t &= \Theta(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t &= \Theta(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t &= \min(f_t \odot c_{t-1} + i_t \odot g_t,\ 1) \\
        h_t &= o_t \odot c_t

    :math:`\Theta` is the Heaviside step forward and a surrogate derivative backward:
    ``surrogate_function1`` for :math:`i, f, o` and ``surrogate_function2`` for :math:`g`
    (``None``: ``surrogate_function1`` for all four). The clamp keeps :math:`c_t` binary
    (spikes give :math:`c_t \in \{0, 1, 2\}` before it) and passes the gradient unchanged.
    ``linear_ih`` / ``linear_hh`` hold the gates in the order ``i, f, g, o``.

    Args:
        input_size: number of features of ``x``.
        hidden_size: number of features of ``h`` and ``c``.
        bias: if ``False`` the linear layers have no biases.
        surrogate_function1: spike function of the gates (default ``surrogate.Erf()``,
            a new instance for each cell).
        surrogate_function2: spike function of :math:`g`, or ``None``; must have the same
            ``spiking`` mode as ``surrogate_function1``.
    """

    _gates = 4

    def forward(
        self, x: torch.Tensor, hc: tuple[torch.Tensor, torch.Tensor] | torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step.

        Args:
            x: ``[N, input_size]``.
            hc: ``(h, c)``, each ``[N, hidden_size]`` (or one tensor ``[2, N,
                hidden_size]``); ``None``: zeros.

        Returns:
            the next ``(h, c)``.
        """
        owner = type(self).__name__
        check_step_input(owner, x, self.input_size)
        if hc is None:
            h = self._zero_state(x)
            c = torch.zeros_like(h)
        else:
            if not isinstance(hc, (torch.Tensor, tuple, list)):
                raise TypeError(
                    f"{owner}: hc must be None, a pair (h, c) or a tensor [2, batch_size, "
                    f"hidden_size], got {type(hc).__name__}"
                )
            if isinstance(hc, torch.Tensor) and hc.dim() != 3:
                raise ValueError(
                    f"{owner}: hc must be a pair (h, c) or a tensor [2, batch_size, "
                    f"hidden_size], got a tensor of shape {tuple(hc.shape)}"
                )
            if len(hc) != 2:
                raise ValueError(f"{owner}: hc must be a pair (h, c), got {len(hc)} states")
            h, c = hc[0], hc[1]
            check_step_state(owner, "h", h, x.shape[0], self.hidden_size)
            check_step_state(owner, "c", c, x.shape[0], self.hidden_size)
        sg1, sg2 = self.surrogate_function1, self.surrogate_function2
        check_same_spiking(owner, sg1, sg2)
        gates = self.linear_ih(x) + self.linear_hh(h)
        if sg2 is None:
            i, f, g, o = torch.split(sg1(gates), self.hidden_size, dim=1)
        else:
            i, f, g, o = torch.split(gates, self.hidden_size, dim=1)
            i, f, g, o = sg1(i), sg1(f), sg2(g), sg1(o)
        c = _ClampMaxOne.apply(c * f + i * g)
        return c * o, c


class SpikingLSTM(_GatedRNN):
    r"""Stacked spiking LSTM, optionally bidirectional; cells :class:`SpikingLSTMCell`.

    States are a pair ``(h, c)``, each ``[num_layers * directions, N, hidden_size]``.

    Args:
        input_size: number of features of ``x``.
        hidden_size: number of features of ``h`` and ``c``.
        num_layers: number of stacked layers.
        bias: if ``False`` the cells have no biases.
        dropout_p: drop probability between layers (training only).
        invariant_dropout_mask: one dropout mask for all time steps.
        bidirectional: add a reverse cell to every layer.
        surrogate_function1: spike function of the gates, shared by all cells; the default
            ``surrogate.Erf()`` is a new instance for each model.
        surrogate_function2: spike function of :math:`g`, or ``None``.
    """

    @staticmethod
    def base_cell() -> type[nn.Module]:
        return SpikingLSTMCell

    @staticmethod
    def states_num() -> int:
        return 2
