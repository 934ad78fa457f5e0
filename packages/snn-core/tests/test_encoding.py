"""Encoders against their equations and hand-computed spike trains."""

import math

import pytest
import torch
from snn_core import encoding, functional


def test_poisson_encoder_fires_with_probability_x():
    torch.manual_seed(0)
    enc = encoding.PoissonEncoder()
    assert torch.equal(enc(torch.tensor([0.0, 1.0, 0.0])), torch.tensor([0.0, 1.0, 0.0]))
    x = torch.full((20000,), 0.3)
    rate = enc(x).mean().item()
    assert abs(rate - 0.3) < 0.02  # ~6 standard errors


def test_poisson_encoder_uses_u_le_x_with_the_global_rng():
    x = torch.rand(5, 4)
    torch.manual_seed(3)
    expected = (torch.rand_like(x) <= x).float()
    torch.manual_seed(3)
    assert torch.equal(encoding.PoissonEncoder(step_mode="m")(x), expected)


@pytest.mark.parametrize("enc_function", ["linear", "log"])
def test_latency_encoder_fires_once_at_the_rounded_time(enc_function):
    T = 5
    x = torch.tensor([0.0, 0.3, 0.6, 1.0])
    if enc_function == "linear":
        t_f = [round(4 * (1 - v)) for v in x.tolist()]
    else:
        alpha = math.exp(4) - 1
        t_f = [round(4 - math.log(alpha * v + 1)) for v in x.tolist()]
    enc = encoding.LatencyEncoder(T, enc_function)
    spikes = torch.stack([enc(x)] + [enc() for _ in range(T - 1)])
    expected = torch.zeros(T, 4)
    expected[t_f, range(4)] = 1.0
    assert torch.equal(spikes, expected)
    assert torch.equal(enc(), expected[0])  # period T


def test_latency_encoder_hand_values():
    enc = encoding.LatencyEncoder(4, "linear")
    # (T-1)(1-x): x=0.5 -> 1.5 -> rounds to 2 (half to even)
    spikes = torch.stack([enc(torch.tensor([0.5, 0.9])), enc(), enc(), enc()])
    assert spikes[:, 0].tolist() == [0, 0, 1, 0] and spikes[:, 1].tolist() == [1, 0, 0, 0]


def test_latency_encoder_multi_step_uses_the_first_step():
    x_seq = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    enc = encoding.LatencyEncoder(3, step_mode="m")
    assert torch.equal(enc(x_seq), torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))


def test_latency_encoder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="enc_function"):
        encoding.LatencyEncoder(4, "exp")
    with pytest.raises(ValueError, match="T must be a positive int"):
        encoding.LatencyEncoder(0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encoding.LatencyEncoder(4)(torch.tensor([2.0]))


def test_weighted_phase_encoder_is_the_binary_expansion():
    enc = encoding.WeightedPhaseEncoder(8)
    x = torch.tensor([192 / 256, 1 / 256, 128 / 256, 255 / 256])
    spikes = torch.stack([enc(x)] + [enc() for _ in range(7)])
    assert spikes[:, 0].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert spikes[:, 1].tolist() == [0, 0, 0, 0, 0, 0, 0, 1]
    assert spikes[:, 2].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert spikes[:, 3].tolist() == [1] * 8
    weights = 0.5 ** torch.arange(1, 9, dtype=torch.float32)
    assert torch.allclose((spikes * weights[:, None]).sum(0), x)


def test_weighted_phase_encoder_rejects_out_of_range_input():
    with pytest.raises(ValueError, match="1 - 2"):
        encoding.WeightedPhaseEncoder(3)(torch.tensor([0.9]))


def test_periodic_encoder_cycles_and_restarts_after_reset():
    spike = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    enc = encoding.PeriodicEncoder(spike)
    assert torch.equal(torch.stack([enc(spike), enc(), enc(), enc()]), spike[[0, 1, 2, 0]])
    functional.reset_net(enc)
    assert torch.equal(enc(spike), spike[0])
    enc.reset()
    with pytest.raises(ValueError, match="needs the input"):
        enc()


def test_stateful_encoder_functional_forward_leaves_module_state_alone():
    spike = torch.tensor([[1.0], [0.0]])
    enc = encoding.PeriodicEncoder(spike)
    (out,), (train, t) = enc.functional_forward((spike,), (None, 1))
    assert torch.equal(out, spike[1]) and t == 0 and enc.spike is None


def _gauss(obs, enc):
    return torch.exp(-0.5 * ((obs.view(-1, enc.obs_dim, 1) - enc.mean) / enc.std) ** 2).flatten(1)


def test_pop_encoder_parameters_and_gaussian_activity():
    enc = encoding.PopEncoder(obs_dim=2, pop_dim=3, spike_ts=4, mean_range=(-1.0, 1.0), std=0.5)
    assert enc.mean.shape == (1, 2, 3) and enc.mean[0, 1].tolist() == [-1.0, 0.0, 1.0]
    assert torch.equal(enc.std, torch.full((1, 2, 3), 0.5))
    obs = torch.tensor([[0.0, 1.0]], requires_grad=True)
    out = enc(obs)
    assert out.shape == (4, 1, 6)
    expected = [math.exp(-2), 1.0, math.exp(-2), math.exp(-8), math.exp(-2), 1.0]
    assert torch.allclose(out[2, 0], torch.tensor(expected))
    out.sum().backward()
    assert obs.grad is not None and enc.mean.grad is not None and enc.std.grad is not None


def test_pop_spike_encoder_random_samples_bernoulli_per_step():
    enc = encoding.PopSpikeEncoderRandom(2, 3, 4, (-1.0, 1.0), 0.5)
    obs = torch.tensor([[0.0, 0.5]])
    act = _gauss(obs, enc).detach()
    torch.manual_seed(7)
    expected = torch.stack([torch.bernoulli(act) for _ in range(4)])
    torch.manual_seed(7)
    assert torch.equal(enc(obs), expected)


def test_pop_spike_encoder_deterministic_integrates_and_fires():
    enc = encoding.PopSpikeEncoderDeterministic(1, 3, 4, (-1.0, 1.0), 1.0)
    obs = torch.tensor([[0.0]], requires_grad=True)
    out = enc(obs)
    # activities exp(-1/2), 1, exp(-1/2); IF with soft reset at 0.999
    a = math.exp(-0.5)
    v, expected = 0.0, []
    for _ in range(4):
        v += a
        s = float(v >= 0.999)
        v -= s * 0.999
        expected.append(s)
    assert out[:, 0, 0].tolist() == expected and out[:, 0, 1].tolist() == [1.0] * 4
    out.sum().backward()  # straight-through: d out / d activity = 1 at every step
    assert enc.mean.grad is not None and obs.grad is not None
    again = enc(obs.detach())
    functional.reset_net(enc)
    assert torch.equal(enc(obs.detach()), out.detach())
    assert not torch.equal(again, out.detach())  # state carried over without a reset


def test_pop_encoders_state_dict_holds_only_mean_and_std():
    for cls in (
        encoding.PopEncoder,
        encoding.PopSpikeEncoderRandom,
        encoding.PopSpikeEncoderDeterministic,
    ):
        assert set(cls(2, 3, 4, (0.0, 1.0), 0.1).state_dict()) == {"mean", "std"}


def test_stateless_encoder_requires_forward_and_validates_step_mode():
    with pytest.raises(NotImplementedError):
        encoding.StatelessEncoder()(torch.zeros(1))
    with pytest.raises(ValueError, match="step_mode"):
        encoding.PoissonEncoder(step_mode="x")
