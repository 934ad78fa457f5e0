"""fuse_conv_bn_eval_modules / pack_conv_bn_train_modules against the unfused network."""

import copy

import pytest
import torch
from snn_core import StepModule, functional
from snn_core.functional.conv_bn_fusion import _TrainConvBnWrapper
from torch import nn


class _Folded(StepModule):
    """Multi-step mode folds [T, N, *] into [T*N, *] (like the step-mode layer wrappers)."""

    def __init__(self, step_mode):
        self.step_mode = step_mode

    def forward(self, x):
        if self.step_mode == "m":
            return super().forward(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        return super().forward(x)


class MConv2d(_Folded, nn.Conv2d):
    def __init__(self, *args, step_mode="m", **kwargs):
        nn.Conv2d.__init__(self, *args, **kwargs)
        _Folded.__init__(self, step_mode)


class MBatchNorm2d(_Folded, nn.BatchNorm2d):
    def __init__(self, *args, step_mode="m", **kwargs):
        nn.BatchNorm2d.__init__(self, *args, **kwargs)
        _Folded.__init__(self, step_mode)


class Block(nn.Module):
    def __init__(self, conv, bn, tail):
        super().__init__()
        self.conv, self.bn, self.tail = conv, bn, tail

    def forward(self, x):
        return self.tail(torch.relu(self.bn(self.conv(x))))


def _trained_bn(bn, channels):
    with torch.no_grad():
        bn.running_mean.copy_(torch.linspace(-1, 1, channels))
        bn.running_var.copy_(torch.linspace(0.5, 2, channels))
        bn.weight.copy_(torch.linspace(0.5, 1.5, channels))
        bn.bias.copy_(torch.linspace(-0.2, 0.2, channels))
    return bn


@pytest.mark.parametrize("d", [1, 2, 3])
def test_eval_fusion_matches_and_removes_batchnorm(d):
    torch.manual_seed(0)
    conv_t = getattr(nn, f"Conv{d}d")
    bn_t = getattr(nn, f"BatchNorm{d}d")
    net = Block(conv_t(2, 4, 3, padding=1), _trained_bn(bn_t(4), 4), conv_t(4, 2, 1)).eval()
    x = torch.randn(2, 2, *([5] * d))
    fused = functional.fuse_conv_bn_eval_modules(copy.deepcopy(net))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), net(x), atol=1e-5, rtol=1e-4)
    assert not any(isinstance(m, bn_t) for m in fused.modules())


def test_eval_fusion_keeps_the_step_mode_of_a_multi_step_conv():
    torch.manual_seed(0)
    net = Block(MConv2d(3, 4, 3, padding=1), _trained_bn(MBatchNorm2d(4), 4), nn.Identity()).eval()
    x = torch.randn(3, 2, 3, 6, 6)
    fused = functional.fuse_conv_bn_eval_modules(copy.deepcopy(net))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), net(x), atol=1e-5, rtol=1e-4)
    assert isinstance(fused.conv, MConv2d) and fused.conv.step_mode == "m"


def test_eval_fusion_needs_eval_mode_and_running_stats():
    net = Block(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Identity())
    with pytest.raises(ValueError, match="eval"):
        functional.fuse_conv_bn_eval_modules(net)
    net = Block(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2, track_running_stats=False), nn.Identity())
    with pytest.raises(ValueError, match="track running stats"):
        functional.fuse_conv_bn_eval_modules(net.eval())


class SharedConv(nn.Module):
    def __init__(self, two_bns, reuse_output):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.bn1 = _trained_bn(nn.BatchNorm2d(3), 3)
        self.bn2 = _trained_bn(nn.BatchNorm2d(3), 3) if two_bns else self.bn1
        self.reuse_output = reuse_output

    def forward(self, x):
        if self.reuse_output:
            y = self.conv(x)
            return self.bn1(y) + y
        return self.bn1(self.conv(x)) + self.bn2(self.conv(x))


@pytest.mark.parametrize(
    ("two_bns", "reuse_output", "fused_expected"),
    [(False, False, True), (True, False, False), (False, True, False)],
)
def test_eval_fusion_only_takes_unambiguous_pairs(two_bns, reuse_output, fused_expected):
    torch.manual_seed(1)
    net = SharedConv(two_bns, reuse_output).eval()
    x = torch.randn(2, 2, 5, 5)
    fused = functional.fuse_conv_bn_eval_modules(copy.deepcopy(net))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), net(x), atol=1e-5, rtol=1e-4)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert has_bn is not fused_expected


def test_train_packing_matches_forward_and_gradients():
    torch.manual_seed(2)
    net = Block(MConv2d(3, 4, 3, padding=1), MBatchNorm2d(4), MConv2d(4, 2, 1)).train()
    packed = functional.pack_conv_bn_train_modules(copy.deepcopy(net))
    assert isinstance(packed.conv, _TrainConvBnWrapper)
    x = torch.randn(3, 2, 3, 6, 6, requires_grad=True)
    xp = x.detach().clone().requires_grad_()
    y, yp = net(x), packed(xp)
    torch.testing.assert_close(yp, y, atol=1e-5, rtol=1e-4)
    y.square().mean().backward()
    yp.square().mean().backward()
    torch.testing.assert_close(xp.grad, x.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed.conv.conv.weight.grad, net.conv.weight.grad)
    torch.testing.assert_close(packed.conv.bn.weight.grad, net.bn.weight.grad)
    torch.testing.assert_close(packed.conv.bn.running_mean, net.bn.running_mean)


def test_train_wrapper_folds_time_once_and_restores_step_modes():
    conv, bn = MConv2d(3, 4, 1), MBatchNorm2d(4)
    seen = []
    conv.register_forward_hook(lambda m, a, out: seen.append((tuple(a[0].shape), m.step_mode)))
    y = _TrainConvBnWrapper(conv, bn)(torch.randn(5, 2, 3, 4, 4))
    assert y.shape == (5, 2, 4, 4, 4)
    assert seen == [((10, 3, 4, 4), "s")]
    assert conv.step_mode == "m" and bn.step_mode == "m"


def test_train_packing_skips_pairs_with_different_step_modes_and_needs_train_mode():
    net = Block(MConv2d(3, 4, 1, step_mode="s"), MBatchNorm2d(4, step_mode="m"), nn.Identity())
    packed = functional.pack_conv_bn_train_modules(net)
    assert not any(isinstance(m, _TrainConvBnWrapper) for m in packed.modules())
    with pytest.raises(ValueError, match="train"):
        functional.pack_conv_bn_train_modules(net.eval())
