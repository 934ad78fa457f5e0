"""STDP-family learners: weight updates against the reference framework's numbers and a
hand-written float64 loop of the trace equations."""

from __future__ import annotations

import itertools

import snn_layers
import snn_neurons
import torch
from snn_core import functional
from snn_layers import learning
from torch import nn

# Literal expected values below were produced by running SpikingJelly 2.0.0
# (spikingjelly.activation_based.learning, torch 2.14 CPU, float32) on exactly the spikes,
# weights and calls of the scenarios in this file (`_spikes`, `_f_pre`, `_f_post`,
# `_lin_weight`), printing the results with `.tolist()`.


def _spikes(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A fixed, irregular 0/1 pattern (no RNG, so it is the same on every torch)."""
    i = torch.arange(torch.Size(shape).numel())
    return (((i * 7 + seed) % 5 < 2) ^ ((i * 3 + seed) % 4 == 0)).float().view(shape)


def _f_pre(w: torch.Tensor) -> torch.Tensor:
    return 1.0 - w


def _f_post(w: torch.Tensor) -> torch.Tensor:
    return 1.0 + w


def _lin_weight() -> torch.Tensor:
    return torch.linspace(-0.6, 0.6, 12).view(3, 4)


PRE, POST = _spikes((4, 2, 4), 1), _spikes((4, 2, 3), 3)

REF_A_DELTA = [
    [-4.544444561004639, -7.785184860229492, -5.152861595153809, -1.3232320547103882],
    [-1.111110806465149, -2.2720537185668945, -1.1063973903656006, 0.022895514965057373],
    [1.2727272510528564, 2.8363637924194336, 2.845454692840576, 0.33333340287208557],
]
REF_A_TRACE_PRE = [[0.125, 0.375, 0.375, 1.0], [0.75, 1.75, 1.5, 0.375]]
REF_A_TRACE_POST = [
    [0.4444444179534912, 0.7407407760620117, 0.6666666269302368],
    [2.407407522201538, 0.9629629850387573, 1.0],
]
REF_C_DELTA = [
    [
        [-2.3958334922790527, -3.1161611080169678, -1.5536613464355469],
        [-1.3693183660507202, -1.587752342224121, 0.04292982816696167],
    ],
    [
        [-0.0018941760063171387, 0.29797983169555664, -0.02967163920402527],
        [1.299242377281189, 2.4128785133361816, 2.2361111640930176],
    ],
]
REF_D_GRAD = [
    [[[5.316666126251221, 8.222221374511719], [3.4785711765289307, 0.34999942779541016]]],
    [[[-3.9555556774139404, -8.761903762817383], [-6.92857027053833, -18.97222137451172]]],
]
REF_E_GRAD = [
    [6.491796016693115, 6.483310699462891, 4.083492279052734, -0.5921571254730225],
    [1.116273045539856, 1.2170169353485107, 0.4386800229549408, -0.7742350697517395],
    [0.23410509526729584, 0.6732288002967834, 0.7263784408569336, -0.0],
]
REF_F_GRAD = [
    [-0.261006236076355, 0.7240663170814514, 0.4181591868400574, 0.0],
    [-0.4140080213546753, 0.35725137591362, -0.12057046592235565, 0.0],
    [-0.05852627381682396, -0.16830720007419586, -0.1815946102142334, 0.0],
]
REF_F_TRACE_E = [
    [0.07357588410377502, -0.20410938560962677, -0.11787623912096024, 0.0],
    [0.09364206343889236, -0.10839472711086273, 0.04167599231004715, 0.0],
    [0.23410509526729584, 0.6732288002967834, 0.7263784408569336, 0.0],
]


def _close(actual: torch.Tensor, expected: list) -> None:
    torch.testing.assert_close(actual, torch.tensor(expected), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------- reference numbers
def test_stdp_linear_single_step_matches_reference():
    fc, sn = nn.Linear(4, 3, bias=False), nn.Identity()
    fc.weight.data = _lin_weight()
    learner = learning.STDPLearner("s", fc, sn, 2.0, 3.0, _f_pre, _f_post)
    for t in range(4):  # four pending pairs, one step
        fc(PRE[t])
        sn(POST[t])  # sn replays fixed post-synaptic spikes
    _close(learner.step(on_grad=False), REF_A_DELTA)
    _close(learner.trace_pre, REF_A_TRACE_PRE)
    _close(learner.trace_post, REF_A_TRACE_POST)


def test_stdp_linear_multi_step_wrapper_matches_reference():
    fc = snn_layers.Linear(4, 3, bias=False, step_mode="m")
    fc.weight.data = _lin_weight()
    sn = nn.Identity()
    learner = learning.STDPLearner("m", fc, sn, 2.0, 3.0, _f_pre, _f_post)
    fc(PRE)
    sn(POST)
    _close(learner.step(on_grad=False), REF_A_DELTA)


def test_stdp_conv1d_multi_step_padded_strided_scaled_matches_reference():
    conv = snn_layers.Conv1d(2, 2, 3, stride=2, padding=1, bias=False, step_mode="m")
    conv.weight.data = torch.linspace(-0.5, 0.5, 12).view(2, 2, 3)
    sn = nn.Identity()
    learner = learning.STDPLearner("m", conv, sn, 2.0, 3.0, _f_pre, _f_post)
    conv(_spikes((3, 2, 2, 7), 2))
    sn(_spikes((3, 2, 2, 4), 4))
    _close(learner.step(on_grad=False, scale=0.5), REF_C_DELTA)


def test_stdp_conv2d_circular_padding_on_grad_matches_reference():
    conv = nn.Conv2d(1, 2, 2, stride=2, padding=1, padding_mode="circular", bias=False)
    conv.weight.data = torch.linspace(-0.4, 0.4, 8).view(2, 1, 2, 2)
    sn = nn.Identity()
    learner = learning.STDPLearner("s", conv, sn, 3.0, 2.0, _f_pre, _f_post)
    pre, post = _spikes((3, 2, 1, 5, 5), 1), _spikes((3, 2, 2, 3, 3), 2)
    for t in range(3):
        conv(pre[t])
        sn(post[t])
        assert learner.step(on_grad=True) is None
    _close(conv.weight.grad, REF_D_GRAD)


def test_mstdp_rewards_act_on_previous_eligibility_matches_reference():
    fc, sn = nn.Linear(4, 3, bias=False), nn.Identity()
    fc.weight.data = _lin_weight()
    learner = learning.MSTDPLearner("s", fc, sn, 2.0, 3.0, _f_pre, _f_post)
    rewards = [1.0, torch.tensor([0.5, -1.0]), 2.0, torch.tensor([-0.5, 1.5])]
    for t in range(4):
        fc(PRE[t])
        sn(POST[t])
        if t == 0:
            assert torch.equal(learner.step(rewards[t], on_grad=False), torch.zeros(3, 4))
        else:
            learner.step(rewards[t], on_grad=True, scale=0.5 if t == 2 else 1.0)
    _close(fc.weight.grad, REF_E_GRAD)


def test_mstdpet_eligibility_trace_matches_reference():
    fc, sn = nn.Linear(4, 3, bias=False), nn.Identity()
    fc.weight.data = _lin_weight()
    learner = learning.MSTDPETLearner("s", fc, sn, 2.0, 3.0, 2.0, _f_pre, _f_post)
    for t, reward in enumerate([1.0, -0.5, 2.0, 0.25]):
        fc(PRE[t, 0])
        sn(POST[t, 0])
        learner.step(reward)
    _close(fc.weight.grad, REF_F_GRAD)
    _close(learner.trace_e, REF_F_TRACE_E)


# ----------------------------------------------------------------- float64 hand-written loop
def _loop_stdp(pre, post, weight, tau_pre, tau_post, stride=(), pad=0, circular=False):
    """STDP written out pair by pair in float64: per time step, sample, output position and
    kernel tap, the traces and the update of STDPLearner's equations. The padding is index
    arithmetic (zeros or wrap-around), not ``F.pad``."""
    pre, post, w = pre.double(), post.double(), weight.double()
    spatial = tuple(pre.shape[3:])  # () for a Linear synapse
    padded = tuple(size + 2 * pad for size in spatial)
    tr_pre = torch.zeros(pre.shape[1], pre.shape[2], *padded, dtype=torch.float64)
    tr_post = torch.zeros(post.shape[1:], dtype=torch.float64)
    delta = torch.zeros_like(w)
    for t in range(pre.shape[0]):
        s_pre = torch.zeros_like(tr_pre)  # this step's input, padded by hand
        for pos in itertools.product(*map(range, padded)):
            src = [p - pad for p in pos]
            if not circular and any(not 0 <= i < n for i, n in zip(src, spatial)):
                continue
            src = [i % n for i, n in zip(src, spatial)]
            s_pre[(..., *pos)] = pre[(t, ..., *src)]
        tr_pre = tr_pre * (1 - 1 / tau_pre) + s_pre
        tr_post = tr_post * (1 - 1 / tau_post) + post[t]
        for n in range(pre.shape[1]):
            for out_pos in itertools.product(*map(range, post.shape[3:])):
                for tap in itertools.product(*map(range, w.shape[2:])):
                    in_pos = tuple(o * s + k for o, s, k in zip(out_pos, stride, tap))
                    for i, j in itertools.product(range(w.shape[0]), range(w.shape[1])):
                        w_ij = w[(i, j, *tap)]
                        delta[(i, j, *tap)] += (1 + w_ij) * tr_pre[(n, j, *in_pos)] * post[
                            (t, n, i, *out_pos)
                        ] - (1 - w_ij) * tr_post[(n, i, *out_pos)] * s_pre[(n, j, *in_pos)]
    return delta


def _bernoulli(shape, seed, p=0.4):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < p).double()


def test_stdp_linear_matches_float64_loop():
    fc = nn.Linear(5, 3, bias=False).double()
    pre, post = _bernoulli((6, 2, 5), 0), _bernoulli((6, 2, 3), 1)
    learner = learning.STDPLearner("m", fc, nn.Identity(), 2.5, 4.0, _f_pre, _f_post)
    learner.in_spike_monitor.records.append(pre)  # as the hooks would record them
    learner.out_spike_monitor.records.append(post)
    expected = _loop_stdp(pre, post, fc.weight.detach(), 2.5, 4.0)
    torch.testing.assert_close(learner.step(on_grad=False), expected)


def test_stdp_conv1d_zero_padding_matches_float64_loop():
    conv = snn_layers.Conv1d(2, 3, 3, stride=2, padding=1, bias=False).double()
    pre, post = _bernoulli((4, 2, 2, 7), 2), _bernoulli((4, 2, 3, 4), 3)
    learner = learning.STDPLearner("s", conv, nn.Identity(), 2.0, 3.0, _f_pre, _f_post)
    for t in range(4):
        learner.in_spike_monitor.records.append(pre[t])
        learner.out_spike_monitor.records.append(post[t])
    expected = _loop_stdp(pre, post, conv.weight.detach(), 2.0, 3.0, stride=(2,), pad=1)
    torch.testing.assert_close(learner.step(on_grad=False), expected)


def test_stdp_conv2d_circular_padding_matches_float64_loop():
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1, padding_mode="circular", bias=False).double()
    pre, post = _bernoulli((3, 2, 2, 5, 5), 4), _bernoulli((3, 2, 3, 3, 3), 5)
    learner = learning.STDPLearner("m", conv, nn.Identity(), 3.0, 2.0, _f_pre, _f_post)
    learner.in_spike_monitor.records.append(pre)
    learner.out_spike_monitor.records.append(post)
    expected = _loop_stdp(pre, post, conv.weight.detach(), 3.0, 2.0, (2, 2), 1, circular=True)
    torch.testing.assert_close(learner.step(on_grad=False), expected)


def test_mstdp_matches_float64_loop():
    fc = nn.Linear(4, 3, bias=False).double()
    w = fc.weight.detach()
    pre, post = _bernoulli((5, 2, 4), 6), _bernoulli((5, 2, 3), 7)
    rewards = torch.tensor([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.0], [3.0, 1.0], [0.2, -0.7]])
    learner = learning.MSTDPLearner("s", fc, nn.Identity(), 2.0, 3.0, _f_pre, _f_post)
    tr_pre, tr_post = torch.zeros(2, 4, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64)
    z_prev = torch.zeros(2, 3, 4, dtype=torch.float64)
    for t in range(5):
        learner.in_spike_monitor.records.append(pre[t])
        learner.out_spike_monitor.records.append(post[t])
        got = learner.step(rewards[t].double(), on_grad=False)
        expected = torch.zeros(3, 4, dtype=torch.float64)
        for n in range(2):
            expected += rewards[t, n].item() * z_prev[n]
        torch.testing.assert_close(got, expected)
        tr_pre = tr_pre * torch.exp(torch.tensor(-1 / 2.0, dtype=torch.float64)) + pre[t]
        tr_post = tr_post * torch.exp(torch.tensor(-1 / 3.0, dtype=torch.float64)) + post[t]
        z_prev = torch.zeros(2, 3, 4, dtype=torch.float64)
        for n in range(2):
            for i in range(3):
                for j in range(4):
                    z_prev[n, i, j] = (1 + w[i, j]) * post[t, n, i] * tr_pre[n, j] - (
                        1 - w[i, j]
                    ) * tr_post[n, i] * pre[t, n, j]


# ------------------------------------------------------------------ real networks, life cycle
def _net(step_mode: str) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(
        snn_layers.Conv2d(1, 4, 3, bias=False),
        snn_neurons.IFNode(v_threshold=0.5),
        snn_layers.Flatten(),
        snn_layers.Linear(4 * 6 * 6, 5, bias=False),
        snn_neurons.LIFNode(tau=2.0, v_threshold=0.5),
    )
    with torch.no_grad():  # strong enough that both neuron layers spike
        net[0].weight.abs_().mul_(2.0)
        net[3].weight.abs_().mul_(4.0)
    functional.set_step_mode(net, step_mode)
    return net


def _learners(net: nn.Sequential, step_mode: str) -> list[learning.STDPLearner]:
    return [
        learning.STDPLearner(step_mode, net[i], net[i + 1], 2.0, 2.0, _f_pre, _f_post)
        for i in (0, 3)
    ]


def test_multi_step_network_equals_single_step_loop():
    x = _spikes((4, 2, 1, 8, 8), 3)
    net_m, net_s = _net("m"), _net("s")
    learners_m, learners_s = _learners(net_m, "m"), _learners(net_s, "s")
    net_m(x)
    for t in range(4):
        net_s(x[t])
    for lm, ls in zip(learners_m, learners_s):
        dm, ds = lm.step(on_grad=False), ls.step(on_grad=False)
        assert dm.abs().sum() > 0
        torch.testing.assert_close(dm, ds)


def test_on_grad_accumulates_negative_update_and_descent_adds_it():
    net = _net("m")
    (conv_l, lin_l) = _learners(net, "m")
    x = _spikes((4, 2, 1, 8, 8), 3)
    net(x)
    delta = lin_l.step(on_grad=False)
    lin_l.reset()
    functional.reset_net(net)
    net(x)
    w0 = net[3].weight.detach().clone()
    net[3].weight.grad = torch.ones_like(w0)
    assert lin_l.step(on_grad=True, scale=2.0) is None
    torch.testing.assert_close(net[3].weight.grad, 1 - 2.0 * delta)
    net[3].weight.grad = None
    functional.reset_net(net)
    lin_l.reset()
    net(x)
    lin_l.step()
    with torch.no_grad():  # what torch.optim.SGD(lr=0.1).step() does
        net[3].weight -= 0.1 * net[3].weight.grad
    torch.testing.assert_close(net[3].weight.detach(), w0 + 0.1 * delta)


def test_disable_enable_reset_and_detached_records():
    fc, sn = snn_layers.Linear(4, 3, bias=False), snn_neurons.IFNode(v_threshold=0.1)
    learner = learning.STDPLearner("s", fc, sn, 2.0, 2.0)
    sn(fc(PRE[0]))
    assert all(not r.requires_grad for r in learner.in_spike_monitor.records)
    learner.disable()
    sn(fc(PRE[1]))
    assert len(learner.in_spike_monitor.records) == 1  # the disabled forward was not recorded
    learner.enable()
    sn(fc(PRE[2]))
    assert len(learner.out_spike_monitor.records) == 2
    w = fc.weight.detach().clone()
    assert learner.step(on_grad=False) is not None and learner.trace_pre is not None
    learner.disable()
    sn(fc(PRE[3]))
    assert learner.step() is None  # nothing recorded since the last step: no update
    learner.reset()
    assert learner.trace_pre is None and learner.trace_post is None
    assert torch.equal(fc.weight.detach(), w) and fc.weight.grad is None


def test_close_removes_hooks_and_is_idempotent():
    fc, sn = nn.Linear(4, 3), nn.Identity()
    learner = learning.STDPLearner("s", fc, sn, 2.0, 2.0)
    learner.close()
    learner.close()
    fc(PRE[0])
    assert not fc._forward_pre_hooks and not sn._forward_hooks
    assert learner.in_spike_monitor.records == []


def test_module_taking_helpers_equal_the_learner():
    conv = nn.Conv2d(1, 2, 2, stride=2, padding=1, padding_mode="circular", bias=False)
    conv.weight.data = torch.linspace(-0.4, 0.4, 8).view(2, 1, 2, 2)
    pre, post = _spikes((3, 2, 1, 5, 5), 1), _spikes((3, 2, 2, 3, 3), 2)
    tr_pre, tr_post, delta = learning.stdp_multi_step(
        conv, pre, post, None, None, 3.0, 2.0, _f_pre, _f_post
    )
    _close(-delta, REF_D_GRAD)
    assert tr_pre.shape == (2, 1, 7, 7)  # the padded input's trace
    fc = nn.Linear(4, 3, bias=False)
    fc.weight.data = _lin_weight()
    got = learning.mstdpet_linear_single_step(fc, PRE[0, 0], POST[0, 0], None, None, 2.0, 3.0)
    older_layout = learning.mstdpet_linear_single_step(
        fc, PRE[0, 0], POST[0, 0], None, None, 2.0, 3.0, 5.0, _f_pre, _f_post
    )
    direct = functional.mstdpet_linear_step(
        PRE[0, 0], POST[0, 0], (torch.zeros(4), torch.zeros(3)), fc.weight.detach(),
        tau_pre=2.0, tau_post=3.0, f_pre=_f_pre, f_post=_f_post,
    )  # fmt: skip
    torch.testing.assert_close(older_layout[2], direct[0])
    assert not torch.equal(got[2], direct[0])  # identity f_pre/f_post differ from _f_pre/_f_post


def test_reference_module_paths():
    from snn_layers.learning import online_learning, plasticity

    assert plasticity.STDPLearner is learning.STDPLearner
    assert online_learning.ottt_online_training is functional.ottt_online_training
    assert set(learning.__all__) >= {"STDPLearner", "MSTDPLearner", "MSTDPETLearner"}
