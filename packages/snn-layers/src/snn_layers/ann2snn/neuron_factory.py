"""How rate-coding conversion builds the spiking neuron that replaces a ReLU."""

from __future__ import annotations

import math
from typing import Any

from snn_neurons import IFNode
from torch import nn

__all__ = ["NeuronFactory"]


def _real(name: str, value: Any, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"NeuronFactory: {name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"NeuronFactory: {name} must be finite, got {value!r}")
    return float(value)


class NeuronFactory:
    """Build the neuron placed between the two scalers of a converted ReLU.

    ``create(scale)`` (or calling the factory) returns
    ``neuron_type(v_threshold=v_threshold, v_reset=v_reset, **neuron_kwargs)``; ``scale``
    is the calibrated activation scale of the layer (the default neuron ignores it: the
    scalers around the neuron carry it). The default is the soft-reset IF neuron with
    threshold 1 of rate-coding conversion.

    Args:
        neuron_type: an ``nn.Module`` subclass taking ``v_threshold`` and ``v_reset``.
        v_threshold: finite threshold > 0.
        v_reset: ``None`` (soft reset, subtract the threshold) or a finite reset value.
        **neuron_kwargs: further constructor arguments of ``neuron_type`` (e.g. ``tau``).
    """

    def __init__(
        self,
        neuron_type: type[nn.Module] = IFNode,
        v_threshold: float = 1.0,
        v_reset: float | None = None,
        **neuron_kwargs: Any,
    ) -> None:
        if not (isinstance(neuron_type, type) and issubclass(neuron_type, nn.Module)):
            raise TypeError(
                f"NeuronFactory: neuron_type must be an nn.Module subclass, got {neuron_type!r}"
            )
        threshold = _real("v_threshold", v_threshold)
        if threshold <= 0.0:
            raise ValueError(f"NeuronFactory: v_threshold must be positive, got {v_threshold!r}")
        self.neuron_type = neuron_type
        self.v_threshold = threshold
        self.v_reset = _real("v_reset", v_reset, allow_none=True)
        self.neuron_kwargs = neuron_kwargs

    def create(self, scale: float = 1.0) -> nn.Module:
        """A new neuron for a layer whose calibrated scale is ``scale``."""
        return self.neuron_type(
            v_threshold=self.v_threshold, v_reset=self.v_reset, **self.neuron_kwargs
        )

    def __call__(self, scale: float = 1.0) -> nn.Module:
        return self.create(scale)

    def __repr__(self) -> str:
        return (
            f"NeuronFactory(neuron_type={self.neuron_type.__name__}, "
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset})"
        )
