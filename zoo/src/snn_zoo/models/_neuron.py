"""How the reference-namespace models build their neurons from ``spiking_neuron, **kwargs``.

Every model of :mod:`snn_zoo.models` takes ``spiking_neuron`` (a neuron class or factory,
``None`` for :class:`snn_neurons.LIFNode`) and ``**kwargs`` for the neurons, as the reference
framework's ``model`` namespace does. :func:`make_multi_step_neuron` is the one rule:

- ``spiking_neuron=None``: ``LIFNode(**{**defaults, **kwargs, 'step_mode': 'm'})`` (the
  per-position paper defaults, e.g. ``tau=2.0, detach_reset=True``, overridden by ``kwargs``);
- a custom class: ``spiking_neuron(**kwargs, step_mode='m')`` (the defaults do not apply).

``kwargs`` is deep-copied for every neuron, so a surrogate module passed in is never shared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from snn_neurons import LIFNode
from torch import nn

from snn_zoo.models._classic_common import make_neuron

__all__ = ["make_multi_step_neuron", "check_spiking_neuron"]


def check_spiking_neuron(owner: str, spiking_neuron: Any) -> None:
    """Raise unless ``spiking_neuron`` is ``None`` or a class/callable building a neuron."""
    if spiking_neuron is not None and not callable(spiking_neuron):
        raise TypeError(
            f"{owner}: spiking_neuron must be None (LIFNode) or a neuron class/callable such "
            f"as snn_neurons.LIFNode or snn_neurons.IFNode, got {spiking_neuron!r}"
        )


def make_multi_step_neuron(
    spiking_neuron: Callable[..., nn.Module] | None,
    kwargs: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> nn.Module:
    """One multi-step neuron built by the rule in the module docstring.

    Raises ``ValueError`` if ``kwargs`` asks for ``step_mode`` other than ``'m'`` and
    ``TypeError`` if ``spiking_neuron`` is not callable or does not build an ``nn.Module``.
    """
    mode = kwargs.get("step_mode", "m")
    if mode != "m":
        raise ValueError(
            f"step_mode={mode!r} was given, but these models run their neurons multi-step; "
            f"only step_mode='m' is allowed"
        )
    check_spiking_neuron("make_multi_step_neuron", spiking_neuron)
    params = {**(defaults or {} if spiking_neuron is None else {}), **kwargs, "step_mode": "m"}
    return make_neuron("make_multi_step_neuron", spiking_neuron or LIFNode, params)
