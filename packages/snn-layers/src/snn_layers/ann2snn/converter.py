"""The converters: run a recipe's steps on an ANN and return the converted network.

:class:`FXConverter` (alias ``Converter``) traces the ANN with ``torch.fx`` and hands the
graph to an :class:`~snn_layers.ann2snn.FXConversionRecipe`; :class:`ModuleConverter`
hands the module tree to a :class:`~snn_layers.ann2snn.ModuleConversionRecipe`. Both
resolve the device, run under ``torch.no_grad()`` and restore the ANN's ``training`` flags.
"""

from __future__ import annotations

import logging
import threading
import time
import types
import warnings

import torch
from torch import fx, nn

from snn_layers.ann2snn.recipes.base import FXConversionRecipe, ModuleConversionRecipe

__all__ = ["Converter", "FXConverter", "ModuleConverter"]

_log = logging.getLogger(__name__)
_TRACE_LOCK = threading.RLock()


def _resolve_device(ann: nn.Module, device: torch.device | str | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    parameter = next(ann.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


class TraceFailure(RuntimeError):
    """``torch.fx`` could not trace the ANN's ``forward``."""


def _symbolic_trace(root: nn.Module) -> fx.GraphModule:
    """``torch.fx`` trace of ``root``; a failure names the model and what to do."""
    with _TRACE_LOCK:
        tracer = fx.Tracer()
        try:
            graph = tracer.trace(root)
        except Exception as exc:  # fx raises TraceError, TypeError, RuntimeError, ...
            raise TraceFailure(
                f"ann2snn: torch.fx could not trace {type(root).__name__}.forward "
                f"({type(exc).__name__}: {exc}). The FX converter needs a forward without "
                "data-dependent control flow; move such code out of forward, mark the "
                "offending submodule as a leaf, or convert with a ModuleConversionRecipe."
            ) from exc
    for node in graph.nodes:  # fx codegen cannot register PEP 604 unions on older torch
        if isinstance(node.type, types.UnionType):
            node.type = None
    return fx.GraphModule(tracer.root, graph)


def _restore_training(modes: dict[nn.Module, bool]) -> None:
    for module, training in modes.items():
        module.training = training


class FXConverter:
    """Convert an ANN by tracing it with ``torch.fx`` and applying ``recipe``'s steps.

    Args:
        recipe: an :class:`~snn_layers.ann2snn.FXConversionRecipe` instance (e.g.
            ``RateCodingRecipe(dataloader)``) or the name ``'transformer_td_equivalent'``.
            Algorithm settings (data, mode, fusion, ...) belong to the recipe.
        device: where conversion runs; ``None`` takes the device of the ANN's first
            parameter (CPU for a parameter-free ANN).

    ``convert(ann)`` returns a ``torch.fx.GraphModule`` whose stateless layers follow
    ``functional.set_step_mode`` (``'s'``: ``[N, *]`` per step, ``'m'``: ``[T, N, *]``).
    The ANN itself is not modified (its ``training`` flags are restored). If ``torch.fx``
    cannot trace the ANN, a recipe with a ``convert_untraceable`` method (the rate-coding
    recipes: replacement of ``nn.ReLU`` modules, with a warning) converts it instead;
    otherwise the trace failure is raised with what to do.
    """

    def __init__(
        self, recipe: str | FXConversionRecipe, device: torch.device | str | None = None
    ) -> None:
        self.recipe = self._resolve_recipe(recipe)
        self.device = device

    @staticmethod
    def _resolve_recipe(recipe: str | FXConversionRecipe) -> FXConversionRecipe:
        if isinstance(recipe, FXConversionRecipe):
            return recipe
        if isinstance(recipe, ModuleConversionRecipe):
            raise TypeError(
                "FXConverter/Converter requires an FXConversionRecipe. "
                "Use ModuleConverter for ModuleConversionRecipe instances."
            )
        if recipe == "transformer_spike_equivalent":
            warnings.warn(
                "recipe='transformer_spike_equivalent' is deprecated; use "
                "'transformer_td_equivalent'",
                DeprecationWarning,
                stacklevel=3,
            )
            recipe = "transformer_td_equivalent"
        if recipe == "transformer_td_equivalent":
            from snn_layers.ann2snn import recipes

            if not hasattr(recipes, "TransformerTDEquivalentRecipe"):
                raise ValueError(
                    "recipe='transformer_td_equivalent' is not available in this version "
                    "of snn_layers.ann2snn; use RateCodingRecipe or "
                    "LocalThresholdBalancingRecipe."
                )
            return recipes.TransformerTDEquivalentRecipe()
        if recipe == "rate_coding":
            raise ValueError(
                "The rate_coding recipe requires parameters. "
                "Pass RateCodingRecipe(dataloader=...) to Converter."
            )
        if recipe == "sta_transformer":
            raise ValueError(
                "The sta_transformer recipe requires parameters. "
                "Pass STATransformerRecipe(dataloader=..., time_steps=...) to Converter."
            )
        if isinstance(recipe, str):
            raise ValueError(
                f"Unknown ann2snn conversion recipe: {recipe!r}. Allowed names: "
                "'transformer_td_equivalent'; otherwise pass a recipe object such as "
                "RateCodingRecipe(dataloader=...)."
            )
        raise TypeError(
            "recipe must be a recipe name string or an FXConversionRecipe "
            f"instance, but got {type(recipe).__name__}."
        )

    def convert(self, ann: nn.Module) -> nn.Module:
        """Run the recipe's pipeline on ``ann`` and return the converted network."""
        configured = self.device
        modes = {m: m.training for m in ann.modules()}
        start = time.perf_counter()
        try:
            self.device = _resolve_device(ann, configured)
            with torch.no_grad():
                self.recipe.validate(self)
                ann = self.recipe.before_trace(self, ann)
                try:
                    fx_model = _symbolic_trace(ann).to(self.device)
                except TraceFailure as exc:
                    fallback = getattr(self.recipe, "convert_untraceable", None)
                    if fallback is None:
                        raise
                    return fallback(self, ann, str(exc.__cause__))
                fx_model = self.recipe.after_trace(self, fx_model)
                fx_model = self.recipe.insert_observers(self, fx_model)
                fx_model = self.recipe.calibrate(self, fx_model)
                fx_model = self.recipe.replace(self, fx_model)
                result = self.recipe.finalize(self, fx_model)
            _log.info(
                "ann2snn: %s with %s on %s in %.1f ms",
                type(self).__name__,
                type(self.recipe).__name__,
                self.device,
                (time.perf_counter() - start) * 1e3,
            )
            return result
        finally:
            _restore_training(modes)
            self.device = configured


class ModuleConverter:
    """Convert an ANN's module tree with a :class:`~snn_layers.ann2snn.ModuleConversionRecipe`.

    No fx tracing: ``convert(ann)`` calls ``recipe.validate(self)`` and
    ``recipe.convert_module(self, ann)`` under ``torch.no_grad()`` and moves the result to
    ``device`` (``None``: the ANN's parameter device, or CPU).
    """

    def __init__(
        self, recipe: ModuleConversionRecipe, device: torch.device | str | None = None
    ) -> None:
        if isinstance(recipe, FXConversionRecipe):
            raise TypeError(
                "ModuleConverter requires a ModuleConversionRecipe. "
                "Use FXConverter/Converter for FXConversionRecipe instances."
            )
        if not isinstance(recipe, ModuleConversionRecipe):
            raise TypeError(
                "recipe must be a ModuleConversionRecipe instance, "
                f"but got {type(recipe).__name__}."
            )
        self.recipe = recipe
        self.device = device

    def convert(self, ann: nn.Module) -> nn.Module:
        """Run ``recipe.convert_module`` on ``ann`` and return the result on ``device``."""
        configured = self.device
        modes = {m: m.training for m in ann.modules()}
        try:
            self.device = _resolve_device(ann, configured)
            with torch.no_grad():
                self.recipe.validate(self)
                converted = self.recipe.convert_module(self, ann)
                if not isinstance(converted, nn.Module):
                    raise TypeError(
                        "ModuleConversionRecipe.convert_module must return a torch.nn.Module, "
                        f"got {type(converted).__name__}."
                    )
                converted_modes = {m: m.training for m in converted.modules()}
                converted = converted.to(self.device)
            _restore_training(modes)
            _restore_training(converted_modes)
            return converted
        finally:
            _restore_training(modes)
            self.device = configured


Converter = FXConverter
