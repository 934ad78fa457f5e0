"""LocalThresholdBalancingRecipe and estimate_delay_start against hand-computed values."""

from __future__ import annotations

import pytest
import torch
from snn_core import functional
from snn_layers import ann2snn
from snn_layers.ann2snn.recipes.local_threshold_balancing import LocalThresholdBalancingHook
from snn_neurons import HalfThresholdIFNode, IFNode
from torch import fx, nn


def test_ltb_hook_moves_threshold_by_twice_the_mean_overflow():
    hook = LocalThresholdBalancingHook(channel_dim=1)
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 1.0, 2.0]])
    assert torch.equal(hook(x), x)  # threshold starts at 0: nothing clipped after the update
    # theta = 0 + 2 * mean(relu(x) - 0) per channel = 2 * [2.5, 1.5, 2.5]
    torch.testing.assert_close(hook.compute_threshold(), torch.tensor([5.0, 3.0, 5.0]))
    hook.threshold = torch.tensor([1.0, 1.0, 1.0])
    y = hook(x)
    # overflow over 1: [[0,1,2],[3,0,1]] -> means [1.5, 0.5, 1.5] -> theta 1 + 2*mean
    theta = torch.tensor([4.0, 2.0, 4.0])
    torch.testing.assert_close(hook.compute_threshold(), theta)
    torch.testing.assert_close(y, torch.minimum(x, theta))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        hook(torch.ones(3))


def test_ltb_recipe_builds_channel_scalers_half_threshold_neurons_and_pools_first():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32, 3)
    ).eval()
    data = [torch.rand(4, 1, 8, 8)]
    snn = ann2snn.Converter(ann2snn.LocalThresholdBalancingRecipe(data)).convert(net)
    hook = LocalThresholdBalancingHook()
    with torch.no_grad():
        hook(net[2](net[1](net[0](data[0]))))  # the hook sees the pooled activation
    block = snn.ltb_spiking_0
    assert isinstance(block.if_node, HalfThresholdIFNode)
    torch.testing.assert_close(block.scaler1.scale, hook.threshold)
    torch.testing.assert_close(block.scaler0.scale, 1.0 / hook.threshold)
    order = [n.target for n in snn.graph.nodes if n.op == "call_module"]
    assert order.index("2") < order.index("ltb_spiking_0.if_node")
    with pytest.raises(ValueError, match="eps must be positive"):
        ann2snn.Converter(ann2snn.LocalThresholdBalancingRecipe(data, eps=0.0)).convert(net)


class _Chain(nn.Module):
    def __init__(self, neuron: nn.Module, theta: float) -> None:
        super().__init__()
        self.scaler0 = ann2snn.ChannelVoltageScaler(torch.full((2,), 1.0 / theta))
        self.if_node = neuron
        self.scaler1 = ann2snn.ChannelVoltageScaler(torch.full((2,), theta))

    def forward(self, x):
        return self.scaler1(self.if_node(self.scaler0(x)))


class _LeafTracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, name: str) -> bool:
        leaf = (ann2snn.ChannelVoltageScaler, IFNode, HalfThresholdIFNode)
        return isinstance(m, leaf) or super().is_leaf_module(m, name)


def _traced(model: nn.Module) -> fx.GraphModule:
    return fx.GraphModule(model, _LeafTracer().trace(model))


@pytest.mark.parametrize(
    "neuron, expected",
    [
        # current x/4 = 0.25 per step, rate-equivalent activation 1; charge (1 - v0) * 4
        (IFNode(v_reset=None), 4),  # v0 = 0: 4 / 1
        (HalfThresholdIFNode(), 2),  # v0 = 0.5: 2 / 1
    ],
)
def test_delay_start_is_charge_over_activation(neuron, expected):
    model = _traced(_Chain(neuron, 4.0))
    loader = [(torch.ones(2, 2), torch.zeros(2))]
    assert ann2snn.estimate_delay_start(model, loader, "cpu", time_steps=64) == expected
    assert not model.if_node._forward_hooks  # hooks removed
    functional.reset_net(model)
    assert model(torch.ones(2, 2)).sum() == 0  # still the spiking forward


def test_delay_start_warns_when_too_few_readout_steps_remain():
    model = _traced(_Chain(IFNode(v_reset=None), 4.0))
    with pytest.warns(RuntimeWarning, match="time_steps is too small"):
        start = ann2snn.estimate_delay_start(model, [torch.ones(2, 2)], "cpu", time_steps=4)
    assert start == 0
    with pytest.raises(ValueError, match="time_steps must be positive"):
        ann2snn.estimate_delay_start(model, [torch.ones(2, 2)], "cpu", time_steps=0)
