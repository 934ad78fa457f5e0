"""Which modules count as spiking neurons, without importing :mod:`snn_neurons`.

``snn_core`` is the lowest package, so the neuron classes (``snn_neurons.BaseNode`` and its
subclasses) cannot be imported here. :class:`SpikingNeuron` is a virtual base class that
matches them structurally: a :class:`~snn_core.base.MemoryModule` whose class defines the
charge step (``neuronal_charge``) and multi-step backends (``supported_backends``), which is
exactly the reference's ``BaseNode`` family.
"""

from __future__ import annotations

from abc import ABC

from snn_core.base import MemoryModule

__all__ = ["SpikingNeuron", "IFNeuron", "LIFNeuron"]


class SpikingNeuron(ABC):  # noqa: B024 (a virtual base class: isinstance only)
    """``isinstance(m, SpikingNeuron)`` is true for the ``BaseNode`` family of neurons."""

    @classmethod
    def __subclasshook__(cls, other: type) -> bool:
        if cls is not SpikingNeuron:
            return NotImplemented
        return (
            isinstance(other, type)
            and issubclass(other, MemoryModule)
            and hasattr(other, "neuronal_charge")
            and hasattr(other, "supported_backends")
        )


def _has_base_named(other: type, name: str) -> bool:
    return (
        isinstance(other, type)
        and issubclass(other, SpikingNeuron)
        and any(c.__name__ == name for c in other.__mro__)
    )


class IFNeuron(ABC):  # noqa: B024 (a virtual base class: isinstance only)
    """``isinstance(m, IFNeuron)``: ``m`` is an ``IFNode`` (or a subclass of it)."""

    @classmethod
    def __subclasshook__(cls, other: type) -> bool:
        return _has_base_named(other, "IFNode") if cls is IFNeuron else NotImplemented


class LIFNeuron(ABC):  # noqa: B024 (a virtual base class: isinstance only)
    """``isinstance(m, LIFNeuron)``: ``m`` is a ``LIFNode`` (or a subclass of it)."""

    @classmethod
    def __subclasshook__(cls, other: type) -> bool:
        return _has_base_named(other, "LIFNode") if cls is LIFNeuron else NotImplemented


def is_any_neuron(module: object) -> bool:
    """Spiking neurons of both families: ``BaseNode`` and ``SimpleBaseNode`` (a
    :class:`~snn_core.base.MemoryModule` with a charge step)."""
    return isinstance(module, MemoryModule) and hasattr(type(module), "neuronal_charge")


def has_class_named(module: object, names: tuple[str, ...]) -> bool:
    """Whether ``module``'s class or one of its bases is named one of ``names``."""
    return any(c.__name__ in names for c in type(module).__mro__)
