"""Network configuration: reset / detach state, set step mode and backend on a whole network."""

from __future__ import annotations

import warnings

from torch import nn

from snn_core.base import StepModule, check_step_mode
from snn_core.functional.reset_cache import cached_reset_modules, reset_collected_modules

__all__ = ["reset_net", "set_step_mode", "set_backend", "detach_net"]


def _check_net(net: object) -> None:
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")


def reset_net(net: nn.Module) -> None:
    """Reset the state of every module in ``net``.

    Calls ``m.reset()`` on every module of ``net.modules()`` that has a callable ``reset``
    (every :class:`~snn_core.base.MemoryModule`, and any other module offering one). Call it
    between two independent input sequences.

    The list of such modules is cached per network and reused while the module tree is
    unchanged; adding, removing or replacing a submodule anywhere is noticed and the list is
    collected again (see :func:`invalidate_reset_cache`). Exceptions raised by a module's
    ``reset()`` propagate unchanged.
    """
    reset_collected_modules(cached_reset_modules(net))


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
            f"cannot set step_mode={step_mode!r}: a module's step_mode can only be one of "
            "the modes it supports, and these modules do not support it: " + "; ".join(refused)
        )
    for _, m in targets:
        m.step_mode = step_mode


#: backend names every network may be asked for, besides those its modules declare
STANDARD_BACKENDS = ("torch", "triton", "cupy")


def _declared_backends(m: nn.Module) -> tuple[str, ...]:
    known = getattr(m, "known_backends", None)
    if known is None:
        known = getattr(m, "supported_backends", ())
    return tuple(known)


def set_backend(
    net: nn.Module,
    backend: str,
    instance: type | tuple[type, ...] | None = None,
) -> None:
    """Set ``backend`` on every module of type ``instance`` (all modules if ``None``) in ``net``
    that has a ``backend`` attribute.

    A name that neither :data:`STANDARD_BACKENDS` nor any module of ``net`` knows (its
    ``known_backends``, else its ``supported_backends``) is a ``ValueError`` listing the
    known names. A module whose ``supported_backends`` (which may depend on its step mode
    and on what is installed) does not contain ``backend`` keeps its current backend.
    Unlike the reference, which logs one line per such module, a single ``UserWarning``
    lists all of them with their supported backends and, where the module can tell
    (``backend_unavailable_reason``), why the backend cannot run and what to install.
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
    known = list(STANDARD_BACKENDS)
    for m in net.modules():
        if hasattr(m, "backend"):
            known += [b for b in _declared_backends(m) if b not in known]
    if backend not in known:
        raise ValueError(f"backend must be one of {tuple(known)}, got {backend!r}")
    refused: dict[str, list[str]] = {}  # reason -> modules
    for name, m in net.named_modules():
        if not isinstance(m, types) or not hasattr(m, "backend"):
            continue
        label = name or "<net>"
        if not hasattr(m, "supported_backends"):  # e.g. a layer passing it on to its neurons
            subs = [s for s in m.modules() if s is not m and hasattr(s, "supported_backends")]
            if all(backend in tuple(s.supported_backends) for s in subs):
                try:
                    m.backend = backend
                    continue
                except (ValueError, RuntimeError) as exc:
                    reason = str(exc)
            else:
                reason = "some of its submodules do not support it"
            refused.setdefault(reason, []).append(
                f"{label} ({type(m).__name__}, keeps backend={m.backend!r})"
            )
            continue
        supported = tuple(m.supported_backends)
        if backend in supported:
            m.backend = backend
            continue
        why = getattr(m, "backend_unavailable_reason", None)
        reason = (why(backend) if callable(why) else None) or ""
        refused.setdefault(reason, []).append(
            f"{label} ({type(m).__name__}, supported_backends={supported}, "
            f"keeps backend={m.backend!r})"
        )
    if refused:
        n = sum(len(v) for v in refused.values())
        groups = [", ".join(mods) + (f": {why}" if why else "") for why, mods in refused.items()]
        warnings.warn(
            f"set_backend: backend={backend!r} is not supported by {n} module(s), left "
            f"unchanged: " + "; ".join(groups),
            UserWarning,
            stacklevel=2,
        )
