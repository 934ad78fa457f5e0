"""snn_layers.ann2snn: rate-coding conversion against hand-computed thresholds and spikes.

Reference numbers: with the same weights and calibration data, SpikingJelly 2.0.0's
converted networks gave identical outputs ('max', float modes) and scales within 4e-6
('99.9%') of ours (checked by running both; see the PR notes). The tests below use
hand-computed values instead, so that they run without the reference.
"""

from __future__ import annotations

import pytest
import snn_layers as L
import torch
import torch.nn.functional as F
from snn_core import functional
from snn_layers import ann2snn
from snn_layers.ann2snn.modules import VoltageHook, VoltageScaler, _safe_quantile
from snn_neurons import HalfThresholdIFNode, IFNode, LIFNode
from torch import nn


def _tiny_mlp() -> nn.Sequential:
    """y = fc2(relu(fc1(x))) with fc1 = identity on 2 features (bias 0), fc2 = sum."""
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.zero_()
        net[2].weight.fill_(1.0)
    return net.eval()


def _convert(net, data, **kw):
    return ann2snn.Converter(ann2snn.RateCodingRecipe(data, **kw)).convert(net)


def _scales(snn) -> dict[str, float]:
    return {n: m.scale.item() for n, m in snn.named_modules() if isinstance(m, VoltageScaler)}


# ---------------------------------------------------------------- thresholds by hand
def test_max_mode_threshold_is_running_max_with_momentum():
    # batch maxima of relu(x): 4, then 2 -> 0.5 * 4 + 0.5 * 2 = 3
    data = [torch.tensor([[1.0, 4.0], [-3.0, 0.5]]), torch.tensor([[2.0, -1.0]])]
    snn = _convert(_tiny_mlp(), data, mode="max", momentum=0.5)
    assert _scales(snn) == pytest.approx({"spiking_0.scaler0": 1 / 3, "spiking_0.scaler1": 3.0})


def test_percentile_mode_threshold_is_batch_quantile():
    # relu(x) of the batch = 0..99 and four zeros; 50% quantile of 104 values, linear interp.
    x = torch.cat([torch.arange(100.0), -torch.ones(4)]).reshape(52, 2)
    values = torch.sort(torch.relu(x).flatten()).values
    pos = 0.5 * (104 - 1)
    expected = values[51] + (values[52] - values[51]) * (pos - 51)
    snn = _convert(_tiny_mlp(), [x], mode="50%")
    assert _scales(snn)["spiking_0.scaler1"] == pytest.approx(expected.item())


def test_fraction_mode_scales_the_maximum():
    snn = _convert(_tiny_mlp(), [torch.tensor([[10.0, 2.0]])], mode=0.5)
    assert _scales(snn)["spiking_0.scaler1"] == pytest.approx(5.0)


def test_converted_spikes_follow_soft_reset_if_by_hand():
    # threshold lambda = 4; input 1 -> current 1/4 per step: spikes at steps 4, 8 (soft reset)
    snn = _convert(_tiny_mlp(), [torch.tensor([[4.0, 0.0]])], mode="max")
    functional.reset_net(snn)
    x = torch.tensor([[1.0, 0.0]])
    outs = [snn(x).item() for _ in range(8)]
    assert outs == [0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 4.0]
    # the average over T approaches relu(x) clipped to lambda
    functional.reset_net(snn)
    x = torch.tensor([[9.0, 1.5]])  # 9 clips to 4
    avg = torch.stack([snn(x) for _ in range(400)]).mean().item()
    assert avg == pytest.approx(4.0 + 1.5, abs=4 / 400 + 1e-6)


def test_neuron_factory_sets_threshold_and_scaler0():
    factory = ann2snn.NeuronFactory(v_threshold=2.0)
    snn = _convert(_tiny_mlp(), [torch.tensor([[4.0, 0.0]])], neuron_factory=factory)
    node = snn.spiking_0.if_node
    assert isinstance(node, IFNode) and node.v_threshold == 2.0 and node.v_reset is None
    assert _scales(snn)["spiking_0.scaler0"] == pytest.approx(2.0 / 4.0)
    lif = ann2snn.NeuronFactory(neuron_type=LIFNode, tau=2.0).create(1.0)
    assert isinstance(lif, LIFNode) and lif.tau == 2.0


def test_neuron_factory_rejects_bad_arguments():
    with pytest.raises(TypeError, match="nn.Module subclass"):
        ann2snn.NeuronFactory(neuron_type=object)
    with pytest.raises(ValueError, match="positive"):
        ann2snn.NeuronFactory(v_threshold=0.0)
    with pytest.raises(TypeError, match="v_reset"):
        ann2snn.NeuronFactory(v_reset="0")


def test_channel_wise_thresholds_per_channel():
    data = [torch.tensor([[1.0, 2.0], [3.0, 0.5]])]
    recipe = ann2snn.RateCodingRecipe(data, channel_wise=True)
    snn = ann2snn.Converter(recipe).convert(_tiny_mlp())
    scaler1 = snn.channel_spiking_0.scaler1
    assert isinstance(scaler1, ann2snn.ChannelVoltageScaler)
    torch.testing.assert_close(scaler1.scale, torch.tensor([3.0, 2.0]))
    torch.testing.assert_close(snn.channel_spiking_0.scaler0.scale, torch.tensor([1 / 3, 0.5]))


def test_half_threshold_channel_wise_uses_half_threshold_neuron():
    recipe = ann2snn.RateCodingRecipe([torch.rand(4, 2)], channel_wise=True, half_threshold=True)
    snn = ann2snn.Converter(recipe).convert(_tiny_mlp())
    assert isinstance(snn.channel_spiking_0.if_node, HalfThresholdIFNode)


# ---------------------------------------------------------------- hooks and scalers
def test_voltage_hook_statistics():
    hook = VoltageHook(mode="Max", momentum=0.5)
    hook(torch.tensor([4.0]))
    hook(torch.tensor([2.0]))
    assert hook.scale.item() == pytest.approx(3.0)
    hook.eval()
    hook(torch.tensor([100.0]))  # eval mode records nothing
    assert hook.scale.item() == pytest.approx(3.0) and hook.num_batches_tracked == 2
    with pytest.raises(NotImplementedError, match="'101%'"):
        VoltageHook(mode="101%")(torch.ones(3))


def test_safe_quantile_matches_torch_quantile():
    x = torch.randn(5, 7, 11)
    torch.testing.assert_close(_safe_quantile(x, 0.999), torch.quantile(x, 0.999))
    torch.testing.assert_close(_safe_quantile(x, 0.25, dim=1), torch.quantile(x, 0.25, dim=1))


def test_channel_voltage_scaler_broadcasts_and_validates():
    s = ann2snn.ChannelVoltageScaler(torch.tensor([1.0, 2.0, 3.0]))
    y = s(torch.ones(2, 3, 4))
    torch.testing.assert_close(y[0, :, 0], torch.tensor([1.0, 2.0, 3.0]))
    x = torch.randn(4, 2, 3, 5)
    s.step_mode = "m"
    torch.testing.assert_close(s(x), x * torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 3, 1))
    with pytest.raises(ValueError, match="does not match"):
        s(torch.ones(4, 2, 4))
    with pytest.raises(ValueError, match="finite positive"):
        ann2snn.ChannelVoltageScaler(torch.tensor([1.0, 0.0]))


# ---------------------------------------------------------------- what converts
class FunctionalReluNet(nn.Module):
    """ReLUs written three ways, a residual addition, avg and max pooling."""

    def __init__(self, how: str, max_pool: bool = True) -> None:
        super().__init__()
        self.how = how
        self.max_pool = max_pool
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * 2 * 2, 3)
        self.relu = nn.ReLU()

    def act(self, x):
        if self.how == "module":
            return self.relu(x)
        if self.how == "F.relu":
            return F.relu(x)
        if self.how == "torch.relu":
            return torch.relu(x)
        return x.relu()

    def forward(self, x):
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x) + x)  # residual
        x = self.avg(x)
        x = F.max_pool2d(x, 2) if self.max_pool else F.avg_pool2d(x, 2)
        return self.fc(torch.flatten(x, 1))


@pytest.mark.parametrize("how", ["module", "F.relu", "torch.relu", "method"])
def test_every_relu_spelling_converts_identically(how):
    torch.manual_seed(0)
    ref = FunctionalReluNet("module").eval()
    net = FunctionalReluNet(how).eval()
    net.load_state_dict(ref.state_dict())
    data = [torch.rand(8, 1, 8, 8) for _ in range(2)]
    snn_ref, snn = _convert(ref, data), _convert(net, data)
    assert sum(isinstance(m, IFNode) for m in snn.modules()) == 2
    assert not any(type(m) is nn.ReLU for m in snn.modules())
    x = torch.rand(3, 1, 8, 8).unsqueeze(0).repeat(16, 1, 1, 1, 1)
    for m in (snn_ref, snn):
        functional.set_step_mode(m, "m")
    torch.testing.assert_close(snn(x), snn_ref(x))


def test_multi_step_equals_single_step_loop_and_approaches_ann():
    torch.manual_seed(1)
    # max pooling of spike trains over-estimates (a known limit of rate coding): avg only
    net = FunctionalReluNet("F.relu", max_pool=False).eval()
    data = [torch.rand(16, 1, 8, 8) for _ in range(3)]
    snn = _convert(net, data, mode="max")
    assert isinstance(snn.conv1, L.Conv2d) and isinstance(snn.fc, L.Linear)
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        functional.reset_net(snn)
        y_s = torch.stack([snn(x) for _ in range(16)])
        functional.set_step_mode(snn, "m")
        functional.reset_net(snn)
        y_m = snn(x.unsqueeze(0).repeat(256, 1, 1, 1, 1))
        torch.testing.assert_close(y_m[:16], y_s, atol=1e-5, rtol=1e-5)
        assert (y_m.mean(0) - net(x)).abs().max().item() < 0.05


def test_sequential_with_batchnorm_fuses_and_keeps_ann_unchanged():
    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 36, 2)
    )
    net[1].running_mean.uniform_(-0.5, 0.5)
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    snn = _convert(net, [torch.rand(4, 1, 8, 8)])
    assert not any(isinstance(m, nn.BatchNorm2d) for m in snn.modules())
    assert net.training and all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    unfused = _convert(net, [torch.rand(4, 1, 8, 8)], fuse_flag=False)
    assert any(isinstance(m, nn.BatchNorm2d) for m in unfused.modules())


def test_calibration_streams_a_generator_and_dict_batches():
    def batches():  # no len(): the recipe must not need to hold the data
        for _ in range(3):
            yield {"label": torch.zeros(4), "image": torch.rand(4, 2)}

    snn = _convert(_tiny_mlp(), batches())
    hook_free = not any(isinstance(m, VoltageHook) for m in snn.modules())
    assert hook_free and isinstance(snn.spiking_0.if_node, IFNode)


# ---------------------------------------------------------------- what is refused
class _Act(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)
        with torch.no_grad():  # positive activations for positive inputs
            self.lin.weight.copy_(torch.eye(2))
            self.lin.bias.zero_()
        self.fn = fn

    def forward(self, x):
        return self.fn(self.lin(x))


@pytest.mark.parametrize(
    "fn, match",
    [
        (nn.GELU(), r"module 'fn' \(GELU\)"),
        (nn.LeakyReLU(), r"module 'fn' \(LeakyReLU\)"),
        (nn.ReLU6(), r"module 'fn' \(ReLU6\)"),
        (F.silu, r"call silu\(\)"),
        (torch.sigmoid, r"call sigmoid\(\)"),
        (lambda x: x.tanh(), r"method call \.tanh\(\)"),
    ],
)
def test_other_activations_are_refused_by_name(fn, match):
    with pytest.raises(ValueError, match="converts ReLU activations only.*" + match):
        _convert(_Act(fn).eval(), [torch.rand(2, 2)])


class _Square(nn.Module):
    def forward(self, x):
        return x * x


_Square.__module__ = "torch.nn.modules.custom"  # a leaf for torch.fx


def test_unknown_leaf_module_is_refused_by_name():
    net = nn.Sequential(*_tiny_mlp()[:2], _Square())
    with pytest.raises(ValueError, match=r"module node '2' of type _Square"):
        _convert(net, [torch.rand(2, 2)])


def test_unknown_function_is_refused_by_name():
    net = _Act(lambda x: torch.exp(F.relu(x)))
    with pytest.raises(ValueError, match="function node .* calling 'exp'"):
        _convert(net, [torch.rand(2, 2)])


def test_unknown_tensor_method_is_refused_by_name():
    net = _Act(lambda x: F.relu(x).cumsum(1))
    with pytest.raises(ValueError, match="tensor method 'cumsum'"):
        _convert(net, [torch.rand(2, 2)])


class _DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: not traceable
            return F.relu(self.lin(x))
        return self.lin(x)


class _DataDependentModules(nn.Module):
    """Untraceable forward whose ReLUs are modules: converted by module replacement."""

    def __init__(self) -> None:
        super().__init__()
        self.net = _tiny_mlp()

    def forward(self, x):
        if x.sum() > -1e9:  # data-dependent control flow
            return self.net(x)
        return -self.net(x)


def test_untraceable_forward_converts_by_module_replacement():
    data = [torch.tensor([[1.0, 4.0], [-3.0, 0.5]]), torch.tensor([[2.0, -1.0]])]
    with pytest.warns(UserWarning, match="could not trace _DataDependentModules"):
        snn = _convert(_DataDependentModules(), data, momentum=0.5)
    block = snn.net.net[1]
    assert isinstance(block.if_node, IFNode)
    assert block.scaler1.scale.item() == pytest.approx(3.0)  # as the fx path, by hand
    x = torch.tensor([[1.5, 0.0]])  # current 1.5 / 3 = 0.5 per step: spikes at steps 2, 4
    functional.reset_net(snn)
    assert [snn(x).item() for _ in range(4)] == [0.0, 3.0, 0.0, 3.0]
    functional.set_step_mode(snn, "m")
    functional.reset_net(snn)
    assert snn(x.unsqueeze(0).repeat(4, 1, 1)).flatten().tolist() == [0.0, 3.0, 0.0, 3.0]


def test_untraceable_forward_with_functional_relu_is_refused_by_name():
    with pytest.warns(UserWarning, match="could not trace"):
        with pytest.raises(ValueError, match=r"calls \['relu'\] outside nn.ReLU modules"):
            _convert(_DataDependent(), [torch.rand(2, 2)])


def test_inplace_dropout_is_refused():
    net = nn.Sequential(*_tiny_mlp()[:2], nn.Dropout(inplace=True))
    with pytest.raises(ValueError, match="Dropout with inplace=True"):
        _convert(net, [torch.rand(2, 2)])


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError):
        ann2snn.Converter(ann2snn.RateCodingRecipe([]), dataloader=[])  # not the 0.0.0.14 API
    with pytest.raises(ValueError, match="rate_coding recipe requires parameters"):
        ann2snn.Converter("rate_coding")
    with pytest.raises(NotImplementedError, match="'average'"):
        _convert(_tiny_mlp(), [], mode="average")
    with pytest.raises(ValueError, match="momentum"):
        _convert(_tiny_mlp(), [], momentum=2.0)
    with pytest.raises(ValueError, match="single-input calibration"):
        _convert(_tiny_mlp(), [((torch.rand(2, 2), torch.rand(2, 2)), 0)])
    with pytest.raises(TypeError, match="ModuleConverter"):
        ann2snn.Converter(ann2snn.ModuleConversionRecipe())


def test_safe_quantile_order_statistics_path_matches_torch(monkeypatch):
    from snn_layers.ann2snn import modules

    monkeypatch.setattr(modules, "_TORCH_QUANTILE_LIMIT", 0)  # force the kthvalue path
    x = torch.randn(6, 50)
    torch.testing.assert_close(_safe_quantile(x, 0.999), torch.quantile(x, 0.999))
    torch.testing.assert_close(_safe_quantile(x, 0.3, dim=1), torch.quantile(x, 0.3, dim=1))
