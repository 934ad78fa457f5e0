"""Pieces shared by the torchvision-derived classics of ``snn_zoo.models`` (spiking ResNet,
SEW-ResNet, spiking VGG): building the caller's neurons, loading torchvision's ImageNet
ANN weights, and the input / flatten conventions of their forward.

These models are plain layer stacks in SpikingJelly's style: every layer has a
``step_mode``; the caller chooses it (``functional.set_step_mode``), feeds ``[N, C, H, W]``
per step (``'s'``) or ``[T, N, C, H, W]`` (``'m'``) and resets the neurons
(``functional.reset_net``) between samples.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

__all__: list[str] = []

SpikingNeuron = Callable[..., nn.Module]


def check_spiking_neuron(owner: str, spiking_neuron: Any) -> SpikingNeuron:
    """Return ``spiking_neuron`` if it is a neuron class or factory, else raise."""
    if spiking_neuron is None:
        raise TypeError(
            f"{owner}: spiking_neuron is required (there is no default neuron): pass a neuron "
            f"class such as snn_neurons.IFNode or snn_neurons.LIFNode, or a callable that "
            f"returns a neuron module; keyword arguments the model does not take go to it"
        )
    if not callable(spiking_neuron):
        raise TypeError(
            f"{owner}: spiking_neuron must be a neuron class (e.g. snn_neurons.LIFNode) or a "
            f"callable returning an nn.Module, got {spiking_neuron!r}"
        )
    return spiking_neuron


def make_neuron(owner: str, spiking_neuron: Any, kwargs: Mapping[str, Any]) -> nn.Module:
    """``spiking_neuron(**deepcopy(kwargs))``: one neuron with its own copy of the keyword
    arguments (so module-valued ones such as surrogates are never shared)."""
    factory = check_spiking_neuron(owner, spiking_neuron)
    try:
        module = factory(**copy.deepcopy(dict(kwargs)))
    except TypeError as err:
        name = getattr(factory, "__name__", repr(factory))
        raise TypeError(
            f"{owner}: spiking_neuron={name} rejected the keyword arguments {sorted(kwargs)} "
            f"(every keyword argument the model does not take is forwarded to the neuron): "
            f"{err}"
        ) from err
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"{owner}: spiking_neuron must return an nn.Module, got {type(module).__name__}"
        )
    return module


def load_ann_weights(model: nn.Module, url: str, progress: bool) -> None:
    """Load torchvision's ImageNet ANN checkpoint at ``url`` into ``model`` (strict).

    The spiking models keep torchvision's module names and put neurons where the ANN has
    its parameter-free ReLUs, so the ANN's state dict fits as it is (with a neuron that has
    parameters, or another ``num_classes``, loading fails with torch's key / size report).
    The file is fetched once into torch.hub's cache (``torch.hub.get_dir()/checkpoints``) and
    read with ``weights_only=True``.
    """
    state_dict = torch.hub.load_state_dict_from_url(url, progress=progress, weights_only=True)
    model.load_state_dict(state_dict)


def check_image_input(owner: str, x: Any, step_mode: str, in_channels: int = 3) -> None:
    """Raise unless ``x`` is ``[N, C, H, W]`` (``'s'``) or ``[T, N, C, H, W]`` (``'m'``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner} expects a torch.Tensor, got {type(x).__name__}")
    dims, layout = (4, "[N, C, H, W]") if step_mode == "s" else (5, "[T, N, C, H, W]")
    if x.dim() != dims:
        raise ValueError(
            f"{owner} in step_mode={step_mode!r} takes x of shape {layout} ({dims} dimensions), "
            f"got {list(x.shape)}; set the step mode with functional.set_step_mode(model, "
            f"'s' or 'm')"
        )
    if x.shape[-3] != in_channels:
        raise ValueError(
            f"{owner} takes {in_channels}-channel images, got x of shape {list(x.shape)}"
        )


def flatten_features(x: torch.Tensor, step_mode: str) -> torch.Tensor:
    """Flatten pooled features to ``[N, F]`` (``'s'``) or ``[T, N, F]`` (``'m'``)."""
    return torch.flatten(x, 1 if step_mode == "s" else 2)
