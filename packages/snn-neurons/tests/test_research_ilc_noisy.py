"""Intra-population-connected (ILC) layers and the noisy (NoisySAN) neurons."""

import pytest
import torch
from snn_neurons import (
    CUBALIFNode,
    ILCCUBALIFNode,
    ILCIFNode,
    ILCLIFNode,
    NoisyCUBALIFNode,
    NoisyILCCUBALIFNode,
    NoisyNonSpikingIFNode,
)

# ---------------------------------------------------------------- ILC


def test_ilc_feeds_each_population_its_own_previous_spikes():
    # 2 populations of 2 neurons; population p's spikes reach only population p
    node = ILCIFNode(act_dim=2, dec_pop_dim=2, v_threshold=1.0)
    w = torch.tensor([[[0.5, 0.0]], [[0.0, 0.25]], [[1.0, 1.0]], [[2.0, 0.0]]])
    with torch.no_grad():
        node.conn.weight.copy_(w)
        node.conn.bias.copy_(torch.tensor([0.01, 0.02, 0.03, 0.04]))
    x = torch.tensor([[[1.0, 0.0, 1.0, 1.0]], [[0.0, 0.0, 0.0, 0.0]]])
    out = node(x)
    torch.testing.assert_close(out[0], torch.tensor([[1.0, 0.0, 1.0, 1.0]]))
    # step 1 input: W_p s_p + b; population 0: (0.5, 0) . (1, 0) -> 0.5, 0.25 * 0 -> 0
    # population 1: (1, 1) . (1, 1) -> 2, (2, 0) . (1, 1) -> 2; IF from v = (0, 0, 0, 0)
    expected_v = torch.tensor([[0.51, 0.02, 0.0, 0.0]])
    torch.testing.assert_close(out[1], torch.tensor([[0.0, 0.0, 1.0, 1.0]]))
    torch.testing.assert_close(node.v, expected_v)


def test_ilc_lif_and_cuba_charges():
    x = torch.zeros(3, 1, 2)
    x[0] = 0.4
    lif = ILCLIFNode(1, 2, v_decay=0.5)
    torch.nn.init.zeros_(lif.conn.weight)
    torch.nn.init.zeros_(lif.conn.bias)
    lif(x)
    torch.testing.assert_close(lif.v, torch.full((1, 2), 0.1))  # 0.4 * 0.5^2
    cuba = ILCCUBALIFNode(1, 2, c_decay=0.5, v_decay=0.5, v_threshold=10.0)
    torch.nn.init.zeros_(cuba.conn.weight)
    torch.nn.init.zeros_(cuba.conn.bias)
    cuba(x)
    # C = 0.4, 0.2, 0.1; V = 0.4, 0.4, 0.3
    torch.testing.assert_close(cuba.c, torch.full((1, 2), 0.1))
    torch.testing.assert_close(cuba.v, torch.full((1, 2), 0.3))


@pytest.mark.parametrize("cls", [ILCIFNode, ILCLIFNode, ILCCUBALIFNode])
def test_ilc_layers_do_not_modify_their_input_and_train(cls):
    node = cls(3, 4)
    x = torch.rand(5, 2, 12, requires_grad=True)
    x_before = x.detach().clone()
    out = node(x)
    out.sum().backward()
    assert torch.equal(x.detach(), x_before)
    assert torch.isfinite(x.grad).all() and node.conn.weight.grad is not None
    # each call runs from rest: the same input gives the same output
    torch.testing.assert_close(node(x), out)


def test_ilc_soft_reset_and_input_checks():
    node = ILCLIFNode(2, 3, v_reset=None)
    node(torch.rand(3, 4, 6))
    with pytest.raises(ValueError, match=r"\[T, N, 6\]"):
        node(torch.rand(3, 4, 5))
    with pytest.raises(ValueError, match="step_mode"):
        node.step_mode = "s"


# ---------------------------------------------------------------- noisy neurons


def test_noise_free_noisy_cuba_is_the_cuba_neuron():
    noisy = NoisyCUBALIFNode(4, is_training=False, T=6)
    cuba = CUBALIFNode(step_mode="m")
    x = torch.rand(6, 3, 4)
    torch.testing.assert_close(noisy(x), cuba(x))


def test_noisy_cuba_adds_the_colored_noise_to_charge_and_output():
    torch.manual_seed(0)
    node = NoisyCUBALIFNode(4, T=5, sigma_init=2.0, beta=1.0)
    node.reset_noise(3)
    x = torch.rand(5, 2, 4)
    node(x)
    out = node(x)  # the second step's noise
    assert node.noise_step == 1
    cn = node.get_colored_noise()
    assert cn.shape == (5, 8)
    eps_v, eps_s = cn[:, :4], cn[:, 4:]
    ref = CUBALIFNode(step_mode="m")
    spikes = ref(x + node.sigma_v * eps_v[:, None])
    torch.testing.assert_close(out, spikes + node.sigma_s * eps_s[:, None])
    assert node.sigma_v == pytest.approx(1.0)  # sigma_init / sqrt(num_node)


def test_stored_noise_replays_the_same_output():
    node = NoisyILCCUBALIFNode(2, 3, T=4, beta=1.0)
    x = torch.rand(4, 1, 6)
    out = node(x)
    cn = node.get_colored_noise()
    node.load_colored_noise(cn[None].expand(3, 4, 12))
    torch.testing.assert_close(node(x.expand(4, 3, 6)), out.expand(4, 3, 6))
    node.cancel_load()
    assert node.cn_v is None
    with pytest.raises(ValueError, match=r"\[N, T=4, 12\]"):
        node.load_colored_noise(cn)


def test_noise_of_consecutive_steps_is_one_colored_sequence():
    torch.manual_seed(0)
    node = NoisyCUBALIFNode(200, T=5, beta=2.0)
    node.reset_noise(40)
    # node n's noise over (step, t) is one brown-noise series: strongly correlated in time
    series = node.eps_v_seq.permute(2, 0, 1).reshape(200, -1)
    lag1 = (series[:, 1:] * series[:, :-1]).mean() / series.pow(2).mean()
    assert lag1 > 0.9
    white = NoisyCUBALIFNode(200, T=5, beta=0.0)
    white.reset_noise(40)
    series = white.eps_v_seq.permute(2, 0, 1).reshape(200, -1)
    assert abs((series[:, 1:] * series[:, :-1]).mean()) < 0.05


def test_noise_is_drawn_on_demand_without_reset_noise():
    node = NoisyCUBALIFNode(3)
    out = node(torch.rand(5, 2, 3, requires_grad=True))
    out.sum().backward()
    assert node.noise_step == 0 and node.eps_s_seq.shape == (1, 5, 3)
    node(torch.rand(5, 2, 3))  # the block is used up: a fresh one is drawn
    assert node.noise_step == 0


def test_noisy_non_spiking_if_integrates_noisy_input_with_learnable_sigma():
    node = NoisyNonSpikingIFNode(4, T=3, sigma_init=1.0, decode="last-mem")
    x = torch.rand(3, 2, 4, requires_grad=True)
    y = node(x)
    eps = node.get_colored_noise()
    torch.testing.assert_close(y, (x + 0.5 * eps[:, None]).sum(0))
    y.sum().backward()
    torch.testing.assert_close(node.sigma.grad, 2 * eps.sum(0))
    assert torch.isfinite(x.grad).all()
    v_seq = NoisyNonSpikingIFNode(4, T=3, is_training=False)(x)
    torch.testing.assert_close(v_seq, x.cumsum(0))


def test_noisy_neurons_check_inputs():
    with pytest.raises(ValueError, match="T=5"):
        NoisyCUBALIFNode(3)(torch.rand(4, 2, 3))
    with pytest.raises(ValueError, match="3 features"):
        NoisyCUBALIFNode(3)(torch.rand(5, 2, 4))
    with pytest.raises(RuntimeError, match="no noise"):
        NoisyCUBALIFNode(3).get_colored_noise()
