"""Shared helpers of the plots: the lazy matplotlib import and input checks.

matplotlib (and numpy, which it needs) are imported when a plot is drawn, never when
``snn_core`` or ``snn_core.visualizing`` is imported, so snn-core keeps torch as its only
dependency. ``pip install snn-core[plot]`` installs matplotlib.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    import numpy as np

INSTALL_HINT = "pip install snn-core[plot]"


def _matplotlib(caller: str) -> tuple[ModuleType, ModuleType]:
    """``(matplotlib, matplotlib.pyplot)``, or an ImportError that names the extra."""
    try:
        import matplotlib
        import matplotlib.gridspec  # submodules the plots use as attributes
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError as err:
        raise ImportError(
            f"{caller} draws with matplotlib, which snn-core does not install by default; "
            f"run `{INSTALL_HINT}` (or `pip install matplotlib`)"
        ) from err
    return matplotlib, plt


def _to_numpy(x: Any, name: str, caller: str) -> np.ndarray:
    """A numpy view of ``x`` (``np.ndarray`` or ``torch.Tensor``, detached and on the CPU)."""
    import numpy as np

    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:  # numpy has no bfloat16
            x = x.float()
        return x.numpy()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(
        f"{caller}: `{name}` must be a numpy.ndarray or a torch.Tensor, got "
        f"{type(x).__name__} (stack a list of tensors with torch.stack first)"
    )


def _check_ndim(x: np.ndarray, ndim: int, name: str, caller: str, layout: str) -> None:
    if x.ndim != ndim:
        raise ValueError(
            f"{caller}: `{name}` must be a {ndim}D array of shape {layout}, got a "
            f"{x.ndim}D array of shape {tuple(x.shape)}"
        )


def _check_binary(x: np.ndarray, name: str, caller: str) -> None:
    """Spike arrays hold only 0 and 1 (the raster draws the ones)."""
    import numpy as np

    bad = ~((x == 0) | (x == 1))
    if bad.any():
        value = x[bad].flat[0]
        raise ValueError(
            f"{caller}: `{name}` must hold spikes, i.e. only 0 and 1, got the value "
            f"{value!r} at index {tuple(int(i) for i in np.argwhere(bad)[0])}"
        )
