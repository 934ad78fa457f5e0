"""NIR nodes with per-neuron (tensor) parameters, run as forward-Euler steps of length ``dt``.

:func:`~snn_layers.nir.import_from_nir` maps a NIR neuron onto this package's neurons
(``LIFNode``, ``IFNode``, ...) when its parameters are uniform and fit their dynamics
exactly; every other neuron node becomes one of the modules here. Each holds the Euler
coefficients of its ODE as buffers shaped like one sample (broadcast over the batch), and
runs in either step mode (``'m'`` loops the single step over ``T``).

With ``a = dt / tau`` (per neuron), one step of length ``dt`` is:

- LIF: ``H = V + a (v_leak - V + r X)``;
- IF: ``H = V + dt r X``;
- CubaLIF: ``I = I + a_syn (w_in X - I)``, then ``H = V + a_mem (v_leak - V + r I)`` with
  the current of the same step;
- LI / CubaLI / I: as above, the output being the potential (no fire, no reset);

then ``S = Θ(H - v_threshold)`` (``Θ(0) = 1``, with a surrogate gradient) and the reset
``V = v_reset`` where ``S = 1`` (``V = H - v_threshold S`` for the subtractive reset).
Spiking neurons start from ``V = v_reset`` (0 with the subtractive reset), leaky
integrators from ``V = v_leak``, currents from 0.
"""

from __future__ import annotations

import numpy as np
import torch
from snn_core import surrogate
from snn_core.base import MemoryModule, check_multi_step_input
from torch import nn

__all__: list[str] = []


def _buffer(value: np.ndarray | float) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=torch.get_default_dtype())


class _EulerNode(MemoryModule):
    """Common plumbing: per-neuron buffers, state shaped like the input, step modes."""

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__()
        self.step_mode = step_mode

    def _param(self, name: str, value: np.ndarray | float) -> None:
        self.register_buffer(name, _buffer(value))

    def extra_repr(self) -> str:
        shapes = {tuple(b.shape) for b in self.buffers(recurse=False)}
        soft = ", soft_reset=True" if getattr(self, "soft_reset", False) else ""
        return f"neurons={sorted(shapes)[-1] if shapes else ()}{soft}, step_mode={self.step_mode}"

    def _state(self, name: str, x: torch.Tensor, fill: torch.Tensor | float) -> torch.Tensor:
        value = getattr(self, name)
        if value is None:
            value = torch.zeros_like(x) + fill
            setattr(self, name, value)
        elif value.shape != x.shape:
            raise ValueError(
                f"{type(self).__name__}.{name} holds state of shape {tuple(value.shape)} from an "
                f"earlier input, but the new input has shape {tuple(x.shape)}; call reset() (or "
                f"functional.reset_net(net)) before feeding a batch of another shape"
            )
        return value

    def _cuba_init(self, tau_syn, tau_mem, r, v_leak, w_in, dt) -> None:
        """The CubaLIF / CubaLI coefficients and the current ``I`` (from 0)."""
        self._param("syn_decay", dt / np.asarray(tau_syn, dtype=np.float64))
        self._param("mem_decay", dt / np.asarray(tau_mem, dtype=np.float64))
        self._param("r", r)
        self._param("v_leak", v_leak)
        self._param("w_in", w_in)
        self.register_memory("i", None)

    def _cuba_charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``I = I + a_syn (w_in X - I)`` (kept), then ``V + a_mem (v_leak - V + r I)``."""
        i = self._state("i", x, 0.0)
        self.i = i + self.syn_decay * (self.w_in * x - i)
        return v + self.mem_decay * (self.v_leak - v + self.r * self.i)


class _SpikingEulerNode(_EulerNode):
    """Fire ``Θ(H - v_threshold)`` and reset to ``v_reset`` (or subtract the threshold)."""

    def __init__(
        self, v_threshold: np.ndarray, v_reset: np.ndarray, soft_reset: bool, step_mode: str
    ) -> None:
        super().__init__(step_mode)
        self._param("v_threshold", v_threshold)
        self._param("v_reset", v_reset)
        self.soft_reset = bool(soft_reset)
        self.surrogate_function = surrogate.Sigmoid()
        self.register_memory("v", None)

    def _v0(self) -> torch.Tensor | float:
        return 0.0 if self.soft_reset else self.v_reset

    def fire_and_reset(self, h: torch.Tensor) -> torch.Tensor:
        spike = self.surrogate_function(h - self.v_threshold)
        if self.soft_reset:
            self.v = h - self.v_threshold * spike
        else:
            self.v = h * (1.0 - spike) + self.v_reset * spike
        return spike


class NIRLIF(_SpikingEulerNode):
    """NIR ``LIF`` (``tau dv/dt = (v_leak - v) + r I``): ``H = V + (dt/tau) (v_leak - V + r X)``."""

    def __init__(self, tau, r, v_leak, v_threshold, v_reset, dt, soft_reset=False, step_mode="s"):
        super().__init__(v_threshold, v_reset, soft_reset, step_mode)
        self._param("decay", dt / np.asarray(tau, dtype=np.float64))
        self._param("r", r)
        self._param("v_leak", v_leak)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self._state("v", x, self._v0())
        return self.fire_and_reset(v + self.decay * (self.v_leak - v + self.r * x))


class NIRIF(_SpikingEulerNode):
    """NIR ``IF`` (``dv/dt = r I``): ``H = V + dt r X``."""

    def __init__(self, r, v_threshold, v_reset, dt, soft_reset=False, step_mode="s"):
        super().__init__(v_threshold, v_reset, soft_reset, step_mode)
        self._param("gain", dt * np.asarray(r, dtype=np.float64))

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self._state("v", x, self._v0())
        return self.fire_and_reset(v + self.gain * x)


class NIRCubaLIF(_SpikingEulerNode):
    """NIR ``CubaLIF``: ``I = I + (dt/tau_syn) (w_in X - I)``, then
    ``H = V + (dt/tau_mem) (v_leak - V + r I)`` with the new current."""

    def __init__(
        self,
        tau_syn,
        tau_mem,
        r,
        v_leak,
        v_threshold,
        v_reset,
        w_in,
        dt,
        soft_reset=False,
        step_mode="s",
    ):
        super().__init__(v_threshold, v_reset, soft_reset, step_mode)
        self._cuba_init(tau_syn, tau_mem, r, v_leak, w_in, dt)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fire_and_reset(self._cuba_charge(x, self._state("v", x, self._v0())))


class NIRLI(_EulerNode):
    """NIR ``LI`` readout: ``V = V + (dt/tau) (v_leak - V + r X)``, output ``V``."""

    def __init__(self, tau, r, v_leak, dt, step_mode="s"):
        super().__init__(step_mode)
        self._param("decay", dt / np.asarray(tau, dtype=np.float64))
        self._param("r", r)
        self._param("v_leak", v_leak)
        self.register_memory("v", None)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self._state("v", x, self.v_leak)
        self.v = v + self.decay * (self.v_leak - v + self.r * x)
        return self.v


class NIRCubaLI(_EulerNode):
    """NIR ``CubaLI`` readout: the CubaLIF current and potential, output ``V``."""

    def __init__(self, tau_syn, tau_mem, r, v_leak, w_in, dt, step_mode="s"):
        super().__init__(step_mode)
        self._cuba_init(tau_syn, tau_mem, r, v_leak, w_in, dt)
        self.register_memory("v", None)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.v = self._cuba_charge(x, self._state("v", x, self.v_leak))
        return self.v


class NIRIntegrator(_EulerNode):
    """NIR ``I`` (``dv/dt = r I``): ``V = V + dt r X``, output ``V``."""

    def __init__(self, r, dt, step_mode="s"):
        super().__init__(step_mode)
        self._param("gain", dt * np.asarray(r, dtype=np.float64))
        self.register_memory("v", None)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.v = self._state("v", x, 0.0) + self.gain * x
        return self.v


class NIRDelay(_EulerNode):
    """NIR ``Delay`` with a delay per element: ``y[t] = x[t - d]`` (0 before the start),
    ``d = delay / dt`` steps."""

    def __init__(self, steps: np.ndarray, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        self.register_buffer("steps", torch.as_tensor(np.asarray(steps, dtype=np.int64)))
        self.max_steps = int(self.steps.max()) if self.steps.numel() else 0
        self.register_memory("history", None)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        past = self.history
        if past is None:
            past = x.new_zeros((self.max_steps, *x.shape))
        elif past.shape[1:] != x.shape:
            raise ValueError(
                f"NIRDelay holds inputs of shape {tuple(past.shape[1:])} from an earlier call, "
                f"but the new input has shape {tuple(x.shape)}; call reset() first"
            )
        window = torch.cat((x.unsqueeze(0), past))  # window[k] = x[t - k]
        index = self.steps.expand_as(x).unsqueeze(0)
        self.history = window[: self.max_steps]
        return window.gather(0, index).squeeze(0)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq, min_dim=1)
        return torch.stack([self.single_step_forward(x) for x in x_seq])


class NIRScale(nn.Module):
    """NIR ``Scale``: ``y = x * scale`` (stateless, any step mode)."""

    def __init__(self, scale: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("scale", _buffer(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class NIRThreshold(nn.Module):
    """NIR ``Threshold``: ``y = Θ(x - threshold)`` (``Θ(0) = 1``, surrogate gradient)."""

    def __init__(self, threshold: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("threshold", _buffer(threshold))
        self.surrogate_function = surrogate.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.surrogate_function(x - self.threshold)
