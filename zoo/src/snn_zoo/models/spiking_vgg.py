"""Spiking VGG in torchvision's layout: SpikingJelly's ``model.spiking_vgg``.

torchvision's VGG-11/13/16/19 (Simonyan and Zisserman, ICLR 2015), with and without batch
norm, with every ReLU replaced by the caller's ``spiking_neuron``:
``features`` (3x3 ``conv [-> norm] -> SN`` per number of the configuration, 2x2 max-pool
per ``'M'``) ``-> avgpool (7x7) -> classifier`` (``Linear(25088, 4096) -> SN -> Dropout ->
Linear(4096, 4096) -> SN -> Dropout -> Linear(4096, num_classes)``). The dropouts are
``snn_layers.Dropout(0.5)``: one mask per simulation, kept over all time steps until the
network is reset. Parameter names are torchvision's, so ``pretrained=True`` loads
torchvision's ImageNet ANN weights (and skips the random init, as torchvision does).

As SpikingJelly's, the model has no built-in neuron or ``T``: the caller passes
``spiking_neuron``, chooses the step mode, feeds ``[N, 3, H, W]`` per step or
``[T, N, 3, H, W]`` and resets the neurons; the output is per step (``[T, N, classes]``
in ``'m'``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from snn_layers import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d
from torch import nn

from snn_zoo.models._classic_common import (
    check_image_input,
    check_spiking_neuron,
    flatten_features,
    load_ann_weights,
    make_neuron,
)

__all__ = [
    "SpikingVGG",
    "spiking_vgg11",
    "spiking_vgg11_bn",
    "spiking_vgg13",
    "spiking_vgg13_bn",
    "spiking_vgg16",
    "spiking_vgg16_bn",
    "spiking_vgg19",
    "spiking_vgg19_bn",
]

#: torchvision's ImageNet ANN checkpoints that ``pretrained=True`` loads
model_urls = {
    "vgg11": "https://download.pytorch.org/models/vgg11-8a719046.pth",
    "vgg13": "https://download.pytorch.org/models/vgg13-19584684.pth",
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "vgg11_bn": "https://download.pytorch.org/models/vgg11_bn-6002323d.pth",
    "vgg13_bn": "https://download.pytorch.org/models/vgg13_bn-abd245e5.pth",
    "vgg16_bn": "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth",
    "vgg19_bn": "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth",
}

#: the configurations of the VGG paper's Table 1: output channels of the 3x3 convolutions,
#: ``'M'`` a 2x2 max-pool (A: VGG-11, B: VGG-13, D: VGG-16, E: VGG-19)
_M = "M"
cfgs: dict[str, list[int | str]] = {
    "A": [64, _M, 128, _M, 256, 256, _M, 512, 512, _M, 512, 512, _M],
    "B": [64, 64, _M, 128, 128, _M, 256, 256, _M, 512, 512, _M, 512, 512, _M],
    "D": [64, 64, _M, 128, 128, _M] + [256] * 3 + [_M] + ([512] * 3 + [_M]) * 2,
    "E": [64, 64, _M, 128, 128, _M] + [256] * 4 + [_M] + ([512] * 4 + [_M]) * 2,
}


class SpikingVGG(nn.Module):
    """torchvision's VGG with spiking neurons (see the module docstring).

    Args:
        cfg: the feature layers: output channels of each 3x3 conv, ``'M'`` a 2x2 max-pool;
            the last conv must have 512 channels (the classifier takes ``512 * 7 * 7``).
        batch_norm: put ``norm_layer`` between every conv and its neuron.
        norm_layer: normalisation class (default ``snn_layers.BatchNorm2d``).
        num_classes: outputs of the last ``Linear``.
        init_weights: torchvision's init (convs Kaiming-normal fan-out with zero bias, norms
            1 / 0, ``Linear`` ``N(0, 0.01)`` with zero bias); ``False`` keeps torch's.
        spiking_neuron: the neuron class or factory (required), e.g. ``snn_neurons.IFNode``.
        **kwargs: forwarded to every ``spiking_neuron(...)`` call.
    """

    def __init__(
        self,
        cfg: Sequence[int | str],
        batch_norm: bool = False,
        norm_layer: Callable[[int], nn.Module] | None = None,
        num_classes: int = 1000,
        init_weights: bool = True,
        spiking_neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        check_spiking_neuron(name, spiking_neuron)
        self.features = self.make_layers(
            cfg=cfg, batch_norm=batch_norm, norm_layer=norm_layer, neuron=spiking_neuron, **kwargs
        )
        self.avgpool = AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            Linear(512 * 7 * 7, 4096),
            make_neuron(name, spiking_neuron, kwargs),
            Dropout(),
            Linear(4096, 4096),
            make_neuron(name, spiking_neuron, kwargs),
            Dropout(),
            Linear(4096, num_classes),
        )
        if init_weights:
            self._initialize_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` -> ``[N, num_classes]`` in step mode ``'s'`` (one time step);
        ``[T, N, 3, H, W]`` -> ``[T, N, num_classes]`` in ``'m'``."""
        first = self.features[0] if len(self.features) else self.avgpool
        check_image_input(type(self).__name__, x, getattr(first, "step_mode", "s"))
        x = self.avgpool(self.features(x))
        return self.classifier(flatten_features(x, self.avgpool.step_mode))

    def _initialize_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    @staticmethod
    def make_layers(
        cfg: Sequence[int | str],
        batch_norm: bool = False,
        norm_layer: Callable[[int], nn.Module] | None = None,
        neuron: Callable[..., nn.Module] | None = None,
        **kwargs: Any,
    ) -> nn.Sequential:
        """The feature stack of ``cfg`` on 3-channel input; ``kwargs`` go to ``neuron``."""
        norm = BatchNorm2d if norm_layer is None else norm_layer
        layers: list[nn.Module] = []
        in_channels = 3
        for v in cfg:
            if v == _M:
                layers.append(MaxPool2d(kernel_size=2, stride=2))
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(
                    f"SpikingVGG: cfg entries must be positive channel counts or 'M', got {v!r}"
                )
            layers.append(Conv2d(in_channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(norm(v))
            layers.append(make_neuron("SpikingVGG", neuron, kwargs))
            in_channels = v
        return nn.Sequential(*layers)


def _spiking_vgg(
    arch: str,
    cfg: str,
    batch_norm: bool,
    pretrained: bool,
    progress: bool,
    norm_layer: Callable[[int], nn.Module] | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingVGG:
    if pretrained:
        kwargs["init_weights"] = False
    model = SpikingVGG(
        cfg=cfgs[cfg],
        batch_norm=batch_norm,
        norm_layer=norm_layer if batch_norm else None,
        spiking_neuron=spiking_neuron,
        **kwargs,
    )
    if pretrained:
        load_ann_weights(model, model_urls[arch], progress)
    return model


_ARGS = (
    "``pretrained``: load torchvision's ImageNet ANN weights; ``progress``: show the "
    "download's progress; ``**kwargs``: the model's options (``num_classes``, "
    "``init_weights``), the rest go to ``spiking_neuron``."
)


def spiking_vgg11(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingVGG:
    """Spiking VGG-11 (configuration A, 132.86 M parameters)."""
    return _spiking_vgg("vgg11", "A", False, pretrained, progress, None, spiking_neuron, **kwargs)


def spiking_vgg11_bn(
    pretrained: bool = False,
    progress: bool = True,
    norm_layer: Callable[[int], nn.Module] | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingVGG:
    """Spiking VGG-11 with batch norm (``norm_layer``, default ``snn_layers.BatchNorm2d``;
    132.87 M parameters)."""
    return _spiking_vgg(
        "vgg11_bn", "A", True, pretrained, progress, norm_layer, spiking_neuron, **kwargs
    )


def spiking_vgg13(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingVGG:
    """Spiking VGG-13 (configuration B, 133.05 M parameters)."""
    return _spiking_vgg("vgg13", "B", False, pretrained, progress, None, spiking_neuron, **kwargs)


def spiking_vgg13_bn(
    pretrained: bool = False,
    progress: bool = True,
    norm_layer: Callable[[int], nn.Module] | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingVGG:
    """Spiking VGG-13 with batch norm (133.05 M parameters)."""
    return _spiking_vgg(
        "vgg13_bn", "B", True, pretrained, progress, norm_layer, spiking_neuron, **kwargs
    )


def spiking_vgg16(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingVGG:
    """Spiking VGG-16 (configuration D, 138.36 M parameters)."""
    return _spiking_vgg("vgg16", "D", False, pretrained, progress, None, spiking_neuron, **kwargs)


def spiking_vgg16_bn(
    pretrained: bool = False,
    progress: bool = True,
    norm_layer: Callable[[int], nn.Module] | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingVGG:
    """Spiking VGG-16 with batch norm (138.37 M parameters)."""
    return _spiking_vgg(
        "vgg16_bn", "D", True, pretrained, progress, norm_layer, spiking_neuron, **kwargs
    )


def spiking_vgg19(
    pretrained: bool = False,
    progress: bool = True,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingVGG:
    """Spiking VGG-19 (configuration E, 143.67 M parameters)."""
    return _spiking_vgg("vgg19", "E", False, pretrained, progress, None, spiking_neuron, **kwargs)


def spiking_vgg19_bn(
    pretrained: bool = False,
    progress: bool = True,
    norm_layer: Callable[[int], nn.Module] | None = None,
    spiking_neuron: Callable[..., nn.Module] | None = None,
    **kwargs: Any,
) -> SpikingVGG:
    """Spiking VGG-19 with batch norm (143.68 M parameters)."""
    return _spiking_vgg(
        "vgg19_bn", "E", True, pretrained, progress, norm_layer, spiking_neuron, **kwargs
    )


for _builder in (
    spiking_vgg11,
    spiking_vgg11_bn,
    spiking_vgg13,
    spiking_vgg13_bn,
    spiking_vgg16,
    spiking_vgg16_bn,
    spiking_vgg19,
    spiking_vgg19_bn,
):
    _builder.__doc__ = f"{_builder.__doc__} {_ARGS}"
del _builder
