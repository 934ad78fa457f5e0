r"""Spike-timing-dependent plasticity (STDP) of a Linear, Conv1d or Conv2d synapse."""

from __future__ import annotations

import torch
from torch import nn

from snn_layers.learning._learner import Synapse, WeightFn, _identity, _Learner, _stdp_rule_for


class STDPLearner(_Learner):
    r"""Trace-based STDP for the weight of ``synapse``, from the spikes it sees and ``sn`` emits.

    Per time step, with pre-synaptic spikes :math:`s_{pre}` (the synapse's input, padded as
    a convolution pads it) and post-synaptic spikes :math:`s_{post}` (the output of ``sn``):

    .. math::
        tr_{pre}[t] = tr_{pre}[t-1] - \frac{tr_{pre}[t-1]}{\tau_{pre}} + s_{pre}[t], \qquad
        tr_{post}[t] = tr_{post}[t-1] - \frac{tr_{post}[t-1]}{\tau_{post}} + s_{post}[t]

    .. math::
        \Delta W_{ij} = f_{post}(W_{ij})\, tr_{pre,j}[t]\, s_{post,i}[t]
                      - f_{pre}(W_{ij})\, tr_{post,i}[t]\, s_{pre,j}[t]

    summed over the batch, over every (input, output) position pair a convolution tap links,
    and over all pending steps (Bi & Poo 1998; trace form of Morrison, Diesmann & Gerstner,
    Biol. Cybern. 2008). The steps are :func:`snn_core.functional.stdp_linear_step`,
    :func:`~snn_core.functional.stdp_conv1d_step` and
    :func:`~snn_core.functional.stdp_conv2d_step`. Multi-step records accumulate over T with
    the weight held fixed. Only ``weight`` learns, never ``bias``.

    Args:
        step_mode: ``'s'`` (records ``[N, *]``) or ``'m'`` (records ``[T, N, *]``).
        synapse: ``torch.nn.Linear`` / ``Conv1d`` / ``Conv2d`` or an ``snn_layers`` wrapper;
            convolutions need ``groups=1`` and ``dilation=1``.
        sn: the module whose output is the synapse's post-synaptic spikes (usually the
            neuron after it).
        tau_pre, tau_post: trace time constants in steps, finite and ``>= 1``.
        f_pre, f_post: elementwise weight dependences of depression and potentiation
            (identity by default), e.g. ``lambda w: w.clamp(-1, 1)``.

    ``step(on_grad=True, scale=1.0)`` consumes the records: ``on_grad=True`` adds
    ``-scale * delta_w`` to ``synapse.weight.grad`` (so ``optimizer.step()`` with SGD adds
    ``lr * scale * delta_w``); ``on_grad=False`` returns ``scale * delta_w``. Traces persist
    until :meth:`reset`.
    """

    def __init__(
        self,
        step_mode: str,
        synapse: Synapse,
        sn: nn.Module,
        tau_pre: float,
        tau_post: float,
        f_pre: WeightFn = _identity,
        f_post: WeightFn = _identity,
    ) -> None:
        super().__init__(
            step_mode,
            synapse,
            sn,
            exponential=False,
            f_pre=f_pre,
            f_post=f_post,
            tau_pre=tau_pre,
            tau_post=tau_post,
        )

    def _single_step(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        """Advance the traces by one time step; the weight change of that step."""
        rule, pre, kwargs = _stdp_rule_for(self.synapse, pre)
        return self._apply(rule, pre, post, **kwargs)

    @torch.no_grad()
    def step(self, on_grad: bool = True, scale: float = 1.0) -> torch.Tensor | None:
        """Learn from the pending records (see the class docstring).

        Returns ``None`` when ``on_grad`` is True or nothing was recorded since the last
        step; raises ``RuntimeError`` if the synapse never ran a forward.
        """
        pending = self._pending()
        if pending is None:
            return None
        delta_w = torch.zeros_like(self.synapse.weight)
        for pre, post in pending:
            if self.step_mode == "m":
                for pre_t, post_t in zip(pre, post):
                    delta_w += self._single_step(pre_t, post_t)
            else:
                delta_w += self._single_step(pre, post)
        return self._finish(delta_w, on_grad, scale)
