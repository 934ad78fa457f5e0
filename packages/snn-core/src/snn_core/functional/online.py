"""Online-learning pipelines: train a network one time-step at a time (FPTT, OTTT / SLTT).

Both pipelines run the model in single-step mode, take a gradient step per time-step (or
accumulate the per-step gradients) and cut the autograd graph of every state between
steps, so memory does not grow with ``T``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from snn_core.base import MemoryModule
from snn_core.functional.config import detach_net

__all__ = ["fptt_online_training_init_w_ra", "fptt_online_training", "ottt_online_training"]


def _optimizer_params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer)}")
    return [p for group in optimizer.param_groups for p in group["params"]]


def _check_single_step(model: nn.Module) -> None:
    """The pipelines feed ``[N, *]`` per step; a multi-step stateful module would read N as T."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    multi = [
        name or "<model>"
        for name, m in model.named_modules()
        if isinstance(m, MemoryModule) and m.step_mode != "s"
    ]
    if multi:
        raise ValueError(
            "online training feeds one time-step [N, *] at a time, so every stateful module "
            f"must be in single-step mode; these are in step_mode='m': {multi} "
            "(call functional.set_step_mode(model, 's'))"
        )


def _check_scalar_loss(loss: Any) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        got = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(f"f_loss_t(y_t, target_t) must return a scalar tensor, got {got}")
    return loss.reshape(())


def _snapshot(modules: list[MemoryModule]) -> list[dict[str, Any]]:
    return [
        {
            k: v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)
            for k, v in m.named_memories()
        }
        for m in modules
    ]


def _restore(modules: list[MemoryModule], states: list[dict[str, Any]]) -> None:
    for m, state in zip(modules, states):
        for k, v in state.items():
            setattr(m, k, v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v))


def fptt_online_training_init_w_ra(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The initial running average ``w_ra`` for :func:`fptt_online_training`.

    A detached copy of each parameter, in the order of ``optimizer.param_groups``.
    """
    return [p.detach().clone() for p in _optimizer_params(optimizer)]


def fptt_online_training(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x_seq: torch.Tensor,
    target_seq: torch.Tensor,
    f_loss_t: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    alpha: float,
    w_ra: list[torch.Tensor],
    *,
    reduction: str = "mean",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Train ``model`` on one sequence with Forward Propagation Through Time (FPTT).

    FPTT (Kag & Saligrama, ICML 2021; for SNNs Yin et al., 2021) updates the weights at
    every time-step with the instantaneous loss plus a dynamic regularizer towards the
    running average :math:`\bar W` (``w_ra``), with no backpropagation through time:

    .. math::
        W_{t+1} &= W_t - η \nabla_W \Big[\ell_t(W) + \frac{α}{2} \sum_{W}
            R\big(W - \bar W_t - \tfrac{1}{2α} \nabla \ell_{t-1}(W_t)\big)\Big] \\
        \bar W_{t+1} &= \tfrac12 (\bar W_t + W_{t+1}) - \tfrac{1}{2α} \nabla \ell_t(W_{t+1})

    (one ``optimizer.step()`` per time-step; :math:`\nabla\ell_{-1} = 0`), where ``R`` is the
    mean of the squared elements of each parameter tensor (``reduction='mean'``, the
    reference framework's default) or their sum (``reduction='sum'``, the paper's squared
    norm), summed over the parameter tensors. As in the reference, the gradient
    :math:`\nabla \ell_t(W_{t+1})` is taken by running ``model(x_seq[t])`` once more from the
    state reached after step ``t`` (which is then restored), and :math:`\bar W` and
    :math:`\nabla\ell` are not updated after the last step.

    Args:
        model: network in single-step mode, taking ``x_seq[t]``.
        optimizer: optimizer over (some of) the model's parameters.
        x_seq: inputs ``[T, N, *]``.
        target_seq: targets ``[T, ...]`` (``target_seq[t]`` goes to ``f_loss_t``).
        f_loss_t: ``f_loss_t(y_t, target_t)`` -> scalar loss of one time-step.
        alpha: the regularizer strength :math:`α > 0`.
        w_ra: running average from :func:`fptt_online_training_init_w_ra`, aligned with the
            optimizer's parameters; updated in place (carry it across sequences).
        reduction: ``'mean'`` (default, as the reference) or ``'sum'`` over the elements of
            each parameter in the regularizer.

    Returns:
        ``(loss_sum, y_seq)``: the sum over t of the task losses :math:`\ell_t` (detached)
        and the detached outputs ``[T, N, *]`` (the reference returns ``None``). Call
        :func:`reset_net` before the next sequence.
    """
    params = _optimizer_params(optimizer)
    _check_single_step(model)
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1 or x_seq.shape[0] == 0:
        raise ValueError("x_seq must be a tensor [T, N, *] with T >= 1")
    if not isinstance(target_seq, torch.Tensor) or target_seq.shape[:1] != x_seq.shape[:1]:
        got = tuple(target_seq.shape) if isinstance(target_seq, torch.Tensor) else target_seq
        raise ValueError(
            f"target_seq must be a tensor [T, ...] with T = x_seq.shape[0] = {x_seq.shape[0]}, "
            f"got {got}"
        )
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if not isinstance(w_ra, list):
        raise TypeError(
            f"w_ra must be the list from fptt_online_training_init_w_ra(optimizer), got "
            f"{type(w_ra).__name__}"
        )
    if len(w_ra) != len(params):  # IndexError, as indexing a short w_ra raises in 2.0.0
        raise IndexError(
            f"w_ra must be the list from fptt_online_training_init_w_ra(optimizer) with one "
            f"tensor per optimizer parameter ({len(params)}), got {len(w_ra)}"
        )
    for i, (w, p) in enumerate(zip(w_ra, params)):
        if not isinstance(w, torch.Tensor) or w.shape != p.shape:
            raise ValueError(
                f"w_ra[{i}] must have the shape of optimizer parameter {i} {tuple(p.shape)}, "
                f"got {tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__}"
            )

    memory = [m for m in model.modules() if isinstance(m, MemoryModule)]
    grad_prev = [torch.zeros_like(p) for p in params]
    T = x_seq.shape[0]
    loss_sum: torch.Tensor | float = 0.0
    y_seq = []
    for t in range(T):
        x_t, target_t = x_seq[t], target_seq[t]

        # 1) W_{t+1}: one step on l_t + (alpha/2) sum_W R(W - w_ra - grad_prev/(2 alpha))
        optimizer.zero_grad()
        y_t = model(x_t)
        loss_t = _check_scalar_loss(f_loss_t(y_t, target_t))
        reg = sum(
            F.mse_loss(p, w + g / (2.0 * alpha), reduction=reduction)
            for p, w, g in zip(params, w_ra, grad_prev)
        )
        (loss_t + alpha / 2.0 * reg).backward()
        optimizer.step()
        detach_net(model)
        state_after = _snapshot(memory)
        loss_sum = loss_sum + loss_t.detach()
        y_seq.append(y_t.detach())
        optimizer.zero_grad()

        # 2) grad l_t(W_{t+1}) (run from the state after step t), then the running average
        if t < T - 1:
            _check_scalar_loss(f_loss_t(model(x_t), target_t)).backward()
            with torch.no_grad():
                for i, p in enumerate(params):
                    g = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
                    grad_prev[i] = g
                    w_ra[i] = (w_ra[i] + p.detach()) / 2.0 - g / (2.0 * alpha)
            optimizer.zero_grad()
            _restore(memory, state_after)
    return loss_sum, torch.stack(y_seq)


def ottt_online_training(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x_seq: torch.Tensor,
    target_seq: torch.Tensor,
    f_loss_t: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    online: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Train ``model`` on one batch step by step (OTTT, Xiao et al. 2022; SLTT, Meng et al. 2023).

    For each time-step ``t``: ``y_t = model(x[:, t])``, ``loss_t = f_loss_t(y_t, target[:, t])``
    and ``loss_t.backward()``; then every state is detached (:func:`detach_net`), so the
    gradient of step ``t`` flows only through the spatial path of step ``t`` — SLTT's
    :math:`\nabla_W \mathcal{L} ≈ \sum_t \partial \ell_t / \partial W` with the temporal
    dependencies dropped. OTTT's presynaptic traces are kept by OTTT-specific layers and
    neurons in the model; for plain neurons the result is SLTT. With ``online=True`` the
    optimizer steps after every time-step, otherwise once after accumulating all steps.

    Args:
        model: network in single-step mode; if it returns a list or tuple, its first item is
            the output (as in the reference).
        optimizer: optimizer of the model's parameters.
        x_seq: inputs ``[B, T, *]`` (batch first, as in the reference).
        target_seq: targets ``[B, T, ...]``.
        f_loss_t: ``f_loss_t(y_t, target_t)`` -> scalar loss of one time-step.
        online: step the optimizer at every time-step (``True``) or once at the end.

    Returns:
        ``(batch_loss, y_all)``: the sum of the per-step losses (detached) and the detached
        outputs stacked as ``[B, T, *]``. Call :func:`reset_net` before the next batch.
    """
    _optimizer_params(optimizer)
    _check_single_step(model)
    if not isinstance(online, bool):
        raise TypeError(f"online must be a bool, got {online!r}")
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2 or x_seq.shape[1] == 0:
        raise ValueError("x_seq must be a tensor [B, T, *] with T >= 1")
    if not isinstance(target_seq, torch.Tensor) or target_seq.shape[:2] != x_seq.shape[:2]:
        got = tuple(target_seq.shape) if isinstance(target_seq, torch.Tensor) else target_seq
        raise ValueError(
            f"target_seq must be a tensor [B, T, ...] with [B, T] = {tuple(x_seq.shape[:2])} "
            f"as in x_seq, got {got}"
        )
    batch_loss: torch.Tensor | float = 0.0
    y_all = []
    if not online:
        optimizer.zero_grad()
    for t in range(x_seq.shape[1]):
        if online:
            optimizer.zero_grad()
        y_t = model(x_seq[:, t])
        if isinstance(y_t, (list, tuple)):  # (output, ...): keep the output, as the reference
            y_t = y_t[0]
        loss = _check_scalar_loss(f_loss_t(y_t, target_seq[:, t].contiguous()))
        loss.backward()
        if online:
            optimizer.step()
        detach_net(model)
        batch_loss = batch_loss + loss.detach()
        y_all.append(y_t.detach())
    if not online:
        optimizer.step()
    return batch_loss, torch.stack(y_all, dim=1)
