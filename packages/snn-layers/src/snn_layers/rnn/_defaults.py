"""The reference's default surrogate, one fresh instance per model (private)."""

from __future__ import annotations

from typing import Any

from snn_core import surrogate

__all__: list[str] = []

# The signature default of every ``surrogate_function*`` argument, as in the reference
# (``surrogate.Erf()``). A module that receives this very object gets its own ``Erf()``, so
# switching one model to ``spiking=False`` does not switch every other default model.
DEFAULT_ERF = surrogate.Erf()


def fresh(fn: Any) -> Any:
    """``fn``, or a new ``surrogate.Erf()`` if ``fn`` is the shared signature default."""
    return surrogate.Erf() if fn is DEFAULT_ERF else fn
