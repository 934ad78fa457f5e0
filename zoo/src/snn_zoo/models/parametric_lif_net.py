"""The convolutional nets of the PLIF paper, the reference's
``activation_based.model.parametric_lif_net`` namespace.

Fang et al., "Incorporating Learnable Membrane Time Constant to Enhance Learning of Spiking
Neural Networks", ICCV 2021. Each net is one ``conv_fc`` sequence: blocks of 3x3
convolution (no bias) -> batch norm -> neuron, with 2x2 max pools; then flatten ->
dropout 0.5 -> linear -> neuron -> dropout 0.5 -> linear -> neuron -> voting over groups
of 10 output neurons (:class:`snn_layers.VotingLayer`).

The layers are built in single-step mode; for sequences ``[T, N, C, H, W]`` call
``snn_core.functional.set_step_mode(net, 'm')`` (and pass ``step_mode='m'`` to the neurons).
The nets hold the neuron state between calls, as the reference's do: call
``snn_core.functional.reset_net(net)`` before each new sample. The output is the voting
layer's, per step; average it over time for the class scores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import snn_layers as layer
import torch
from torch import nn

from snn_zoo.models._classic_common import check_image_input, check_spiking_neuron, make_neuron

__all__ = [
    "MNISTNet",
    "FashionMNISTNet",
    "NMNISTNet",
    "CIFAR10Net",
    "CIFAR10DVSNet",
    "DVSGestureNet",
]


def _check_channels(owner: str, channels: Any) -> int:
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"{owner}: channels must be a positive int, got {channels!r}")
    return channels


def _conv_fc(
    owner: str,
    spiking_neuron: Callable[..., nn.Module] | None,
    kwargs: dict[str, Any],
    in_channels: int,
    channels: int,
    stages: int,
    convs_per_stage: int,
    flat_hw: int,
    hidden: int,
    outputs: int,
) -> nn.Sequential:
    """``stages`` x (``convs_per_stage`` x (conv -> BN -> neuron) -> max pool) -> the head."""
    check_spiking_neuron(owner, spiking_neuron)
    _check_channels(owner, channels)
    mods: list[nn.Module] = []
    c_in = in_channels
    for _ in range(stages):
        for _ in range(convs_per_stage):
            mods += [
                layer.Conv2d(c_in, channels, kernel_size=3, padding=1, bias=False),
                layer.BatchNorm2d(channels),
                make_neuron(owner, spiking_neuron, kwargs),
            ]
            c_in = channels
        mods.append(layer.MaxPool2d(2, 2))
    mods += [
        layer.Flatten(),
        layer.Dropout(0.5),
        layer.Linear(channels * flat_hw * flat_hw, hidden),
        make_neuron(owner, spiking_neuron, kwargs),
        layer.Dropout(0.5),
        layer.Linear(hidden, outputs),
        make_neuron(owner, spiking_neuron, kwargs),
        layer.VotingLayer(10),
    ]
    return nn.Sequential(*mods)


class _PLIFNet(nn.Module):
    conv_fc: nn.Sequential

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.conv_fc[0]
        check_image_input(type(self).__name__, x, first.step_mode, first.in_channels)
        return self.conv_fc(x)


class MNISTNet(_PLIFNet):
    """MNIST net: input ``[N, 1, 28, 28]``; two (conv -> BN -> neuron -> pool) blocks,
    ``channels*7*7 -> 2048 -> 100`` and voting to 10 classes.

    Args:
        channels: channels of every convolution.
        spiking_neuron: neuron class, called as ``spiking_neuron(**kwargs)`` per layer.
        kwargs: the neuron's arguments (e.g. ``tau``, ``surrogate_function``,
            ``detach_reset``, ``step_mode``, ``backend``).
    """

    def __init__(
        self,
        channels: int = 128,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.conv_fc = self._build(channels, spiking_neuron, kwargs)

    def _build(
        self, channels: int, spiking_neuron: Callable[..., nn.Module] | None, kwargs: dict[str, Any]
    ) -> nn.Sequential:
        return _conv_fc(
            type(self).__name__, spiking_neuron, kwargs, 1, channels, 2, 1, 7, 2048, 100
        )


class FashionMNISTNet(MNISTNet):
    """Fashion-MNIST net: the same network as :class:`MNISTNet`."""


class NMNISTNet(MNISTNet):
    """N-MNIST net: :class:`MNISTNet` with 2 input channels (event polarities) and
    ``34x34`` frames (``channels*8*8`` features after the pools)."""

    def _build(
        self, channels: int, spiking_neuron: Callable[..., nn.Module] | None, kwargs: dict[str, Any]
    ) -> nn.Sequential:
        return _conv_fc(
            type(self).__name__, spiking_neuron, kwargs, 2, channels, 2, 1, 8, 2048, 100
        )


class CIFAR10Net(_PLIFNet):
    """CIFAR-10 net: input ``[N, 3, 32, 32]``; two stages of three (conv -> BN -> neuron)
    and a pool, ``channels*8*8 -> 2048 -> 100`` and voting to 10 classes.

    Args: as :class:`MNISTNet` (``channels`` defaults to 256).
    """

    def __init__(
        self,
        channels: int = 256,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.conv_fc = _conv_fc(
            type(self).__name__, spiking_neuron, kwargs, 3, channels, 2, 3, 8, 2048, 100
        )


class CIFAR10DVSNet(_PLIFNet):
    """CIFAR10-DVS net: input ``[N, 2, 128, 128]``; four (conv -> BN -> neuron -> pool)
    blocks, ``channels*8*8 -> 512 -> 100`` and voting to 10 classes.

    Args: as :class:`MNISTNet`.
    """

    def __init__(
        self,
        channels: int = 128,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.conv_fc = _conv_fc(
            type(self).__name__, spiking_neuron, kwargs, 2, channels, 4, 1, 8, 512, 100
        )


class DVSGestureNet(_PLIFNet):
    """DVS128 Gesture net: input ``[N, 2, 128, 128]``; five (conv -> BN -> neuron -> pool)
    blocks, ``channels*4*4 -> 512 -> 110`` and voting to 11 classes.

    Args: as :class:`MNISTNet`.
    """

    def __init__(
        self,
        channels: int = 128,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.conv_fc = _conv_fc(
            type(self).__name__, spiking_neuron, kwargs, 2, channels, 5, 1, 4, 512, 110
        )
