r"""Modules for online training through time (OTTT; Xiao et al., "Online Training Through
Time for Spiking Neural Networks", NeurIPS 2022).

OTTT trains one time-step at a time without backpropagating through time. The gradient of
a synaptic weight at step ``t`` uses the presynaptic *trace* instead of the spike:

.. math::
    \nabla_W \mathcal L[t] = \frac{\partial \mathcal L[t]}{\partial u[t]} \, \hat a[t]^T,
    \qquad \hat a[t] = λ \hat a[t-1] + s[t],

where :math:`\hat a` is tracked by the OTTT neuron (``snn_neurons.OTTTLIFNode``), which
in training mode emits the pair ``[spike, trace]``. :class:`OTTTSequential` carries such
pairs through a network: a layer with parameters computes its output from the spike and
its weight gradient from the trace (:class:`GradwithTrace`); a layer without parameters
(pooling, dropout, flatten) is applied to both (:class:`SpikeTraceOp`). Train with
``snn_core.functional.ottt_online_training``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["ReplaceforGrad", "GradwithTrace", "SpikeTraceOp", "OTTTSequential"]


class ReplaceforGrad(torch.autograd.Function):
    """``ReplaceforGrad.apply(x, x_r)``: the value of ``x_r`` with the gradient routed to
    both ``x`` and ``x_r``.

    Forward returns ``x_r``; backward passes the incoming gradient unchanged to ``x`` and to
    ``x_r``. Used to compute a layer's value from one input and its gradient from another.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, x_r: torch.Tensor) -> torch.Tensor:
        if x.shape != x_r.shape:
            raise ValueError(
                f"ReplaceforGrad needs x and x_r of the same shape, got {tuple(x.shape)} and "
                f"{tuple(x_r.shape)}"
            )
        return x_r.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return grad, grad


def _spike_trace(x: Any, owner: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(x, (list, tuple)) or len(x) != 2:
        got = type(x).__name__ if not isinstance(x, (list, tuple)) else f"{len(x)} items"
        raise TypeError(
            f"{owner} expects the pair [spike, trace] emitted by an OTTT neuron in training "
            f"mode, got {got}"
        )
    spike, trace = x
    if not isinstance(spike, torch.Tensor) or not isinstance(trace, torch.Tensor):
        raise TypeError(f"{owner}: spike and trace must be tensors")
    if spike.shape != trace.shape:
        raise ValueError(
            f"{owner}: spike {tuple(spike.shape)} and trace {tuple(trace.shape)} must have "
            f"the same shape"
        )
    return spike, trace


def _grad_with_trace(module: nn.Module, x: Any) -> torch.Tensor:
    spike, trace = _spike_trace(x, "GradwithTrace")
    with torch.no_grad():
        out = module(spike)
    # value: trace; gradient: to both spike and trace
    in_for_grad = ReplaceforGrad.apply(spike, trace)
    out_for_grad = module(in_for_grad)
    # value: module(spike); gradient: through module(trace), i.e. dW = grad ⊗ trace
    return ReplaceforGrad.apply(out_for_grad, out)


def _spike_trace_op(module: nn.Module, x: Any) -> list[torch.Tensor]:
    spike, trace = _spike_trace(x, "SpikeTraceOp")
    spike = module(spike)
    with torch.no_grad():
        trace = module(trace)
    return [spike, trace]


class GradwithTrace(nn.Module):
    r"""Wrap a layer with parameters so that its weight gradient uses the neuron trace.

    ``forward([spike, trace])`` returns ``module(spike)``; in backward, the parameters
    get the gradient of ``module(trace)`` (OTTT's :math:`\nabla_W = δ \hat a^T` for a
    linear layer) and the incoming gradient reaches ``spike`` (and ``trace``) through the
    module evaluated at ``trace``. ``module`` runs twice per call (once without
    gradient), so it should be stateless: a batch-norm layer in training mode would update
    its running statistics twice, a stateful module would advance two steps.

    Args:
        module: the layer to wrap (e.g. ``Conv2d``, ``Linear``).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        return _grad_with_trace(self.module, x)


class SpikeTraceOp(nn.Module):
    """Apply a parameter-free layer (dropout, pooling, flatten) to both spike and trace.

    ``forward([spike, trace])`` returns ``[module(spike), module(trace)]``, the trace
    computed without gradient. ``module`` runs twice per call, so it should be stateless;
    :class:`~snn_layers.Dropout` is fine (its mask, drawn at the first call, is reused).

    Args:
        module: the layer to wrap.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        return _spike_trace_op(self.module, x)


class OTTTSequential(nn.Sequential):
    """A sequential container that carries OTTT's ``[spike, trace]`` pairs.

    Each module receives the previous output. A plain tensor goes through the module as
    is; a ``[spike, trace]`` list (from an OTTT neuron in training mode) goes through
    :class:`GradwithTrace` if the module has parameters, else through
    :class:`SpikeTraceOp`. In evaluation OTTT neurons emit plain spikes, so the container
    acts as :class:`torch.nn.Sequential`. Parameter names are those of ``nn.Sequential``.
    """

    def forward(self, input: Any) -> Any:
        for module in self:
            if not isinstance(input, (list, tuple)):
                input = module(input)
            elif next(module.parameters(), None) is not None:
                input = _grad_with_trace(module, input)
            else:
                input = _spike_trace_op(module, input)
        return input
