"""Anomaly mode: stop at the first non-finite neuron input or state.

A NaN or inf that reaches a spiking neuron poisons its membrane potential for the rest of
the sequence, while its output still looks normal (``Θ(NaN - V_th) = 0``: no spikes). In
anomaly mode, which is off by default like :func:`torch.autograd.detect_anomaly`, every
neuron checks its input before a step and its state after it, and raises
:class:`NonFiniteStateError` naming the module and the first time step that went
non-finite::

    from snn_core import anomaly

    with anomaly.detect_anomaly(net):     # net (optional) gives the modules' names
        out = net(x_seq)

    anomaly.set_detect_anomaly(True)      # or a global switch

When off, a neuron's forward pays one boolean check.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch
from torch import nn

__all__ = [
    "NonFiniteStateError",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "checked_forward",
]

#: the global switch; read by neurons on every forward
enabled: bool = False
_named_nets: list[weakref.ref[nn.Module]] = []


class NonFiniteStateError(FloatingPointError):
    """A neuron's input or state became NaN or inf (raised only in anomaly mode)."""


def is_anomaly_enabled() -> bool:
    """Whether anomaly mode is on."""
    return enabled


def set_detect_anomaly(mode: bool) -> None:
    """Switch anomaly mode on or off for the whole process."""
    global enabled
    if not isinstance(mode, bool):
        raise TypeError(f"mode must be a bool, got {mode!r}")
    enabled = mode


class detect_anomaly:
    """Context manager (and decorator) turning anomaly mode on inside its block.

    Args:
        net: optional network whose module names are used in the error message
            (``'blocks.0.attn.q_lif'``); without it the error names the module's class.
        mode: ``False`` turns anomaly mode off inside the block.
    """

    def __init__(self, net: nn.Module | None = None, mode: bool = True) -> None:
        if net is not None and not isinstance(net, nn.Module):
            raise TypeError(f"net must be a torch.nn.Module or None, got {type(net).__name__}")
        if not isinstance(mode, bool):
            raise TypeError(f"mode must be a bool, got {mode!r}")
        self.net = net
        self.mode = mode
        self._prev = False
        self._ref: weakref.ref[nn.Module] | None = None

    def __enter__(self) -> detect_anomaly:
        self._prev = enabled
        set_detect_anomaly(self.mode)
        if self.net is not None:
            self._ref = weakref.ref(self.net)
            _named_nets.append(self._ref)
        return self

    def __exit__(self, *exc: Any) -> None:
        set_detect_anomaly(self._prev)
        if self._ref is not None and self._ref in _named_nets:
            _named_nets.remove(self._ref)
        self._ref = None

    def __call__(self, fn: Any) -> Any:
        import functools

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.net, self.mode):
                return fn(*args, **kwargs)

        return wrapper


def _module_label(module: nn.Module) -> str:
    for ref in reversed(_named_nets):
        net = ref()
        if net is None:
            continue
        for name, m in net.named_modules():
            if m is module:
                return f"{type(module).__name__} {name or '<net>'!r}"
    return type(module).__name__


def _describe(t: torch.Tensor) -> str:
    bad = ~torch.isfinite(t)
    n_nan = int(torch.isnan(t).sum())
    n_inf = int(bad.sum()) - n_nan
    kinds = [f"{n_nan} NaN" if n_nan else "", f"{n_inf} inf" if n_inf else ""]
    return " and ".join(k for k in kinds if k) + f" of {t.numel()} values"


def _first_bad_step(seq: torch.Tensor) -> int | None:
    """Index of the first ``seq[t]`` holding a non-finite value, or ``None``."""
    if seq.dim() == 0 or not (seq.is_floating_point() or seq.is_complex()):
        return None
    bad = (~torch.isfinite(seq.detach())).reshape(seq.shape[0], -1).any(dim=1)
    idx = torch.nonzero(bad)
    return int(idx[0]) if idx.numel() else None


def _finite(t: Any) -> bool:
    if isinstance(t, torch.Tensor):
        if not (t.is_floating_point() or t.is_complex()):
            return True
        return bool(torch.isfinite(t.detach()).all())
    if isinstance(t, float):
        return math.isfinite(t)
    return True


def _is_fresh(module: Any) -> bool:
    named = getattr(module, "named_memories", None)
    if named is None:
        return False
    return not any(isinstance(v, torch.Tensor) for _, v in named())


def _bad_states(module: Any) -> list[tuple[str, Any]]:
    named = getattr(module, "named_memories", None)
    if named is None:
        return []
    return [(k, v) for k, v in named() if not _finite(v)]


def _raise(module: nn.Module, what: str, step: int | None, steps: int | None) -> None:
    where = "" if step is None else f" at time step {step}"
    if step is not None and steps is not None:
        where += f" (of {steps} in this call)"
    raise NonFiniteStateError(
        f"anomaly detection: {_module_label(module)} (step_mode={module.step_mode!r}): "
        f"{what}{where}. Everything downstream is poisoned from here (a NaN membrane "
        f"potential never spikes); look for the cause upstream of this module: its input, "
        f"a learning rate or a loss that overflowed"
    )


def checked_forward(module: nn.Module, forward: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``forward(x, *args, **kwargs)`` of a stateful ``module`` with anomaly checks.

    Before the step(s): the input must be finite. After: every tensor state and the
    output must be finite. In multi-step mode the first non-finite time step is found from
    the input, from a stored ``v_seq``, or by replaying the steps with
    ``module.locate_non_finite_step(x_seq, v_init)`` when the module offers it.
    """
    multi = getattr(module, "step_mode", "s") == "m"
    fresh = _is_fresh(module)
    t0 = 0 if fresh else int(module.__dict__.get("_anomaly_t", 0))
    if not isinstance(x, torch.Tensor):
        return forward(x, *args, **kwargs)
    if multi:
        bad_t = _first_bad_step(x)
        if bad_t is not None:
            _raise(module, f"input x_seq[{bad_t}] holds {_describe(x[bad_t])}", t0 + bad_t, None)
    elif not _finite(x):
        _raise(module, f"input holds {_describe(x)}", t0, None)
    v_init = getattr(module, "v", None)
    if isinstance(v_init, torch.Tensor):
        v_init = v_init.detach().clone()
    out = forward(x, *args, **kwargs)
    steps = x.shape[0] if multi and x.dim() > 0 else 1
    module.__dict__["_anomaly_t"] = t0 + steps
    bad = _bad_states(module)
    out_bad = isinstance(out, torch.Tensor) and not _finite(out)
    if not bad and not out_bad:
        return out
    what = (
        f"state {bad[0][0]!r} became non-finite ({_describe(bad[0][1])})"
        if bad
        else f"output became non-finite ({_describe(out)})"
    )
    if not multi:
        _raise(module, what + " although its input was finite", t0, None)
    step = None
    v_seq = module.__dict__.get("_memories", {}).get("v_seq")
    if isinstance(v_seq, torch.Tensor) and v_seq.dim() > 0 and v_seq.shape[0] == steps:
        step = _first_bad_step(v_seq)
    if step is None and isinstance(out, torch.Tensor) and out_bad:
        step = _first_bad_step(out)
    locate = getattr(module, "locate_non_finite_step", None)
    if step is None and locate is not None:
        with torch.no_grad():
            step = locate(x.detach(), v_init)
    _raise(
        module,
        what + " although its input was finite",
        None if step is None else t0 + step,
        steps,
    )
    return out  # pragma: no cover - _raise always raises
