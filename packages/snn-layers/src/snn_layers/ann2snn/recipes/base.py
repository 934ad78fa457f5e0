"""Recipe base classes: what each step of a conversion does.

A converter runs a fixed pipeline and asks its recipe what to do at each step. An
:class:`FXConversionRecipe` (alias ``ConversionRecipe``) works on the model's
``torch.fx`` graph; a :class:`ModuleConversionRecipe` works on the module tree directly.
Every step returns the object the next step uses (it may be the same object, changed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import fx, nn

if TYPE_CHECKING:  # pragma: no cover
    from snn_layers.ann2snn.converter import FXConverter, ModuleConverter

__all__ = ["ConversionRecipe", "FXConversionRecipe", "ModuleConversionRecipe"]


def replace_submodule(fx_model: fx.GraphModule, target: str, module: nn.Module) -> None:
    """Put ``module`` at the dotted path ``target`` of ``fx_model``."""
    parent_name, _, child_name = target.rpartition(".")
    parent = fx_model.get_submodule(parent_name) if parent_name else fx_model
    setattr(parent, child_name, module)


class FXConversionRecipe:
    """Strategy of an :class:`~snn_layers.ann2snn.FXConverter` conversion.

    :meth:`FXConverter.convert` calls, in order, under ``torch.no_grad()``:
    ``validate(converter)``, ``before_trace(converter, ann)`` (on the ANN), the fx trace,
    then ``after_trace``, ``insert_observers``, ``calibrate``, ``replace`` and ``finalize``
    (each ``(converter, graph_module) -> graph_module``). Every default does nothing.
    A recipe has no ``convert`` of its own.
    """

    def validate(self, converter: FXConverter) -> None:
        """Check the recipe's settings (called once, first)."""
        return None

    def before_trace(self, converter: FXConverter, ann: nn.Module) -> nn.Module:
        """Prepare the ANN before tracing (e.g. switch it to ``eval()``)."""
        return ann

    def after_trace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        """Rewrite the traced graph before calibration (e.g. fuse Conv-BN)."""
        return fx_model

    def insert_observers(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        """Insert the calibration observers."""
        return fx_model

    def calibrate(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        """Run the calibration data through the observed graph."""
        return fx_model

    def replace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        """Replace activations / modules by their spiking counterparts."""
        return fx_model

    def finalize(self, converter: FXConverter, fx_model: fx.GraphModule) -> nn.Module:
        """Last clean-up; the returned module is the conversion's result."""
        return fx_model


ConversionRecipe = FXConversionRecipe


class ModuleConversionRecipe:
    """Strategy of a :class:`~snn_layers.ann2snn.ModuleConverter` conversion (no fx).

    :meth:`ModuleConverter.convert` calls ``validate(converter)`` and then
    ``convert_module(converter, ann)``, which must return an ``nn.Module``.
    """

    def validate(self, converter: ModuleConverter) -> None:
        """Check the recipe's settings (called once, first)."""
        return None

    def convert_module(self, converter: ModuleConverter, ann: nn.Module) -> nn.Module:
        """Convert ``ann`` (default: return it unchanged)."""
        return ann
