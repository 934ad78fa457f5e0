"""STDP steps that take the synapse module itself: the reference's older helper functions
(``stdp_linear_single_step(fc, in_spike, out_spike, trace_pre, trace_post, ...)``), kept
so code written against them ports by changing imports.

Each returns ``(trace_pre, trace_post, delta_w_or_eligibility)``; a ``None`` or number trace
starts from that value. They call the pure steps of :mod:`snn_core.functional.plasticity`
(one definition of each rule) after padding a convolution's input as the convolution pads
it, so the returned pre-synaptic trace of a padded convolution has the padded shape.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import torch
from snn_core.functional import plasticity
from torch import nn

from snn_layers.learning._learner import (
    WeightFn,
    _apply_rule,
    _check_conv_taps,
    _identity,
    _stdp_rule_for,
)

__all__ = [
    "stdp_linear_single_step",
    "stdp_conv1d_single_step",
    "stdp_conv2d_single_step",
    "stdp_multi_step",
    "mstdp_linear_single_step",
    "mstdpet_linear_single_step",
]

Trace = float | torch.Tensor | None
StepResult = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _check_layer(layer: nn.Module, kind: type, fn: str) -> None:
    if not isinstance(layer, kind):
        raise NotImplementedError(
            f"{fn} needs a torch.nn.{kind.__name__} (or its snn_layers wrapper), got "
            f"{type(layer).__name__}"
        )
    _check_conv_taps(layer, fn)


def _layer_step(
    fn: str,
    kind: type,
    rule: Callable[..., Any] | None,
    layer: nn.Module,
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn,
    f_post: WeightFn,
) -> StepResult:
    """Check ``layer`` is a ``kind``, then one step of ``rule`` (``None``: the STDP step of
    the layer, a convolution's input padded first) as ``(trace_pre, trace_post, result)``."""
    _check_layer(layer, kind, fn)
    kwargs: dict[str, Any] = {}
    if rule is None:
        rule, in_spike, kwargs = _stdp_rule_for(layer, in_spike)
    result, (tr_pre, tr_post) = _apply_rule(
        rule, layer, in_spike, out_spike, trace_pre, trace_post,
        tau_pre, tau_post, f_pre, f_post, **kwargs,
    )  # fmt: skip
    return tr_pre, tr_post, result


def stdp_linear_single_step(
    fc: nn.Linear,
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> StepResult:
    """One STDP step of ``fc`` (:func:`snn_core.functional.stdp_linear_step`);
    spikes ``[N, in]`` / ``[N, out]``."""
    return _layer_step(
        "stdp_linear_single_step", nn.Linear, None, fc, in_spike, out_spike,
        trace_pre, trace_post, tau_pre, tau_post, f_pre, f_post,
    )  # fmt: skip


def stdp_conv1d_single_step(
    conv: nn.Conv1d,
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> StepResult:
    """One STDP step of ``conv`` (groups 1, dilation 1) on unpadded ``[N, C, L]`` input
    spikes (:func:`snn_core.functional.stdp_conv1d_step`)."""
    return _layer_step(
        "stdp_conv1d_single_step", nn.Conv1d, None, conv, in_spike, out_spike,
        trace_pre, trace_post, tau_pre, tau_post, f_pre, f_post,
    )  # fmt: skip


def stdp_conv2d_single_step(
    conv: nn.Conv2d,
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> StepResult:
    """One STDP step of ``conv`` (groups 1, dilation 1) on unpadded ``[N, C, H, W]`` input
    spikes (:func:`snn_core.functional.stdp_conv2d_step`)."""
    return _layer_step(
        "stdp_conv2d_single_step", nn.Conv2d, None, conv, in_spike, out_spike,
        trace_pre, trace_post, tau_pre, tau_post, f_pre, f_post,
    )  # fmt: skip


def stdp_multi_step(
    layer: nn.Linear | nn.Conv1d | nn.Conv2d,
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> StepResult:
    """The single-step rule of ``layer`` over ``[T, N, *]`` spikes, ``delta_w`` summed over
    T with the weight held fixed. With ``T = 0`` the traces come back unchanged."""
    if isinstance(layer, nn.Linear):
        single = stdp_linear_single_step
    elif isinstance(layer, nn.Conv1d):
        single = stdp_conv1d_single_step
    elif isinstance(layer, nn.Conv2d):
        single = stdp_conv2d_single_step
    else:
        raise NotImplementedError(
            f"stdp_multi_step supports torch.nn.Linear, Conv1d and Conv2d, got "
            f"{type(layer).__name__}"
        )
    if in_spike.shape[:1] != out_spike.shape[:1]:
        raise ValueError(
            f"stdp_multi_step: in_spike {tuple(in_spike.shape)} and out_spike "
            f"{tuple(out_spike.shape)} must have the same number of steps T at dim 0"
        )
    delta_w = torch.zeros_like(layer.weight.detach())
    for pre_t, post_t in zip(in_spike, out_spike):
        trace_pre, trace_post, dw = single(
            layer, pre_t, post_t, trace_pre, trace_post, tau_pre, tau_post, f_pre, f_post
        )
        delta_w += dw
    return trace_pre, trace_post, delta_w


def mstdp_linear_single_step(
    fc: nn.Linear,
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> StepResult:
    """One MSTDP step of ``fc``: ``(trace_pre, trace_post, eligibility [N, out, in])``
    (:func:`snn_core.functional.mstdp_linear_step`)."""
    return _layer_step(
        "mstdp_linear_single_step", nn.Linear, plasticity.mstdp_linear_step, fc,
        in_spike, out_spike, trace_pre, trace_post, tau_pre, tau_post, f_pre, f_post,
    )  # fmt: skip


def mstdpet_linear_single_step(
    fc: nn.Linear,
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace_pre: Trace,
    trace_post: Trace,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
    tau_trace: float | None = None,
) -> StepResult:
    """The eligibility of one unbatched MSTDPET step of ``fc``: ``(trace_pre, trace_post,
    eligibility [out, in])`` (:func:`snn_core.functional.mstdpet_linear_step`).

    ``tau_trace`` is not used here (the eligibility trace is
    :func:`snn_core.functional.mstdpet_reward_step`). The older positional layout
    ``(..., tau_post, tau_trace, f_pre, f_post)`` is accepted too: a number where ``f_pre``
    goes is read as that ``tau_trace``.
    """
    if isinstance(f_pre, numbers.Real):  # older layout: tau_trace, f_pre, f_post
        f_pre, f_post, tau_trace = f_post, (tau_trace if callable(tau_trace) else _identity), f_pre
    return _layer_step(
        "mstdpet_linear_single_step", nn.Linear, plasticity.mstdpet_linear_step, fc,
        in_spike, out_spike, trace_pre, trace_post, tau_pre, tau_post, f_pre, f_post,
    )  # fmt: skip
