"""The torchvision-layout spiking ResNet shared by ``snn_zoo.models.spiking_resnet`` and
``snn_zoo.models.sew_resnet``: one residual block and one network skeleton; the two
namespaces differ only in how a block joins its branch to its shortcut.

Layout (torchvision's ``resnet.py``, parameter names included, ReLU -> spiking neuron):
``conv1 (7x7/2) -> bn1 -> sn1 -> maxpool (3x3/2) -> layer1..4 -> avgpool -> fc``. A block's
branch is ``conv_i -> bn_i -> sn_i`` (basic: two 3x3; bottleneck: 1x1, 3x3 with the stride
and the groups, 1x1 to ``4 * planes``; ``width = int(planes * width_per_group / 64) * groups``),
and its shortcut is the input or ``downsample = Sequential(conv1x1, norm)``. With the last
pre-activation ``Y = bn_n(conv_n(.))`` of the branch and the shortcut ``S``:

- plain spiking ResNet: ``O = sn_n(Y + S)``;
- SEW (Fang et al., NeurIPS 2021, Eq. 4): ``A = sn_n(Y)``, a down-sampling shortcut gets its
  own neuron ``S = downsample_sn(downsample(x))``, and ``O = g(A, S)`` with ``cnf`` ``'ADD'``
  (``A + S``), ``'AND'`` (``A * S``) or ``'IAND'``. SpikingJelly's basic block computes IAND
  as ``S * (1 - A)`` (the paper's), its bottleneck as ``A * (1 - S)`` (the arguments
  swapped); both are kept as SpikingJelly computes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from snn_layers import AdaptiveAvgPool2d as _AdaptiveAvgPool2d
from snn_layers import BatchNorm2d, Conv2d, GroupNorm, Linear, MaxPool2d
from torch import nn

from snn_zoo.models._classic_common import (
    check_image_input,
    check_spiking_neuron,
    flatten_features,
    make_neuron,
)

__all__: list[str] = []

#: the connect functions of SEW blocks
CONNECT_FUNCTIONS = ("ADD", "AND", "IAND")


class ConnectFunctionError(ValueError, NotImplementedError):
    """An unknown (or missing) ``cnf`` at forward time: a ``ValueError`` that is also the
    reference's ``NotImplementedError``, so either ``except`` catches it."""


def sew_function(x: torch.Tensor, y: torch.Tensor, cnf: str) -> torch.Tensor:
    """The spike-element-wise connect function ``g(x, y)``: ``'ADD'`` ``x + y``, ``'AND'``
    ``x * y``, ``'IAND'`` ``x * (1 - y)`` (Fang et al., NeurIPS 2021, Eq. 4)."""
    if cnf == "ADD":
        return x + y
    if cnf == "AND":
        return x * y
    if cnf == "IAND":
        return x * (1.0 - y)
    raise ConnectFunctionError(f"cnf must be one of {CONNECT_FUNCTIONS}, got {cnf!r}")


def conv3x3(
    in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1
) -> Conv2d:
    """3x3 convolution without bias, padded to keep the size (``padding = dilation``)."""
    return Conv2d(
        in_planes,
        out_planes,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> Conv2d:
    """1x1 convolution without bias."""
    return Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ResidualBlock(nn.Module):
    """One torchvision-layout spiking residual block (see the module docstring).

    Subclasses fix :attr:`expansion` (1: basic, 4: bottleneck) and :attr:`sew` (how the
    branch joins the shortcut) and give the constructor its public signature.
    """

    expansion: ClassVar[int] = 1
    sew: ClassVar[bool] = False

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        downsample: nn.Module | None,
        groups: int,
        base_width: int,
        dilation: int,
        norm_layer: Callable[[int], nn.Module] | None,
        spiking_neuron: Callable[..., nn.Module] | None,
        neuron_kwargs: Mapping[str, Any],
        cnf: str | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        norm = BatchNorm2d if norm_layer is None else norm_layer
        if self.expansion == 1:
            if groups != 1 or base_width != 64:
                raise ValueError(
                    f"{name} supports only groups=1 and base_width=64 (width_per_group), got "
                    f"groups={groups!r}, base_width={base_width!r}; use a bottleneck block"
                )
            if dilation > 1:
                raise NotImplementedError(f"{name}: dilation > 1 is not supported, got {dilation}")
            width = planes
            specs = [(conv3x3(inplanes, planes, stride), planes), (conv3x3(planes, planes), planes)]
        else:
            width = int(planes * (base_width / 64.0)) * groups
            out = planes * self.expansion
            specs = [
                (conv1x1(inplanes, width), width),
                (conv3x3(width, width, stride, groups, dilation), width),
                (conv1x1(width, out), out),
            ]
        self.n = len(specs)
        for i, (conv, channels) in enumerate(specs, start=1):
            setattr(self, f"conv{i}", conv)
            setattr(self, f"bn{i}", norm(channels))
            setattr(self, f"sn{i}", make_neuron(name, spiking_neuron, neuron_kwargs))
        self.downsample = downsample
        if self.sew and downsample is not None:
            self.downsample_sn = make_neuron(name, spiking_neuron, neuron_kwargs)
        self.stride = stride
        if self.sew:
            self.cnf = cnf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for i in range(1, self.n):
            out = getattr(self, f"sn{i}")(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(out)))
        out = getattr(self, f"bn{self.n}")(getattr(self, f"conv{self.n}")(out))
        last = getattr(self, f"sn{self.n}")
        if not self.sew:
            identity = x if self.downsample is None else self.downsample(x)
            return last(out + identity)
        if self.cnf not in CONNECT_FUNCTIONS:
            raise ConnectFunctionError(
                f"{type(self).__name__}: cnf must be one of {CONNECT_FUNCTIONS} to run a SEW "
                f"block, got {self.cnf!r} (pass cnf= to the builder)"
            )
        out = last(out)
        identity = x if self.downsample is None else self.downsample_sn(self.downsample(x))
        if self.expansion == 1:
            return sew_function(identity, out, self.cnf)
        return sew_function(out, identity, self.cnf)

    def extra_repr(self) -> str:
        return f"cnf={self.cnf}" if self.sew else ""


class ResNetSkeleton(nn.Module):
    """The torchvision ResNet with spiking neurons; ``block_kwargs`` go to every block (the
    SEW ``cnf``), ``neuron_kwargs`` to every ``spiking_neuron`` call."""

    def __init__(
        self,
        block: type[nn.Module],
        layers: Sequence[int],
        num_classes: int,
        zero_init_residual: bool,
        groups: int,
        width_per_group: int,
        replace_stride_with_dilation: Sequence[bool] | None,
        norm_layer: Callable[[int], nn.Module] | None,
        spiking_neuron: Callable[..., nn.Module] | None,
        block_kwargs: Mapping[str, Any],
        neuron_kwargs: Mapping[str, Any],
    ) -> None:
        super().__init__()
        name = type(self).__name__
        check_spiking_neuron(name, spiking_neuron)
        layers = list(layers)
        if len(layers) != 4:
            raise ValueError(f"{name}: layers must give the blocks of 4 stages, got {layers!r}")
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(
                f"{name}: replace_stride_with_dilation must be None or 3 booleans, got "
                f"{replace_stride_with_dilation!r}"
            )
        self._norm_layer = BatchNorm2d if norm_layer is None else norm_layer
        self._block_kwargs = dict(block_kwargs)
        self.inplanes = 64
        self.dilation = 1
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.sn1 = make_neuron(name, spiking_neuron, neuron_kwargs)
        self.maxpool = MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, planes in enumerate((64, 128, 256, 512)):
            stride, dilate = (1, False) if i == 0 else (2, replace_stride_with_dilation[i - 1])
            stage = self._make_layer(
                block, planes, layers[i], stride, dilate, spiking_neuron, neuron_kwargs
            )
            setattr(self, f"layer{i + 1}", stage)
        self.avgpool = _AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(512 * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def _make_layer(
        self,
        block: type[nn.Module],
        planes: int,
        blocks: int,
        stride: int,
        dilate: bool,
        spiking_neuron: Callable[..., nn.Module] | None,
        neuron_kwargs: Mapping[str, Any],
    ) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        out = planes * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out:
            downsample = nn.Sequential(conv1x1(self.inplanes, out, stride), self._norm_layer(out))
        common = dict(
            groups=self.groups,
            base_width=self.base_width,
            norm_layer=self._norm_layer,
            **self._block_kwargs,
            spiking_neuron=spiking_neuron,
            **neuron_kwargs,
        )
        stage = [
            block(self.inplanes, planes, stride, downsample, dilation=previous_dilation, **common)
        ]
        self.inplanes = out
        stage += [block(out, planes, dilation=self.dilation, **common) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """torchvision's init: convolutions Kaiming-normal (fan-out, ReLU gain), norms 1 / 0;
        with ``zero_init_residual`` the last BN weight of every block starts at 0."""
        for m in self.modules():
            if isinstance(m, Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (BatchNorm2d, GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, ResidualBlock):
                    nn.init.constant_(getattr(m, f"bn{m.n}").weight, 0)

    def _forward_impl(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.sn1(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = flatten_features(self.avgpool(x), self.avgpool.step_mode)
        return self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` -> ``[N, num_classes]`` in step mode ``'s'`` (one time step);
        ``[T, N, 3, H, W]`` -> ``[T, N, num_classes]`` in ``'m'``."""
        check_image_input(type(self).__name__, x, self.conv1.step_mode)
        return self._forward_impl(x)
