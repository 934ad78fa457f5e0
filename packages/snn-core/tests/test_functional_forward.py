"""functional forward helpers against explicit loops over time."""

import copy

import pytest
import torch
from snn_core import MemoryModule, functional
from torch import nn


class Leaky(MemoryModule):
    """v[t] = 0.5 v[t-1] + x[t]; outputs tanh(v) (stateful, nonlinear)."""

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__()
        self.register_memory("v", 0.0)
        self.step_mode = step_mode

    def single_step_forward(self, x):
        self.v = 0.5 * self.init_memory_like("v", x) + x
        return torch.tanh(self.v)


def _loop(x_seq, modules):
    out = []
    for t in range(x_seq.shape[0]):
        y = x_seq[t]
        for m in modules:
            y = m(y)
        out.append(y)
    return out


def test_multi_step_forward_equals_manual_loop_for_module_and_chain():
    torch.manual_seed(0)
    x_seq = torch.randn(5, 2, 3)
    chain = [nn.Linear(3, 4), Leaky(), nn.Linear(4, 2), Leaky()]
    ref_chain = copy.deepcopy(chain)
    seq = nn.Sequential(*copy.deepcopy(chain))
    y = functional.multi_step_forward(x_seq, chain)
    ref = _loop(x_seq, ref_chain)
    assert y.shape == (5, 2, 2)
    for t in range(5):
        torch.testing.assert_close(y[t], ref[t])
    # a single stateful module, an nn.Sequential and a plain callable give the same
    torch.testing.assert_close(functional.multi_step_forward(x_seq, seq), y)
    single = Leaky()
    torch.testing.assert_close(
        functional.multi_step_forward(x_seq, single), torch.tanh(_leaky_closed_form(x_seq))
    )
    torch.testing.assert_close(functional.multi_step_forward(x_seq, torch.sin), x_seq.sin())


def _leaky_closed_form(x_seq):
    # v[t] = sum_k 0.5^(t-k) x[k]
    T = x_seq.shape[0]
    w = torch.tensor([[0.5 ** (t - k) if k <= t else 0.0 for k in range(T)] for t in range(T)])
    return torch.einsum("tk,k...->t...", w, x_seq)


def test_t_last_multi_step_forward_matches_time_first_version():
    torch.manual_seed(1)
    x_seq = torch.randn(2, 3, 6)  # [N, C, T]
    chain = [nn.Linear(3, 4), Leaky()]
    ref_chain = copy.deepcopy(chain)
    y = functional.t_last_multi_step_forward(x_seq, chain)
    ref = torch.stack(_loop(x_seq.movedim(-1, 0), ref_chain), dim=-1)
    assert y.shape == (2, 4, 6)
    torch.testing.assert_close(y, ref)


@pytest.mark.parametrize("split_size", [1, 2, 3, 7, 9])
def test_chunk_multi_step_forward_equals_whole_sequence(split_size):
    torch.manual_seed(2)
    x_seq = torch.randn(7, 2, 3)
    net = nn.Sequential(nn.Linear(3, 3), Leaky(step_mode="m"))
    ref = copy.deepcopy(net)
    y = functional.chunk_multi_step_forward(split_size, x_seq, net)
    torch.testing.assert_close(y, ref(x_seq))
    torch.testing.assert_close(net[1].v, ref[1].v)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_chunk_multi_step_forward_rejects_bad_split_size(bad):
    with pytest.raises(ValueError, match="split_size must be a positive int"):
        functional.chunk_multi_step_forward(bad, torch.zeros(4, 1), Leaky(step_mode="m"))


def test_seq_to_ann_forward_equals_looping_the_module_over_t():
    torch.manual_seed(3)
    x_seq = torch.randn(4, 2, 3, 6, 6)
    net = nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 16, 7))
    y = functional.seq_to_ann_forward(x_seq, net)
    assert y.shape == (4, 2, 7)
    torch.testing.assert_close(y, torch.stack([net(x_seq[t]) for t in range(4)]))
    as_list = functional.seq_to_ann_forward(x_seq, list(net))
    torch.testing.assert_close(as_list, y)


def test_t_last_seq_to_ann_forward_equals_looping_over_last_dim():
    torch.manual_seed(4)
    x_seq = torch.randn(2, 5, 3)  # [N, C, T]
    net = nn.Sequential(nn.Linear(5, 4), nn.Tanh())
    y = functional.t_last_seq_to_ann_forward(x_seq, net)
    assert y.shape == (2, 4, 3)
    torch.testing.assert_close(y, torch.stack([net(x_seq[..., t]) for t in range(3)], -1))


def test_seq_to_ann_forward_gradient_matches_loop():
    torch.manual_seed(5)
    x = torch.randn(3, 2, 4, dtype=torch.float64, requires_grad=True)
    lin = nn.Linear(4, 2).double()
    g1 = torch.autograd.grad(functional.seq_to_ann_forward(x, lin).square().sum(), x)[0]
    g2 = torch.autograd.grad(sum(lin(x[t]).square().sum() for t in range(3)), x)[0]
    torch.testing.assert_close(g1, g2)


def test_seq_to_ann_forward_takes_and_returns_tuples_like_a_loop():
    torch.manual_seed(6)
    a, b = torch.randn(3, 2, 4), torch.randn(3, 2, 4)
    lin = nn.Linear(4, 5)

    def two_in_two_out(p, q):
        return lin(p) * q.sum(1, keepdim=True), p - q

    first, second = functional.seq_to_ann_forward((a, b), [two_in_two_out])
    for t in range(3):
        ref_first, ref_second = two_in_two_out(a[t], b[t])
        torch.testing.assert_close(first[t], ref_first)
        torch.testing.assert_close(second[t], ref_second)
    assert first.shape == (3, 2, 5) and second.shape == (3, 2, 4)
    # a chain: the tuple goes to the first callable, its output to the next
    y = functional.seq_to_ann_forward((a, b), [lambda p, q: p + q, torch.tanh])
    torch.testing.assert_close(y, torch.tanh(a + b))
    with pytest.raises(ValueError, match=r"share the same \[T, batch_size\] leading dimensions"):
        functional.seq_to_ann_forward((a, b[:, :1]), lambda p, q: p)
    with pytest.raises(TypeError, match=r"x_seq\[1\] must be a torch.Tensor"):
        functional.seq_to_ann_forward((a, 1.0), lambda p, q: p)


def test_forward_helpers_reject_bad_inputs():
    with pytest.raises(ValueError, match=r"at least 2 dimensions \(\[T, N, \*\]\)"):
        functional.seq_to_ann_forward(torch.zeros(4), nn.Identity())
    with pytest.raises(ValueError, match=r"at least 2 dimensions \(\[T, N, \*\]\)"):
        functional.multi_step_forward(torch.zeros(4), nn.Identity())
    with pytest.raises(ValueError, match="T = 0"):
        functional.multi_step_forward(torch.zeros(0, 2), nn.Identity())
    with pytest.raises(TypeError, match=r"single_step_module\[1\] must be a module or callable"):
        functional.multi_step_forward(torch.zeros(2, 2), [nn.Identity(), 3])
    with pytest.raises(ValueError, match="first dimension T\\*N = 6"):
        functional.seq_to_ann_forward(torch.zeros(3, 2, 4), lambda x: x.sum(0))
    with pytest.raises(TypeError, match="x_seq must be a torch.Tensor"):
        functional.t_last_seq_to_ann_forward([[1.0]], nn.Identity())


def test_sequential_is_called_itself_so_its_hooks_run():
    calls = []
    seq = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    seq.register_forward_hook(lambda *args: calls.append(1))
    x_seq = torch.randn(4, 2, 3)
    ref = torch.stack([seq[1](seq[0](x)) for x in x_seq])
    torch.testing.assert_close(functional.seq_to_ann_forward(x_seq, seq), ref)
    assert calls == [1]
    torch.testing.assert_close(functional.t_last_seq_to_ann_forward(x_seq.movedim(0, -1), seq),
                               ref.movedim(0, -1))  # fmt: skip
    assert calls == [1, 1]
    torch.testing.assert_close(functional.multi_step_forward(x_seq, seq), ref)
    assert calls == [1, 1] + [1] * 4  # once per step
    # a list is still a chain: each item is called, the list itself has no hooks
    torch.testing.assert_close(functional.seq_to_ann_forward(x_seq, list(seq)), ref)


def test_t_last_seq_to_ann_forward_passes_tuple_outputs_through():
    x_seq = torch.randn(2, 3, 5)  # [N, C, T]
    a, b = functional.t_last_seq_to_ann_forward(x_seq, lambda x: (x.square(), x.sum(1)))
    assert a.shape == (2, 3, 5) and b.shape == (2, 5)
    torch.testing.assert_close(a, x_seq.square())
    torch.testing.assert_close(b, x_seq.sum(1))


def test_forward_helpers_report_layer_shape_errors_unfolded():
    with pytest.raises(ValueError) as info:
        functional.seq_to_ann_forward(torch.randn(2, 3, 5), nn.Linear(4, 2))
    assert str(info.value) == (
        "seq_to_ann_forward: stateless_module Linear(in_features=4) expected x_seq with shape "
        "[T, N, *, 4], got [2, 3, 5]"
    )
    # without T an [N, C, H, W] batch would run as an unbatched conv of N*C... channels
    conv = r"Conv2d\(in_channels=3\) expected x_seq with shape \[T, N, C=3, H, W\], got "
    with pytest.raises(ValueError, match=conv + r"\[2, 3, 8, 8\]; is the time dimension T"):
        functional.seq_to_ann_forward(torch.randn(2, 3, 8, 8), [nn.Conv2d(3, 4, 3), nn.ReLU()])
    bn = r"BatchNorm1d\(num_features=4\) expected x_seq with shape \[T, N, C=4\] or "
    with pytest.raises(ValueError, match=bn + r"\[T, N, C=4, L\], got \[2, 3, 5\]"):
        functional.seq_to_ann_forward(torch.randn(2, 3, 5), nn.Sequential(nn.BatchNorm1d(4)))
    with pytest.raises(ValueError, match=r"shape \[N, \*, 4, T\], got \[2, 5, 3\]"):
        functional.t_last_seq_to_ann_forward(torch.randn(2, 5, 3), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"\[N, C=2, L, T\], got \[4, 3, 5, 6\]"):
        functional.t_last_seq_to_ann_forward(torch.randn(4, 3, 5, 6), nn.Conv1d(2, 2, 1))
    # the step loops never fold T into N: unbatched steps run as in torch
    lin = nn.Linear(4, 2)
    x = torch.randn(5, 4)
    torch.testing.assert_close(functional.multi_step_forward(x, lin), lin(x))
    # right shapes pass; callables and unknown modules are not checked
    assert functional.seq_to_ann_forward(torch.randn(2, 3, 4), nn.Linear(4, 2)).shape == (2, 3, 2)
    assert functional.seq_to_ann_forward(torch.randn(2, 3), torch.relu).shape == (2, 3)
