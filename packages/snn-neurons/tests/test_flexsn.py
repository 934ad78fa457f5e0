"""FlexSN as a stateful neuron module: step modes, states, validation (torch / hop backends).

The generated-kernel backends are tested in ``test_flexsn_kernels.py`` (``nox -s kernels``).
"""

from __future__ import annotations

import pytest
import torch
from snn_core.surrogate import Sigmoid
from snn_neurons import FlexSN


def lif_core(x, v):
    h = v + (x - v) / 2.0
    s = Sigmoid()(h - 1.0)
    return s, h * (1.0 - s)


def _reference(x_seq, v):
    spikes, vs = [], []
    for t in range(x_seq.shape[0]):
        h = v + (x_seq[t] - v) / 2.0
        s = (h >= 1.0).float()
        v = h * (1.0 - s)
        spikes.append(s)
        vs.append(v)
    return torch.stack(spikes), torch.stack(vs)


def test_multi_step_torch_backend_matches_hand_loop() -> None:
    m = FlexSN(lif_core, 1, 1, 1, backend="torch", store_state_seqs=True)
    x = torch.rand(5, 3, 4) * 2.5
    spikes = m(x)
    ref_s, ref_v = _reference(x, torch.zeros(3, 4))
    assert torch.equal(spikes, ref_s)
    torch.testing.assert_close(m.state_seqs[0], ref_v)
    torch.testing.assert_close(m.states[0], ref_v[-1])


def test_states_persist_until_reset() -> None:
    m = FlexSN(lif_core, 1, 1, 1, backend="torch")
    x = torch.rand(6, 7) * 2.5
    first, second = m(x[:3]), m(x[3:])
    ref_s, _ = _reference(x, torch.zeros(7))
    assert torch.equal(torch.cat([first, second]), ref_s)
    m.reset()
    assert m.states is None
    assert torch.equal(m(x[:3]), ref_s[:3])


def test_single_step_mode_equals_multi_step() -> None:
    single = FlexSN(lif_core, 1, 1, 1, step_mode="s", backend="torch")
    multi = FlexSN(lif_core, 1, 1, 1, backend="torch")
    x = torch.rand(4, 9) * 2.5
    outs = torch.stack([single(x[t]) for t in range(4)])
    assert torch.equal(outs, multi(x))
    torch.testing.assert_close(single.states[0], multi.states[0])


def test_hop_backend_equals_torch_with_gradients() -> None:
    x = (torch.rand(4, 11) * 2.5).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    hop = FlexSN(lif_core, 1, 1, 1, backend="hop", store_state_seqs=True)
    ref = FlexSN(lif_core, 1, 1, 1, backend="torch", store_state_seqs=True)
    out, out_ref = hop(x), ref(x_ref)
    assert torch.equal(out, out_ref)
    torch.testing.assert_close(hop.state_seqs[0], ref.state_seqs[0])
    (out.sum() + hop.state_seqs[0].sum()).backward()
    (out_ref.sum() + ref.state_seqs[0].sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_init_states_override() -> None:
    class Offset(FlexSN):
        @staticmethod
        def init_states(num_states, step_mode, *args):
            return [torch.full_like(args[0][0], 0.9)]

    m = Offset(lif_core, 1, 1, 1, backend="torch")
    x = torch.full((1, 3), 1.2)
    # h = 0.9 + (1.2 - 0.9) / 2 = 1.05 >= 1: fires at once (from zeros it would not)
    assert torch.equal(m(x), torch.ones(1, 3))


def test_two_outputs_are_returned_as_a_tuple() -> None:
    def core(x, v):
        h = v + x
        s = (h >= 1).float()
        return s, h, h * (1 - s)

    s, h = FlexSN(core, 1, 1, 2, backend="torch")(torch.rand(3, 5))
    assert s.shape == h.shape == (3, 5)


def test_empty_sequence_needs_example_outputs() -> None:
    with pytest.raises(ValueError, match="example_outputs"):
        FlexSN(lif_core, 1, 1, 1, backend="torch")(torch.rand(0, 4))
    m = FlexSN(lif_core, 1, 1, 1, backend="torch", example_outputs=(torch.zeros(4),))
    assert m(torch.rand(0, 4)).shape == (0, 4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_inputs=0), "num_inputs"),
        (dict(num_states=-1), "num_states"),
        (dict(example_inputs=(torch.zeros(1),)), "example_inputs"),
        (dict(requires_grad=(True,)), "requires_grad"),
        (dict(backend="cuda"), "backend"),
        (dict(step_mode="x"), "step_mode"),
        (dict(example_outputs=(torch.zeros(1), torch.zeros(1))), "example_outputs"),
    ],
)
def test_invalid_arguments_are_named(kwargs, match) -> None:
    args = dict(core=lif_core, num_inputs=1, num_states=1, num_outputs=1, backend="torch")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        FlexSN(**args)


def test_core_returning_the_wrong_count_is_reported() -> None:
    m = FlexSN(lambda x, v: (v + x,), 1, 1, 1, backend="torch")
    with pytest.raises(ValueError, match="num_outputs \\+ num_states = 1 \\+ 1"):
        m(torch.rand(2, 3))


def test_detach_cuts_state_graph() -> None:
    m = FlexSN(lif_core, 1, 1, 1, backend="torch")
    m(torch.rand(2, 3, requires_grad=True))
    assert m.states[0].requires_grad
    m.detach()
    assert not m.states[0].requires_grad
