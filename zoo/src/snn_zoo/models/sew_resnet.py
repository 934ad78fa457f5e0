"""SEW-ResNet in torchvision's layout: SpikingJelly's ``model.sew_resnet``.

Spike-element-wise ResNet (Fang et al., "Deep Residual Learning in Spiking Neural
Networks", NeurIPS 2021) built on torchvision's ResNet / ResNeXt / Wide ResNet: every block
ends its branch with a neuron, ``A = SN(BN(conv(...)))``, a down-sampling shortcut gets its
own neuron, ``S = SN(BN(conv1x1(x)))``, and the two join by ``cnf`` (``'ADD'`` ``A + S``,
``'AND'`` ``A * S``, ``'IAND'``; see ``snn_zoo.models._resnet_skeleton``, shared with
:mod:`snn_zoo.models.spiking_resnet`). Parameter names are torchvision's, so
``pretrained=True`` loads torchvision's ImageNet ANN weights.

How it differs from the zoo's ``sew_resnet18`` family (``snn_zoo.create_model``, exact to the
official code, github.com/fangwei123456/Spike-Element-Wise-ResNet): no built-in neuron,
``cnf`` or ``T`` (the caller passes ``spiking_neuron`` and ``cnf``, chooses the step mode,
feeds ``[N, 3, H, W]`` per step or ``[T, N, 3, H, W]`` and resets the neurons); the stem
runs at every step; torchvision's key names instead of the official ``SeqToANNContainer``
ones; ``'IAND'`` in the bottleneck is ``A * (1 - S)`` (the paper's and the basic block's
is ``S * (1 - A)``), as SpikingJelly computes it; the output is per step
(``[T, N, classes]`` in ``'m'``), not averaged over time. ``cnf`` must be given to run the
network (the default ``None`` builds it, and its forward raises). SpikingJelly's
``SEWResNet34Config`` belongs to its distributed planner and is not ported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from snn_zoo.models._classic_common import load_ann_weights
from snn_zoo.models._resnet_skeleton import CONNECT_FUNCTIONS, ResidualBlock, ResNetSkeleton
from snn_zoo.models._resnet_skeleton import conv1x1 as conv1x1  # the reference's helpers
from snn_zoo.models._resnet_skeleton import conv3x3 as conv3x3
from snn_zoo.models._resnet_skeleton import sew_function as sew_function

__all__ = [
    "SEWResNet",
    "sew_resnet18",
    "sew_resnet34",
    "sew_resnet50",
    "sew_resnet101",
    "sew_resnet152",
    "sew_resnext50_32x4d",
    "sew_resnext101_32x8d",
    "sew_wide_resnet50_2",
    "sew_wide_resnet101_2",
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


def _check_cnf(owner: str, cnf: Any) -> None:
    if cnf is not None and cnf not in CONNECT_FUNCTIONS:
        raise ValueError(f"{owner}: cnf must be one of {CONNECT_FUNCTIONS}, got {cnf!r}")


class BasicBlock(ResidualBlock):
    """Two 3x3 ``conv -> BN -> SN``; output ``g(S, A)``: IAND is ``S * (1 - A)``."""

    expansion = 1
    sew = True

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
        cnf: str | None = None,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        _check_cnf(type(self).__name__, cnf)
        super().__init__(
            inplanes, planes, stride, downsample, groups, base_width, dilation, norm_layer,
            spiking_neuron, kwargs, cnf,
        )  # fmt: skip


class Bottleneck(ResidualBlock):
    """1x1, 3x3 (stride, groups), 1x1 (``4 * planes``) ``conv -> BN -> SN``; output
    ``g(A, S)``: IAND is ``A * (1 - S)``."""

    expansion = 4
    sew = True

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
        cnf: str | None = None,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        _check_cnf(type(self).__name__, cnf)
        super().__init__(
            inplanes, planes, stride, downsample, groups, base_width, dilation, norm_layer,
            spiking_neuron, kwargs, cnf,
        )  # fmt: skip


class SEWResNet(ResNetSkeleton):
    """torchvision's ResNet with SEW blocks (see the module docstring).

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks in each of the 4 stages.
        num_classes: outputs of ``fc``.
        zero_init_residual: start the last BN weight of every block at 0.
        groups, width_per_group: ResNeXt / Wide ResNet widths of the bottleneck's 3x3 conv,
            ``int(planes * width_per_group / 64) * groups``.
        replace_stride_with_dilation: 3 booleans, per stage 2..4: dilate instead of striding.
        norm_layer: normalisation class (default ``snn_layers.BatchNorm2d``).
        cnf: connect function ``'ADD'``, ``'AND'`` or ``'IAND'`` (needed to run).
        spiking_neuron: the neuron class or factory (required), e.g. ``snn_neurons.LIFNode``.
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
        cnf: str | None = None,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        _check_cnf(type(self).__name__, cnf)
        super().__init__(
            block, layers, num_classes, zero_init_residual, groups, width_per_group,
            replace_stride_with_dilation, norm_layer, spiking_neuron, {"cnf": cnf}, kwargs,
        )  # fmt: skip


def _sew_resnet(
    arch: str,
    block: type[ResidualBlock],
    layers: list[int],
    pretrained: bool,
    progress: bool,
    cnf: str | None,
    spiking_neuron: Callable[..., nn.Module] | None,
    **kwargs: Any,
) -> SEWResNet:
    model = SEWResNet(block, layers, cnf=cnf, spiking_neuron=spiking_neuron, **kwargs)
    if pretrained:
        load_ann_weights(model, model_urls[arch], progress)
    return model


def sew_resnet18(
    pretrained: bool = False,
    progress: bool = True,
    cnf: str | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SEWResNet:
    """SEW-ResNet-18 (11.69 M parameters). ``pretrained``: load torchvision's ImageNet ANN
    weights; ``progress``: show the download's progress; ``cnf``: ``'ADD'``, ``'AND'`` or
    ``'IAND'``; ``**kwargs``: the model's options (``num_classes``, ...), the rest go to
    ``spiking_neuron``."""
    return _sew_resnet(
        "resnet18", BasicBlock, [2, 2, 2, 2], pretrained, progress, cnf, spiking_neuron,
        **kwargs,
    )  # fmt: skip


def sew_resnet34(
    pretrained: bool = False,
    progress: bool = True,
    cnf: str | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SEWResNet:
    """SEW-ResNet-34 (21.80 M parameters); arguments as :func:`sew_resnet18`."""
    return _sew_resnet(
        "resnet34", BasicBlock, [3, 4, 6, 3], pretrained, progress, cnf, spiking_neuron,
        **kwargs,
    )  # fmt: skip


def sew_resnet50(
    pretrained: bool = False,
    progress: bool = True,
    cnf: str | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SEWResNet:
    """SEW-ResNet-50 (25.56 M parameters); arguments as :func:`sew_resnet18`."""
    return _sew_resnet(
        "resnet50", Bottleneck, [3, 4, 6, 3], pretrained, progress, cnf, spiking_neuron,
        **kwargs,
    )  # fmt: skip


def sew_resnet101(
    pretrained: bool = False,
    progress: bool = True,
    cnf: str | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SEWResNet:
    """SEW-ResNet-101 (44.55 M parameters); arguments as :func:`sew_resnet18`."""
    return _sew_resnet(
        "resnet101", Bottleneck, [3, 4, 23, 3], pretrained, progress, cnf, spiking_neuron,
        **kwargs,
    )  # fmt: skip


def sew_resnet152(
    pretrained: bool = False,
    progress: bool = True,
    cnf: str | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SEWResNet:
    """SEW-ResNet-152 (60.19 M parameters); arguments as :func:`sew_resnet18`."""
    return _sew_resnet(
        "resnet152", Bottleneck, [3, 8, 36, 3], pretrained, progress, cnf, spiking_neuron,
        **kwargs,
    )  # fmt: skip


def sew_resnext50_32x4d(
    pretrained: bool = False,
    progress: bool = True,
    cnf: str | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SEWResNet:
    """SEW-ResNeXt-50 32x4d (Xie et al., CVPR 2017; 25.03 M parameters); arguments as
    :func:`sew_resnet18`."""
    kwargs["groups"] = 32
    kwargs["width_per_group"] = 4
    return _sew_resnet(
        "resnext50_32x4d", Bottleneck, [3, 4, 6, 3], pretrained, progress, cnf,
        spiking_neuron, **kwargs,
    )  # fmt: skip


def sew_resnext101_32x8d(
    pretrained: bool = False,
    progress: bool = True,
    cnf: str | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SEWResNet:
    """SEW-ResNeXt-101 32x8d (88.79 M parameters); arguments as :func:`sew_resnet18`."""
    kwargs["groups"] = 32
    kwargs["width_per_group"] = 8
    return _sew_resnet(
        "resnext101_32x8d", Bottleneck, [3, 4, 23, 3], pretrained, progress, cnf,
        spiking_neuron, **kwargs,
    )  # fmt: skip


def sew_wide_resnet50_2(
    pretrained: bool = False,
    progress: bool = True,
    cnf: str | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SEWResNet:
    """SEW Wide ResNet-50-2 (Zagoruyko and Komodakis, BMVC 2016; bottleneck 3x3 twice as
    wide; 68.88 M parameters); arguments as :func:`sew_resnet18`."""
    kwargs["width_per_group"] = 64 * 2
    return _sew_resnet(
        "wide_resnet50_2", Bottleneck, [3, 4, 6, 3], pretrained, progress, cnf,
        spiking_neuron, **kwargs,
    )  # fmt: skip


def sew_wide_resnet101_2(
    pretrained: bool = False,
    progress: bool = True,
    cnf: str | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SEWResNet:
    """SEW Wide ResNet-101-2 (126.89 M parameters); arguments as :func:`sew_resnet18`."""
    kwargs["width_per_group"] = 64 * 2
    return _sew_resnet(
        "wide_resnet101_2", Bottleneck, [3, 4, 23, 3], pretrained, progress, cnf,
        spiking_neuron, **kwargs,
    )  # fmt: skip
