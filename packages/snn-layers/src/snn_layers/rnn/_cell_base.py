"""The base class of the single-step spiking recurrent cells."""

from __future__ import annotations

import math

import torch
from torch import nn

from snn_layers.rnn._checks import check_flag, check_size, check_step_input, check_step_state

__all__ = ["SpikingRNNCellBase"]


class SpikingRNNCellBase(nn.Module):
    r"""Base class of a single-step spiking RNN cell.

    A subclass creates ``linear_ih`` (input to hidden) and ``linear_hh`` (hidden to hidden)
    and calls :meth:`reset_parameters`, which draws every weight and bias from
    :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with :math:`k = 1 / \text{hidden\_size}`.

    Args:
        input_size: number of features of the input ``x``.
        hidden_size: number of features of the hidden state ``h``.
        bias: if ``False`` the layers have no biases ``b_ih`` and ``b_hh``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = check_size(owner, "input_size", input_size)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size)
        self.bias = check_flag(owner, "bias", bias)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, bias={self.bias}"

    def reset_parameters(self) -> None:
        r"""Draw all parameters from :math:`\mathcal{U}(-1/\sqrt{\text{hidden\_size}},
        1/\sqrt{\text{hidden\_size}})`."""
        bound = math.sqrt(1 / self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def weight_ih(self) -> torch.Tensor:
        """The input-to-hidden weight."""
        return self.linear_ih.weight

    def weight_hh(self) -> torch.Tensor:
        """The hidden-to-hidden weight."""
        return self.linear_hh.weight

    def bias_ih(self) -> torch.Tensor | None:
        """The input-to-hidden bias (``None`` without bias)."""
        return self.linear_ih.bias

    def bias_hh(self) -> torch.Tensor | None:
        """The hidden-to-hidden bias (``None`` without bias)."""
        return self.linear_hh.bias

    def _zero_state(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)

    def _make_linears(self, gates: int) -> None:
        """``linear_ih`` / ``linear_hh`` with ``gates`` blocks of ``hidden_size`` outputs."""
        self.linear_ih = nn.Linear(self.input_size, gates * self.hidden_size, bias=self.bias)
        self.linear_hh = nn.Linear(self.hidden_size, gates * self.hidden_size, bias=self.bias)

    def _check_step(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        """Check one step's input ``x`` and state ``h``; ``h``, zeros if ``None``."""
        owner = type(self).__name__
        check_step_input(owner, x, self.input_size)
        if h is None:
            h = self._zero_state(x)
        check_step_state(owner, "h", h, x.shape[0], self.hidden_size)
        return h
