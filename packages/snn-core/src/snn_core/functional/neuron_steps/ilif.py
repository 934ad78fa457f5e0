r"""I-LIF: the integer-valued LIF neuron (Luo et al., "Integer-Valued Training and Spike-Driven
Inference Spiking Neural Network for High-performance and Energy-efficient Object Detection",
ECCV 2024, arXiv:2407.20708).

.. math::
    H[t] = (1 - 1/\tau) V[t-1] + X[t], \quad
    C[t] = \mathrm{round}(\mathrm{clip}(H[t] / V_{th}, 0, D)), \quad
    V[t] = H[t] - C[t] V_{th}

``D`` is the ``max_spike_count`` of the :class:`~snn_core.surrogate.MultiLevelSpikeCount`
spike function, whose rectangular straight-through gradient (window ``[0, D]`` by default)
is taken with respect to ``H / V_th``. ``round`` rounds half to even.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from snn_core.functional.neuron_steps.lif import lif_charge
from snn_core.functional.neuron_steps.reset import voltage_reset

__all__ = ["ilif_step", "ilif_multi_step"]

SpikeFunction = Callable[[torch.Tensor], torch.Tensor]


def ilif_step(
    x: torch.Tensor,
    v: torch.Tensor,
    tau: float,
    v_threshold: float,
    surrogate_function: SpikeFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One I-LIF step: returns the integer count ``C[t]`` and ``V[t]`` (soft reset by
    ``C[t] V_th``; ``C`` detached there when ``detach_reset``)."""
    h = lif_charge(x, v, tau, False, None)
    count = surrogate_function(h / v_threshold)
    return count, voltage_reset(h, count, v_threshold, None, detach_reset)


def _multi_level_spike_count(surrogate_function: SpikeFunction | None) -> SpikeFunction:
    from snn_core.surrogate import MultiLevelSpikeCount

    if surrogate_function is None:
        return MultiLevelSpikeCount(4)
    if not isinstance(surrogate_function, MultiLevelSpikeCount) or not surrogate_function.spiking:
        raise TypeError(
            "ilif_multi_step: surrogate_function must be a spiking "
            f"snn_core.surrogate.MultiLevelSpikeCount (or None), got {surrogate_function!r}"
        )
    return surrogate_function


def ilif_multi_step(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    tau: float = 2.0,
    v_threshold: float = 1.0,
    surrogate_function: SpikeFunction | None = None,
    detach_reset: bool = False,
    store_v_seq: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    r"""All T steps of :func:`ilif_step` over ``x_seq`` (``[T, N, *]``) from ``v``.

    ``surrogate_function`` must be a spiking ``MultiLevelSpikeCount`` (``None``:
    ``MultiLevelSpikeCount(4)``). Returns ``(C_seq, V[T-1], V_seq or None)``.
    """
    if x_seq.dim() < 1 or x_seq.shape[0] == 0:
        raise ValueError(
            f"ilif_multi_step: x_seq must be a non-empty sequence [T, N, *], "
            f"got shape {tuple(x_seq.shape)}"
        )
    function = _multi_level_spike_count(surrogate_function)
    counts, voltages = [], []
    for x in x_seq:
        count, v = ilif_step(x, v, tau, v_threshold, function, detach_reset)
        counts.append(count)
        if store_v_seq:
            voltages.append(v)
    return torch.stack(counts), v, (torch.stack(voltages) if store_v_seq else None)
