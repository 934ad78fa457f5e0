"""The reference framework's ``model.masnn``: MA-SNN and Att-MS-ResNet in its layout.

Yao et al., "Attention Spiking Neural Networks", IEEE TPAMI 2023 (doi:10.1109/TPAMI.2023.3241201).

- :class:`MASNN` (event streams): ``conv3x3 -> BN (-> avgpool) -> TCSA -> LIF`` blocks and two
  ``Linear -> BN -> TA -> ReLU -> LIF`` blocks; the output is the mean over ``T`` of the last
  block's spikes. The blocks are the family's (:mod:`snn_zoo.families.masnn`) under the
  reference's names (``conv_blocks.i.{conv, bn, attn, cell}``, ``fc_blocks.i.{linear, bn,
  attn, cell}``). Differences from the official model (:class:`snn_zoo.families.MASNN`): the
  neuron is ``LIFNode(tau=10/7, v_threshold=0.3, decay_input=False, detach_reset=True,
  surrogate_function=Rect(alpha=2.0))``, reset to 0 (the official cell resets a spike to the
  threshold and keeps the reset attached).
- :class:`AttMSResNet`: :class:`snn_zoo.models.ms_resnet.MSResNet` with channel-spatial
  attention on every branch, a pooled shortcut (``AvgPool(s, ceil_mode=True) -> conv1x1 ->
  BN``), the branch's last BN initialised to 0.1, ``Rect(alpha=1.0)`` and a head that averages
  over ``T`` before ``Dropout -> Linear``. Differences from the official model
  (:class:`snn_zoo.families.AttMSResNet`): the reference's names and ``LIFNode`` firing at
  ``H >= 0.5`` (official: ``H > 0.5``).

With ``spiking_neuron=None``, ``**kwargs`` override the paper neuron's fields; a custom class
is built as ``spiking_neuron(**kwargs)``; every neuron then runs multi-step. As in the
reference, neuron state carries over between calls (``snn_core.functional.reset_net``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from snn_core import functional
from snn_core.surrogate import Rect
from snn_layers import AvgPool2d, MultiDimensionalAttention
from snn_neurons import LIFNode
from torch import nn

from snn_zoo.families.masnn import _ConvAttLIF, _FCAttLIF
from snn_zoo.models._input import to_sequence
from snn_zoo.models._key_layout import use_reference_keys
from snn_zoo.models._neuron import check_spiking_neuron
from snn_zoo.models.ms_resnet import MS_LIF, MSResNet, NeuronClass, bn2d, conv1x1

__all__ = ["MASNN", "AttMSResNet", "masnn_dvs128_gesture", "att_ms_resnet18"]

#: the MA-SNN DVS cell: ``H = 0.7 V + X``, fires at 0.3, hard reset to 0 (detached)
MA_LIF: dict[str, Any] = dict(tau=10.0 / 7.0, v_threshold=0.3, detach_reset=True, decay_input=False)


def paper_or_custom(
    spiking_neuron: NeuronClass | None, defaults: dict[str, Any], kwargs: dict[str, Any]
) -> Callable[[], nn.Module]:
    """``() -> neuron``: ``LIFNode(**defaults, **kwargs)`` or ``spiking_neuron(**kwargs)``
    (kwargs copied per neuron); the model sets every neuron multi-step afterwards."""
    if spiking_neuron is None:
        return lambda: LIFNode(**copy.deepcopy({"step_mode": "m", **defaults, **kwargs}))
    return lambda: spiking_neuron(**copy.deepcopy(kwargs))


class MASNN(nn.Module):
    """MA-SNN for event streams (see the module docstring).

    Args:
        T: steps; temporal attention is built for ``T``, so a sequence must have ``T`` steps
            (an image ``[N, C, H, W]`` is repeated ``T`` times).
        in_channels, num_classes: input channels and classes.
        input_size: ``(H, W)`` of the input (sets the first linear layer's width).
        channels, pools: width and average-pooling factor (1: none) of each conv block.
        fc_hidden: width of the hidden linear block.
        reduction_t, reduction_c: temporal and channel reduction of the attention.
        spiking_neuron, **kwargs: the neurons (see the module docstring).

    Input ``[N, C, H, W]`` or ``[T, N, C, H, W]``; output ``[N, num_classes]`` firing rates.
    """

    def __init__(
        self,
        T: int = 60,
        in_channels: int = 2,
        num_classes: int = 11,
        input_size: tuple[int, int] = (32, 32),
        channels: tuple[int, ...] = (64, 128, 128),
        pools: tuple[int, ...] = (1, 2, 2),
        fc_hidden: int = 256,
        reduction_t: int = 5,
        reduction_c: int = 8,
        spiking_neuron: NeuronClass | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if len(channels) != len(pools):
            raise ValueError(
                f"{owner}: channels and pools must have the same length, got channels="
                f"{tuple(channels)} and pools={tuple(pools)}"
            )
        height, width = input_size
        for pool in pools:
            if pool > 1 and (height % pool or width % pool):
                raise ValueError(
                    f"{owner}: input_size={tuple(input_size)} must be divisible by each "
                    f"pooling factor in turn, pools={tuple(pools)}"
                )
            height, width = height // pool, width // pool
        check_spiking_neuron(owner, spiking_neuron)
        self.T = T
        build = paper_or_custom(
            spiking_neuron, {**MA_LIF, "surrogate_function": Rect(alpha=2.0)}, kwargs
        )
        conv_names = {"conv2d": "conv", "BNLayer": "bn", "attention": "attn", "lif": "cell"}
        blocks, cin = [], in_channels
        for cout, pool in zip(channels, pools):
            block = _ConvAttLIF(cin, cout, pool, T, reduction_t, reduction_c, build)
            blocks.append(use_reference_keys(block, conv_names))
            cin = cout
        self.conv_blocks = nn.Sequential(*blocks)
        fc_names = {"BNLayer": "bn", "attention.ta": "attn", "lif": "cell"}
        self.fc_blocks = nn.Sequential(
            use_reference_keys(
                _FCAttLIF(channels[-1] * height * width, fc_hidden, T, reduction_t, build),
                fc_names,
            ),
            use_reference_keys(_FCAttLIF(fc_hidden, num_classes, T, reduction_t, build), fc_names),
        )
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_sequence(type(self).__name__, x, self.T)
        if x.shape[0] != self.T:
            raise ValueError(
                f"{type(self).__name__}: a sequence must have T={self.T} steps (its temporal "
                f"attention is built for T), got shape {tuple(x.shape)}"
            )
        x = self.conv_blocks(x)
        return self.fc_blocks(x.flatten(2)).mean(0)


def masnn_dvs128_gesture(
    T: int = 60,
    in_channels: int = 2,
    num_classes: int = 11,
    input_size: tuple[int, int] = (32, 32),
    spiking_neuron: NeuronClass | None = None,
    **kwargs: Any,
) -> MASNN:
    """MA-SNN, DVS128 Gesture: conv ``(64, 128, 128)``, pools ``(1, 2, 2)``, ``fc_hidden=256``,
    ``reduction_t=5``, ``reduction_c=8``."""
    return MASNN(
        T=T,
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=input_size,
        channels=(64, 128, 128),
        pools=(1, 2, 2),
        fc_hidden=256,
        reduction_t=5,
        reduction_c=8,
        spiking_neuron=spiking_neuron,
        **kwargs,
    )


class AttMSResNet(MSResNet):
    """Att-MS-ResNet (see the module docstring).

    Args as :class:`~snn_zoo.models.ms_resnet.MSResNet` (``T=1``, the ImageNet setting), and
        reduction_c: channel reduction of the channel-spatial attention.
        dropout: dropout before the classifier.
    """

    _bn2_weight = 0.1

    @staticmethod
    def _lif_defaults() -> dict[str, Any]:
        return {**MS_LIF, "surrogate_function": Rect(alpha=1.0)}

    def __init__(
        self,
        T: int = 1,
        in_channels: int = 3,
        num_classes: int = 1000,
        layers: tuple[int, ...] = (2, 2, 2, 2),
        base_channels: int = 64,
        stem_kernel_size: int = 7,
        stem_stride: int = 2,
        stem_pool: bool = False,
        stage_channels: tuple[int, ...] | None = None,
        reduction_c: int = 8,
        dropout: float = 0.2,
        spiking_neuron: NeuronClass | None = None,
        **kwargs: Any,
    ) -> None:
        self._attention_args = (T, reduction_c, dropout)
        super().__init__(
            T,
            in_channels,
            num_classes,
            layers,
            base_channels,
            stem_kernel_size,
            stem_stride,
            stem_pool,
            stage_channels,
            spiking_neuron,
            **kwargs,
        )
        del self._attention_args

    def _neuron_builder(
        self, spiking_neuron: NeuronClass | None, kwargs: dict[str, Any]
    ) -> Callable[[], nn.Module]:
        return paper_or_custom(spiking_neuron, self._lif_defaults(), kwargs)

    def _downsample(self, cout: int, stride: int) -> nn.Module:
        pool = [AvgPool2d(stride, stride, ceil_mode=True, step_mode="m")] if stride != 1 else []
        return nn.Sequential(*pool, conv1x1(self.inplanes, cout), bn2d(cout, self._bn_weight))

    def _attention(self, channels: int) -> nn.Module:
        T, reduction_c, _ = self._attention_args
        return MultiDimensionalAttention(T, channels, reduction_c=reduction_c, use_temporal=False)

    def _make_head(self, channels: int, num_classes: int) -> None:
        super()._make_head(channels, num_classes)
        self.head = nn.Linear(channels, num_classes)
        self.dropout = nn.Dropout(self._attention_args[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.head_lif(self.forward_features(x))).flatten(2)
        return self.head(self.dropout(x.mean(0)))


def att_ms_resnet18(
    T: int = 1,
    in_channels: int = 3,
    num_classes: int = 1000,
    spiking_neuron: NeuronClass | None = None,
    **kwargs: Any,
) -> AttMSResNet:
    """Att-MS-ResNet-18, ImageNet (``T=1``, ``reduction_c=8``)."""
    return AttMSResNet(
        T=T,
        in_channels=in_channels,
        num_classes=num_classes,
        layers=(2, 2, 2, 2),
        spiking_neuron=spiking_neuron,
        **kwargs,
    )
