"""The reference framework's ``model.ms_resnet``: MS-ResNet and Max-ResNet in its layout.

Membrane-shortcut residual networks (Hu et al., "Advancing Spiking Neural Networks towards
Deep Residual Learning", TNNLS 2024, arXiv:2112.08954; Max-ResNet: Fang et al., "Spiking
Neural Networks Need High-Frequency Information", NeurIPS 2025, arXiv:2505.18608). A block
computes on membrane potentials ``u``:

    ``out = BN2(conv2(LIF(BN1(conv1(LIF(u)))))) + shortcut(u)``

with ``shortcut(u) = u`` or ``BN(conv1x1_s(u))``; the head fires once more, averages over
space, classifies every step and averages the logits over ``T``. Max-ResNet moves a stage's
stride-2 step into a ``maxpool3x3/s`` after ``BN1`` of its first block.

How this differs from the official MS-ResNet (:class:`snn_zoo.families.MSResNet`, which
reproduces Ariande1/MS-ResNet bit for bit): the reference's names (``stem``, ``layerN``,
``spike1``, ``bn1``, ``downsample``, ``head``), ``LIFNode`` firing at ``H >= 0.5`` (the
official cell fires at ``H > 0.5``) with a ``Rect(alpha=2.0)`` surrogate (official width 1,
``alpha=1``), a configurable stem / three-stage layout, and the classifier applied per step
before the mean over ``T``. Neurons follow :func:`snn_zoo.models._neuron.make_multi_step_neuron`.
As in the reference, neuron state carries over between calls: call
``snn_core.functional.reset_net(model)`` between independent inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from snn_core import functional
from snn_core.surrogate import Rect
from snn_layers import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d
from torch import nn

from snn_zoo.models._input import to_sequence
from snn_zoo.models._neuron import check_spiking_neuron, make_multi_step_neuron

__all__ = ["MSResNet", "MaxResNet", "ms_resnet18", "ms_resnet34", "max_resnet18"]

NeuronClass = Callable[..., nn.Module]  # a neuron class such as snn_neurons.LIFNode

#: MS-ResNet's cell: ``H = 0.25 V + X``, fires at 0.5, hard reset to 0 (detached)
MS_LIF: dict[str, Any] = dict(tau=4.0 / 3.0, v_threshold=0.5, detach_reset=True, decay_input=False)


def conv3x3(cin: int, cout: int, stride: int = 1) -> Conv2d:
    return Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False, step_mode="m")


def conv1x1(cin: int, cout: int, stride: int = 1) -> Conv2d:
    return Conv2d(cin, cout, 1, stride=stride, bias=False, step_mode="m")


def bn2d(channels: int, weight: float) -> BatchNorm2d:
    """A multi-step ``BatchNorm2d`` (statistics over ``T, N, H, W``) with scale ``weight``."""
    bn = BatchNorm2d(channels, step_mode="m")
    nn.init.constant_(bn.weight, weight)
    return bn


class MembraneShortcutBlock(nn.Module):
    """``BN2(conv2(LIF(pool(BN1(conv1_s(LIF(u))))))) (-> attention) + shortcut(u)``.

    Args:
        cin, cout, stride: channels and the stride of ``conv1`` (of ``max_pool`` if given).
        downsample: the shortcut where the shape changes, ``None`` for identity.
        build: ``() -> neuron``.
        bn1_weight, bn2_weight: initial BN scales.
        max_pool: Max-ResNet's transition, ``maxpool3x3/stride`` after ``BN1``.
        attention: a module applied to the branch before the sum (Att-MS-ResNet).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int,
        downsample: nn.Module | None,
        build: Callable[[], nn.Module],
        bn1_weight: float,
        bn2_weight: float,
        max_pool: bool = False,
        attention: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.spike1 = build()
        self.conv1 = conv3x3(cin, cout, 1 if max_pool else stride)
        self.bn1 = bn2d(cout, bn1_weight)
        self.spike2 = build()
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = bn2d(cout, bn2_weight)
        self.downsample = downsample
        self.max_pool = MaxPool2d(3, stride=stride, padding=1, step_mode="m") if max_pool else None
        self.attention = attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn1(self.conv1(self.spike1(x)))
        if self.max_pool is not None:
            out = self.max_pool(out)
        out = self.bn2(self.conv2(self.spike2(out)))
        if self.attention is not None:
            out = self.attention(out)
        return out + identity


def _check_layout(owner: str, layers: Any, stage_channels: Any, base_channels: Any) -> tuple:
    if not isinstance(layers, (tuple, list)) or len(layers) not in (3, 4):
        raise ValueError(
            f"{owner}: layers must give the block counts of 3 or 4 stages, got {layers!r}"
        )
    for n in layers:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{owner}: layers must hold positive ints, got {layers!r}")
    if stage_channels is None:
        return tuple(base_channels * 2**i for i in range(len(layers)))
    if not isinstance(stage_channels, (tuple, list)) or len(stage_channels) != len(layers):
        raise ValueError(
            f"{owner}: stage_channels must give one width per stage of layers={tuple(layers)}, "
            f"got {stage_channels!r}"
        )
    return tuple(stage_channels)


class MSResNet(nn.Module):
    """MS-ResNet (see the module docstring).

    Args:
        T: steps a static image ``[N, C, H, W]`` is repeated over.
        in_channels, num_classes: input channels and classes.
        layers: blocks of each of 3 or 4 stages.
        base_channels: stem width (stage widths double from it unless ``stage_channels``).
        stem_kernel_size, stem_stride, stem_pool: the stem ``conv_k/s -> BN (-> maxpool)``.
        stage_channels: widths of the stages (``None``: ``base_channels * 2**i``).
        spiking_neuron: neuron class; ``None`` is ``LIFNode(tau=4/3, v_threshold=0.5,
            decay_input=False, detach_reset=True, surrogate_function=Rect(alpha=2.0))``.
        **kwargs: neuron arguments (overriding those defaults, or all a custom class gets).

    Input ``[N, C, H, W]`` or ``[T, N, C, H, W]``; output ``[N, num_classes]``.
    """

    _first_stage_stride = 2
    _bn_weight = 0.5  # stem, shortcut and every BN1
    _bn2_weight = 0.0  # last BN of a branch
    _max_pool_transitions = False

    @staticmethod
    def _lif_defaults() -> dict[str, Any]:
        return {**MS_LIF, "surrogate_function": Rect(alpha=2.0)}

    def __init__(
        self,
        T: int = 6,
        in_channels: int = 3,
        num_classes: int = 1000,
        layers: tuple[int, ...] = (2, 2, 2, 2),
        base_channels: int = 64,
        stem_kernel_size: int = 7,
        stem_stride: int = 2,
        stem_pool: bool = False,
        stage_channels: tuple[int, ...] | None = None,
        spiking_neuron: NeuronClass | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        stage_channels = _check_layout(owner, layers, stage_channels, base_channels)
        check_spiking_neuron(owner, spiking_neuron)
        self.T = T
        self.inplanes = base_channels
        self._build = self._neuron_builder(spiking_neuron, kwargs)
        self.stem = nn.Sequential(
            Conv2d(
                in_channels,
                base_channels,
                stem_kernel_size,
                stride=stem_stride,
                padding=stem_kernel_size // 2,
                bias=False,
                step_mode="m",
            ),
            bn2d(base_channels, self._bn_weight),
        )
        if stem_pool:
            self.stem.append(MaxPool2d(3, stride=2, padding=1, step_mode="m"))
        strides = (self._first_stage_stride, 2, 2, 2)
        for i, (cout, n) in enumerate(zip(stage_channels, layers)):
            setattr(self, f"layer{i + 1}", self._make_layer(cout, n, strides[i]))
        if len(layers) == 3:
            self.layer4 = None
        self.head_lif = self._build()
        self._make_head(stage_channels[-1], num_classes)
        del self._build
        functional.set_step_mode(self, "m")

    def _neuron_builder(
        self, spiking_neuron: NeuronClass | None, kwargs: dict[str, Any]
    ) -> Callable[[], nn.Module]:
        return lambda: make_multi_step_neuron(spiking_neuron, kwargs, self._lif_defaults())

    def _make_head(self, channels: int, num_classes: int) -> None:
        self.avgpool = AdaptiveAvgPool2d((1, 1), step_mode="m")
        self.head = Linear(channels, num_classes, step_mode="m")

    def _downsample(self, cout: int, stride: int) -> nn.Module:
        return nn.Sequential(conv1x1(self.inplanes, cout, stride), bn2d(cout, self._bn_weight))

    def _attention(self, channels: int) -> nn.Module | None:
        return None

    def _make_layer(self, cout: int, blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            down = (
                self._downsample(cout, s) if i == 0 and (s != 1 or self.inplanes != cout) else None
            )
            layers.append(
                MembraneShortcutBlock(
                    self.inplanes,
                    cout,
                    s,
                    down,
                    self._build,
                    self._bn_weight,
                    self._bn2_weight,
                    max_pool=self._max_pool_transitions and s != 1,
                    attention=self._attention(cout),
                )
            )
            self.inplanes = cout
        return nn.Sequential(*layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` / ``[T, N, C, H, W]`` -> the last stage's potentials."""
        x = self.stem(to_sequence(type(self).__name__, x, self.T))
        x = self.layer3(self.layer2(self.layer1(x)))
        return x if self.layer4 is None else self.layer4(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.head_lif(self.forward_features(x))).flatten(2)
        return self.head(x).mean(0)


class MaxResNet(MSResNet):
    """Max-ResNet: :class:`MSResNet` whose stage transitions down-sample by max-pooling.

    Neurons ``LIFNode(tau=2.0, detach_reset=True)`` by default, every BN initialised to 1,
    first stage at stride 1. Arguments as :class:`MSResNet`.
    """

    _first_stage_stride = 1
    _bn_weight = 1.0
    _bn2_weight = 1.0
    _max_pool_transitions = True

    @staticmethod
    def _lif_defaults() -> dict[str, Any]:
        return {"tau": 2.0, "detach_reset": True}


def ms_resnet18(
    T: int = 6,
    in_channels: int = 3,
    num_classes: int = 1000,
    spiking_neuron: NeuronClass | None = None,
    **kwargs: Any,
) -> MSResNet:
    """MS-ResNet-18: ``layers=(2, 2, 2, 2)``, 7x7/2 stem (11.69 M parameters)."""
    return MSResNet(
        T=T,
        in_channels=in_channels,
        num_classes=num_classes,
        spiking_neuron=spiking_neuron,
        **kwargs,
    )


def ms_resnet34(
    T: int = 6,
    in_channels: int = 3,
    num_classes: int = 1000,
    spiking_neuron: NeuronClass | None = None,
    **kwargs: Any,
) -> MSResNet:
    """MS-ResNet-34: ``layers=(3, 4, 6, 3)`` (21.80 M parameters)."""
    return MSResNet(
        T=T,
        in_channels=in_channels,
        num_classes=num_classes,
        layers=(3, 4, 6, 3),
        spiking_neuron=spiking_neuron,
        **kwargs,
    )


def max_resnet18(
    T: int = 4,
    in_channels: int = 3,
    num_classes: int = 10,
    spiking_neuron: NeuronClass | None = None,
    **kwargs: Any,
) -> MaxResNet:
    """Max-ResNet-18 for CIFAR: 3x3/1 stem of 64, stages ``(128, 256, 512)`` x ``(3, 3, 2)``."""
    return MaxResNet(
        T=T,
        in_channels=in_channels,
        num_classes=num_classes,
        layers=(3, 3, 2),
        stage_channels=(128, 256, 512),
        stem_kernel_size=3,
        stem_stride=1,
        stem_pool=False,
        spiking_neuron=spiking_neuron,
        **kwargs,
    )
