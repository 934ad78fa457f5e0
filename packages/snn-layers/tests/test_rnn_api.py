"""snn_layers.rnn: names, signatures, shapes, state handling, dropout and bad input."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from snn_core import surrogate
from snn_layers import rnn
from torch import nn

T, N, INPUT, HIDDEN = 4, 3, 5, 2
NETS = [rnn.SpikingVanillaRNN, rnn.SpikingGRU, rnn.SpikingLSTM]
CELLS = [rnn.SpikingVanillaRNNCell, rnn.SpikingGRUCell, rnn.SpikingLSTMCell]


def _states(model, fill=0.0):
    D = 2 if model.bidirectional else 1
    s = torch.full((model.num_layers * D, N, HIDDEN), fill)
    return (s, s.clone()) if model.states_num() == 2 else s


# ------------------------------------------------------------------- names, signatures
def test_every_reference_name_is_exported():
    names = {  # dir() of spikingjelly 2.0.0's activation_based.rnn, public definitions
        "SpikingRNNCellBase",
        "SpikingRNNBase",
        "SpikingLSTMCell",
        "SpikingLSTM",
        "SpikingVanillaRNNCell",
        "SpikingVanillaRNN",
        "SpikingGRUCell",
        "SpikingGRU",
        "bidirectional_rnn_cell_forward",
        "directional_rnn_cell_forward",
    }
    assert names == set(rnn.__all__)
    assert all(hasattr(rnn, n) for n in names)
    import snn_layers

    assert snn_layers.rnn is rnn


@pytest.mark.parametrize(
    ("obj", "params"),
    [  # the reference's parameter names and defaults (inspect.signature in its venv)
        (rnn.SpikingRNNCellBase, "input_size hidden_size bias=True"),
        (
            rnn.SpikingRNNBase,
            "input_size hidden_size num_layers bias=True dropout_p=0 "
            "invariant_dropout_mask=False bidirectional=False *args **kwargs",
        ),
        (
            rnn.SpikingLSTMCell,
            "input_size hidden_size bias=True surrogate_function1=Erf(alpha=2.0, spiking=True) "
            "surrogate_function2=None",
        ),
        (
            rnn.SpikingGRU,
            "input_size hidden_size num_layers bias=True dropout_p=0 "
            "invariant_dropout_mask=False bidirectional=False "
            "surrogate_function1=Erf(alpha=2.0, spiking=True) surrogate_function2=None",
        ),
        (
            rnn.SpikingVanillaRNNCell,
            "input_size hidden_size bias=True surrogate_function=Erf(alpha=2.0, spiking=True)",
        ),
        (
            rnn.SpikingVanillaRNN,
            "input_size hidden_size num_layers bias=True dropout_p=0 "
            "invariant_dropout_mask=False bidirectional=False "
            "surrogate_function=Erf(alpha=2.0, spiking=True)",
        ),
        (rnn.directional_rnn_cell_forward, "cell x states"),
        (rnn.bidirectional_rnn_cell_forward, "cell cell_reverse x states states_reverse"),
    ],
)
def test_signatures_follow_the_reference(obj, params):
    got = []
    for p in inspect.signature(obj).parameters.values():
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        default = "" if p.default is p.empty else f"={p.default!r}"
        got.append(f"{prefix}{p.name}{default}")
    assert " ".join(got) == params


def test_default_surrogate_is_erf_shared_within_a_model_but_not_across_models():
    a, b = rnn.SpikingLSTM(INPUT, HIDDEN, 2), rnn.SpikingLSTM(INPUT, HIDDEN, 2)
    sg = a.cells[0].surrogate_function1
    assert isinstance(sg, surrogate.Erf) and sg.alpha == 2.0 and sg.spiking
    assert a.cells[1].surrogate_function1 is sg
    sg.set_spiking_mode(False)
    assert b.cells[0].surrogate_function1.spiking
    assert rnn.SpikingGRUCell(1, 1).surrogate_function1.spiking


def test_a_given_surrogate_is_used_by_every_cell():
    sg = surrogate.ATan(alpha=3.0)
    model = rnn.SpikingVanillaRNN(INPUT, HIDDEN, 2, bidirectional=True, surrogate_function=sg)
    assert all(c.surrogate_function is sg for c in [*model.cells, *model.cells_reverse])


# ------------------------------------------------------------------- parameters
@pytest.mark.parametrize(("cls", "gates"), list(zip(CELLS, [1, 3, 4])))
def test_cell_parameters_and_their_initial_range(cls, gates):
    torch.manual_seed(0)
    cell = cls(INPUT, 8)
    assert cell.weight_ih() is cell.linear_ih.weight
    assert cell.weight_hh() is cell.linear_hh.weight
    assert cell.bias_ih() is cell.linear_ih.bias
    assert cell.bias_hh() is cell.linear_hh.bias
    assert cell.weight_ih().shape == (gates * 8, INPUT)
    assert cell.weight_hh().shape == (gates * 8, 8)
    bound = 1 / math.sqrt(8)
    for p in cell.parameters():
        assert p.abs().max() <= bound and p.abs().max() > 0.5 * bound
    no_bias = cls(INPUT, 8, bias=False)
    assert no_bias.bias_ih() is None and no_bias.bias_hh() is None
    assert len(list(no_bias.parameters())) == 2


def test_layers_read_the_previous_layers_features():
    model = rnn.SpikingGRU(INPUT, HIDDEN, 3, bidirectional=True)
    assert [c.input_size for c in model.cells] == [INPUT, 2 * HIDDEN, 2 * HIDDEN]
    assert [c.input_size for c in model.cells_reverse] == [INPUT, 2 * HIDDEN, 2 * HIDDEN]


# ------------------------------------------------------------------- shapes and states
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cls", NETS)
def test_output_and_state_shapes(cls, bidirectional):
    model = cls(INPUT, HIDDEN, 3, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    y, s = model(torch.randn(T, N, INPUT))
    assert y.shape == (T, N, HIDDEN * D)
    if cls is rnn.SpikingLSTM:
        assert isinstance(s, tuple) and len(s) == 2
        assert all(t.shape == (3 * D, N, HIDDEN) for t in s)
    else:
        assert isinstance(s, torch.Tensor) and s.shape == (3 * D, N, HIDDEN)
    assert set(y.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("cls", NETS)
def test_states_round_trip_splitting_the_sequence(cls):
    # running [0, T) at once equals running [0, 2) then [2, T) from the returned states
    torch.manual_seed(1)
    model = cls(INPUT, HIDDEN, 2)
    x = torch.randn(T, N, INPUT) * 3
    y, s = model(x)
    y1, s1 = model(x[:2])
    y2, s2 = model(x[2:], s1)
    torch.testing.assert_close(torch.cat([y1, y2]), y)
    for a, b in zip(s if isinstance(s, tuple) else (s,), s2 if isinstance(s2, tuple) else (s2,)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cls", NETS)
def test_no_states_means_zero_states(cls, bidirectional):
    torch.manual_seed(2)
    model = cls(INPUT, HIDDEN, 2, bidirectional=bidirectional)
    x = torch.randn(T, N, INPUT) * 3
    y0, s0 = model(x)
    y1, s1 = model(x, _states(model))
    torch.testing.assert_close(y0, y1)
    for a, b in zip(s0 if isinstance(s0, tuple) else (s0,), s1 if isinstance(s1, tuple) else (s1,)):
        torch.testing.assert_close(a, b)


def test_lstm_states_may_be_a_list():
    model = rnn.SpikingLSTM(INPUT, HIDDEN, 2)
    x = torch.randn(T, N, INPUT)
    h, c = _states(model)
    torch.testing.assert_close(model(x, [h, c])[0], model(x, (h, c))[0])


def test_gradient_reaches_input_and_initial_states():
    model = rnn.SpikingLSTM(INPUT, HIDDEN, 2, bidirectional=True)
    x = torch.randn(T, N, INPUT, requires_grad=True)
    h, c = (s.requires_grad_() for s in _states(model, 0.5))
    y, (hT, cT) = model(x, (h, c))
    (y.sum() + hT.sum() + cT.sum()).backward()
    assert x.grad.abs().sum() > 0 and h.grad is not None and c.grad is not None


def test_cell_forward_loop_equals_directional_forward():
    torch.manual_seed(3)
    cell = rnn.SpikingGRUCell(INPUT, HIDDEN)
    x = torch.randn(T, N, INPUT) * 2
    h = torch.zeros(N, HIDDEN)
    outs = []
    for t in range(T):
        h = cell(x[t], h)
        outs.append(h)
    y, hT = rnn.directional_rnn_cell_forward(cell, x, torch.zeros(N, HIDDEN))
    torch.testing.assert_close(y, torch.stack(outs))
    torch.testing.assert_close(hT, h)


def test_bidirectional_forward_reverse_half_reads_the_reversed_sequence():
    torch.manual_seed(4)
    fwd, rev = rnn.SpikingVanillaRNNCell(INPUT, HIDDEN), rnn.SpikingVanillaRNNCell(INPUT, HIDDEN)
    x = torch.randn(T, N, INPUT) * 2
    zero = torch.zeros(N, HIDDEN)
    y, s, s_r = rnn.bidirectional_rnn_cell_forward(fwd, rev, x, zero, zero)
    y_f, _ = rnn.directional_rnn_cell_forward(fwd, x, zero)
    y_r, s_r2 = rnn.directional_rnn_cell_forward(rev, x.flip(0), zero)
    torch.testing.assert_close(y, torch.cat([y_f, y_r.flip(0)], dim=-1))
    torch.testing.assert_close(s_r, s_r2)


def test_smooth_surrogate_gives_graded_outputs():
    model = rnn.SpikingGRU(INPUT, HIDDEN, 1, surrogate_function1=surrogate.Sigmoid(spiking=False))
    y, _ = model(torch.randn(T, N, INPUT))
    assert ((y > 0) & (y < 1)).any()


# ------------------------------------------------------------------- dropout
class _PassCell(nn.Module):
    """Outputs its input (first ``hidden_size`` features); isolates the dropout."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size

    def forward(self, x, h):
        return x[..., : self.hidden_size] + 0 * h


class _PassRNN(rnn.SpikingRNNBase):
    @staticmethod
    def base_cell():
        return _PassCell

    @staticmethod
    def states_num():
        return 1


@pytest.mark.parametrize("invariant", [False, True])
def test_dropout_between_layers_in_training_only(invariant):
    torch.manual_seed(5)
    p = 0.5
    model = _PassRNN(64, 64, 2, dropout_p=p, invariant_dropout_mask=invariant)
    x = torch.ones(T, N, 64)
    y, _ = model(x)
    assert set(y.unique().tolist()) == {0.0, 1 / (1 - p)}
    assert abs((y == 0).float().mean().item() - p) < 0.1
    same_mask_over_time = all(torch.equal(y[t], y[0]) for t in range(T))
    assert same_mask_over_time == invariant
    model.eval()
    torch.testing.assert_close(model(x)[0], x)


def test_no_dropout_after_the_last_layer():
    model = _PassRNN(8, 8, 1, dropout_p=0.9)
    x = torch.ones(T, N, 8)
    torch.testing.assert_close(model(x)[0], x)


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        ({"input_size": 0}, ValueError, "input_size"),
        ({"hidden_size": 2.5}, ValueError, "hidden_size"),
        ({"num_layers": 0}, ValueError, "num_layers"),
        ({"dropout_p": 1.5}, ValueError, "dropout_p"),
        ({"bidirectional": "yes"}, TypeError, "bidirectional"),
        ({"surrogate_function1": surrogate.Erf}, TypeError, "surrogate_function1"),
        ({"surrogate_function1": 3}, TypeError, "surrogate_function1"),
        ({"surrogate_function2": "atan"}, TypeError, "surrogate_function2"),
        (
            {"surrogate_function2": surrogate.ATan(spiking=False)},
            ValueError,
            "surrogate_function2.spiking",
        ),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs, exc, words):
    args = {"input_size": INPUT, "hidden_size": HIDDEN, "num_layers": 2, **kwargs}
    with pytest.raises(exc, match=words.replace(".", r"\.")):
        rnn.SpikingLSTM(**args)


def test_bad_cell_surrogate_is_named():
    with pytest.raises(TypeError, match="surrogate_function .*Sigmoid\\(\\)"):
        rnn.SpikingVanillaRNNCell(INPUT, HIDDEN, surrogate_function=surrogate.Sigmoid)
    with pytest.raises(ValueError, match="surrogate_function1.spiking"):
        rnn.SpikingGRUCell(INPUT, HIDDEN, surrogate_function2=surrogate.ATan(spiking=False))


@pytest.mark.parametrize("cls", NETS)
def test_bad_input_sequences_are_named(cls):
    model = cls(INPUT, HIDDEN, 2)
    with pytest.raises(ValueError, match=r"x must have shape \[T, batch_size, input_size\]"):
        model(torch.randn(N, INPUT))
    with pytest.raises(ValueError, match="input_size=5.*got \\(4, 3, 6\\)"):
        model(torch.randn(T, N, INPUT + 1))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        model([[1.0]])


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cls", NETS)
def test_bad_states_are_named(cls, bidirectional):
    model = cls(INPUT, HIDDEN, 2, bidirectional=bidirectional)
    x = torch.randn(T, N, INPUT)
    D = 2 if bidirectional else 1
    S = model.states_num()
    wrong_layers = torch.zeros(2 * D + 1, N, HIDDEN)
    with pytest.raises(ValueError, match="states must be"):
        model(x, wrong_layers if S == 1 else (wrong_layers, wrong_layers))
    wrong_batch = torch.zeros(2 * D, N + 1, HIDDEN)
    with pytest.raises(ValueError, match="batch_size=3"):
        model(x, wrong_batch if S == 1 else (wrong_batch, wrong_batch))
    with pytest.raises(TypeError, match="states must be None"):
        model(x, torch.zeros(2 * D * N * HIDDEN))
    if S == 2:  # an LSTM needs (h, c), not h alone
        with pytest.raises(ValueError, match="tuple of 2 tensors"):
            model(x, torch.zeros(2 * D, N, HIDDEN))


@pytest.mark.parametrize("cls", CELLS)
def test_bad_cell_inputs_are_named(cls):
    cell = cls(INPUT, HIDDEN)
    with pytest.raises(ValueError, match=r"x must have shape \[batch_size, input_size=5\]"):
        cell(torch.randn(INPUT))
    with pytest.raises(ValueError, match=r"x must have shape"):
        cell(torch.randn(N, INPUT + 1))
    state = torch.zeros(N + 1, HIDDEN)
    with pytest.raises(ValueError, match=r"h must have shape \[batch_size=3, hidden_size=2\]"):
        cell(torch.randn(N, INPUT), (state, state) if cls is rnn.SpikingLSTMCell else state)


def test_bad_lstm_cell_state_pairs_are_named():
    cell = rnn.SpikingLSTMCell(INPUT, HIDDEN)
    x = torch.randn(N, INPUT)
    h = torch.zeros(N, HIDDEN)
    with pytest.raises(ValueError, match="hc must be a pair"):
        cell(x, (h, h, h))
    with pytest.raises(ValueError, match="hc must be a pair"):
        cell(x, h)
    with pytest.raises(ValueError, match=r"c must have shape"):
        cell(x, (h, torch.zeros(N, HIDDEN + 1)))


def test_time_loops_name_bad_states():
    cell = rnn.SpikingVanillaRNNCell(INPUT, HIDDEN)
    x = torch.randn(T, N, INPUT)
    with pytest.raises(ValueError, match="states must be a tensor"):
        rnn.directional_rnn_cell_forward(cell, x, torch.zeros(HIDDEN))
    with pytest.raises(ValueError, match="same rank"):
        rnn.bidirectional_rnn_cell_forward(
            cell, cell, x, torch.zeros(N, HIDDEN), torch.zeros(1, N, HIDDEN)
        )
    with pytest.raises(ValueError, match="T >= 1"):
        rnn.directional_rnn_cell_forward(cell, x[:0], torch.zeros(N, HIDDEN))
