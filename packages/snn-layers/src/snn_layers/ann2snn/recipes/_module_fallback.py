"""Rate-coding conversion of a model that ``torch.fx`` cannot trace, by module replacement.

Every ``nn.ReLU`` module of a copy of the ANN becomes a calibrating ReLU (ReLU + the
recipe's hook), the calibration batches run through the model's own ``forward``, and each
calibrating ReLU is then replaced by ``scaler0 -> neuron -> scaler1``. A ReLU written as a
call (``F.relu``, ``torch.relu``, ``x.relu()``) or another activation cannot be replaced
this way: calibration watches every torch call and raises an error naming it, so no
activation is left silently unconverted. The result, :class:`UntracedSNN`, runs the
converted copy step by step (``'s'``) or loops it over ``T`` (``'m'``).
"""

from __future__ import annotations

import copy
import warnings
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from snn_core.base import StepModule
from torch import nn
from torch.overrides import TorchFunctionMode

from snn_layers.ann2snn.recipes._graph import (
    _OTHER_ACTIVATION_FUNCTIONS,
    _OTHER_ACTIVATION_MODULES,
    batch_to_tensor,
    progress,
)

if TYPE_CHECKING:  # pragma: no cover
    from snn_layers.ann2snn.recipes.rate_coding import RateCodingRecipe

__all__ = ["UntracedSNN", "convert_by_module_replacement"]

_WATCHED_RELU = {F.relu, torch.relu, torch.relu_, F.relu_, torch.Tensor.relu, torch.Tensor.relu_}
_WATCHED_OTHER = _OTHER_ACTIVATION_FUNCTIONS | {
    torch.Tensor.sigmoid,
    torch.Tensor.tanh,
    torch.Tensor.clamp,
    torch.Tensor.clip,
}


class _CalibratingReLU(nn.Module):
    def __init__(self, hook: nn.Module) -> None:
        super().__init__()
        self.hook = hook

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hook(torch.clamp_min(x, 0.0))


class _SpikingReLU(nn.Module):
    """``scaler1(neuron(scaler0(x)))``, the converted ReLU of the module path."""

    def __init__(self, scaler0: nn.Module, if_node: nn.Module, scaler1: nn.Module) -> None:
        super().__init__()
        self.scaler0, self.if_node, self.scaler1 = scaler0, if_node, scaler1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scaler1(self.if_node(self.scaler0(x)))


class _ActivationWatch(TorchFunctionMode):
    """Records activation calls made outside the calibrating ReLUs."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _WATCHED_RELU or func in _WATCHED_OTHER:
            self.seen.append(getattr(func, "__qualname__", getattr(func, "__name__", str(func))))
        return func(*args, **(kwargs or {}))


class UntracedSNN(nn.Module, StepModule):
    """A converted network that is not an fx graph: ``'s'`` runs one step ``[N, *]``;
    ``'m'`` loops the single-step network over ``[T, N, *]`` and stacks the outputs.

    Args:
        net: the converted module tree (its neurons stay in single-step mode).
        step_mode: ``'s'`` or ``'m'``.
    """

    keeps_submodule_step_mode = True

    def __init__(self, net: nn.Module, step_mode: str = "s") -> None:
        super().__init__()
        self.net = net
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self.net(x)
        return torch.stack([self.net(x_t) for x_t in x])


def _set(root: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, module)


def convert_by_module_replacement(
    recipe: RateCodingRecipe, device: torch.device, ann: nn.Module, reason: str
) -> UntracedSNN:
    """Calibrate and convert ``ann`` by replacing its ``nn.ReLU`` modules (see the module
    doc); ``reason`` says why fx tracing failed (it is part of the warning)."""
    name = type(recipe).__name__
    net = copy.deepcopy(ann).eval().to(device)
    for mod_name, module in net.named_modules():
        if isinstance(module, _OTHER_ACTIVATION_MODULES):
            raise ValueError(
                f"{name} converts ReLU activations only, but the model has the module "
                f"{mod_name!r} ({type(module).__name__}). Replace it with nn.ReLU (and "
                "fine-tune the ANN) before conversion."
            )
    relus = [n for n, m in net.named_modules() if isinstance(m, nn.ReLU)]
    warnings.warn(
        f"{name}: torch.fx could not trace {type(ann).__name__} ({reason}); converting by "
        f"replacing its {len(relus)} nn.ReLU module(s) instead. The result runs step by step.",
        UserWarning,
        stacklevel=4,
    )
    hooks = {}
    for relu in relus:
        hook = recipe._new_channel_hook() if recipe.channel_wise else recipe._new_layer_hook()
        hooks[relu] = _CalibratingReLU(hook)
        _set(net, relu, hooks[relu])
    watch = _ActivationWatch()
    with torch.no_grad(), watch:
        for data in progress(recipe.dataloader, f"{name} calibration"):
            net(batch_to_tensor(data, device, name))
    if watch.seen:
        calls = sorted(set(watch.seen))
        raise ValueError(
            f"{name}: {type(ann).__name__}.forward calls {calls} outside nn.ReLU modules, "
            "which module replacement cannot convert. Use nn.ReLU modules (or make forward "
            "traceable by torch.fx, which converts F.relu / torch.relu calls too)."
        )
    if not relus:
        raise ValueError(f"{name}: the model has no ReLU activation to convert.")
    for relu, calibrating in hooks.items():
        scaler0, neuron, scaler1 = recipe._make_spiking_parts(calibrating.hook, relu)
        _set(net, relu, _SpikingReLU(scaler0, neuron, scaler1))
    return UntracedSNN(net)
