"""Validation of surrogate hyper-parameters: Python numbers, checked once at construction."""

from __future__ import annotations

import math
import numbers

__all__: list[str] = []


def _describe(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def _real(owner: str, name: str, value: object, *, above: float | None = None) -> float:
    """``value`` as a finite Python float; if ``above`` is given it must be ``> above``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real Python number, got {_describe(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    if above is not None and not number > above:
        what = "a positive number" if above == 0 else f"a number greater than {above:g}"
        raise ValueError(f"{owner}: {name} must be {what}, got {value!r}")
    return number


def _positive(owner: str, name: str, value: object) -> float:
    """``value`` as a finite Python float that is ``> 0``."""
    return _real(owner, name, value, above=0.0)


def _integer(owner: str, name: str, value: object, *, minimum: int) -> int:
    """``value`` as a Python int that is ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {_describe(value)}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return number
