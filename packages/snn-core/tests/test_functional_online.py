"""Online-learning pipelines: exact update rules on small cases, and real training on a toy task."""

import copy

import pytest
import torch
import torch.nn.functional as F
from snn_core import MemoryModule, functional, surrogate
from torch import nn


class LIF(MemoryModule):
    """Minimal LIF: v = v + (x - v) / tau; s = Θ(v - 1) (sigmoid surrogate); hard reset to 0."""

    def __init__(self, tau: float = 2.0) -> None:
        super().__init__()
        self.tau = tau
        self.spike = surrogate.Sigmoid(alpha=4.0)
        self.register_memory("v", 0.0)

    def single_step_forward(self, x):
        v = self.init_memory_like("v", x)
        v = v + (x - v) / self.tau
        s = self.spike(v - 1.0)
        self.v = v * (1.0 - s)
        return s


class StepCounter(MemoryModule):
    def __init__(self) -> None:
        super().__init__()
        self.register_memory("n", 0)

    def single_step_forward(self, x):
        self.n = self.n + 1
        return x


def _toy_problem(T=4, N=32):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(N, 4, generator=g) * 2.0
    label = (x[:, 0] + x[:, 1] > x[:, 2] + x[:, 3]).long()
    return x.unsqueeze(0).repeat(T, 1, 1), label.unsqueeze(0).repeat(T, 1)  # [T, N, 4], [T, N]


def _toy_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), LIF(), nn.Linear(16, 2))


@torch.no_grad()
def _eval_loss(net, x_seq, target_seq):
    functional.reset_net(net)
    y_seq = functional.multi_step_forward(x_seq, net)
    functional.reset_net(net)
    loss = sum(F.cross_entropy(y_seq[t], target_seq[t]) for t in range(x_seq.shape[0]))
    acc = (y_seq.mean(0).argmax(1) == target_seq[0]).float().mean().item()
    return loss.item() / x_seq.shape[0], acc


@pytest.mark.parametrize("online", [True, False])
def test_ottt_online_training_trains_the_toy_snn(online):
    x_seq, target_seq = _toy_problem()
    net = _toy_net()
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    before, _ = _eval_loss(net, x_seq, target_seq)
    for _ in range(40):
        functional.ottt_online_training(
            net, opt, x_seq.transpose(0, 1), target_seq.transpose(0, 1), F.cross_entropy, online
        )
        functional.reset_net(net)
    after, acc = _eval_loss(net, x_seq, target_seq)
    assert after < 0.6 * before, (before, after)
    assert acc >= 0.8


def test_fptt_online_training_trains_the_toy_snn():
    x_seq, target_seq = _toy_problem()
    net = _toy_net()
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    w_ra = functional.fptt_online_training_init_w_ra(opt)
    before, _ = _eval_loss(net, x_seq, target_seq)
    for _ in range(40):
        functional.fptt_online_training(
            net, opt, x_seq, target_seq, F.cross_entropy, alpha=0.1, w_ra=w_ra
        )
        functional.reset_net(net)
    after, acc = _eval_loss(net, x_seq, target_seq)
    assert after < 0.6 * before, (before, after)
    assert acc >= 0.8


@pytest.mark.parametrize("online", [True, False])
def test_ottt_online_training_equals_per_step_gradients_with_detached_state(online):
    torch.manual_seed(1)
    x_seq = torch.rand(3, 5, 4) * 2.0  # [B, T, *]
    target_seq = torch.randint(0, 2, (3, 5))
    net = _toy_net()
    ref = copy.deepcopy(net)
    lr = 0.5
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss_sum, y_all = functional.ottt_online_training(
        net, opt, x_seq, target_seq, F.cross_entropy, online
    )
    # reference: explicit loop, state cut by hand after each step, plain gradient descent
    params = list(ref.parameters())
    total, outputs = 0.0, []
    for p in params:
        p.grad = None
    for t in range(5):
        y = ref(x_seq[:, t])
        loss = F.cross_entropy(y, target_seq[:, t])
        loss.backward()
        ref[1].v = ref[1].v.detach()
        total += loss.item()
        outputs.append(y.detach())
        if online:
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
    if not online:
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
    for p, q in zip(net.parameters(), params):
        torch.testing.assert_close(p, q)
    assert y_all.shape == (3, 5, 2) and not y_all.requires_grad
    torch.testing.assert_close(y_all, torch.stack(outputs, 1))
    assert loss_sum.item() == pytest.approx(total, rel=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fptt_update_rule_matches_the_paper_on_linear_regression(reduction):
    torch.manual_seed(2)
    model = nn.Linear(2, 1, bias=False).double()
    x_seq = torch.randn(3, 1, 2, dtype=torch.float64)
    target_seq = torch.randn(3, 1, 1, dtype=torch.float64)
    lr, alpha = 0.1, 0.5
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    w = model.weight.detach().clone()[0]
    w_bar = w.clone()
    w_ra = functional.fptt_online_training_init_w_ra(opt)
    torch.testing.assert_close(w_ra[0][0], w)

    # hand-derived: l_t(w) = (w.x_t - y_t)^2, grad = 2 (w.x_t - y_t) x_t; the regularizer
    # (alpha/2) R(d) has gradient alpha d / numel ('mean', numel = 2) or alpha d ('sum');
    # w_bar is not updated after the last step (as in the reference).
    scale = 0.5 if reduction == "mean" else 1.0
    g_prev = torch.zeros(2, dtype=torch.float64)
    losses = 0.0
    for t in range(3):
        x, y = x_seq[t, 0], target_seq[t, 0, 0]
        losses += ((w @ x - y) ** 2).item()
        grad = 2 * (w @ x - y) * x + scale * alpha * (w - w_bar - g_prev / (2 * alpha))
        w = w - lr * grad
        if t < 2:
            g_prev = 2 * (w @ x - y) * x
            w_bar = 0.5 * (w_bar + w) - g_prev / (2 * alpha)

    kwargs = {} if reduction == "mean" else {"reduction": "sum"}
    loss_sum, y_seq = functional.fptt_online_training(
        model, opt, x_seq, target_seq, F.mse_loss, alpha, w_ra, **kwargs
    )
    torch.testing.assert_close(model.weight.detach()[0], w)
    torch.testing.assert_close(w_ra[0][0], w_bar)
    assert loss_sum.item() == pytest.approx(losses, rel=1e-10)
    assert y_seq.shape == (3, 1, 1)


def test_fptt_state_advances_once_per_time_step():
    counter = StepCounter()
    model = nn.Sequential(nn.Linear(2, 2), counter)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    w_ra = functional.fptt_online_training_init_w_ra(opt)
    functional.fptt_online_training(
        model, opt, torch.randn(4, 3, 2), torch.randn(4, 3, 2), F.mse_loss, 0.5, w_ra
    )
    assert counter.n == 4


def test_online_training_rejects_bad_arguments():
    net = _toy_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.rand(2, 3, 4)
    y = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match=r"target_seq must be a tensor \[B, T, \.\.\.\]"):
        functional.ottt_online_training(net, opt, x, y[:, :2], F.cross_entropy, True)
    with pytest.raises(ValueError, match="must return a scalar tensor"):
        functional.ottt_online_training(
            net, opt, x, y, lambda a, b: F.cross_entropy(a, b, reduction="none"), True
        )
    functional.reset_net(net)
    functional.set_step_mode(net, "m")
    with pytest.raises(ValueError, match=r"step_mode='m': \['1'\]"):
        functional.ottt_online_training(net, opt, x, y, F.cross_entropy, True)
    functional.set_step_mode(net, "s")
    w_ra = functional.fptt_online_training_init_w_ra(opt)
    with pytest.raises(ValueError, match="alpha must be a positive number"):
        functional.fptt_online_training(net, opt, x, y, F.cross_entropy, 0.0, w_ra)
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum', got 'none'"):
        functional.fptt_online_training(
            net, opt, x, y, F.cross_entropy, 0.5, w_ra, reduction="none"
        )
    for short in (w_ra[:2], []):  # IndexError, as SpikingJelly 2.0.0's indexing raises
        with pytest.raises(IndexError, match=r"one tensor per optimizer parameter \(4\)"):
            functional.fptt_online_training(net, opt, x, y, F.cross_entropy, 0.1, short)
    with pytest.raises(TypeError, match="w_ra must be the list"):
        functional.fptt_online_training(net, opt, x, y, F.cross_entropy, 0.1, tuple(w_ra))
    with pytest.raises(ValueError, match=r"w_ra\[1\] must have the shape"):
        functional.fptt_online_training(
            net, opt, x, y, F.cross_entropy, 0.1, [w_ra[0], w_ra[0], w_ra[2], w_ra[3]]
        )
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        functional.fptt_online_training_init_w_ra(list(net.parameters()))


class Accumulator(MemoryModule):
    """s[t] = s[t-1] + x[t]; outputs s[t] (a state that makes the re-run point visible)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_memory("s", 0.0)

    def single_step_forward(self, x):
        self.s = self.init_memory_like("s", x) + x
        return self.s


def test_fptt_gradient_for_w_ra_is_taken_from_the_state_after_the_step():
    # y_t = s_{t-1} + w x_t with s_t = y_t; l_t = (y_t - d_t)^2; reduction 'mean' over 1 weight.
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(1, 1, bias=False).double(), Accumulator())
    x_seq = torch.randn(3, 1, 1, dtype=torch.float64)
    d_seq = torch.randn(3, 1, 1, dtype=torch.float64)
    lr, alpha = 0.2, 0.7
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    w_ra = functional.fptt_online_training_init_w_ra(opt)
    w = model[0].weight.item()
    w_bar, g_prev, s = w, 0.0, 0.0
    for t in range(3):
        x, d = x_seq[t].item(), d_seq[t].item()
        y = s + w * x
        w = w - lr * (2 * (y - d) * x + alpha * (w - w_bar - g_prev / (2 * alpha)))
        s = y  # the state after step t
        if t < 2:
            g_prev = 2 * (s + w * x - d) * x  # re-run of step t from s_t, with W_{t+1}
            w_bar = 0.5 * (w_bar + w) - g_prev / (2 * alpha)
    functional.fptt_online_training(model, opt, x_seq, d_seq, F.mse_loss, alpha, w_ra)
    assert model[0].weight.item() == pytest.approx(w, rel=1e-12)
    assert w_ra[0].item() == pytest.approx(w_bar, rel=1e-12)
    assert model[1].s.item() == pytest.approx(s, rel=1e-12)


def test_ottt_online_training_keeps_the_first_item_of_a_tuple_output():
    torch.manual_seed(8)
    base = nn.Sequential(nn.Linear(3, 2), LIF())
    x_seq, target_seq = torch.rand(4, 3, 3), torch.rand(4, 3, 2)

    class WithExtra(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x), "extra"

    plain, wrapped = copy.deepcopy(base), WithExtra(copy.deepcopy(base))
    results = []
    for net in (plain, wrapped):
        opt = torch.optim.SGD(net.parameters(), lr=0.3)
        results.append(
            functional.ottt_online_training(net, opt, x_seq, target_seq, F.mse_loss, True)
        )
    torch.testing.assert_close(results[0][1], results[1][1], rtol=0, atol=0)
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    for p, q in zip(plain.parameters(), wrapped.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
