r"""Activation-aware IF neuron for ANN-to-SNN conversion with channel-wise thresholds and
membrane offsets (activation-aware redistribution).

.. math::
    H[t] = V[t-1] + X[t], \quad S[t] = \Theta(H[t] + O - V_{th}),

soft reset ``V[t] = H[t] - S[t] V_th`` or hard reset ``V[t] = S[t] V_reset + (1 - S[t]) H[t]``.
The dynamics are :func:`snn_core.functional.activation_aware_if_step` and, for inference,
:func:`snn_core.functional.activation_aware_if_multi_step`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from snn_core.base import MemoryModule, check_multi_step_input
from snn_core.functional import activation_aware_if_multi_step, activation_aware_if_step
from snn_core.surrogate import Sigmoid, SurrogateFunctionBase

from snn_neurons.base_node import states_like_step

__all__ = ["ActivationAwareIFNode"]


def _parameter(name: str, value: float | torch.Tensor, positive: bool) -> torch.Tensor:
    tensor = torch.as_tensor(value).detach().clone()
    if tensor.dim() > 1:
        raise ValueError(
            f"ActivationAwareIFNode: {name} must be a scalar or a 1-D tensor, "
            f"got shape {tuple(tensor.shape)}"
        )
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    if not torch.isfinite(tensor).all() or (positive and not (tensor > 0).all()):
        allowed = "finite positive" if positive else "finite"
        raise ValueError(f"ActivationAwareIFNode: {name} must hold {allowed} values, got {value!r}")
    return tensor


class ActivationAwareIFNode(MemoryModule):
    r"""IF neuron with a scalar or channel-wise threshold ``V_th`` and membrane offset ``O``.

    .. math::
        H[t] = V[t-1] + X[t], \quad S[t] = \Theta(H[t] + O - V_{th})

    then soft reset ``V[t] = H[t] - S[t] V_th`` (``v_reset=None``) or hard reset
    ``V[t] = S[t] V_reset + (1 - S[t]) H[t]``. A 1-D ``v_threshold`` / ``v_offset`` has one
    value per channel of the input dimension ``channel_dim`` (of a single step ``[N, *]``).
    Both are buffers. In multi-step mode without autograd (and a spiking surrogate with the
    Heaviside forward) the inference transition
    :func:`~snn_core.functional.activation_aware_if_multi_step` runs, with states in at least
    float32; otherwise the single step is looped.

    Args:
        v_threshold: finite positive scalar or 1-D tensor.
        v_offset: finite scalar or 1-D tensor.
        channel_dim: the channel dimension of a single-step input for 1-D parameters.
        v_reset: hard-reset voltage (also the initial ``v``); ``None``: soft reset from 0.
        surrogate_function: spike function (default ``Sigmoid()``).
        detach_reset: detach the spike in the reset.
        step_mode: ``'s'`` or ``'m'``.
        store_v_seq: keep ``v_seq`` (``[T, N, *]``) after a multi-step forward.
    """

    def __init__(
        self,
        v_threshold: float | torch.Tensor = 1.0,
        v_offset: float | torch.Tensor = 0.0,
        channel_dim: int = -1,
        v_reset: float | None = None,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__()
        if v_reset is not None and (isinstance(v_reset, bool) or not isinstance(v_reset, float)):
            raise ValueError(
                f"ActivationAwareIFNode: v_reset must be a float or None, got {v_reset!r}"
            )
        for name, flag in (("detach_reset", detach_reset), ("store_v_seq", store_v_seq)):
            if not isinstance(flag, bool):
                raise ValueError(f"ActivationAwareIFNode: {name} must be a bool, got {flag!r}")
        if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
            raise ValueError(
                f"ActivationAwareIFNode: channel_dim must be an int, got {channel_dim!r}"
            )
        if surrogate_function is None:
            surrogate_function = Sigmoid()
        if not isinstance(surrogate_function, SurrogateFunctionBase):
            raise TypeError(
                "ActivationAwareIFNode: surrogate_function must be a "
                f"snn_core.surrogate.SurrogateFunctionBase, got {surrogate_function!r}"
            )
        self.register_buffer("v_threshold", _parameter("v_threshold", v_threshold, True))
        self.register_buffer("v_offset", _parameter("v_offset", v_offset, False))
        self.channel_dim = channel_dim
        self.v_reset = v_reset
        self.detach_reset = detach_reset
        self.surrogate_function = surrogate_function
        self.register_memory("v", 0.0 if v_reset is None else v_reset)
        self.store_v_seq = store_v_seq
        self.step_mode = step_mode

    @property
    def store_v_seq(self) -> bool:
        """Keep ``v_seq`` after a multi-step forward; setting it clears ``v_seq``."""
        return self._store_v_seq

    @store_v_seq.setter
    def store_v_seq(self, value: bool) -> None:
        self._store_v_seq = value
        self.v_seq: torch.Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self.v_seq = None

    def _canonical_channel_dim(self, x: torch.Tensor) -> int:
        dim = self.channel_dim + x.dim() if self.channel_dim < 0 else self.channel_dim
        if not 0 <= dim < x.dim():
            raise ValueError(
                f"ActivationAwareIFNode: channel_dim={self.channel_dim} is out of range for an "
                f"input with {x.dim()} dimensions"
            )
        return dim

    def _broadcast_parameter(self, param: torch.Tensor, x: torch.Tensor, name: str) -> torch.Tensor:
        """``param`` (scalar or per channel) shaped to broadcast against the step input ``x``."""
        param = param.to(device=x.device, dtype=x.dtype)
        if param.dim() == 0:
            return param
        dim = self._canonical_channel_dim(x)
        if param.numel() != x.shape[dim]:
            raise ValueError(
                f"ActivationAwareIFNode: {name} has {param.numel()} values but the input of "
                f"shape {tuple(x.shape)} has {x.shape[dim]} channels at "
                f"channel_dim={self.channel_dim}"
            )
        shape = [1] * x.dim()
        shape[dim] = param.numel()
        return param.view(shape)

    def materialize_states(
        self, inputs: tuple[Any, ...], states: tuple[Any, ...], step_mode: str
    ) -> tuple[Any, ...]:
        return states_like_step(self, inputs, states, step_mode)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        x = inputs[0]
        spike, v = activation_aware_if_step(
            x,
            states[0],
            self._broadcast_parameter(self.v_threshold, x, "v_threshold"),
            self._broadcast_parameter(self.v_offset, x, "v_offset"),
            self.v_reset,
            self.surrogate_function,
            self.detach_reset,
        )
        return (spike,), (v,)

    def _inference_ok(self, x_seq: torch.Tensor, v: torch.Tensor) -> bool:
        sg = self.surrogate_function
        tensors = (x_seq, v, self.v_threshold, self.v_offset)
        return (
            sg.spiking
            and type(sg).spike_forward is SurrogateFunctionBase.spike_forward
            and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))
        )

    def _channel_layout(self, x_seq: torch.Tensor) -> tuple[int, int]:
        if self.v_threshold.dim() == 0 and self.v_offset.dim() == 0:
            return 1, x_seq[0].numel()
        x = x_seq[0]
        for name in ("v_threshold", "v_offset"):  # validates lengths against the input
            self._broadcast_parameter(getattr(self, name), x, name)
        dim = self._canonical_channel_dim(x)
        return x.shape[dim], math.prod(x.shape[dim + 1 :])

    def _sequence(
        self, x_seq: torch.Tensor, v: torch.Tensor, need_v_seq: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """All steps from ``v``: the inference transition where it applies, else the loop."""
        if self._inference_ok(x_seq, v):
            channels, inner = self._channel_layout(x_seq)
            return activation_aware_if_multi_step(
                x_seq,
                v,
                self.v_threshold,
                self.v_offset,
                channels,
                inner,
                self.v_reset,
                need_v_seq,
            )
        spikes, voltages, states = [], [], (v,)
        for t in range(x_seq.shape[0]):
            (spike,), states = self.single_step_functional_forward((x_seq[t],), states)
            spikes.append(spike)
            voltages.append(states[0])
        return torch.stack(spikes), states[0], (torch.stack(voltages) if need_v_seq else None)

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor], tuple[Any, ...]]:
        check_multi_step_input(inputs[0])
        spike_seq, v, _ = self._sequence(inputs[0], states[0], False)
        return (spike_seq,), (v,)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq)
        (v,) = self.materialize_states((x_seq,), (self.v,), "m")
        spike_seq, self.v, v_seq = self._sequence(x_seq, v, self.store_v_seq)
        self.v_seq = v_seq
        return spike_seq

    def extra_repr(self) -> str:
        return (
            f"v_threshold_shape={tuple(self.v_threshold.shape)}, "
            f"v_offset_shape={tuple(self.v_offset.shape)}, channel_dim={self.channel_dim}, "
            f"v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
            f"step_mode={self.step_mode}"
        )
