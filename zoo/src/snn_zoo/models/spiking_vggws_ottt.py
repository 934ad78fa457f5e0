"""Spiking VGG for online training through time (OTTT), the reference's
``activation_based.model.spiking_vggws_ottt`` namespace.

Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022. The
network runs one time step per call (``[N, 3, H, W]``): in training mode each OTTT neuron
(:class:`snn_neurons.OTTTLIFNode`) emits ``[spike, trace]`` and
:class:`snn_layers.OTTTSequential` routes the weight gradients through the traces; train it
with ``snn_core.functional.ottt_online_training``. With weight standardization
(:class:`snn_layers.WSConv2d`) every neuron is followed by :class:`Scale` ``(2.74)``, the
gain that keeps the spike rate of standardized layers near one.

The models here hold the neuron state between calls, as the reference's do: call
``snn_core.functional.reset_net(net)`` before each new sample. Differences from the
reference: ``fc_hw`` (the pooled size before the light classifier) is not forwarded to the
neurons (the reference forwards it, so it could not be set), and a bad ``spiking_neuron``
or input rank is an error naming the argument.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import snn_layers as layer
import snn_neurons as neuron
import torch
from torch import nn

from snn_zoo.models._classic_common import check_image_input, check_spiking_neuron, make_neuron

__all__ = [
    "OTTTSpikingVGG",
    "ottt_spiking_vgg11",
    "ottt_spiking_vgg11_ws",
    "ottt_spiking_vgg13",
    "ottt_spiking_vgg13_ws",
    "ottt_spiking_vgg16",
    "ottt_spiking_vgg16_ws",
    "ottt_spiking_vgg19",
    "ottt_spiking_vgg19_ws",
    "ottt_spiking_vggws",
]

#: gain after each standardized layer's neuron
WS_SCALE = 2.74


class Scale(nn.Module):
    """``y = scale * x`` with a fixed (not learned) ``scale``."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def _check_cfg(cfg: Any) -> list[int | str]:
    if isinstance(cfg, (str, bytes)) or not isinstance(cfg, Sequence):
        raise TypeError(f"cfg must be a list of channel counts, 'M' and 'A', got {cfg!r}")
    for v in cfg:
        ok_int = isinstance(v, int) and not isinstance(v, bool) and v > 0
        if not (ok_int or v in ("M", "A")):
            raise ValueError(
                f"cfg entries must be positive ints (conv channels), 'M' (max pool) or 'A' "
                f"(average pool), got {v!r} in cfg={cfg!r}"
            )
    return list(cfg)


class OTTTSpikingVGG(nn.Module):
    """Spiking VGG for OTTT.

    ``features``: for each ``cfg`` entry, a 3x3 convolution (padding 1;
    :class:`~snn_layers.WSConv2d` with ``weight_standardization``) -> neuron (->
    :class:`Scale` ``(2.74)`` with weight standardization) (-> dropout with ``drop_rate > 0``),
    or a 2x2 max pool (``'M'``) or average pool (``'A'``). ``classifier``: light —
    adaptive average pool to ``fc_hw x fc_hw`` -> flatten -> linear; else VGG's
    ``7x7 -> 4096 -> 4096 -> num_classes`` head with neurons (and scales) and dropout 0.5.

    Args:
        cfg: layer list, e.g. ``[64, 'M', 128, 'M']``; the last conv must have 512 channels.
        weight_standardization: standardized convolutions (and hidden linears) and scales.
        num_classes: outputs of the classifier.
        init_weights: Kaiming-normal (fan-out) convolutions, ``N(0, 0.01)`` linears,
            zero biases.
        spiking_neuron: neuron class, called as ``spiking_neuron(**kwargs)`` per layer.
        light_classifier: the one-linear head instead of VGG's three-linear head.
        drop_rate: dropout after each conv block (``0`` = none).
        kwargs: ``fc_hw`` (default 1, light head's pooled size) and the neuron's arguments.
    """

    def __init__(
        self,
        cfg: Sequence[int | str],
        weight_standardization: bool = True,
        num_classes: int = 1000,
        init_weights: bool = True,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        light_classifier: bool = True,
        drop_rate: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        check_spiking_neuron(type(self).__name__, spiking_neuron)
        self.fc_hw = kwargs.pop("fc_hw", 1)
        ws_scale = WS_SCALE if weight_standardization else 1.0
        self.neuron = spiking_neuron
        self.features = self.make_layers(
            cfg, weight_standardization, spiking_neuron, drop_rate, **kwargs
        )
        if light_classifier:
            self.classifier = layer.OTTTSequential(
                layer.AdaptiveAvgPool2d((self.fc_hw, self.fc_hw)),
                layer.Flatten(1),
                layer.Linear(512 * self.fc_hw**2, num_classes),
            )
        else:
            linear = layer.WSLinear if weight_standardization else layer.Linear
            self.classifier = layer.OTTTSequential(
                layer.AdaptiveAvgPool2d((7, 7)),
                layer.Flatten(1),
                linear(512 * 7 * 7, 4096),
                make_neuron("OTTTSpikingVGG", spiking_neuron, kwargs),
                Scale(ws_scale),
                layer.Dropout(),
                linear(4096, 4096),
                make_neuron("OTTTSpikingVGG", spiking_neuron, kwargs),
                Scale(ws_scale),
                layer.Dropout(),
                layer.Linear(4096, num_classes),
            )
        if init_weights:
            self._initialize_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_input(type(self).__name__, x, getattr(self.features[0], "step_mode", "s"))
        return self.classifier(self.features(x))

    def _initialize_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, layer.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, layer.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, layer.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    @staticmethod
    def make_layers(
        cfg: Sequence[int | str],
        weight_standardization: bool = True,
        neuron: Callable[..., nn.Module] | None = None,
        drop_rate: float = 0.0,
        **kwargs: Any,
    ) -> layer.OTTTSequential:
        """The ``features`` stack for ``cfg`` (3 input channels); ``kwargs`` go to ``neuron``."""
        check_spiking_neuron("OTTTSpikingVGG.make_layers", neuron)
        conv = layer.WSConv2d if weight_standardization else layer.Conv2d
        layers: list[nn.Module] = []
        in_channels = 3
        for v in _check_cfg(cfg):
            if v == "M":
                layers.append(layer.MaxPool2d(kernel_size=2, stride=2))
            elif v == "A":
                layers.append(layer.AvgPool2d(kernel_size=2, stride=2))
            else:
                layers += [
                    conv(in_channels, v, kernel_size=3, padding=1),
                    make_neuron("OTTTSpikingVGG", neuron, kwargs),
                ]
                if weight_standardization:
                    layers.append(Scale(WS_SCALE))
                in_channels = v
                if drop_rate > 0.0:
                    layers.append(layer.Dropout(drop_rate))
        return layer.OTTTSequential(*layers)


#: VGG layer lists: 11 ('A'), 13 ('B'), 16 ('D'), 19 ('E') and OTTT's small VGG ('S')
cfgs: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"] + [512, 512, 512, "M"] * 2,
    "E": [64, 64, "M", 128, 128, "M"] + [256] * 4 + ["M"] + ([512] * 4 + ["M"]) * 2,
    "S": [64, 128, "A", 256, 256, "A", 512, 512, "A", 512, 512],
}


def _spiking_vgg(
    cfg: str, weight_standardization: bool, spiking_neuron: Callable[..., nn.Module], **kwargs: Any
) -> OTTTSpikingVGG:
    return OTTTSpikingVGG(
        cfg=cfgs[cfg],
        weight_standardization=weight_standardization,
        spiking_neuron=spiking_neuron,
        **kwargs,
    )


def ottt_spiking_vggws(
    spiking_neuron: Callable[..., nn.Module] = neuron.OTTTLIFNode, **kwargs: Any
) -> OTTTSpikingVGG:
    """OTTT's small weight-standardized VGG (cfg ``'S'``, light classifier); ``kwargs``:
    ``num_classes`` and the other :class:`OTTTSpikingVGG` arguments, then the neuron's."""
    return _spiking_vgg("S", True, spiking_neuron, light_classifier=True, **kwargs)


def ottt_spiking_vgg11(
    spiking_neuron: Callable[..., nn.Module] = neuron.OTTTLIFNode, **kwargs: Any
) -> OTTTSpikingVGG:
    """VGG-11 for OTTT (VGG's three-linear head); ``kwargs`` as :func:`ottt_spiking_vggws`."""
    return _spiking_vgg("A", False, spiking_neuron, light_classifier=False, **kwargs)


def ottt_spiking_vgg11_ws(
    spiking_neuron: Callable[..., nn.Module] = neuron.OTTTLIFNode, **kwargs: Any
) -> OTTTSpikingVGG:
    """Weight-standardized VGG-11 for OTTT; ``kwargs`` as :func:`ottt_spiking_vggws`."""
    return _spiking_vgg("A", True, spiking_neuron, light_classifier=False, **kwargs)


def ottt_spiking_vgg13(
    spiking_neuron: Callable[..., nn.Module] = neuron.OTTTLIFNode, **kwargs: Any
) -> OTTTSpikingVGG:
    """VGG-13 for OTTT; ``kwargs`` as :func:`ottt_spiking_vggws`."""
    return _spiking_vgg("B", False, spiking_neuron, light_classifier=False, **kwargs)


def ottt_spiking_vgg13_ws(
    spiking_neuron: Callable[..., nn.Module] = neuron.OTTTLIFNode, **kwargs: Any
) -> OTTTSpikingVGG:
    """Weight-standardized VGG-13 for OTTT; ``kwargs`` as :func:`ottt_spiking_vggws`."""
    return _spiking_vgg("B", True, spiking_neuron, light_classifier=False, **kwargs)


def ottt_spiking_vgg16(
    spiking_neuron: Callable[..., nn.Module] = neuron.OTTTLIFNode, **kwargs: Any
) -> OTTTSpikingVGG:
    """VGG-16 for OTTT; ``kwargs`` as :func:`ottt_spiking_vggws`."""
    return _spiking_vgg("D", False, spiking_neuron, light_classifier=False, **kwargs)


def ottt_spiking_vgg16_ws(
    spiking_neuron: Callable[..., nn.Module] = neuron.OTTTLIFNode, **kwargs: Any
) -> OTTTSpikingVGG:
    """Weight-standardized VGG-16 for OTTT; ``kwargs`` as :func:`ottt_spiking_vggws`."""
    return _spiking_vgg("D", True, spiking_neuron, light_classifier=False, **kwargs)


def ottt_spiking_vgg19(
    spiking_neuron: Callable[..., nn.Module] = neuron.OTTTLIFNode, **kwargs: Any
) -> OTTTSpikingVGG:
    """VGG-19 for OTTT; ``kwargs`` as :func:`ottt_spiking_vggws`."""
    return _spiking_vgg("E", False, spiking_neuron, light_classifier=False, **kwargs)


def ottt_spiking_vgg19_ws(
    spiking_neuron: Callable[..., nn.Module] = neuron.OTTTLIFNode, **kwargs: Any
) -> OTTTSpikingVGG:
    """Weight-standardized VGG-19 for OTTT; ``kwargs`` as :func:`ottt_spiking_vggws`."""
    return _spiking_vgg("E", True, spiking_neuron, light_classifier=False, **kwargs)
