"""Neurons with membrane potential batch normalisation (MPBN).

Guo et al., 2023, "Membrane Potential Batch Normalization for
Spiking Neural Networks", ICCV (arXiv:2308.08359): the charged potential is batch-normalised
per channel before the spike function,

- ``H'[t] = BN(H[t])``, ``S[t] = Θ(H'[t] - V_th)``, ``V[t]`` = reset of ``H'[t]``.

After training, :meth:`MPBNBaseNode.re_parameterize_v_threshold` folds the BN into a
per-channel threshold on the raw potential, ``V~_th = (V_th - beta) sqrt(sigma^2 + eps) /
gamma + mu`` (gamma > 0), which fires exactly when ``BN(H) >= V_th``. Threshold Modulation
(2025, "Threshold Modulation for Online Test-Time Adaptation of Spiking
Neural Networks", arXiv:2505.05375) then re-estimates ``mu, sigma^2`` from test batches
in training mode (optionally as a running average whose momentum decays), and
``normalize_residual`` maps the non-firing potentials back through the BN so that the
folded neuron reproduces the unfolded one step after step.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.base import check_multi_step_input
from snn_core.surrogate import SurrogateFunctionBase
from torch import nn

from snn_neurons._stepping import _check_int, _check_number, _loop_single_steps
from snn_neurons.base_node import BaseNode
from snn_neurons.lif import _check_bool, _check_tau, lif_charge

__all__ = ["MPBNBaseNode", "MPBNLIFNode"]


class MPBNBaseNode(BaseNode):
    """Base class of neurons with membrane potential batch normalisation (MPBN):

    - ``H'[t] = BN(H[t])``, ``S[t] = Θ(H'[t] - V_th)``, ``V[t]`` = reset of ``H'[t]``.

    :meth:`re_parameterize_v_threshold` folds the BN into a per-channel threshold on the raw
    potential, ``V~_th = (V_th - beta) sqrt(sigma^2 + eps) / gamma + mu`` (gamma > 0).

    Subclasses define :meth:`pre_charge` ``(x, v) -> H``; the charge of this class is
    ``BN(pre_charge(x, v))``. Inputs are ``[N, C]`` (``out_features=C``, after a linear
    layer) or ``[N, C, H, W]`` (``out_channels=C``, after a 2D convolution).

    Args:
        mpbn: apply the BN (``False``: identity).
        out_features: number of features ``C`` of ``[N, C]`` inputs.
        out_channels: number of channels ``C`` of ``[N, C, H, W]`` inputs (give exactly one
            of the two).
        learnable_vth: learn a positive per-channel threshold ``exp(a)`` (``a`` starts at 0).
        bn_momentum: momentum of the running statistics after re-parameterisation.
        bn_decay_momentum: factor applied to that momentum after each update.
        bn_min_momentum: lower bound of that momentum.
        Other args as :class:`~snn_neurons.BaseNode`. A soft reset subtracts the threshold
        the potential was compared with.
    """

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
        mpbn: bool = True,
        out_features: int | None = None,
        out_channels: int | None = None,
        learnable_vth: bool = False,
        bn_momentum: float = 0.1,
        bn_decay_momentum: float = 0.94,
        bn_min_momentum: float = 0.005,
    ) -> None:
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )
        owner = type(self).__name__
        if (out_features is None) == (out_channels is None):
            raise ValueError(
                f"{owner}: give exactly one of out_features ([N, C] inputs) or out_channels "
                f"([N, C, H, W] inputs), got out_features={out_features!r}, "
                f"out_channels={out_channels!r}"
            )
        if out_channels is not None:
            self.num_features = _check_int(owner, "out_channels", out_channels)
            self.input_dim = 4
        else:
            self.num_features = _check_int(owner, "out_features", out_features)
            self.input_dim = 2
        self.out_features, self.out_channels = out_features, out_channels
        if _check_bool("mpbn", mpbn):
            bn = nn.BatchNorm2d if self.input_dim == 4 else nn.BatchNorm1d
            self.vbn: nn.Module = bn(self.num_features)
        else:
            self.vbn = nn.Identity()
        self.register_buffer("mu", None)
        self.register_buffer("sigma2", None)
        self.register_parameter("gamma", None)
        self.register_parameter("beta", None)
        self.eps: float | None = None
        self.fold_bn = False
        self.normalize_residual = False
        self.running_stats = False
        self.bn_momentum = _check_number(owner, "bn_momentum", bn_momentum, above=0.0)
        self.bn_decay_momentum = _check_number(owner, "bn_decay_momentum", bn_decay_momentum)
        self.bn_min_momentum = _check_number(owner, "bn_min_momentum", bn_min_momentum)
        self.learnable_vth = _check_bool("learnable_vth", learnable_vth)
        if self.learnable_vth:
            self.a = nn.Parameter(torch.zeros(self.num_features))

    @property
    def supported_backends(self) -> tuple[str, ...]:
        return ("torch",)

    # ---------------------------------------------------------------- dynamics
    def pre_charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The neuron's charge before the BN (defined by subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must define pre_charge(x, v)")

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``BN(pre_charge(x, v))`` (updates the BN statistics in training mode)."""
        return self.vbn(self.pre_charge(x, v))

    def _channel(self, value: Any, like: torch.Tensor) -> torch.Tensor:
        """A number or a per-channel ``[C]`` tensor, shaped to broadcast over ``like``."""
        value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
        if value.dim() == 0:
            return value
        return value.view(1, -1, *([1] * (like.dim() - 2)))

    def threshold(
        self, like: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """The threshold the potential is compared with (folded, learnable or ``v_threshold``).

        ``stats``: the folded ``(mu, sigma^2)`` to use instead of the module's.
        """
        if self.fold_bn and not self.learnable_vth:
            mu, sigma2 = (self.mu, self.sigma2) if stats is None else stats
            g, b = self._channel(self.gamma, like), self._channel(self.beta, like)
            mu, var = self._channel(mu, like), self._channel(sigma2, like)
            vth = self._channel(self.v_threshold, like)
            return (vth - b) * torch.sqrt(var + self.eps) / g + mu
        if self.learnable_vth:
            return self._channel(torch.exp(self.a), like)
        return self._channel(self.v_threshold, like)

    def fire(self, h: torch.Tensor) -> torch.Tensor:
        return self.surrogate_function(h - self.threshold(h))

    def reset_potential(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return self._reset(h, s, self.threshold(h))

    def _reset(self, h: torch.Tensor, s: torch.Tensor, vth: torch.Tensor) -> torch.Tensor:
        """Soft reset ``H - S V_th`` (``v_reset=None``) or hard reset ``H (1 - S) + V_reset S``."""
        if self.v_reset is None:
            return h - s * vth
        return h * (1.0 - s) + self.v_reset * s

    def _normalized(
        self, h: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """``(H - mu) / sqrt(sigma^2 + eps) gamma + beta`` with the folded statistics (the
        module's, or ``stats = (mu, sigma^2)``)."""
        mu, sigma2 = (self.mu, self.sigma2) if stats is None else stats
        mu, var = self._channel(mu, h), self._channel(sigma2, h)
        g, b = self._channel(self.gamma, h), self._channel(self.beta, h)
        return (h - mu) / torch.sqrt(var + self.eps) * g + b

    def _updated_stats(
        self, v: torch.Tensor, mu: torch.Tensor, sigma2: torch.Tensor, momentum: float
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Pure form of :meth:`compute_running_stats`: the new ``(mu, sigma^2, momentum)``."""
        if v.dim() == 2 and v.shape[0] == 1:
            return mu, sigma2, momentum
        dims = 0 if v.dim() == 2 else (0, 2, 3)
        batch_mu = v.mean(dim=dims).detach()
        batch_var = v.var(dim=dims, unbiased=True).detach()
        if self.running_stats and mu is not None:
            new_mu = mu * (1.0 - momentum) + batch_mu * momentum
            new_var = sigma2 * (1.0 - momentum) + batch_var * momentum
            return new_mu, new_var, max(momentum * self.bn_decay_momentum, self.bn_min_momentum)
        return batch_mu, batch_var, momentum

    def compute_running_stats(self, v: torch.Tensor) -> None:
        """Re-estimate ``mu, sigma^2`` of the folded threshold from the batch ``v``."""
        self.mu, self.sigma2, self.bn_momentum = self._updated_stats(
            v, self.mu, self.sigma2, self.bn_momentum
        )

    # ---------------------------------------------------------------- forward
    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != self.input_dim or x.shape[1] != self.num_features:
            shape = "[N, C]" if self.input_dim == 2 else "[N, C, H, W]"
            raise ValueError(
                f"{type(self).__name__}: input must be {shape} with C={self.num_features} per "
                f"step, got shape {tuple(x.shape)}"
            )

    def neuronal_charge(self, x: torch.Tensor) -> None:
        """Charge in place, ``self.v <- BN(H[t])``; after re-parameterisation, in training
        mode, also re-estimates the folded ``mu, sigma^2`` from the batch."""
        self.v = self.charge(x, self.v)
        if self.fold_bn and not self.learnable_vth and self.training:
            self.compute_running_stats(self.v)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        self.init_memory_like("v", x)
        self.neuronal_charge(x)
        spike = self.neuronal_fire()
        if self.normalize_residual:
            self.v = torch.where(spike.detach() > 0, self.v, self._normalized(self.v))
        self.neuronal_reset(spike)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return _loop_single_steps(self, x_seq)

    # ---------------------------------------------------------------- functional forward
    def _pure_bn(self, h: torch.Tensor) -> torch.Tensor:
        """``vbn(h)`` without updating its running statistics (they only enter the output
        in eval mode, where the stateful forward does not update them either)."""
        bn = self.vbn
        if not isinstance(bn, nn.modules.batchnorm._BatchNorm):
            return bn(h)
        batch = bn.training or bn.running_mean is None
        mean, var = (None, None) if batch else (bn.running_mean, bn.running_var)
        return nn.functional.batch_norm(h, mean, var, bn.weight, bn.bias, batch, 0.0, bn.eps)

    def _functional_step(
        self, x: torch.Tensor, v: torch.Tensor, stats: tuple[Any, Any, float]
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[Any, Any, float]]:
        """One step of the stateful forward as a pure function of ``(x, v)`` and the folded
        statistics ``stats = (mu, sigma^2, momentum)``; returns ``(spike, v, stats)``."""
        self._check_input(x)
        h = self._pure_bn(self.pre_charge(x, v))
        if self.fold_bn and not self.learnable_vth and self.training:
            stats = self._updated_stats(h, *stats)
        vth = self.threshold(h, stats[:2])
        spike = self.surrogate_function(h - vth)
        if self.normalize_residual:
            h = torch.where(spike.detach() > 0, h, self._normalized(h, stats[:2]))
        v = self._reset(h, spike.detach() if self.detach_reset else spike, vth)
        return spike, v, stats

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``((X[t],), (V[t-1],)) -> ((S[t],), (V[t],))``; the module, its BN running
        statistics and its folded ``mu, sigma^2`` are left unchanged."""
        stats = (self.mu, self.sigma2, self.bn_momentum)
        spike, v, _ = self._functional_step(inputs[0], states[0], stats)
        return (spike,), (v,)

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """All T steps as a pure function; the folded statistics re-estimated in training
        mode are carried from step to step inside the call (as the stateful forward does)
        but not stored."""
        x_seq = inputs[0]
        check_multi_step_input(x_seq)
        v, stats = states[0], (self.mu, self.sigma2, self.bn_momentum)
        spikes = []
        for t in range(x_seq.shape[0]):
            spike, v, stats = self._functional_step(x_seq[t], v, stats)
            spikes.append(spike)
        return (torch.stack(spikes),), (v,)

    def loop_multi_step(self, x_seq, v, need_v_seq):  # type: ignore[override]
        # BaseNode's loop would bypass the per-step input checks and statistics updates.
        raise NotImplementedError(f"{type(self).__name__}: call forward / multi_step_forward")

    def re_parameterize_v_threshold(
        self, normalize_residual: bool = False, running_stats: bool = False
    ) -> None:
        """Fold the BN into the threshold (see the module docstring); no-op without BN.

        Args:
            normalize_residual: map non-firing potentials back through the BN.
            running_stats: re-estimate ``mu, sigma^2`` as a running average (training mode)
                instead of from each batch alone.
        """
        if isinstance(self.vbn, nn.Identity):
            return
        bn = self.vbn
        self.fold_bn = True
        if self.learnable_vth:
            self.v_threshold = torch.exp(self.a.detach())
            del self.a
            self.learnable_vth = False
        self.normalize_residual = _check_bool("normalize_residual", normalize_residual)
        self.running_stats = _check_bool("running_stats", running_stats)
        self.mu = bn.running_mean.detach().clone()
        self.sigma2 = bn.running_var.detach().clone()
        self.gamma = bn.weight
        self.beta = bn.bias
        self.eps = bn.eps
        self.vbn = nn.Identity()

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, num_features={self.num_features}, "
            f"learnable_vth={self.learnable_vth}, fold_bn={self.fold_bn}"
        )


class MPBNLIFNode(MPBNBaseNode):
    """LIF neuron with MPBN: ``H'[t] = BN(H[t])`` with the LIF charge ``H[t]``.

    Args:
        tau: membrane time constant (> 1).
        decay_input: whether the input is also divided by ``tau`` (default ``False``).
        Other args as :class:`MPBNBaseNode`.
    """

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = False,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "torch",
        store_v_seq: bool = False,
        mpbn: bool = True,
        out_features: int | None = None,
        out_channels: int | None = None,
        learnable_vth: bool = False,
        bn_momentum: float = 0.1,
        bn_decay_momentum: float = 0.94,
        bn_min_momentum: float = 0.005,
    ) -> None:
        super().__init__(
            v_threshold,
            v_reset,
            surrogate_function,
            detach_reset,
            step_mode,
            backend,
            store_v_seq,
            mpbn,
            out_features,
            out_channels,
            learnable_vth,
            bn_momentum,
            bn_decay_momentum,
            bn_min_momentum,
        )
        self.tau = _check_tau("tau", tau)
        self.decay_input = _check_bool("decay_input", decay_input)

    def pre_charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return lif_charge(x, v, 1.0 / self.tau, self.decay_input, self.v_reset)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}, decay_input={self.decay_input}"
