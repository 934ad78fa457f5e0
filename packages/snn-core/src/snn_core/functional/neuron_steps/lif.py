r"""Leaky integrate-and-fire (LIF) and leaky integrate-and-analog-fire (LIAF) steps.

.. math::
    H[t] = V[t-1] + \frac{1}{\tau}\left(X[t] - (V[t-1] - V_{reset})\right)
    \quad (\text{decay\_input}), \qquad
    H[t] = V[t-1] - \frac{1}{\tau}(V[t-1] - V_{reset}) + X[t] \quad (\text{otherwise}),

``V_reset`` taken as 0 in the leak for the soft reset (``v_reset=None``); then
:func:`~snn_core.functional.neuron_steps.reset.fire` and ``voltage_reset``. LIAF (Wu et al.,
"LIAF-Net", IEEE TNNLS 2021) outputs ``act(H[t] - V_th)`` (threshold-related) or
``act(H[t])`` instead of the spike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from snn_core.functional.neuron_steps._loop import (
    check_precision,
    check_sequence,
    check_state,
    default_surrogate,
    run_steps,
)
from snn_core.functional.neuron_steps.reset import (
    SurrogateFunction,
    fire,
    fire_and_reset,
    voltage_reset,
)

__all__ = ["leaky_charge", "lif_charge", "lif_step", "lif_multi_step", "liaf_step"]


def leaky_charge(
    x: torch.Tensor,
    v: torch.Tensor,
    decay: float | torch.Tensor,
    decay_input: bool,
    v_reset: float | None,
) -> torch.Tensor:
    """LIF charge written with the decay factor ``decay = 1/tau`` (a number, or a tensor such
    as PLIF's ``sigmoid(w)``): ``V + (X - (V - V_reset)) decay`` or ``V - (V - V_reset) decay
    + X``."""
    leak = v if v_reset is None or v_reset == 0.0 else v - v_reset
    if decay_input:
        return v + (x - leak) * decay
    return v - leak * decay + x


def lif_charge(
    x: torch.Tensor,
    v: torch.Tensor,
    tau: float,
    decay_input: bool,
    v_reset: float | None,
) -> torch.Tensor:
    """LIF charge with the time constant ``tau``: ``V + (X - (V - V_reset)) / tau`` or
    ``V - (V - V_reset) / tau + X``; no fire, no reset.

    Computed as :func:`leaky_charge` with ``decay = 1 / tau`` (a multiplication per element,
    which the generated kernels bake in as a constant).
    """
    return leaky_charge(x, v, 1.0 / tau, decay_input, v_reset)


def _lif_step(x, v, tau, decay_input, v_threshold, v_reset, surrogate_function, detach_reset):
    h = lif_charge(x, v, tau, decay_input, v_reset)
    return fire_and_reset(h, v_threshold, v_reset, surrogate_function, detach_reset)


def lif_step(
    x: torch.Tensor,
    v: torch.Tensor,
    tau: float,
    decay_input: bool,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LIF step ``(X[t], V[t-1]) -> (S[t], V[t])``: :func:`lif_charge`, fire, reset."""
    check_state("lif_step", "v", v, x.shape)
    return _lif_step(x, v, tau, decay_input, v_threshold, v_reset, surrogate_function, detach_reset)


def lif_multi_step(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    tau: float = 2.0,
    decay_input: bool = True,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    surrogate_function: SurrogateFunction | None = None,
    detach_reset: bool = False,
    store_v_seq: bool = False,
    *,
    neuron_storage: torch.dtype | str | None = None,
    neuron_fwd: str = "fp32",
    neuron_bwd: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """:func:`lif_step` over ``x_seq`` ``[T, N, *]`` from ``v`` ``[N, *]``.

    Returns ``(spike_seq, v_last, v_seq or None)`` as
    :func:`~snn_core.functional.if_multi_step` (``surrogate_function=None``: Sigmoid;
    ``neuron_storage`` must stay ``None``).
    """
    check_precision("lif_multi_step", neuron_storage, neuron_fwd, neuron_bwd)
    check_sequence("lif_multi_step", x_seq)
    check_state("lif_multi_step", "v", v, x_seq.shape[1:])
    sg = default_surrogate(surrogate_function)

    def step(x, v_):
        return _lif_step(x, v_, tau, decay_input, v_threshold, v_reset, sg, detach_reset)

    spikes, (v_last,), seqs = run_steps(step, x_seq, (v,), store_v_seq)
    return spikes, v_last, (seqs[0] if seqs is not None else None)


def liaf_step(
    x: torch.Tensor,
    v: torch.Tensor,
    tau: float,
    decay_input: bool,
    v_threshold: float,
    v_reset: float | None,
    act: Callable[[torch.Tensor], torch.Tensor],
    threshold_related: bool,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LIAF step: returns ``(Y[t], V[t])`` with the analog output
    ``Y[t] = act(H[t] - V_th)`` (``threshold_related``) or ``act(H[t])``; ``V`` follows the
    LIF charge, spike and reset. Iterate it for several steps."""
    check_state("liaf_step", "v", v, x.shape)
    h = lif_charge(x, v, tau, decay_input, v_reset)
    output = act(h - v_threshold if threshold_related else h)
    spike = fire(h, v_threshold, surrogate_function)
    return output, voltage_reset(h, spike, v_threshold, v_reset, detach_reset)
