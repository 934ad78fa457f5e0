"""STDP / MSTDP / MSTDPET steps against their definitions written as explicit loops."""

import math

import pytest
import torch
from snn_core import functional


def f_pre(w):
    return torch.clamp(w, -1.0, 1.0) * 0.5 + 0.1


def f_post(w):
    return torch.tanh(w)


def _spikes(*shape, gen):
    return (torch.rand(*shape, generator=gen) > 0.5).to(torch.float64)


def test_stdp_linear_step_matches_pairwise_sum():
    g = torch.Generator().manual_seed(0)
    s_in, s_out = _spikes(3, 5, gen=g), _spikes(3, 4, gen=g)
    tr = (
        torch.rand(3, 5, generator=g, dtype=torch.float64),
        torch.rand(3, 4, generator=g, dtype=torch.float64),
    )
    w = torch.randn(4, 5, generator=g, dtype=torch.float64)
    dw, (tp, to) = functional.stdp_linear_step(
        s_in, s_out, tr, w, tau_pre=2.0, tau_post=4.0, f_pre=f_pre, f_post=f_post
    )
    tp_ref = tr[0] * (1 - 1 / 2.0) + s_in
    to_ref = tr[1] * (1 - 1 / 4.0) + s_out
    expected = torch.zeros(4, 5, dtype=torch.float64)
    for n in range(3):
        for i in range(4):
            for j in range(5):
                expected[i, j] += f_post(w[i, j]) * tp_ref[n, j] * s_out[n, i]
                expected[i, j] -= f_pre(w[i, j]) * to_ref[n, i] * s_in[n, j]
    torch.testing.assert_close(tp, tp_ref)
    torch.testing.assert_close(to, to_ref)
    torch.testing.assert_close(dw, expected)


def test_stdp_linear_step_single_pair_hand_computed():
    # pre fires at t=0, post at t=1, tau_pre = 2: trace_pre(1) = 0.5 -> LTP of 0.5
    w = torch.zeros(1, 1)
    tr = (torch.zeros(1, 1), torch.zeros(1, 1))
    dw0, tr = functional.stdp_linear_step(
        torch.ones(1, 1),
        torch.zeros(1, 1),
        tr,
        w,
        tau_pre=2.0,
        tau_post=2.0,
        f_pre=lambda x: torch.ones_like(x),
        f_post=lambda x: torch.ones_like(x),
    )
    dw1, tr = functional.stdp_linear_step(
        torch.zeros(1, 1),
        torch.ones(1, 1),
        tr,
        w,
        tau_pre=2.0,
        tau_post=2.0,
        f_pre=lambda x: torch.ones_like(x),
        f_post=lambda x: torch.ones_like(x),
    )
    assert dw0.item() == 0.0 and dw1.item() == 0.5


def _conv_reference(s_in, s_out, tp, to, w, stride):
    """Sum over every (input position, output position) pair linked by a kernel tap."""
    dw = torch.zeros_like(w)
    k = w.shape[2:]
    for n in range(s_in.shape[0]):
        for pos in _positions(s_out.shape[2:]):
            for tap in _positions(k):
                src = tuple(p * s + t for p, s, t in zip(pos, stride, tap))
                post = s_out[(n, slice(None), *pos)]
                tr_post = to[(n, slice(None), *pos)]
                pre = s_in[(n, slice(None), *src)]
                tr_pre = tp[(n, slice(None), *src)]
                idx = (slice(None), slice(None), *tap)
                dw[idx] += f_post(w[idx]) * torch.outer(post, tr_pre)
                dw[idx] -= f_pre(w[idx]) * torch.outer(tr_post, pre)
    return dw


def _positions(shape):
    if len(shape) == 1:
        return [(a,) for a in range(shape[0])]
    return [(a, b) for a in range(shape[0]) for b in range(shape[1])]


@pytest.mark.parametrize("stride", [(1,), (2,), (3,)])
def test_stdp_conv1d_step_matches_pairwise_sum(stride):
    g = torch.Generator().manual_seed(1)
    s_in = _spikes(2, 3, 10, gen=g)
    w = torch.randn(4, 3, 3, generator=g, dtype=torch.float64)
    s_out = _spikes(2, 4, (10 - 3) // stride[0] + 1, gen=g)
    tr = (torch.rand_like(s_in), torch.rand_like(s_out))
    dw, (tp, to) = functional.stdp_conv1d_step(
        s_in, s_out, tr, w, stride=stride, tau_pre=2.0, tau_post=3.0, f_pre=f_pre, f_post=f_post
    )
    torch.testing.assert_close(dw, _conv_reference(s_in, s_out, tp, to, w, stride))


@pytest.mark.parametrize("stride", [(1, 1), (2, 1), (2, 3)])
def test_stdp_conv2d_step_matches_pairwise_sum(stride):
    g = torch.Generator().manual_seed(2)
    s_in = _spikes(2, 2, 7, 8, gen=g)
    w = torch.randn(3, 2, 3, 2, generator=g, dtype=torch.float64)
    out_hw = ((7 - 3) // stride[0] + 1, (8 - 2) // stride[1] + 1)
    s_out = _spikes(2, 3, *out_hw, gen=g)
    tr = (torch.rand_like(s_in), torch.rand_like(s_out))
    dw, (tp, to) = functional.stdp_conv2d_step(
        s_in, s_out, tr, w, stride=stride, tau_pre=2.0, tau_post=3.0, f_pre=f_pre, f_post=f_post
    )
    torch.testing.assert_close(tp, tr[0] * 0.5 + s_in)
    torch.testing.assert_close(dw, _conv_reference(s_in, s_out, tp, to, w, stride))


def test_stdp_conv2d_step_rejects_unpadded_output_shape():
    with pytest.raises(ValueError, match="pad the input"):
        functional.stdp_conv2d_step(
            torch.zeros(1, 1, 5, 5),
            torch.zeros(1, 1, 5, 5),
            (torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 5, 5)),
            torch.zeros(1, 1, 3, 3),
            stride=(1, 1),
            tau_pre=2.0,
            tau_post=2.0,
        )


def test_mstdp_linear_step_is_per_sample_eligibility():
    g = torch.Generator().manual_seed(3)
    s_in, s_out = _spikes(2, 3, gen=g), _spikes(2, 4, gen=g)
    tr = (
        torch.rand(2, 3, generator=g, dtype=torch.float64),
        torch.rand(2, 4, generator=g, dtype=torch.float64),
    )
    w = torch.randn(4, 3, generator=g, dtype=torch.float64)
    z, (tp, to) = functional.mstdp_linear_step(
        s_in, s_out, tr, w, tau_pre=2.0, tau_post=5.0, f_pre=f_pre, f_post=f_post
    )
    torch.testing.assert_close(tp, tr[0] * math.exp(-0.5) + s_in)
    torch.testing.assert_close(to, tr[1] * math.exp(-0.2) + s_out)
    for n in range(2):
        expected = f_post(w) * torch.outer(s_out[n], tp[n]) - f_pre(w) * torch.outer(to[n], s_in[n])
        torch.testing.assert_close(z[n], expected)
    z1, _ = functional.mstdpet_linear_step(
        s_in[1],
        s_out[1],
        (tr[0][1], tr[1][1]),
        w,
        tau_pre=2.0,
        tau_post=5.0,
        f_pre=f_pre,
        f_post=f_post,
    )
    torch.testing.assert_close(z1, z[1])


def test_mstdpet_reward_step_hand_computed():
    e = torch.tensor([[2.0, -4.0]])
    trace = torch.tensor([[1.0, 1.0]])
    dw, trace_next = functional.mstdpet_reward_step(0.5, e, trace, tau_trace=2.0)
    expected = math.exp(-0.5) + torch.tensor([[1.0, -2.0]])
    torch.testing.assert_close(trace_next, expected)
    torch.testing.assert_close(dw, 0.5 * expected)


@pytest.mark.parametrize("tau", [0.5, 0.0, float("inf"), float("nan")])
def test_stdp_rejects_tau_below_one(tau):
    z = torch.zeros(1, 1)
    with pytest.raises(ValueError, match="tau_pre"):
        functional.stdp_linear_step(z, z, (z, z), z, tau_pre=tau, tau_post=2.0)


def test_mstdp_accepts_tau_below_one_but_not_zero():
    z = torch.zeros(1, 1)
    functional.mstdp_linear_step(z, z, (z, z), z, tau_pre=0.5, tau_post=0.5)
    with pytest.raises(ValueError, match="tau_post"):
        functional.mstdp_linear_step(z, z, (z, z), z, tau_pre=0.5, tau_post=0.0)


def test_stdp_rejects_trace_of_another_batch_size():
    z = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="trace_pre"):
        functional.stdp_linear_step(
            z,
            torch.zeros(2, 4),
            (torch.zeros(1, 3), torch.zeros(2, 4)),
            torch.zeros(4, 3),
            tau_pre=2.0,
            tau_post=2.0,
        )


def test_check_time_constants_bounds_follow_the_decay():
    from snn_core.functional.plasticity import check_time_constants

    check_time_constants(tau_pre=1.0, tau_post=7)  # tr - tr / tau: tau >= 1
    check_time_constants(True, tau_trace=0.25)  # exp(-1 / tau): tau > 0
    with pytest.raises(ValueError, match=r"tau_post must be a finite number >= 1.*got 0.9"):
        check_time_constants(tau_pre=2.0, tau_post=0.9)
    with pytest.raises(ValueError, match=r"tau_trace must be a finite number > 0, got -1.0"):
        check_time_constants(True, tau_trace=-1.0)
    with pytest.raises(ValueError, match="tau_pre"):
        check_time_constants(True, tau_pre=float("inf"))
