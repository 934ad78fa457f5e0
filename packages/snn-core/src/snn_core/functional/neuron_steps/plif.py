r"""Parametric LIF steps (Fang et al., "Incorporating Learnable Membrane Time Constant to
Enhance Learning of Spiking Neural Networks", ICCV 2021): the LIF charge with the learnable
decay ``1/tau = sigmoid(w)``.

.. math::
    H[t] = V[t-1] + \sigma(w)\left(X[t] - (V[t-1] - V_{reset})\right) \quad (\text{decay\_input})
"""

from __future__ import annotations

import torch

from snn_core.functional.neuron_steps._loop import (
    check_precision,
    check_sequence,
    check_state,
    default_surrogate,
    run_steps,
)
from snn_core.functional.neuron_steps.lif import leaky_charge
from snn_core.functional.neuron_steps.reset import (
    SurrogateFunction,
    fire_and_reset,
)

__all__ = ["plif_charge", "plif_step", "plif_multi_step"]


def plif_charge(
    x: torch.Tensor, v: torch.Tensor, w: torch.Tensor, decay_input: bool, v_reset: float | None
) -> torch.Tensor:
    """PLIF charge: :func:`~snn_core.functional.neuron_steps.lif.leaky_charge` with
    ``decay = sigmoid(w)``."""
    return leaky_charge(x, v, w.sigmoid(), decay_input, v_reset)


def _plif_step(x, v, w, decay_input, v_threshold, v_reset, surrogate_function, detach_reset):
    h = plif_charge(x, v, w, decay_input, v_reset)
    return fire_and_reset(h, v_threshold, v_reset, surrogate_function, detach_reset)


def plif_step(
    x: torch.Tensor,
    v: torch.Tensor,
    w: torch.Tensor,
    decay_input: bool,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: SurrogateFunction,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One PLIF step ``-> (S[t], V[t])``; ``w`` is the learnable logit (gradients flow to it)."""
    check_state("plif_step", "v", v, x.shape)
    return _plif_step(x, v, w, decay_input, v_threshold, v_reset, surrogate_function, detach_reset)


def plif_multi_step(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    w: torch.Tensor,
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
    """:func:`plif_step` over ``x_seq`` ``[T, N, *]``; returns ``(spike_seq, v_last, v_seq or
    None)`` as :func:`~snn_core.functional.if_multi_step`."""
    check_precision("plif_multi_step", neuron_storage, neuron_fwd, neuron_bwd)
    check_sequence("plif_multi_step", x_seq)
    check_state("plif_multi_step", "v", v, x_seq.shape[1:])
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"plif_multi_step: w must be a tensor (the logit of 1/tau), got {w!r}")
    sg = default_surrogate(surrogate_function)

    def step(x, v_):
        return _plif_step(x, v_, w, decay_input, v_threshold, v_reset, sg, detach_reset)

    spikes, (v_last,), seqs = run_steps(step, x_seq, (v,), store_v_seq)
    return spikes, v_last, (seqs[0] if seqs is not None else None)
