"""The spiking cells and stacks against a float64 hand-written loop of their equations.

Written from the equations of the docstrings, independently of the implementation: the
spike is ``x >= 0`` forward and the Erf surrogate's derivative
``alpha / sqrt(pi) * exp(-(alpha x)^2)`` (alpha = 2) backward; the LSTM's cell state is
clamped to 1 with the gradient passed unchanged; bidirectional layers run a second set of
cells over the reversed sequence and concatenate the outputs in time order.
"""

from __future__ import annotations

import math

import pytest
import torch
from snn_core import surrogate
from snn_layers import rnn

T, N, INPUT, HIDDEN = 5, 3, 4, 3
ALPHA = 2.0


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ALPHA / math.sqrt(math.pi) * torch.exp(-((ALPHA * x) ** 2))


spike = _Spike.apply


def _affine(cell, x, h):
    y_ih = x @ cell.linear_ih.weight.T + cell.linear_ih.bias
    y_hh = h @ cell.linear_hh.weight.T + cell.linear_hh.bias
    return y_ih, y_hh


def vanilla_step(cell, x, h):
    y_ih, y_hh = _affine(cell, x, h)
    return spike(y_ih + y_hh)


def gru_step(cell, x, h):
    y_ih, y_hh = _affine(cell, x, h)
    H = cell.hidden_size
    r = spike(y_ih[:, :H] + y_hh[:, :H])
    z = spike(y_ih[:, H : 2 * H] + y_hh[:, H : 2 * H])
    n = spike(y_ih[:, 2 * H :] + r * y_hh[:, 2 * H :])
    return (1 - z) * n + z * h


def lstm_step(cell, x, hc):
    h, c = hc
    y_ih, y_hh = _affine(cell, x, h)
    a = y_ih + y_hh
    H = cell.hidden_size
    i, f, g, o = (spike(a[:, k * H : (k + 1) * H]) for k in range(4))
    c_new = f * c + i * g
    c_new = c_new - (c_new - c_new.clamp(max=1.0)).detach()  # min(c, 1), identity gradient
    return o * c_new, c_new


STEPS = {
    rnn.SpikingVanillaRNN: vanilla_step,
    rnn.SpikingGRU: gru_step,
    rnn.SpikingLSTM: lstm_step,
}


def hand_stack(model, x, states):
    """``states``: a list over ``num_layers * directions`` of a cell's state(s)."""
    step = STEPS[type(model)]
    L = model.num_layers
    finals = list(states)
    y = x
    for layer in range(L):
        outs, s = [], states[layer]
        for t in range(x.shape[0]):
            s = step(model.cells[layer], y[t], s)
            outs.append(s[0] if isinstance(s, tuple) else s)
        finals[layer] = s
        seq = torch.stack(outs)
        if model.bidirectional:
            outs, s = [], states[L + layer]
            for t in reversed(range(x.shape[0])):
                s = step(model.cells_reverse[layer], y[t], s)
                outs.insert(0, s[0] if isinstance(s, tuple) else s)
            finals[L + layer] = s
            seq = torch.cat([seq, torch.stack(outs)], dim=-1)
        y = seq
    return y, finals


def _model(cls, bidirectional, num_layers=2):
    torch.manual_seed(3)
    model = cls(INPUT, HIDDEN, num_layers, bidirectional=bidirectional).double()
    with torch.no_grad():  # weights large enough that spikes and surrogate gradients mix
        for name, p in model.named_parameters():
            p.mul_(2.5).add_(0.6 if name.endswith("bias") else 0.0)
    return model


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cls", list(STEPS))
def test_stack_matches_hand_written_equations(cls, bidirectional):
    model = _model(cls, bidirectional)
    D = 2 if bidirectional else 1
    S = model.states_num()
    torch.manual_seed(4)
    x = torch.randn(T, N, INPUT, dtype=torch.float64, requires_grad=True)
    s0 = (torch.rand(S, 2 * D, N, HIDDEN, dtype=torch.float64) > 0.5).double()
    s0.requires_grad_()
    w_y = torch.randn(T, N, HIDDEN * D, dtype=torch.float64)
    w_s = torch.randn(S, 2 * D, N, HIDDEN, dtype=torch.float64)

    states = s0[0] if S == 1 else tuple(s0)
    y, s = model(x, states)
    s = s.unsqueeze(0) if S == 1 else torch.stack(s)
    grads = torch.autograd.grad((y * w_y).sum() + (s * w_s).sum(), [x, s0, *model.parameters()])

    hand_states = [s0[0, k] if S == 1 else (s0[0, k], s0[1, k]) for k in range(2 * D)]
    y_ref, finals = hand_stack(model, x, hand_states)
    s_ref = torch.stack(
        [torch.stack(f) if isinstance(f, tuple) else f.unsqueeze(0) for f in finals], dim=1
    )
    grads_ref = torch.autograd.grad(
        (y_ref * w_y).sum() + (s_ref * w_s).sum(), [x, s0, *model.parameters()]
    )

    assert 0 < y.mean() < 1  # the case spikes, but not everywhere
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(s, s_ref, rtol=0, atol=1e-12)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12)
    assert grads[0].abs().sum() > 0


def test_lstm_cell_state_is_clamped_to_one_with_identity_gradient():
    cell = rnn.SpikingLSTMCell(1, 1).double()
    with torch.no_grad():  # all gates fire: c = 1 * c + 1 * 1 = 2 -> clamped to 1
        cell.linear_ih.weight.fill_(0.0)
        cell.linear_hh.weight.fill_(0.0)
        cell.linear_ih.bias.fill_(0.25)
        cell.linear_hh.bias.fill_(0.0)
    x = torch.zeros(1, 1, dtype=torch.float64)
    c0 = torch.ones(1, 1, dtype=torch.float64, requires_grad=True)
    h, c = cell(x, (torch.zeros_like(c0), c0))
    assert c.item() == 1.0 and h.item() == 1.0
    (grad,) = torch.autograd.grad(c.sum(), c0)
    assert grad.item() == 1.0  # dc/dc0 = f = 1, through the clamp unchanged


def test_cells_match_hand_written_steps_with_default_zero_state():
    torch.manual_seed(5)
    x = torch.randn(N, INPUT, dtype=torch.float64)
    for cell_cls, step in (
        (rnn.SpikingVanillaRNNCell, vanilla_step),
        (rnn.SpikingGRUCell, gru_step),
        (rnn.SpikingLSTMCell, lstm_step),
    ):
        cell = cell_cls(INPUT, HIDDEN).double()
        zero = torch.zeros(N, HIDDEN, dtype=torch.float64)
        state = (zero, zero) if cell_cls is rnn.SpikingLSTMCell else zero
        ours, ref = cell(x), step(cell, x, state)
        if isinstance(ref, tuple):
            for a, b in zip(ours, ref):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
        else:
            torch.testing.assert_close(ours, ref, rtol=0, atol=0)


def test_surrogate_function2_is_used_for_the_candidate_only():
    # with surrogate_function2 a steeper Erf, only the g / n pre-activations' gradient changes
    torch.manual_seed(6)
    x = torch.randn(N, INPUT, requires_grad=True)
    for cls in (rnn.SpikingGRUCell, rnn.SpikingLSTMCell):
        torch.manual_seed(7)
        a = cls(INPUT, HIDDEN)
        torch.manual_seed(7)
        b = cls(INPUT, HIDDEN, surrogate_function2=surrogate.Erf(alpha=2.0))
        torch.manual_seed(7)
        c = cls(INPUT, HIDDEN, surrogate_function2=surrogate.Erf(alpha=8.0))
        outs = []
        for m in (a, b, c):
            y = m(x)
            y = y[0] if isinstance(y, tuple) else y
            outs.append((y, torch.autograd.grad(y.sum(), x)[0]))
        torch.testing.assert_close(outs[0][0], outs[2][0])  # forward: spikes either way
        torch.testing.assert_close(outs[0][1], outs[1][1])  # same surrogate: same gradient
        assert not torch.allclose(outs[0][1], outs[2][1])
