r"""Local plasticity rules (STDP and reward-modulated STDP) as pure step functions.

Each step takes this step's pre- and post-synaptic spikes, the traces, and the weight, and
returns the weight change (or eligibility) with the next traces; nothing is mutated, so a
learner module only keeps the traces and calls the step.

STDP traces (Bi & Poo 1998; the trace form of Morrison, Diesmann & Gerstner,
"Phenomenological models of synaptic plasticity based on spike timing", Biol. Cybern. 2008):

.. math::
    tr_{pre}[t] = tr_{pre}[t-1] - \frac{tr_{pre}[t-1]}{\tau_{pre}} + s_{pre}[t], \qquad
    \Delta W_{ij} = f_{post}(W_{ij})\, tr_{pre,j}[t]\, s_{post,i}[t]
                  - f_{pre}(W_{ij})\, tr_{post,i}[t]\, s_{pre,j}[t]

summed over the batch (and, for convolutions, over positions). The reward-modulated rules
(Florian, "Reinforcement learning through modulation of spike-timing-dependent synaptic
plasticity", Neural Computation 2007) decay their traces by :math:`e^{-1/\tau}` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = [
    "stdp_linear_step",
    "stdp_conv1d_step",
    "stdp_conv2d_step",
    "mstdp_linear_step",
    "mstdpet_linear_step",
    "mstdpet_reward_step",
]

WeightFn = Callable[[torch.Tensor], torch.Tensor]
Traces = tuple[torch.Tensor, torch.Tensor]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _check_taus(exponential: bool, **taus: float) -> None:
    for name, tau in taus.items():
        ok = isinstance(tau, (int, float)) and math.isfinite(tau)
        ok = ok and (tau > 0 if exponential else tau >= 1)
        if not ok:
            bound = "> 0" if exponential else ">= 1 (the trace decays by tr / tau per step)"
            raise ValueError(f"{name} must be a finite number {bound}, got {tau!r}")


def check_time_constants(exponential: bool = False, **taus: float) -> None:
    r"""Raise ``ValueError`` unless every given time constant fits its trace's decay.

    ``exponential=False`` (STDP's :math:`tr - tr/\tau` decay) needs finite :math:`\tau \ge 1`;
    ``exponential=True`` (MSTDP's :math:`e^{-1/\tau}` decay) needs finite :math:`\tau > 0`.
    Learner modules call it at construction so a bad constant fails before any forward.
    """
    _check_taus(exponential, **taus)


def _check(
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace: Traces,
    weight: torch.Tensor,
    ndim: int,
    layout: str,
) -> None:
    if in_spike.dim() != ndim or out_spike.dim() != ndim:
        raise ValueError(
            f"in_spike and out_spike must be {layout} ({ndim} dims), got shapes "
            f"{tuple(in_spike.shape)} and {tuple(out_spike.shape)}"
        )
    w_ndim = 2 if ndim <= 2 else ndim
    if weight.dim() != w_ndim:
        raise ValueError(
            f"weight must have {w_ndim} dims for spikes of layout {layout}, got shape "
            f"{tuple(weight.shape)}"
        )
    c = 0 if ndim == 1 else 1
    if in_spike.shape[c] != weight.shape[1] or out_spike.shape[c] != weight.shape[0]:
        raise ValueError(
            f"spike channels must match the weight [out, in, ...] = {tuple(weight.shape)}: "
            f"got in_spike {tuple(in_spike.shape)}, out_spike {tuple(out_spike.shape)}"
        )
    if ndim > 1 and in_spike.shape[0] != out_spike.shape[0]:
        raise ValueError(
            f"in_spike and out_spike batch sizes differ: {in_spike.shape[0]} vs "
            f"{out_spike.shape[0]}"
        )
    if not isinstance(trace, tuple) or len(trace) != 2:
        raise TypeError("trace must be a tuple (trace_pre, trace_post) of tensors")
    for name, spike, tr in (("trace_pre", in_spike, trace[0]), ("trace_post", out_spike, trace[1])):
        if tr.shape != spike.shape:
            raise ValueError(
                f"{name} has shape {tuple(tr.shape)} but the spikes have "
                f"{tuple(spike.shape)}; reset the traces when the batch size changes"
            )
        if spike.device != weight.device or tr.device != weight.device:
            raise ValueError("spikes, traces and weight must be on the same device")


def _check_conv(
    in_spike: torch.Tensor, out_spike: torch.Tensor, weight: torch.Tensor, stride: tuple[int, ...]
) -> None:
    n = weight.dim() - 2
    if len(tuple(stride)) != n or any(int(s) <= 0 for s in stride):
        raise ValueError(f"stride must be {n} positive int(s), got {stride!r}")
    expected = tuple(
        (size - k) // s + 1 for size, k, s in zip(in_spike.shape[2:], weight.shape[2:], stride)
    )
    if tuple(out_spike.shape[2:]) != expected:
        raise ValueError(
            f"out_spike spatial shape {tuple(out_spike.shape[2:])} does not match the padded "
            f"input {tuple(in_spike.shape[2:])}, kernel {tuple(weight.shape[2:])} and stride "
            f"{tuple(stride)} (expected {expected}); pad the input before the call"
        )


def stdp_linear_step(
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace: tuple[torch.Tensor, torch.Tensor],
    weight: torch.Tensor,
    *,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    r"""One STDP step of a fully connected synapse (see the module docstring).

    Args:
        in_spike: ``[N, in]`` presynaptic spikes.
        out_spike: ``[N, out]`` postsynaptic spikes.
        trace: ``(trace_pre [N, in], trace_post [N, out])`` before this step.
        weight: ``[out, in]``.
        tau_pre, tau_post: trace time constants, ``>= 1``.
        f_pre, f_post: weight-dependence functions (elementwise), identity by default.

    Returns:
        ``(delta_w [out, in], (trace_pre, trace_post))``; ``delta_w`` is summed over the batch.
    """
    _check_taus(False, tau_pre=tau_pre, tau_post=tau_post)
    _check(in_spike, out_spike, trace, weight, 2, "[N, features]")
    tr_pre = trace[0] - trace[0] / tau_pre + in_spike
    tr_post = trace[1] - trace[1] / tau_post + out_spike
    potentiation = out_spike.transpose(0, 1) @ tr_pre  # sum_n s_post[n,i] tr_pre[n,j]
    depression = tr_post.transpose(0, 1) @ in_spike  # sum_n tr_post[n,i] s_pre[n,j]
    delta_w = f_post(weight) * potentiation - f_pre(weight) * depression
    return delta_w, (tr_pre, tr_post)


def _stdp_conv_step(
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace: Traces,
    weight: torch.Tensor,
    stride: tuple[int, ...],
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn,
    f_post: WeightFn,
) -> tuple[torch.Tensor, Traces]:
    tr_pre = trace[0] - trace[0] / tau_pre + in_spike
    tr_post = trace[1] - trace[1] / tau_post + out_spike
    kernel = tuple(weight.shape[2:])
    stride = tuple(int(s) for s in stride)
    if len(kernel) == 1:
        # [N, C, L] -> [N, C, L_out, k] -> [N, C*k, L_out]
        def patches(x: torch.Tensor) -> torch.Tensor:
            p = x.unfold(2, kernel[0], stride[0])
            return p.permute(0, 1, 3, 2).reshape(x.shape[0], -1, p.shape[2])
    else:

        def patches(x: torch.Tensor) -> torch.Tensor:
            return F.unfold(x, kernel, stride=stride)  # [N, C*kh*kw, L]

    post = out_spike.flatten(2)  # [N, out, L]
    trp = tr_post.flatten(2)
    potentiation = torch.einsum("nol,nkl->ok", post, patches(tr_pre)).reshape(weight.shape)
    depression = torch.einsum("nol,nkl->ok", trp, patches(in_spike)).reshape(weight.shape)
    delta_w = f_post(weight) * potentiation - f_pre(weight) * depression
    return delta_w, (tr_pre, tr_post)


def stdp_conv1d_step(
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace: tuple[torch.Tensor, torch.Tensor],
    weight: torch.Tensor,
    *,
    stride: tuple[int],
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    r"""One STDP step of a 1-d convolution (no dilation, no groups).

    A weight tap :math:`W_{o,c,k}` connects input position :math:`l s + k` to output
    position :math:`l`; the STDP terms of the module docstring are summed over the batch and
    over every such pair.

    Args:
        in_spike: ``[N, C_in, L]``, already padded as the convolution pads it.
        out_spike: ``[N, C_out, L_out]`` with ``L_out = (L - k) // stride + 1``.
        trace: ``(trace_pre, trace_post)`` shaped like the two spike tensors.
        weight: ``[C_out, C_in, k]``.
        stride: ``(s,)``.
        tau_pre, tau_post: trace time constants, ``>= 1``.
        f_pre, f_post: weight-dependence functions (elementwise).

    Returns:
        ``(delta_w, (trace_pre, trace_post))``.
    """
    _check_taus(False, tau_pre=tau_pre, tau_post=tau_post)
    _check(in_spike, out_spike, trace, weight, 3, "[N, C, L]")
    _check_conv(in_spike, out_spike, weight, stride)
    return _stdp_conv_step(
        in_spike, out_spike, trace, weight, stride, tau_pre, tau_post, f_pre, f_post
    )


def stdp_conv2d_step(
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace: tuple[torch.Tensor, torch.Tensor],
    weight: torch.Tensor,
    *,
    stride: tuple[int, int],
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    r"""One STDP step of a 2-d convolution (no dilation, no groups).

    As :func:`stdp_conv1d_step`, with input position :math:`(h s_h + i, w s_w + j)` feeding
    output position :math:`(h, w)` through tap :math:`W_{o,c,i,j}`.

    Args:
        in_spike: ``[N, C_in, H, W]``, already padded as the convolution pads it.
        out_spike: ``[N, C_out, H_out, W_out]``.
        trace: ``(trace_pre, trace_post)`` shaped like the two spike tensors.
        weight: ``[C_out, C_in, kh, kw]``.
        stride: ``(s_h, s_w)``.
        tau_pre, tau_post: trace time constants, ``>= 1``.
        f_pre, f_post: weight-dependence functions (elementwise).

    Returns:
        ``(delta_w, (trace_pre, trace_post))``.
    """
    _check_taus(False, tau_pre=tau_pre, tau_post=tau_post)
    _check(in_spike, out_spike, trace, weight, 4, "[N, C, H, W]")
    _check_conv(in_spike, out_spike, weight, stride)
    return _stdp_conv_step(
        in_spike, out_spike, trace, weight, stride, tau_pre, tau_post, f_pre, f_post
    )


def mstdp_linear_step(
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace: tuple[torch.Tensor, torch.Tensor],
    weight: torch.Tensor,
    *,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    r"""One reward-modulated STDP (MSTDP) step of a fully connected synapse, per sample.

    .. math::
        tr[t] = e^{-1/\tau} tr[t-1] + s[t], \qquad
        z_{n,ij} = f_{post}(W_{ij})\, s_{post,n,i}\, tr_{pre,n,j}
                 - f_{pre}(W_{ij})\, tr_{post,n,i}\, s_{pre,n,j}

    The weight change is then :math:`\eta\, r_n z_{n,ij}` for the reward :math:`r_n` of each
    sample (Florian 2007).

    Args:
        in_spike: ``[N, in]``; out_spike: ``[N, out]``.
        trace: ``(trace_pre [N, in], trace_post [N, out])``.
        weight: ``[out, in]``.
        tau_pre, tau_post: trace time constants, ``> 0``.
        f_pre, f_post: weight-dependence functions (elementwise).

    Returns:
        ``(eligibility [N, out, in], (trace_pre, trace_post))``.
    """
    _check_taus(True, tau_pre=tau_pre, tau_post=tau_post)
    _check(in_spike, out_spike, trace, weight, 2, "[N, features]")
    tr_pre = trace[0] * math.exp(-1.0 / tau_pre) + in_spike
    tr_post = trace[1] * math.exp(-1.0 / tau_post) + out_spike
    eligibility = f_post(weight) * (out_spike.unsqueeze(2) * tr_pre.unsqueeze(1)) - f_pre(
        weight
    ) * (tr_post.unsqueeze(2) * in_spike.unsqueeze(1))
    return eligibility, (tr_pre, tr_post)


def mstdpet_linear_step(
    in_spike: torch.Tensor,
    out_spike: torch.Tensor,
    trace: tuple[torch.Tensor, torch.Tensor],
    weight: torch.Tensor,
    *,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn = _identity,
    f_post: WeightFn = _identity,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    r"""The eligibility of one MSTDP-with-eligibility-trace (MSTDPET) step, unbatched.

    Same traces and eligibility :math:`z_{ij}` as :func:`mstdp_linear_step`, for a single
    sample (1-d spikes). Feed the result to :func:`mstdpet_reward_step`.

    Args:
        in_spike: ``[in]``; out_spike: ``[out]``.
        trace: ``(trace_pre [in], trace_post [out])``.
        weight: ``[out, in]``.
        tau_pre, tau_post: trace time constants, ``> 0``.
        f_pre, f_post: weight-dependence functions (elementwise).

    Returns:
        ``(eligibility [out, in], (trace_pre, trace_post))``.
    """
    _check_taus(True, tau_pre=tau_pre, tau_post=tau_post)
    _check(in_spike, out_spike, trace, weight, 1, "[features]")
    tr_pre = trace[0] * math.exp(-1.0 / tau_pre) + in_spike
    tr_post = trace[1] * math.exp(-1.0 / tau_post) + out_spike
    eligibility = f_post(weight) * torch.outer(out_spike, tr_pre) - f_pre(weight) * torch.outer(
        tr_post, in_spike
    )
    return eligibility, (tr_pre, tr_post)


def mstdpet_reward_step(
    reward: torch.Tensor | float,
    eligibility: torch.Tensor,
    trace_e: torch.Tensor,
    *,
    tau_trace: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Update the eligibility trace and modulate it by the reward (MSTDPET).

    .. math::
        e[t] = e^{-1/\tau_z} e[t-1] + \frac{z[t]}{\tau_z}, \qquad \Delta W = r[t]\, e[t]

    Args:
        reward: :math:`r[t]` (a number or a tensor broadcastable to ``eligibility``).
        eligibility: :math:`z[t]` from :func:`mstdpet_linear_step`.
        trace_e: :math:`e[t-1]`.
        tau_trace: :math:`\tau_z > 0`.

    Returns:
        ``(delta_w, trace_e_next)``.
    """
    _check_taus(True, tau_trace=tau_trace)
    trace_e = trace_e * math.exp(-1.0 / tau_trace) + eligibility / tau_trace
    return reward * trace_e, trace_e
