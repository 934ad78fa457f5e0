"""delay_step, synapse_filter_step and neunorm_step against closed forms and hand-computed cases."""

import pytest
import torch
from snn_core import functional


@pytest.mark.parametrize("d", [0, 1, 3])
def test_delay_step_loop_shifts_the_sequence_by_d(d):
    x_seq = torch.arange(1.0, 7.0).view(6, 1)
    queue = ()
    ys = []
    for x in x_seq:
        y, queue = functional.delay_step(x, queue, d)
        ys.append(y)
    expected = torch.cat([torch.zeros(d, 1), x_seq[: 6 - d]])
    assert torch.equal(torch.stack(ys), expected)
    assert len(queue) == d


def test_delay_step_outputs_alias_and_never_mutate_queue():
    x = torch.ones(2)
    queue = (torch.zeros(2), torch.full((2,), 5.0))
    y, queue_next = functional.delay_step(x, queue, 2)
    assert y is queue[0] and queue_next == (queue[1], x)
    assert len(queue) == 2
    y0, q0 = functional.delay_step(x, (), 0)
    assert y0 is x and q0 == ()


def test_delay_step_gradient_reaches_the_delayed_input():
    x_seq = torch.randn(4, 3, requires_grad=True)
    queue, ys = (), []
    for x in x_seq:
        y, queue = functional.delay_step(x, queue, 1)
        ys.append(y)
    torch.stack(ys).sum().backward()
    assert torch.equal(x_seq.grad, torch.tensor([[1.0] * 3] * 3 + [[0.0] * 3]))


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_delay_step_rejects_bad_delay(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        functional.delay_step(torch.zeros(1), (), bad)


def test_synapse_filter_step_hand_computed():
    # tau = 4: I = I - (1 - S) I / 4 + S
    i = torch.tensor([0.0, 2.0, 2.0])
    s = torch.tensor([1.0, 0.0, 1.0])
    out = functional.synapse_filter_step(s, i, 0.25)
    assert torch.allclose(out, torch.tensor([1.0, 1.5, 3.0]))
    assert torch.equal(i, torch.tensor([0.0, 2.0, 2.0]))  # not mutated


def test_synapse_filter_step_decays_exponentially_without_input():
    i = torch.tensor([1.0])
    for _ in range(5):
        i = functional.synapse_filter_step(torch.zeros(1), i, 0.5)
    assert torch.allclose(i, torch.tensor([0.5**5]))


def test_synapse_filter_step_gradient_through_learnable_tau():
    w = torch.tensor(0.3, requires_grad=True)
    i = torch.tensor([2.0])
    out = functional.synapse_filter_step(torch.zeros(1), i, w.sigmoid())
    out.sum().backward()
    sig = torch.sigmoid(torch.tensor(0.3))
    # d/dw (2 - 2 sigma(w)) = -2 sigma (1 - sigma)
    assert torch.allclose(w.grad, -2 * sig * (1 - sig))


def test_neunorm_step_closed_form():
    s = torch.zeros(1, 2, 1, 2)
    s[0, :, 0, 0] = torch.tensor([1.0, 1.0])
    s[0, 0, 0, 1] = 1.0
    state = torch.tensor([[[[1.0, 0.0]]]])
    w = torch.full((2, 1, 2), 0.5)
    out, state_next = functional.neunorm_step(s, state, w, 0.9, 0.1)
    # X = 0.9 * [1, 0] + 0.1 * [2, 1] = [1.1, 0.1]
    assert torch.allclose(state_next, torch.tensor([[[[1.1, 0.1]]]]))
    assert torch.allclose(out, s - 0.5 * torch.tensor([1.1, 0.1]).view(1, 1, 1, 2))


def test_neunorm_step_rejects_input_without_channels():
    with pytest.raises(ValueError, match="channel"):
        functional.neunorm_step(torch.zeros(3), torch.zeros(3), torch.zeros(3), 0.5, 0.5)
