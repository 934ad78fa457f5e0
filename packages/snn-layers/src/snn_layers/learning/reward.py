r"""Reward-modulated STDP (Florian, "Reinforcement learning through modulation of
spike-timing-dependent synaptic plasticity", Neural Computation 19, 2007): MSTDP and MSTDP
with an eligibility trace (MSTDPET), for a Linear synapse in single-step mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from snn_core.functional import plasticity
from torch import nn

from snn_layers.learning._learner import WeightFn, _identity, _Learner


class _RewardLearner(_Learner):
    _synapse_types = (nn.Linear,)
    _step_modes = ("s",)

    def _one_pending(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        pending = self._pending()
        if pending is None:
            return None
        if len(pending) != 1:
            raise RuntimeError(
                f"{self._who()}: a reward learner needs exactly one forward per step(reward), "
                f"but {len(pending)} are pending; call step() after every forward"
            )
        return pending[0]

    def _reward(self, reward: float | torch.Tensor) -> torch.Tensor:
        w = self.synapse.weight
        return torch.as_tensor(reward, device=w.device, dtype=w.dtype).detach()

    def _eligibility_step(
        self, rule: Callable[..., Any], pre: torch.Tensor, post: torch.Tensor
    ) -> torch.Tensor:
        """Advance the traces and keep the new eligibility of ``rule``; the eligibility of
        the step before (zeros at the first step), which this step's reward acts on."""
        eligibility = self._apply(rule, pre, post)
        previous = self.eligibility
        if previous is None:
            previous = torch.zeros_like(eligibility)
        self.eligibility = eligibility
        return previous

    def _delta_w(
        self, pre: torch.Tensor, post: torch.Tensor, reward: float | torch.Tensor
    ) -> torch.Tensor:
        """Check the reward, advance the state, return this step's weight change."""
        raise NotImplementedError

    @torch.no_grad()
    def step(
        self, reward: float | torch.Tensor, on_grad: bool = True, scale: float = 1.0
    ) -> torch.Tensor | None:
        """Consume the pending forward; see the class docstring for the update."""
        pair = self._one_pending()
        if pair is None:
            return None
        return self._finish(self._delta_w(*pair, reward), on_grad, scale)


class MSTDPLearner(_RewardLearner):
    r"""Reward-modulated STDP (MSTDP) of a ``Linear`` synapse, per sample of the batch.

    Traces decay exponentially and each sample :math:`n` keeps its own eligibility
    (:func:`snn_core.functional.mstdp_linear_step`):

    .. math::
        tr[t] = e^{-1/\tau} tr[t-1] + s[t], \qquad
        z_{n,ij}[t] = f_{post}(W_{ij})\, s_{post,n,i}[t]\, tr_{pre,n,j}[t]
                    - f_{pre}(W_{ij})\, tr_{post,n,i}[t]\, s_{pre,n,j}[t]

    ``step(reward)`` after the forward of step :math:`t` returns (or writes as the negative
    gradient) :math:`\Delta W = \sum_n r_n[t]\, z_n[t-1]`: the reward of a step acts on the
    eligibility of the step before, so the first update is zero. Spikes are ``[N, in]`` /
    ``[N, out]``; ``reward`` is a number or an ``[N]`` tensor (detached).

    Args:
        step_mode: ``'s'`` only.
        synapse: a ``torch.nn.Linear`` (or ``snn_layers.Linear``).
        sn: the module emitting the post-synaptic spikes.
        tau_pre, tau_post: trace time constants in steps, finite and ``> 0``.
        f_pre, f_post: elementwise weight dependences (identity by default).
        batch_size: optional; when given, the spikes' batch size must equal it (the
            pre-2.0 reference took it as the second positional argument).
    """

    def __init__(
        self,
        step_mode: str,
        synapse: nn.Linear,
        sn: nn.Module,
        tau_pre: float,
        tau_post: float,
        f_pre: WeightFn = _identity,
        f_post: WeightFn = _identity,
        *,
        batch_size: int | None = None,
    ) -> None:
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise ValueError(
                f"MSTDPLearner: batch_size must be None or a positive int, got {batch_size!r}"
            )
        super().__init__(
            step_mode,
            synapse,
            sn,
            exponential=True,
            f_pre=f_pre,
            f_post=f_post,
            tau_pre=tau_pre,
            tau_post=tau_post,
        )
        self.batch_size = batch_size
        self.register_memory("eligibility", None)

    def _delta_w(
        self, pre: torch.Tensor, post: torch.Tensor, reward: float | torch.Tensor
    ) -> torch.Tensor:
        if self.batch_size is not None and pre.shape[0] != self.batch_size:
            raise ValueError(
                f"{self._who()}: batch_size={self.batch_size} but the spikes have a batch of "
                f"{pre.shape[0]}"
            )
        reward = self._reward(reward)
        if reward.dim() != 0 and tuple(reward.shape) != (pre.shape[0],):
            raise ValueError(
                f"{self._who()}: reward must be a number or shaped [N] = [{pre.shape[0]}], "
                f"got shape {tuple(reward.shape)}"
            )
        previous = self._eligibility_step(plasticity.mstdp_linear_step, pre, post)
        return (reward.reshape(-1, 1, 1) * previous).sum(0)


class MSTDPETLearner(_RewardLearner):
    r"""MSTDP with an eligibility trace (MSTDPET) of a ``Linear`` synapse, one sample.

    The eligibility :math:`z[t]` is that of :class:`MSTDPLearner` for unbatched spikes
    ``[in]`` / ``[out]`` (:func:`snn_core.functional.mstdpet_linear_step`); it is low-pass
    filtered and multiplied by the reward (:func:`snn_core.functional.mstdpet_reward_step`):

    .. math::
        e[t] = e^{-1/\tau_z} e[t-1] + \frac{z[t-1]}{\tau_z}, \qquad \Delta W = r[t]\, e[t]

    The reward of ``step(reward)`` after the forward of step :math:`t` meets the trace of the
    eligibilities up to :math:`t-1`, so the first update is zero. ``reward`` is a number.

    Args:
        step_mode: ``'s'`` only.
        synapse: a ``torch.nn.Linear`` (or ``snn_layers.Linear``).
        sn: the module emitting the post-synaptic spikes.
        tau_pre, tau_post: trace time constants in steps, finite and ``> 0``.
        tau_trace: eligibility-trace time constant :math:`\tau_z`, finite and ``> 0``.
        f_pre, f_post: elementwise weight dependences (identity by default).
    """

    _tau_names = ("tau_pre", "tau_post", "tau_trace")

    def __init__(
        self,
        step_mode: str,
        synapse: nn.Linear,
        sn: nn.Module,
        tau_pre: float,
        tau_post: float,
        tau_trace: float,
        f_pre: WeightFn = _identity,
        f_post: WeightFn = _identity,
    ) -> None:
        super().__init__(
            step_mode,
            synapse,
            sn,
            exponential=True,
            f_pre=f_pre,
            f_post=f_post,
            tau_pre=tau_pre,
            tau_post=tau_post,
            tau_trace=tau_trace,
        )
        self.register_memory("trace_e", None)
        self.register_memory("eligibility", None)

    def _layout(self) -> str:
        return "[features] (one unbatched sample)"

    def _spike_ndim(self) -> int:
        return 1

    def _delta_w(
        self, pre: torch.Tensor, post: torch.Tensor, reward: float | torch.Tensor
    ) -> torch.Tensor:
        reward = self._reward(reward)
        if reward.dim() != 0:
            raise ValueError(
                f"{self._who()}: reward must be a number (one sample), got shape "
                f"{tuple(reward.shape)}"
            )
        previous = self._eligibility_step(plasticity.mstdpet_linear_step, pre, post)
        trace_e = self.trace_e
        if trace_e is None:
            trace_e = torch.zeros_like(previous)
        delta_w, self.trace_e = plasticity.mstdpet_reward_step(
            reward, previous, trace_e, tau_trace=self.tau_trace
        )
        return delta_w
