"""Pure research-neuron steps of snn_core.functional against closed forms."""

import math

import pytest
import torch
from snn_core import functional, surrogate


def _heaviside(x):
    return (x >= 0).to(x.dtype)


# ---------------------------------------------------------------- ternary


def test_ternary_if_step_closed_form():
    x = torch.tensor([1.2, -1.2, 0.4, 1.0, -1.0, -0.3])
    v = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, -0.5])
    s, v_hard = functional.ternary_if_step(x, v, 1.0, 0.1, _heaviside)
    assert s.tolist() == [1, -1, 0, 1, -1, 0]
    torch.testing.assert_close(v_hard, torch.tensor([0.1, 0.1, 0.4, 0.1, 0.1, -0.8]))
    _, v_soft = functional.ternary_if_step(x, v, 1.0, None, _heaviside)
    torch.testing.assert_close(v_soft, torch.tensor([0.2, -0.2, 0.4, 0.0, 0.0, -0.8]))


def test_ternary_hard_reset_gradient_flows_through_both_threshold_events():
    # S = 0 at H = 0.5, but V = (1 - P - N) H still differentiates P + N:
    # dV/dH = 1 - (P + N) - H (g'(H - 1) - g'(-H - 1)) = 1 - 0.5 (g'(-0.5) - g'(-1.5))
    sg = surrogate.Sigmoid(4.0)
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    v0 = torch.zeros(1, dtype=torch.float64)
    _, v = functional.ternary_if_step(x, v0, 1.0, 0.0, sg)
    (g,) = torch.autograd.grad(v.sum(), x)

    def slope(z):
        return 4.0 * math.exp(-4.0 * z) / (1.0 + math.exp(-4.0 * z)) ** 2

    expected = 1.0 - 0.5 * (slope(-0.5) - slope(-1.5))
    torch.testing.assert_close(g, torch.tensor([expected], dtype=torch.float64))
    _, v = functional.ternary_if_step(x, v0, 1.0, 0.0, sg, True)
    (g,) = torch.autograd.grad(v.sum(), x)
    torch.testing.assert_close(g, torch.ones(1, dtype=torch.float64))  # detached: 1 - R


def test_ternary_lif_step_leaks_toward_v_reset():
    x, v = torch.tensor([0.0, 0.8]), torch.tensor([0.6, 0.4])
    s, v1 = functional.ternary_lif_step(x, v, 2.0, True, 1.0, 0.2, _heaviside)
    # H = V + (X - (V - 0.2)) / 2 = [0.4, 0.7]
    assert s.tolist() == [0, 0]
    torch.testing.assert_close(v1, torch.tensor([0.4, 0.7]))
    s, v2 = functional.ternary_lif_step(x, v, 4.0 / 3.0, False, 1.0, None, _heaviside)
    # H = 0.25 V + X = [0.15, 0.9]
    torch.testing.assert_close(v2, torch.tensor([0.15, 0.9]))


# ---------------------------------------------------------------- I-LIF


def test_ilif_step_counts_and_soft_reset():
    sg = surrogate.MultiLevelSpikeCount(4)
    x = torch.tensor([3.2, 0.4, 5.8, -1.0, 1.5], requires_grad=True)
    c, v = functional.ilif_step(x, torch.zeros(5), 4.0 / 3.0, 1.0, sg)
    assert c.tolist() == [3, 0, 4, 0, 2]  # 1.5 rounds half to even
    torch.testing.assert_close(v, torch.tensor([0.2, 0.4, 1.8, -1.0, -0.5]))
    (g,) = torch.autograd.grad(c.sum(), x)
    torch.testing.assert_close(g, torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0]))


def test_ilif_multi_step_default_and_v_seq():
    x = torch.tensor([[3.2], [0.0], [0.3]])
    c, v, v_seq = functional.ilif_multi_step(x, torch.zeros(1), 4.0 / 3.0, store_v_seq=True)
    # V: 0.2; 0.25 * 0.2 = 0.05; 0.0125 + 0.3 = 0.3125
    assert c.flatten().tolist() == [3, 0, 0]
    torch.testing.assert_close(v_seq.flatten(), torch.tensor([0.2, 0.05, 0.3125]))
    torch.testing.assert_close(v, v_seq[-1])
    _, _, none = functional.ilif_multi_step(x, torch.zeros(1))
    assert none is None
    with pytest.raises(TypeError, match="MultiLevelSpikeCount"):
        functional.ilif_multi_step(x, torch.zeros(1), surrogate_function=surrogate.Sigmoid())
    with pytest.raises(ValueError, match="non-empty"):
        functional.ilif_multi_step(torch.zeros(0, 1), torch.zeros(1))


# ---------------------------------------------------------------- RAF and CLIF


def test_raf_step_is_a_damped_rotation():
    b, omega, dt = -0.5, 0.7, 0.4
    a, th = math.exp(b * dt), omega * dt
    u, v = torch.tensor([1.0]), torch.tensor([0.5])
    s, u1, v1 = functional.raf_step(torch.tensor([0.3]), u, v, b, omega, dt, 10.0, 0.0, _heaviside)
    assert s.item() == 0
    torch.testing.assert_close(u1, torch.tensor([a * (math.cos(th) - 0.5 * math.sin(th)) + 0.3]))
    torch.testing.assert_close(v1, torch.tensor([a * (math.sin(th) + 0.5 * math.cos(th))]))
    s, u2, v2 = functional.raf_step(torch.tensor([0.0]), u, v, b, omega, dt, 0.1, None, _heaviside)
    assert s.item() == 1 and u2.item() == pytest.approx(u1.item() - 0.3)
    assert v2.item() == pytest.approx(v1.item() - 0.1)


def test_clif_step_closed_form():
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    x, v, m = torch.tensor([0.7, 0.2]), torch.tensor([0.8, 0.4]), torch.tensor([0.5, 2.0])
    s, v1, m1 = functional.clif_step(x, v, m, 2.0, 1.0, _heaviside)
    # H = 0.5 V + X = [1.1, 0.4]
    assert s.tolist() == [1, 0]
    m_expected = [0.5 * sig(0.55) + 1, 2.0 * sig(0.2)]
    torch.testing.assert_close(m1, torch.tensor(m_expected))
    torch.testing.assert_close(v1, torch.tensor([1.1 - (1.0 + sig(m_expected[0])), 0.4]))


# ---------------------------------------------------------------- STBIF


def _params(s=0.25, hi=3.0, lo=-4.0):
    return torch.tensor(s), torch.tensor(hi), torch.tensor(lo)


def test_stbif_multi_step_releases_clip_round_of_the_input():
    x = torch.zeros(8, 4)
    x[0] = torch.tensor([0.6, -0.6, 2.0, -3.0])
    out, q, a, c = functional.stbif_multi_step(x, torch.full((4,), 0.5), torch.zeros(4), *_params())
    # round(X / s) = 2.4 -> 2, -2.4 -> -2, 8 -> 3 (pos_max), -12 -> -4 (neg_min)
    torch.testing.assert_close(a, torch.tensor([2.0, -2.0, 3.0, -4.0]))
    torch.testing.assert_close(out.sum(0), 0.25 * a)
    assert c.tolist() == [0, 0, 0, 0]
    one, q1, a1, c1 = functional.stbif_step(x[0], torch.full((4,), 0.5), torch.zeros(4), *_params())
    torch.testing.assert_close(one, out[0])
    assert c1.tolist() == [1, -1, 1, -1]
    torch.testing.assert_close(q1, torch.tensor([1.9, -0.9, 7.5, -10.5]))


def test_stbif_rejects_autograd_empty_input_and_bad_shapes():
    q, a = torch.full((2,), 0.5), torch.zeros(2)
    with pytest.raises(RuntimeError, match="autograd"):
        functional.stbif_step(torch.rand(2, requires_grad=True), q, a, *_params())
    with pytest.raises(ValueError, match="non-empty"):
        functional.stbif_multi_step(torch.zeros(0, 2), q, a, *_params())
    with pytest.raises(ValueError, match="shape"):
        functional.stbif_step(torch.rand(3), q, a, *_params())
    with pytest.raises(ValueError, match="one-element"):
        functional.stbif_step(torch.rand(2), q, a, torch.ones(2), *_params()[1:])


# ---------------------------------------------------------------- activation-aware IF


def test_activation_aware_if_step_closed_form():
    x, v = torch.tensor([0.3, 0.3]), torch.tensor([0.1, 0.1])
    s, v1 = functional.activation_aware_if_step(
        x, v, torch.tensor(0.5), torch.tensor([0.1, 0.0]), None, _heaviside
    )
    # H = 0.4: fires iff H + O >= 0.5
    assert s.tolist() == [1, 0]
    torch.testing.assert_close(v1, torch.tensor([-0.1, 0.4]))


def test_activation_aware_if_multi_step_maps_elements_to_channels():
    torch.manual_seed(0)
    x = torch.rand(4, 2, 3, 5) * 1.2
    thr, off = torch.tensor([0.4, 0.8, 1.1]), torch.tensor([0.1, -0.1, 0.0])
    s, v, v_seq = functional.activation_aware_if_multi_step(
        x, torch.zeros(2, 3, 5), thr, off, 3, 5, 0.0, True
    )
    ref_s, ref_v = [], torch.zeros(2, 3, 5)
    for t in range(4):
        sp, ref_v = functional.activation_aware_if_step(
            x[t], ref_v, thr.view(3, 1), off.view(3, 1), 0.0, _heaviside
        )
        ref_s.append(sp)
    torch.testing.assert_close(s, torch.stack(ref_s))
    torch.testing.assert_close(v, ref_v)
    torch.testing.assert_close(v_seq[-1], v)
    half = functional.activation_aware_if_multi_step(
        x.half(), torch.zeros(2, 3, 5), thr, off, 3, 5, None
    )
    assert half[0].dtype == torch.float16 and half[1].dtype == torch.float32 and half[2] is None
    with pytest.raises(ValueError, match="channel_size=3"):
        functional.activation_aware_if_multi_step(x, torch.zeros(2, 3, 5), torch.ones(2), off, 3, 5)
    with pytest.raises(ValueError, match="must divide"):
        functional.activation_aware_if_multi_step(x, torch.zeros(2, 3, 5), thr, off, 4, 5)
