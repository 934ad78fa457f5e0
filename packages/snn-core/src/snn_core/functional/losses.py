"""Losses for SNNs: kernel similarity of spike trains and the TET cross entropy."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = [
    "kernel_dot_product",
    "spike_similar_loss",
    "temporal_efficient_training_cross_entropy",
]

# kernel name -> name of its one extra positional parameter (None: takes none)
_KERNELS: dict[str, str | None] = {
    "linear": None,
    "polynomial": "d",
    "sigmoid": "alpha",
    "gaussian": "sigma",
}
_SIMILAR_LOSSES = ("mse", "l1", "bce")


def _check_matrix(name: str, x: Any) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [N, M], got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape [N, M] (2 dimensions), got {tuple(x.shape)}")


def _kernel_param(kernel: str, args: tuple) -> float | None:
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {tuple(_KERNELS)}, got {kernel!r}")
    param = _KERNELS[kernel]
    expected = 0 if param is None else 1
    if len(args) != expected:
        need = "no extra argument" if param is None else f"one extra argument ({param})"
        raise TypeError(f"kernel {kernel!r} takes {need}, got {len(args)}: {args!r}")
    if param is None:
        return None
    value = args[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"kernel {kernel!r}: {param} must be a number, got {value!r}")
    if param == "sigma" and not value > 0:
        raise ValueError(f"kernel 'gaussian': sigma must be positive, got {value!r}")
    return float(value)


def kernel_dot_product(x: torch.Tensor, y: torch.Tensor, kernel: str = "linear", *args: float):
    r"""Inner products of the rows of ``x`` and ``y`` in a kernel space.

    ``ret[i, j] = κ(x_i, y_j)`` with

    - ``'linear'``: :math:`κ = x_i^T y_j`;
    - ``'polynomial'``: :math:`κ = (x_i^T y_j)^d`, ``d = args[0]``;
    - ``'sigmoid'``: :math:`κ = \mathrm{sigmoid}(α\, x_i^T y_j)`, ``α = args[0]``;
    - ``'gaussian'``: :math:`κ = \exp(-\|x_i - y_j\|^2 / (2σ^2))`, ``σ = args[0] > 0``;
      the squared distance is clamped at 0 against rounding, so ``κ <= 1`` (the reference
      can exceed 1 by a rounding error where ``x_i = y_j``).

    Args:
        x: ``[N, M]``, N vectors of dimension M.
        y: ``[K, M]`` (the reference uses ``K = N``).
        kernel: one of ``'linear'``, ``'polynomial'``, ``'sigmoid'``, ``'gaussian'``.
        args: the kernel's one parameter (none for ``'linear'``).

    Returns:
        ``[N, K]`` tensor.
    """
    _check_matrix("x", x)
    _check_matrix("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same vector dimension M, got x {tuple(x.shape)} "
            f"and y {tuple(y.shape)}"
        )
    p = _kernel_param(kernel, args)
    xy = x @ y.t()
    if kernel == "linear":
        return xy
    if kernel == "polynomial":
        return xy.pow(p)
    if kernel == "sigmoid":
        return torch.sigmoid(p * xy)
    # gaussian: ||x_i - y_j||^2 = |x_i|^2 + |y_j|^2 - 2 x_i.y_j, clamped at 0 against rounding
    # (the reference does not clamp, so its kernel can exceed 1 by an ulp where x_i = y_j)
    d2 = x.square().sum(1, keepdim=True) + y.square().sum(1).unsqueeze(0) - 2.0 * xy
    return torch.exp(-d2.clamp_min(0.0) / (2.0 * p * p))


def spike_similar_loss(
    spikes: torch.Tensor,
    labels: torch.Tensor,
    kernel_type: str = "linear",
    loss_type: str = "mse",
    *args: float,
) -> torch.Tensor:
    r"""Loss between the label similarity and the spike-train similarity of a batch.

    ``sim[i, j] = 1`` if samples i and j share at least one label (``labels`` may be
    multi-label), else 0. ``sim_p[i, j] = κ(s_i, s_j)`` with the spike trains flattened and
    ``κ`` from :func:`kernel_dot_product`; for ``'linear'`` it is normalized to
    :math:`κ / (\|s_i\| \|s_j\| + 10^{-8})` so it lies in ``[0, 1]`` for spikes.
    Returns ``mse``, ``l1`` or ``bce`` (mean) between ``sim_p`` and ``sim``.

    Args:
        spikes: ``[N, M, T]`` output spikes of N samples (any ``[N, *]`` is flattened).
        labels: ``[N, C]`` with ``labels[i, k] = 1`` if sample i belongs to class k.
        kernel_type: kernel for the similarity (see :func:`kernel_dot_product`).
        loss_type: ``'mse'``, ``'l1'`` or ``'bce'``.
        args: the kernel's parameter.
    """
    if not isinstance(spikes, torch.Tensor) or spikes.dim() < 2:
        raise ValueError(
            f"spikes must be a tensor of shape [N, M, T] (at least 2 dimensions), got "
            f"{tuple(spikes.shape) if isinstance(spikes, torch.Tensor) else type(spikes)}"
        )
    _check_matrix("labels", labels)
    if labels.shape[0] != spikes.shape[0]:
        raise ValueError(
            f"labels [N, C] and spikes [N, M, T] must have the same N, got labels "
            f"{tuple(labels.shape)} and spikes {tuple(spikes.shape)}"
        )
    if loss_type not in _SIMILAR_LOSSES:
        raise ValueError(f"loss_type must be one of {_SIMILAR_LOSSES}, got {loss_type!r}")
    s = spikes.flatten(1)
    sim_p = kernel_dot_product(s, s, kernel_type, *args)
    if kernel_type == "linear":
        norm = s.norm(p=2, dim=1, keepdim=True)
        sim_p = sim_p / (norm @ norm.t() + 1e-8)
    lab = labels.to(sim_p.dtype)
    sim = (lab @ lab.t()).clamp_max(1.0)
    if loss_type == "mse":
        return F.mse_loss(sim_p, sim)
    if loss_type == "l1":
        return F.l1_loss(sim_p, sim)
    return F.binary_cross_entropy(sim_p, sim)


def temporal_efficient_training_cross_entropy(
    x_seq: torch.Tensor, target: torch.Tensor, *, lamb: float = 0.0, means: float = 1.0
) -> torch.Tensor:
    r"""Temporal efficient training (TET) loss (Deng et al., ICLR 2022).

    The cross entropy is applied to the output of every time-step and averaged:

    .. math::
        \mathcal{L}_{TET} = \frac{1}{T} \sum_{t=0}^{T-1} \mathrm{CE}(x[t], y)

    With ``lamb > 0`` the paper's regularizer pulling the outputs towards a constant
    :math:`φ` = ``means`` is mixed in:
    :math:`(1 - λ) \mathcal{L}_{TET} + λ \frac{1}{T} \sum_t \mathrm{MSE}(x[t], φ)`.
    The defaults (``lamb=0``) give the reference's loss.

    Args:
        x_seq: logits ``[T, N, C, *]`` (``C`` classes).
        target: class indices ``[N, *]`` or class probabilities ``[N, C, *]``, shared by
            every time-step.
        lamb: weight :math:`λ ∈ [0, 1]` of the MSE regularizer.
        means: its target value :math:`φ`.
    """
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 3:
        raise ValueError(
            "x_seq must be a tensor of shape [T, N, C, *] (at least 3 dimensions), got "
            f"{tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq)}"
        )
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    T, N, C = x_seq.shape[0], x_seq.shape[1], x_seq.shape[2]
    spatial = tuple(x_seq.shape[3:])
    if target.is_floating_point() and tuple(target.shape) == (N, C, *spatial):
        pass  # class probabilities
    elif not target.is_floating_point() and tuple(target.shape) == (N, *spatial):
        pass  # class indices
    else:
        raise ValueError(
            f"target must hold class indices of shape {(N, *spatial)} (integer) or class "
            f"probabilities of shape {(N, C, *spatial)} (float) for x_seq of shape "
            f"[T, N, C, *] = {tuple(x_seq.shape)}, got {target.dtype} {tuple(target.shape)}"
        )
    if not 0.0 <= lamb <= 1.0:
        raise ValueError(f"lamb must be in [0, 1], got {lamb!r}")
    # All time-steps have the same number of terms, so the mean over [N, T, *] is the mean
    # over t of the per-step means; the [N, C, T, *] layout is the reference's (same rounding).
    logits = x_seq.transpose(0, 1).transpose(1, 2)
    if target.is_floating_point():
        rep = target.unsqueeze(2).expand(N, C, T, *spatial)
    else:
        rep = target.unsqueeze(1).expand(N, T, *spatial)
    loss = F.cross_entropy(logits, rep)
    if lamb == 0.0:
        return loss
    mse = F.mse_loss(x_seq, torch.full_like(x_seq, float(means)))
    return (1.0 - lamb) * loss + lamb * mse
