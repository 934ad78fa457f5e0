"""Spiking ResNet in torchvision's layout: SpikingJelly's ``model.spiking_resnet``.

torchvision's ResNet / ResNeXt / Wide ResNet with every ReLU replaced by the caller's
``spiking_neuron`` and the residual sum fed to the block's last neuron,
``O = SN(BN(conv(...)) + shortcut)`` (see ``snn_zoo.models._resnet_skeleton``, shared
with :mod:`snn_zoo.models.sew_resnet`). Parameter names are torchvision's, so
``pretrained=True`` loads torchvision's ImageNet ANN weights.

How it differs from the zoo's ``spiking_resnet18`` family (``snn_zoo.create_model``, the
official SEW-ResNet code's plain baseline): no built-in neuron or ``T`` (the caller passes
``spiking_neuron``, chooses the step mode, feeds ``[N, 3, H, W]`` per step or
``[T, N, 3, H, W]`` and resets the neurons), torchvision's key names instead of the
official ``SeqToANNContainer`` ones, a down-sampling shortcut without a neuron in both,
and the output is per step (``[T, N, classes]`` in ``'m'``), not averaged over time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from snn_zoo.models._classic_common import load_ann_weights
from snn_zoo.models._resnet_skeleton import ResidualBlock, ResNetSkeleton
from snn_zoo.models._resnet_skeleton import conv1x1 as conv1x1  # the reference's helpers
from snn_zoo.models._resnet_skeleton import conv3x3 as conv3x3

__all__ = [
    "SpikingResNet",
    "spiking_resnet18",
    "spiking_resnet34",
    "spiking_resnet50",
    "spiking_resnet101",
    "spiking_resnet152",
    "spiking_resnext50_32x4d",
    "spiking_resnext101_32x8d",
    "spiking_wide_resnet50_2",
    "spiking_wide_resnet101_2",
]

#: torchvision's ImageNet ANN checkpoints that ``pretrained=True`` loads
model_urls = {
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "resnet34": "https://download.pytorch.org/models/resnet34-b627a593.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    "resnet101": "https://download.pytorch.org/models/resnet101-63fe2227.pth",
    "resnet152": "https://download.pytorch.org/models/resnet152-394f9c45.pth",
    "resnext50_32x4d": "https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth",
    "resnext101_32x8d": "https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth",
    "wide_resnet50_2": "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
    "wide_resnet101_2": "https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth",
}


class BasicBlock(ResidualBlock):
    """Two 3x3 ``conv -> BN``; ``sn1`` between them, ``sn2(BN2 + shortcut)`` at the end."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[[int], nn.Module] | None = None,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            inplanes, planes, stride, downsample, groups, base_width, dilation, norm_layer,
            spiking_neuron, kwargs,
        )  # fmt: skip


class Bottleneck(ResidualBlock):
    """1x1, 3x3 (stride, groups), 1x1 (``4 * planes``) ``conv -> BN``, neurons between them;
    ``sn3(BN3 + shortcut)`` at the end (torchvision's ResNet v1.5)."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[[int], nn.Module] | None = None,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            inplanes, planes, stride, downsample, groups, base_width, dilation, norm_layer,
            spiking_neuron, kwargs,
        )  # fmt: skip


class SpikingResNet(ResNetSkeleton):
    """torchvision's ResNet with spiking neurons (He et al., CVPR 2016; see the module doc).

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks in each of the 4 stages.
        num_classes: outputs of ``fc``.
        zero_init_residual: start the last BN weight of every block at 0.
        groups, width_per_group: ResNeXt / Wide ResNet widths of the bottleneck's 3x3 conv,
            ``int(planes * width_per_group / 64) * groups``.
        replace_stride_with_dilation: 3 booleans, per stage 2..4: dilate instead of striding.
        norm_layer: normalisation class (default ``snn_layers.BatchNorm2d``).
        spiking_neuron: the neuron class or factory (required), e.g. ``snn_neurons.IFNode``.
        **kwargs: forwarded to every ``spiking_neuron(...)`` call (e.g. ``tau``,
            ``detach_reset``, ``step_mode``, ``backend``).
    """

    def __init__(
        self,
        block: type[ResidualBlock],
        layers: Sequence[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: Sequence[bool] | None = None,
        norm_layer: Callable[[int], nn.Module] | None = None,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            block, layers, num_classes, zero_init_residual, groups, width_per_group,
            replace_stride_with_dilation, norm_layer, spiking_neuron, {}, kwargs,
        )  # fmt: skip


def _spiking_resnet(
    arch: str,
    block: type[ResidualBlock],
    layers: list[int],
    pretrained: bool,
    progress: bool,
    spiking_neuron: Callable[..., nn.Module] | None,
    **kwargs: Any,
) -> SpikingResNet:
    model = SpikingResNet(block, layers, spiking_neuron=spiking_neuron, **kwargs)
    if pretrained:
        load_ann_weights(model, model_urls[arch], progress)
    return model


def spiking_resnet18(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingResNet:
    """Spiking ResNet-18 (11.69 M parameters). ``pretrained``: load torchvision's ImageNet
    ANN weights; ``progress``: show the download's progress; ``**kwargs``: the model's
    options (``num_classes``, ...), the rest go to ``spiking_neuron``."""
    return _spiking_resnet(
        "resnet18", BasicBlock, [2, 2, 2, 2], pretrained, progress, spiking_neuron, **kwargs
    )


def spiking_resnet34(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingResNet:
    """Spiking ResNet-34 (21.80 M parameters); arguments as :func:`spiking_resnet18`."""
    return _spiking_resnet(
        "resnet34", BasicBlock, [3, 4, 6, 3], pretrained, progress, spiking_neuron, **kwargs
    )


def spiking_resnet50(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingResNet:
    """Spiking ResNet-50 (25.56 M parameters); arguments as :func:`spiking_resnet18`."""
    return _spiking_resnet(
        "resnet50", Bottleneck, [3, 4, 6, 3], pretrained, progress, spiking_neuron, **kwargs
    )


def spiking_resnet101(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingResNet:
    """Spiking ResNet-101 (44.55 M parameters); arguments as :func:`spiking_resnet18`."""
    return _spiking_resnet(
        "resnet101", Bottleneck, [3, 4, 23, 3], pretrained, progress, spiking_neuron, **kwargs
    )


def spiking_resnet152(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingResNet:
    """Spiking ResNet-152 (60.19 M parameters); arguments as :func:`spiking_resnet18`."""
    return _spiking_resnet(
        "resnet152", Bottleneck, [3, 8, 36, 3], pretrained, progress, spiking_neuron, **kwargs
    )


def spiking_resnext50_32x4d(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingResNet:
    """Spiking ResNeXt-50 32x4d (Xie et al., CVPR 2017; 25.03 M parameters); arguments as
    :func:`spiking_resnet18`."""
    kwargs["groups"] = 32
    kwargs["width_per_group"] = 4
    return _spiking_resnet(
        "resnext50_32x4d", Bottleneck, [3, 4, 6, 3], pretrained, progress, spiking_neuron,
        **kwargs,
    )  # fmt: skip


def spiking_resnext101_32x8d(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingResNet:
    """Spiking ResNeXt-101 32x8d (88.79 M parameters); arguments as
    :func:`spiking_resnet18`."""
    kwargs["groups"] = 32
    kwargs["width_per_group"] = 8
    return _spiking_resnet(
        "resnext101_32x8d", Bottleneck, [3, 4, 23, 3], pretrained, progress, spiking_neuron,
        **kwargs,
    )  # fmt: skip


def spiking_wide_resnet50_2(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingResNet:
    """Spiking Wide ResNet-50-2 (Zagoruyko and Komodakis, BMVC 2016; bottleneck 3x3 twice
    as wide; 68.88 M parameters); arguments as :func:`spiking_resnet18`."""
    kwargs["width_per_group"] = 64 * 2
    return _spiking_resnet(
        "wide_resnet50_2", Bottleneck, [3, 4, 6, 3], pretrained, progress, spiking_neuron,
        **kwargs,
    )  # fmt: skip


def spiking_wide_resnet101_2(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingResNet:
    """Spiking Wide ResNet-101-2 (126.89 M parameters); arguments as
    :func:`spiking_resnet18`."""
    kwargs["width_per_group"] = 64 * 2
    return _spiking_resnet(
        "wide_resnet101_2", Bottleneck, [3, 4, 23, 3], pretrained, progress, spiking_neuron,
        **kwargs,
    )  # fmt: skip
