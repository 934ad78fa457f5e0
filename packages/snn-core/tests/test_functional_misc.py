"""functional misc helpers on hand-computed examples."""

import math

import pytest
import torch
from snn_core import MemoryModule, functional
from torch import nn


def test_delay_hand_example_and_gradient():
    x = torch.arange(1.0, 11.0).reshape(5, 2).requires_grad_()
    y = functional.delay(x, 2)
    expected = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    torch.testing.assert_close(y, expected)
    w = torch.arange(10.0).reshape(5, 2)  # dL/dy
    (y * w).sum().backward()
    # y[t] = x[t - 2]  =>  dL/dx[t] = w[t + 2] for t < 3, else 0
    expected_grad = torch.tensor([[4.0, 5.0], [6.0, 7.0], [8.0, 9.0], [0.0, 0.0], [0.0, 0.0]])
    torch.testing.assert_close(x.grad, expected_grad)


def test_delay_zero_steps_is_identity_and_too_many_steps_give_zeros():
    x = torch.randn(3, 4, requires_grad=True)
    torch.testing.assert_close(functional.delay(x, 0), x)
    y = functional.delay(x, 3)
    torch.testing.assert_close(y, torch.zeros(3, 4))
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.zeros(3, 4))
    assert functional.delay(torch.randn(2, 1), 7).shape == (2, 1)


@pytest.mark.parametrize("bad", [-1, 1.0, True])
def test_delay_rejects_bad_delay_steps(bad):
    with pytest.raises(ValueError, match="delay_steps must be an int >= 0"):
        functional.delay(torch.zeros(3, 2), bad)


def test_first_spike_index_hand_example():
    spikes = torch.tensor(
        [
            [[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0]],
            [[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]],
        ]
    )  # [2, 2, T=4]
    expected = torch.tensor(
        [
            [[False, False, False, False], [True, False, False, False]],
            [[False, True, False, False], [False, False, False, True]],
        ]
    )
    got = functional.first_spike_index(spikes)
    assert got.dtype == torch.bool
    assert torch.equal(got, expected)


def test_redundant_one_hot_hand_example():
    codes = functional.redundant_one_hot(torch.tensor([0, 1, 1, 2]), 3, 2)
    expected = torch.tensor(
        [
            [1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
        ]
    )
    assert codes.dtype == torch.get_default_dtype()
    torch.testing.assert_close(codes, expected)


def test_redundant_one_hot_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        functional.redundant_one_hot(torch.tensor([0, 3]), 3, 2)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        functional.redundant_one_hot(torch.tensor([0]), 3, 0)
    with pytest.raises(ValueError, match="integer tensor of shape"):
        functional.redundant_one_hot(torch.tensor([0.0]), 3, 1)


def test_kaiming_normal_conv_linear_weight_statistics_and_untouched_params():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(20, 64, 3), nn.BatchNorm2d(64), nn.Flatten(), nn.Linear(900, 500))
    bias_before = [net[0].bias.detach().clone(), net[3].bias.detach().clone()]
    functional.kaiming_normal_conv_linear_weight(net)
    gain = math.sqrt(2.0 / (1.0 + 5.0))  # leaky_relu gain with a = sqrt(5)
    for w, fan_in in ((net[0].weight, 20 * 9), (net[3].weight, 900)):
        expected_std = gain / math.sqrt(fan_in)
        assert abs(w.std().item() / expected_std - 1.0) < 0.03
        assert abs(w.mean().item()) < 0.05 * expected_std
    torch.testing.assert_close(net[0].bias, bias_before[0])
    torch.testing.assert_close(net[3].bias, bias_before[1])
    torch.testing.assert_close(net[1].weight, torch.ones(64))


class ThresholdNeuron(MemoryModule):
    def __init__(self) -> None:
        super().__init__()
        self.v_threshold = 1.0

    def single_step_forward(self, x):
        return (x >= self.v_threshold).to(x.dtype)


def test_set_threshold_margin_training_and_eval():
    layer = ThresholdNeuron()
    labels = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    functional.set_threshold_margin(layer, labels)
    torch.testing.assert_close(layer.v_threshold, torch.tensor([[0.9, 1.1, 0.9], [1.1, 0.9, 0.9]]))
    # an input of 1.0 everywhere fires only the wrong classes (margin on the true one)
    torch.testing.assert_close(layer(torch.ones(2, 3)), 1.0 - labels)
    functional.set_threshold_margin(layer, labels.long(), threshold0=0.5, threshold1=2.0)
    assert layer.v_threshold.is_floating_point()
    torch.testing.assert_close(layer.v_threshold, torch.tensor([[0.5, 2.0, 0.5], [2.0, 0.5, 0.5]]))
    layer.eval()
    functional.set_threshold_margin(layer, labels, eval_threshold=0.7)
    assert layer.v_threshold == 0.7


def test_set_threshold_margin_rejects_bad_arguments():
    with pytest.raises(TypeError, match="v_threshold attribute"):
        functional.set_threshold_margin(nn.Linear(2, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"label_one_hot must be a \[N, C\] tensor"):
        functional.set_threshold_margin(ThresholdNeuron(), torch.zeros(3))
