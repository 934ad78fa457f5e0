"""Running a recurrent cell over time, in one or both directions."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["directional_rnn_cell_forward", "bidirectional_rnn_cell_forward"]

_State = torch.Tensor | tuple[torch.Tensor, ...]


def _check_sequence(owner: str, x: object) -> None:
    # time first; the step shape is the cell's business ([N, input_size] for ours)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner}: x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(
            f"{owner}: x must have shape [T, batch_size, input_size] (time first, T >= 1), "
            f"got {tuple(x.shape)}"
        )


def _check_states(name: str, states: object) -> int:
    if not isinstance(states, torch.Tensor) or states.dim() not in (2, 3):
        got = tuple(states.shape) if isinstance(states, torch.Tensor) else type(states).__name__
        raise ValueError(
            f"{name} must be a tensor [batch_size, hidden_size] (one state) or "
            f"[states_num, batch_size, hidden_size], got {got}"
        )
    return states.dim()


def directional_rnn_cell_forward(
    cell: nn.Module, x: torch.Tensor, states: torch.Tensor
) -> tuple[torch.Tensor, _State]:
    r"""Run ``cell`` over the time axis of ``x``: :math:`s_t = \mathrm{cell}(x_t, s_{t-1})`.

    Args:
        cell: a recurrent cell called as ``cell(x[t], s)``, returning the next state(s).
        x: ``[T, batch_size, input_size]``.
        states: initial state, ``[batch_size, hidden_size]`` for a cell with one state, or
            ``[states_num, batch_size, hidden_size]``; then the first state is the output.

    Returns:
        ``(output, final_states)``: ``output`` is ``[T, batch_size, hidden_size]`` (the
        output of every step), ``final_states`` the cell's last state(s).
    """
    _check_sequence("directional_rnn_cell_forward", x)
    single_state = _check_states("directional_rnn_cell_forward: states", states) == 2
    ss: _State = states
    output = []
    for t in range(x.shape[0]):
        ss = cell(x[t], ss)
        output.append(ss if single_state else ss[0])
    return torch.stack(output), ss


def bidirectional_rnn_cell_forward(
    cell: nn.Module,
    cell_reverse: nn.Module,
    x: torch.Tensor,
    states: torch.Tensor,
    states_reverse: torch.Tensor,
) -> tuple[torch.Tensor, _State, _State]:
    r"""Run ``cell`` forward and ``cell_reverse`` backward in time over ``x``.

    At step ``t`` the forward cell reads ``x[t]`` and the reverse cell ``x[T - 1 - t]``;
    the reverse outputs are put back in time order and concatenated to the forward ones:
    :math:`y_t = [\overrightarrow{h}_t, \overleftarrow{h}_t]`.

    Args:
        cell: the forward cell.
        cell_reverse: the reverse cell.
        x: ``[T, batch_size, input_size]``.
        states: initial state(s) of ``cell``, as in :func:`directional_rnn_cell_forward`.
        states_reverse: initial state(s) of ``cell_reverse``, of the same rank as ``states``.

    Returns:
        ``(output, final_states, final_states_reverse)``; ``output`` is
        ``[T, batch_size, 2 * hidden_size]``.
    """
    owner = "bidirectional_rnn_cell_forward"
    _check_sequence(owner, x)
    rank = _check_states(f"{owner}: states", states)
    if _check_states(f"{owner}: states_reverse", states_reverse) != rank:
        raise ValueError(
            f"{owner}: states and states_reverse must have the same rank, got "
            f"{tuple(states.shape)} and {tuple(states_reverse.shape)}"
        )
    single_state = rank == 2
    T = x.shape[0]
    ss: _State = states
    ss_r: _State = states_reverse
    output, output_r = [], []
    for t in range(T):
        ss = cell(x[t], ss)
        ss_r = cell_reverse(x[T - t - 1], ss_r)
        output.append(ss if single_state else ss[0])
        output_r.append(ss_r if single_state else ss_r[0])
    y = torch.cat((torch.stack(output), torch.stack(output_r).flip(0)), dim=-1)
    return y, ss, ss_r
