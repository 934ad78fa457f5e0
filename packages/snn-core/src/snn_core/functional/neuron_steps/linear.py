r"""A spiking neuron followed by a linear layer, as one call: ``Y = S W^T + b``.

:func:`if_linear` runs the IF neuron (:func:`~snn_core.functional.if_multi_step`) and
:func:`lif_linear` the LIF neuron (:func:`~snn_core.functional.lif_multi_step`) over the
input, then projects the spikes with the transposed weight ``weight_t`` (``[K, N]``).
Single-step input ``[M, K]`` gives ``[M, N]``; multi-step ``[T, M, K]`` gives ``[T, M, N]``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from snn_core.functional.neuron_steps._loop import default_surrogate
from snn_core.functional.neuron_steps.integrate_and_fire import if_multi_step
from snn_core.functional.neuron_steps.lif import lif_multi_step

__all__ = ["if_linear", "lif_linear"]


def _check_projection(
    owner: str,
    x: Any,
    v: Any,
    weight_t: Any,
    bias: Any,
    surrogate_function: Any,
    threads: Any,
) -> tuple[torch.Tensor, bool]:
    if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3):
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{owner}: x must be [M, K] or [T, M, K], got {got}")
    single = x.dim() == 2
    x_seq = x.unsqueeze(0) if single else x
    if not isinstance(v, torch.Tensor) or v.shape != x_seq.shape[1:]:
        got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ValueError(f"{owner}: v must have shape [M, K] = {tuple(x_seq.shape[1:])}, got {got}")
    if not isinstance(weight_t, torch.Tensor) or weight_t.dim() != 2:
        got = tuple(weight_t.shape) if isinstance(weight_t, torch.Tensor) else weight_t
        raise ValueError(f"{owner}: weight_t must be a [K, N] tensor, got {got}")
    if weight_t.shape[0] != x_seq.shape[-1]:
        raise ValueError(
            f"{owner}: weight_t must have shape [K, N] with K={x_seq.shape[-1]} (the input's "
            f"last dimension), got {tuple(weight_t.shape)}"
        )
    bad_bias = not isinstance(bias, torch.Tensor) or bias.shape != weight_t.shape[1:]
    if bias is not None and bad_bias:
        got = tuple(bias.shape) if isinstance(bias, torch.Tensor) else bias
        raise ValueError(f"{owner}: bias must be None or [N] = [{weight_t.shape[1]}], got {got}")
    if threads not in (128, 256, 512):
        raise ValueError(f"{owner}: threads must be 128, 256 or 512, got {threads!r}")
    if not getattr(surrogate_function, "spiking", True):
        raise ValueError(f"{owner}: surrogate_function must have spiking=True")
    return x_seq, single


def _project(s_seq: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None, single):
    y = s_seq @ weight_t
    if bias is not None:
        y = y + bias
    return y[0] if single else y


def if_linear(
    x: torch.Tensor,
    v: torch.Tensor,
    weight_t: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    detach_reset: bool = False,
    surrogate_function: Any = None,
    threads: Literal[128, 256, 512] = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """IF neuron then ``Linear``: returns ``(Y, V_last)``; ``v`` (``[M, K]``) is not modified.

    ``surrogate_function=None`` means ``surrogate.Sigmoid()`` (must be spiking). ``threads``
    (the CUDA block size of the reference's fused kernel) is validated but has no effect
    here.
    """
    sg = default_surrogate(surrogate_function)
    x_seq, single = _check_projection("if_linear", x, v, weight_t, bias, sg, threads)
    s_seq, v_last, _ = if_multi_step(x_seq, v, v_threshold, v_reset, sg, detach_reset)
    return _project(s_seq, weight_t, bias, single), v_last


def lif_linear(
    x: torch.Tensor,
    v: torch.Tensor,
    weight_t: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    tau: float = 2.0,
    decay_input: bool = True,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    detach_reset: bool = False,
    surrogate_function: Any = None,
    threads: Literal[128, 256, 512] = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """LIF neuron then ``Linear``: returns ``(Y, V_last)``; see :func:`if_linear`."""
    sg = default_surrogate(surrogate_function)
    x_seq, single = _check_projection("lif_linear", x, v, weight_t, bias, sg, threads)
    s_seq, v_last, _ = lif_multi_step(
        x_seq, v, tau, decay_input, v_threshold, v_reset, sg, detach_reset
    )
    return _project(s_seq, weight_t, bias, single), v_last
