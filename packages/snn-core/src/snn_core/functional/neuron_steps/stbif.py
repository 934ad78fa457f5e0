r"""STBIF: the signed ternary bipolar IF neuron of SpikeZIP QANN-to-SNN conversion (You et al.,
"SpikeZIP-TF: Conversion is All You Need for Transformer-based SNN", ICML 2024).

With the quantizer scale ``s`` (``q_threshold``), the residual ``q`` (in units of ``s``,
starting at 0.5 for round-to-nearest) and the released integer ``A`` (``acc_q``):

.. math::
    q' = q + X[t] / s, \quad
    P = [q' \ge 1] \wedge [A < A_{max}], \quad N = [q' < 0] \wedge [A > A_{min}],

    C[t] = P - N, \quad A \leftarrow A + C[t], \quad q \leftarrow q' - C[t], \quad
    \mathrm{out}[t] = C[t]\, s

The transition is discrete (inference only); it does not support autograd.
"""

from __future__ import annotations

import torch

__all__ = ["stbif_step", "stbif_multi_step"]


def _check(
    x_seq: torch.Tensor,
    q: torch.Tensor,
    acc_q: torch.Tensor,
    params: tuple[torch.Tensor, ...],
) -> None:
    if x_seq.dim() < 2 or x_seq.shape[0] == 0:
        raise ValueError(
            f"STBIF: x_seq must be a non-empty sequence [T, N, *], got shape {tuple(x_seq.shape)}"
        )
    if not x_seq.is_floating_point():
        raise ValueError(f"STBIF: x must be a floating-point tensor, got {x_seq.dtype}")
    for name, state in (("q", q), ("acc_q", acc_q)):
        if state.shape != x_seq.shape[1:]:
            raise ValueError(
                f"STBIF: state {name} has shape {tuple(state.shape)} but each input step has "
                f"shape {tuple(x_seq.shape[1:])}"
            )
    for name, p in zip(("q_threshold", "pos_max", "neg_min"), params):
        if not isinstance(p, torch.Tensor) or p.numel() != 1 or not p.is_floating_point():
            raise ValueError(
                f"STBIF: {name} must be a one-element floating-point tensor, got {p!r}"
            )
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x_seq, q, acc_q, *params)):
        raise RuntimeError(
            "STBIF: the transition is discrete and inference-only; it does not support autograd "
            "(run it under torch.no_grad() or on detached tensors)"
        )


def _step(
    x: torch.Tensor,
    q: torch.Tensor,
    acc_q: torch.Tensor,
    scale: torch.Tensor,
    pos_max: torch.Tensor,
    neg_min: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    q = q + x / scale
    acc_q = acc_q.round()
    positive = (q >= 1) & (acc_q < pos_max)
    negative = (q < 0) & (acc_q > neg_min)
    current = positive.to(q.dtype) - negative.to(q.dtype)
    return current * scale, q - current, acc_q + current, current


def stbif_multi_step(
    x_seq: torch.Tensor,
    q: torch.Tensor,
    acc_q: torch.Tensor,
    q_threshold: torch.Tensor,
    pos_max: torch.Tensor,
    neg_min: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """All T steps over ``x_seq`` (``[T, N, *]``); returns ``(out_seq, q, acc_q, C[T-1])``.

    States are computed in ``promote(x.dtype, q.dtype)`` (at least float32); ``out_seq``
    has ``x_seq``'s dtype.
    """
    params = (q_threshold, pos_max, neg_min)
    _check(x_seq, q, acc_q, params)
    dtype = torch.promote_types(torch.promote_types(x_seq.dtype, q.dtype), torch.float32)
    scale, hi, lo = (p.to(device=x_seq.device, dtype=dtype).reshape(()) for p in params)
    q, acc_q = q.to(dtype), acc_q.to(dtype)
    outputs = []
    current = torch.zeros_like(q)
    for x in x_seq:
        out, q, acc_q, current = _step(x.to(dtype), q, acc_q, scale, hi, lo)
        outputs.append(out.to(x_seq.dtype))
    return torch.stack(outputs), q, acc_q, current


def stbif_step(
    x: torch.Tensor,
    q: torch.Tensor,
    acc_q: torch.Tensor,
    q_threshold: torch.Tensor,
    pos_max: torch.Tensor,
    neg_min: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One STBIF step; returns ``(C[t] s, q, acc_q, C[t])`` with ``C`` in ``{-1, 0, 1}``."""
    out_seq, q, acc_q, current = stbif_multi_step(
        x.unsqueeze(0), q, acc_q, q_threshold, pos_max, neg_min
    )
    return out_seq[0], q, acc_q, current
