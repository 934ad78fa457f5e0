"""Network configuration: reset / detach state, set step mode and backend on a whole network."""

from __future__ import annotations

import warnings

from torch import nn

from snn_core.base import StepModule, check_step_mode

__all__ = ["reset_net", "set_step_mode", "set_backend", "detach_net"]


def _check_net(net: object) -> None:
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")


def reset_net(net: nn.Module) -> None:
    """Reset the state of every module in ``net``.

    Walks ``net.modules()`` and calls ``m.reset()`` on every module that has a callable
    ``reset`` (every :class:`~snn_core.base.MemoryModule`, and any other module offering
    one). Call it between two independent input sequences.
    """
    _check_net(net)
    for m in net.modules():
        reset = getattr(m, "reset", None)
        if callable(reset):
            reset()


def detach_net(net: nn.Module) -> None:
    """Cut the autograd graph of every state in ``net`` from earlier time-steps.

    Walks ``net.modules()`` and calls ``m.detach()`` on every module that has a callable
    ``detach`` (every :class:`~snn_core.base.MemoryModule`); the basis of truncated BPTT and
    of the online-learning pipelines.
    """
    _check_net(net)
    for m in net.modules():
        detach = getattr(m, "detach", None)
        if callable(detach):
            detach()


def _step_mode_targets(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules whose ``step_mode`` :func:`set_step_mode` changes, with their names."""
    keepers = [m for m in net.modules() if getattr(m, "keeps_submodule_step_mode", False) is True]
    kept: set[int] = set()
    for keeper in keepers:
        for sub in keeper.modules():
            if sub is not keeper:
                kept.add(id(sub))
    return [
        (name, m)
        for name, m in net.named_modules()
        if isinstance(m, StepModule) and id(m) not in kept
    ]


def set_step_mode(net: nn.Module, step_mode: str) -> None:
    """Set ``step_mode`` (``'s'`` single-step ``[N, *]`` or ``'m'`` multi-step ``[T, N, *]``)
    on every :class:`~snn_core.base.StepModule` in ``net``.

    Submodules of a container whose class sets ``keeps_submodule_step_mode = True`` (e.g. a
    container that runs its single-step children in multi-step mode) keep their step mode;
    the container itself is set.

    All modules are checked before any is changed: if some module does not support
    ``step_mode`` (e.g. a multi-step-only module asked for ``'s'``) a ``ValueError`` names
    every such module and ``net`` is left unchanged.
    """
    _check_net(net)
    check_step_mode(step_mode)
    targets = _step_mode_targets(net)
    refused = [
        f"{name or '<net>'} ({type(m).__name__}, supports {m.supported_step_mode()})"
        for name, m in targets
        if step_mode not in m.supported_step_mode()
    ]
    if refused:
        raise ValueError(
            f"cannot set step_mode={step_mode!r}: these modules do not support it: "
            + "; ".join(refused)
        )
    for _, m in targets:
        m.step_mode = step_mode


def set_backend(
    net: nn.Module,
    backend: str,
    instance: type | tuple[type, ...] | None = None,
) -> None:
    """Set ``backend`` on every module of type ``instance`` (all modules if ``None``) in ``net``
    that has a ``backend`` attribute.

    A module whose ``supported_backends`` (which may depend on its step mode and on what is
    installed) does not contain ``backend`` keeps its current backend. Unlike the reference,
    which logs one line per such module, a single ``UserWarning`` lists all of them with
    their supported backends, so a typo or a missing install is never silent.
    """
    _check_net(net)
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str such as 'torch', got {backend!r}")
    if instance is None:
        instance = nn.Module
    types = instance if isinstance(instance, tuple) else (instance,)
    if not types or not all(isinstance(t, type) for t in types):
        raise TypeError(
            f"instance must be None, a class or a non-empty tuple of classes, got {instance!r}"
        )
    refused = []
    for name, m in net.named_modules():
        if not isinstance(m, types) or not hasattr(m, "backend"):
            continue
        supported = tuple(getattr(m, "supported_backends", ()))
        if backend in supported:
            m.backend = backend
        else:
            refused.append(
                f"{name or '<net>'} ({type(m).__name__}, supported_backends={supported}, "
                f"keeps backend={m.backend!r})"
            )
    if refused:
        warnings.warn(
            f"set_backend: backend={backend!r} is not supported by "
            f"{len(refused)} module(s), left unchanged: " + "; ".join(refused),
            UserWarning,
            stacklevel=2,
        )
