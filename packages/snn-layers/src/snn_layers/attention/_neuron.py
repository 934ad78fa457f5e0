"""Neuron construction shared by the spiking attention layers.

Every attention layer with spiking neurons takes ``neuron`` (a class or factory returning a
neuron module), ``neuron_kwargs`` and ``backend``. With ``neuron=None`` the layers use the
neuron of the papers and of the reference framework,
``LIFNode(tau=2.0, detach_reset=True, step_mode='m')``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from snn_neurons import LIFNode
from torch import nn

__all__ = ["NeuronFactory", "make_neuron_factory", "merge_neuron_args", "set_neurons_backend"]

NeuronFactory = Callable[..., nn.Module]

_DEFAULT_LIF_KWARGS: dict[str, Any] = {"tau": 2.0, "detach_reset": True}


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins / C callables: assume they accept it
        return True
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def merge_neuron_args(
    owner: str,
    neuron: NeuronFactory | None,
    spiking_neuron: NeuronFactory | None,
    neuron_kwargs: Mapping[str, Any] | None,
    extra: Mapping[str, Any],
) -> tuple[NeuronFactory | None, Mapping[str, Any] | None]:
    """Fold the reference framework's call style into ``(neuron, neuron_kwargs)``.

    The reference framework builds these layers as ``(dim, num_heads, spiking_neuron=None,
    **kwargs)``, every extra keyword going to the neurons. ``spiking_neuron`` is an alias of
    ``neuron`` and ``extra`` (the layer's ``**kwargs``) is merged into ``neuron_kwargs``;
    ``step_mode='m'`` in ``extra`` is accepted and dropped (the neurons are always multi-step).
    Raises if both aliases are given, if a key is given twice, or if a key of ``extra`` is not a
    parameter of the neuron.
    """
    if spiking_neuron is not None:
        if neuron is not None:
            raise TypeError(
                f"{owner}: give the neuron either as `neuron` or as its alias `spiking_neuron`, "
                f"not both (got neuron={neuron!r}, spiking_neuron={spiking_neuron!r})"
            )
        neuron = spiking_neuron
    if not extra:
        return neuron, neuron_kwargs
    if neuron_kwargs is not None and not isinstance(neuron_kwargs, Mapping):
        raise TypeError(f"{owner}: neuron_kwargs must be a dict or None, got {neuron_kwargs!r}")
    extra = dict(extra)
    if "step_mode" in extra:
        if extra["step_mode"] != "m":
            raise ValueError(
                f"{owner}: step_mode={extra['step_mode']!r} was given, but the neurons of this "
                f"layer are always multi-step; only step_mode='m' is allowed"
            )
        del extra["step_mode"]
    twice = sorted(set(extra) & set(neuron_kwargs or {}))
    if twice:
        raise TypeError(
            f"{owner}: neuron argument(s) {twice} given both as keywords and in neuron_kwargs; "
            f"give each once"
        )
    cls = LIFNode if neuron is None else neuron
    if callable(cls):  # a non-callable `neuron` is reported by make_neuron_factory
        unknown = sorted(k for k in extra if not _accepts(cls, k))
        if unknown:
            name = getattr(cls, "__name__", repr(cls))
            raise TypeError(
                f"{owner}: unexpected keyword argument(s) {unknown}: neither a parameter of "
                f"{owner} nor of its neuron {name}"
            )
    return neuron, {**(neuron_kwargs or {}), **extra}


def make_neuron_factory(
    neuron: NeuronFactory | None,
    neuron_kwargs: Mapping[str, Any] | None,
    backend: str,
) -> Callable[..., nn.Module]:
    """Return ``build(**overrides) -> nn.Module`` that creates one multi-step neuron.

    ``build`` calls ``neuron(**kwargs)`` with, in increasing priority: the defaults
    ``tau=2.0, detach_reset=True`` (only when ``neuron`` is ``None``, i.e. ``LIFNode``),
    ``neuron_kwargs``, ``step_mode='m'``, ``backend`` (when ``neuron`` accepts it) and the
    per-neuron ``overrides`` (e.g. ``v_threshold=0.5`` of the attention neuron).
    """
    if neuron is not None and not callable(neuron):
        raise TypeError(
            f"neuron must be None or a class/callable returning a neuron module "
            f"(e.g. snn_neurons.LIFNode), got {neuron!r}"
        )
    if neuron_kwargs is not None and not isinstance(neuron_kwargs, Mapping):
        raise TypeError(f"neuron_kwargs must be a dict or None, got {neuron_kwargs!r}")
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str such as 'torch', got {backend!r}")
    cls: NeuronFactory = LIFNode if neuron is None else neuron
    base: dict[str, Any] = dict(_DEFAULT_LIF_KWARGS) if neuron is None else {}
    base.update(neuron_kwargs or {})
    for reserved in ("step_mode", "backend"):
        if reserved in base:
            raise ValueError(
                f"neuron_kwargs must not contain {reserved!r}: the attention layers always "
                f"build multi-step neurons and take the backend from their `backend` argument"
            )
    takes_backend = _accepts(cls, "backend")
    if not takes_backend and backend != "torch":
        raise ValueError(
            f"backend={backend!r} was requested but neuron {cls!r} takes no `backend` argument"
        )

    def build(**overrides: Any) -> nn.Module:
        # a fresh copy per neuron, so module-valued kwargs (surrogates) are never shared
        kwargs = {**copy.deepcopy(base), "step_mode": "m", **overrides}
        if takes_backend:
            kwargs["backend"] = backend
        module = cls(**kwargs)
        if not isinstance(module, nn.Module):
            raise TypeError(f"neuron factory must return an nn.Module, got {type(module).__name__}")
        return module

    return build


def set_neurons_backend(neurons: Iterator[nn.Module], backend: str) -> None:
    """Set ``backend`` on every neuron that has one (raises if a neuron refuses it)."""
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str such as 'torch', got {backend!r}")
    for n in neurons:
        if hasattr(n, "backend"):
            n.backend = backend
