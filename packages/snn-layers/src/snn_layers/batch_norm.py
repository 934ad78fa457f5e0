"""Batch-normalization variants for deep SNNs: NeuNorm, tdBN, TEBN, BNTT.

(The plain step-mode wrappers :class:`~snn_layers.BatchNorm2d` etc. live in
:mod:`snn_layers.wrappers`.)

- :class:`NeuNorm` (Wu et al., AAAI 2019): an auxiliary neuron per position subtracts the
  recent mean activity of all channels.
- tdBN, :class:`ThresholdDependentBatchNorm2d` (Zheng et al., AAAI 2021): statistics over
  time and batch, output scaled to :math:`α V_{th}`.
- TEBN, :class:`TemporalEffectiveBatchNorm2d` (Duan et al., NeurIPS 2022): statistics over
  time and batch, then a learnable scale per time-step.
- BNTT, :class:`BatchNormThroughTime2d` (Kim & Panda, Front. Neurosci. 2021): a separate BN
  (statistics and scale, no shift) per time-step.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from snn_core.base import MemoryModule, MultiStepModule
from snn_core.functional import neunorm_step
from snn_core.functional.forward import _input_spec, _shape_error
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from snn_layers._fold import _check_seq_dims, fold_forward

__all__ = [
    "NeuNorm",
    "ThresholdDependentBatchNorm1d",
    "ThresholdDependentBatchNorm2d",
    "ThresholdDependentBatchNorm3d",
    "TemporalEffectiveBatchNormNd",
    "TemporalEffectiveBatchNorm1d",
    "TemporalEffectiveBatchNorm2d",
    "TemporalEffectiveBatchNorm3d",
    "BatchNormThroughTime1d",
    "BatchNormThroughTime2d",
    "BatchNormThroughTime3d",
]

_LAYOUTS = {
    1: ((3, 4), "[T, N, C] or [T, N, C, L]"),
    2: ((5,), "[T, N, C, H, W]"),
    3: ((6,), "[T, N, C, D, H, W]"),
}


_BN_SPECS = {
    1: _input_spec(nn.BatchNorm1d),
    2: _input_spec(nn.BatchNorm2d),
    3: _input_spec(nn.BatchNorm3d),
}


def _check_bn_seq(module: nn.Module, x_seq: Any, nd: int) -> None:
    """Raise unless ``x_seq`` is a multi-step input of a ``nd``-d BN with ``module.num_features``
    channels (checked before folding, so errors show the ``[T, N, *]`` shapes)."""
    spec = _BN_SPECS[nd]
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{type(module).__name__} expects a torch.Tensor x_seq, got {x_seq!r}")
    if not spec.fits(x_seq, module):
        raise _shape_error("", "x", x_seq, spec, module, suffix=" in step_mode='m'")


def _check_T(T: Any) -> int:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T (the number of time-steps) must be a positive int, got {T!r}")
    return T


def _check_step_input(owner: str, x: Any, nd: int) -> None:
    dims = tuple(d - 1 for d in _LAYOUTS[nd][0])
    layout = _LAYOUTS[nd][1].replace("[T, ", "[")
    if not isinstance(x, torch.Tensor) or x.dim() not in dims:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{owner} in step_mode='s' expects x of shape {layout}, got {got}")


# ------------------------------------------------------------------------------ NeuNorm
class NeuNorm(MemoryModule):
    r"""Neuron normalization (NeuNorm) of Wu et al., "Direct Training for Spiking Neural
    Networks: Faster, Larger, Better" (AAAI 2019).

    Placed after the spiking neurons of a convolution layer (``Conv2d -> LIF -> NeuNorm``),
    on spikes ``s[t]`` of shape ``[N, F, H, W]``. An auxiliary neuron at each position
    ``(h, w)`` integrates the activity of all ``F`` channels and is subtracted, weighted:

    .. math::
        x[t] = k\, x[t-1] + \frac{v}{F} \sum_{f} s[t, f], \qquad
        y[t] = s[t] - w \odot x[t],

    with :math:`k = k_{τ2}` (``k``), :math:`v` fixed by :math:`k + vF = 1`
    (so :math:`v/F = (1 - k)/F^2`) and learnable ``w`` of shape ``[F, H, W]``
    (``[1, H, W]`` if ``shared_across_channels``), initialised like a linear weight
    (Kaiming uniform, ``a = sqrt(5)``). State ``x`` starts at 0. Each step is
    :func:`snn_core.functional.neunorm_step`.

    Args:
        in_channels: ``F``, the number of input channels.
        height: ``H`` of the input.
        width: ``W`` of the input.
        k: momentum :math:`k_{τ2} \in [0, 1)`.
        shared_across_channels: share ``w`` over channels (saves memory).
        step_mode: ``'s'`` or ``'m'`` (loops the single step over ``T``).
    """

    def __init__(
        self,
        in_channels: int,
        height: int,
        width: int,
        k: float = 0.9,
        shared_across_channels: bool = False,
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("height", height), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0.0 <= k < 1.0:
            raise ValueError(f"k must be a number in [0, 1), got {k!r}")
        if not isinstance(shared_across_channels, bool):
            raise TypeError(
                f"shared_across_channels must be a bool, got {shared_across_channels!r}"
            )
        self.step_mode = step_mode
        self.in_channels, self.height, self.width = in_channels, height, width
        self.shared_across_channels = shared_across_channels
        self.w = nn.Parameter(
            torch.empty(1 if shared_across_channels else in_channels, height, width)
        )
        nn.init.kaiming_uniform_(self.w, a=math.sqrt(5))
        self.k0 = float(k)
        self.k1 = (1.0 - self.k0) / in_channels**2
        self.register_memory("x", 0.0)

    def single_step_forward(self, in_spikes: torch.Tensor) -> torch.Tensor:
        expected = (self.in_channels, self.height, self.width)
        if (
            not isinstance(in_spikes, torch.Tensor)
            or in_spikes.dim() != 4
            or (tuple(in_spikes.shape[1:]) != expected)
        ):
            got = tuple(in_spikes.shape) if isinstance(in_spikes, torch.Tensor) else in_spikes
            raise ValueError(
                f"NeuNorm expects in_spikes of shape [N, in_channels, height, width] = "
                f"[N, {', '.join(map(str, expected))}], got {got}"
            )
        activity_shape = (in_spikes.shape[0], 1, *in_spikes.shape[2:])
        if isinstance(self.x, torch.Tensor) and self.x.shape != activity_shape:
            raise ValueError(
                f"NeuNorm holds state x of shape {tuple(self.x.shape)} for another batch size; "
                f"got in_spikes {tuple(in_spikes.shape)}; call reset() first"
            )
        y, self.x = neunorm_step(in_spikes, self.x, self.w, self.k0, self.k1)
        return y

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, height={self.height}, width={self.width}, "
            f"k={self.k0}, shared_across_channels={self.shared_across_channels}, "
            f"step_mode={self.step_mode}"
        )


# ------------------------------------------------------------------------------ tdBN
class _ThresholdDependentBatchNormBase(_BatchNorm, MultiStepModule):
    _nd = 2

    def __init__(self, alpha: float, v_th: float, *args: Any, **kwargs: Any) -> None:
        for name, v in (("alpha", alpha), ("v_th", v_th)):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{name} must be a number, got {v!r}")
        super().__init__(*args, **kwargs)
        if not self.affine:
            raise ValueError(
                f"{type(self).__name__} needs affine=True (its weight carries the alpha * v_th "
                f"scale), got affine=False"
            )
        self.step_mode = "m"
        self.alpha = float(alpha)
        self.v_th = float(v_th)
        with torch.no_grad():
            self.weight.fill_(self.alpha * self.v_th)

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() + 1 not in _LAYOUTS[self._nd][0]:
            raise ValueError(
                f"{type(self).__name__} expects x_seq of shape {_LAYOUTS[self._nd][1]}, got "
                f"a folded input of shape {tuple(input.shape)}"
            )

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_bn_seq(self, x_seq, self._nd)
        return fold_forward(super().forward, x_seq)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}, v_th={self.v_th}, step_mode=m"


class ThresholdDependentBatchNorm1d(_ThresholdDependentBatchNormBase):
    r"""tdBN (Zheng et al., AAAI 2021) for ``[T, N, C]`` or ``[T, N, C, L]`` inputs,
    multi-step only:

    .. math::
        y = λ \, \frac{x - E[x]}{\sqrt{\mathrm{Var}[x] + ε}} + β, \qquad
        λ \text{ initialised to } α V_{th},

    with the statistics over time and batch. Args as :class:`ThresholdDependentBatchNorm2d`
    (``*args, **kwargs`` as :class:`torch.nn.BatchNorm1d`).
    """

    _nd = 1


class ThresholdDependentBatchNorm2d(_ThresholdDependentBatchNormBase):
    r"""Threshold-dependent batch normalization (tdBN) of Zheng et al., "Going Deeper With
    Directly-Trained Larger Spiking Neural Networks" (AAAI 2021), multi-step only.

    Statistics are taken over time and batch together (input ``[T, N, C, H, W]``, folded to
    ``[T*N, ...]``), and the normalised pre-activation is brought to the scale of the next
    layer's threshold:

    .. math::
        y = λ \, \frac{x - E[x]}{\sqrt{\mathrm{Var}[x] + ε}} + β, \qquad
        λ \text{ initialised to } α V_{th},

    i.e. the paper's :math:`α V_{th} \hat x` with its learnable :math:`λ, β` folded into
    the BN ``weight`` (initialised to ``alpha * v_th``) and ``bias`` (0), as in the
    reference framework, so state dicts carry over.

    Args:
        alpha: the network-dependent hyper-parameter :math:`α` (1, or
            :math:`1/\sqrt{2}` before a residual addition in the paper).
        v_th: the threshold :math:`V_{th}` of the next spiking layer.
        *args, **kwargs: as :class:`torch.nn.BatchNorm2d` (``affine`` must stay ``True``).
    """

    _nd = 2


class ThresholdDependentBatchNorm3d(_ThresholdDependentBatchNormBase):
    r"""tdBN (Zheng et al., AAAI 2021) for ``[T, N, C, D, H, W]`` inputs, multi-step only:

    .. math::
        y = λ \, \frac{x - E[x]}{\sqrt{\mathrm{Var}[x] + ε}} + β, \qquad
        λ \text{ initialised to } α V_{th},

    with the statistics over time and batch. Args as :class:`ThresholdDependentBatchNorm2d`
    (``*args, **kwargs`` as :class:`torch.nn.BatchNorm3d`).
    """

    _nd = 3


# ------------------------------------------------------------------------------ TEBN
def _flatten_bn_entries(module: nn.Module, state_dict: dict, prefix: str, local_metadata) -> None:
    """State-dict post-hook of TEBN: ``{prefix}bn.X`` -> ``{prefix}X``."""
    inner = prefix + "bn."
    for key in [k for k in state_dict if k.startswith(inner)]:
        state_dict[prefix + key[len(inner) :]] = state_dict.pop(key)


def _nest_bn_entries(module: nn.Module, state_dict: dict, prefix: str) -> None:
    """In place, ``{prefix}X`` -> ``{prefix}bn.X`` for the entries of TEBN's BN."""
    names = [n for n, _ in module.bn.named_parameters(recurse=False)]
    names += [n for n, _ in module.bn.named_buffers(recurse=False)]
    for name in names:
        key = prefix + name
        if key in state_dict and prefix + "bn." + name not in state_dict:
            state_dict[prefix + "bn." + name] = state_dict.pop(key)


class TemporalEffectiveBatchNormNd(MemoryModule):
    r"""Temporal effective batch normalization (TEBN) of Duan et al., "Temporal Effective
    Batch Normalization in Spiking Neural Networks" (NeurIPS 2022).

    A BN whose statistics cover all time-steps and the batch, followed by a learnable
    scale per time-step:

    .. math::
        y[t] = k[t] \, \mathrm{BN}(x)[t], \qquad k \in \mathbb{R}^T \text{ (initialised to 1)}.

    ``'m'`` (the default, as in the reference framework, whose TEBN is multi-step only):
    input ``[T, N, C, *]`` with ``T`` equal to the constructor's ``T``; BN over all ``T*N``
    samples. ``'s'`` (our addition): one step ``[N, C, *]`` at a time; BN over that step's
    batch, scaled by ``k[t]`` where the state ``t`` counts the steps since ``reset()``.
    Parameters: the :attr:`bn_instance` BN (attribute ``bn``) and ``scale`` (``k``). In the
    state dict the BN's entries sit at the top level (``weight``, ``bias``, ``running_mean``,
    ``running_var``, ``num_batches_tracked``, ``scale``), the layout of the reference
    framework's TEBN (a BN subclass); state dicts with ``bn.``-prefixed BN entries load too.
    The BN's attributes read through too (``tebn.weight``, ``tebn.num_features``, ...).

    Args:
        T: the number of time-steps.
        num_features, eps, momentum, affine, track_running_stats, device, dtype: as the
            torch BN.
        step_mode: ``'m'`` (default) or ``'s'``.
    """

    _BN_ATTRS = frozenset(
        {
            "weight",
            "bias",
            "running_mean",
            "running_var",
            "num_batches_tracked",
            "num_features",
            "eps",
            "momentum",
            "affine",
            "track_running_stats",
        }
    )

    bn_instance: type[_BatchNorm] = _BatchNorm
    _nd = 2

    def __init__(
        self,
        T: int,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        step_mode: str = "m",
    ) -> None:
        super().__init__()
        if type(self) is TemporalEffectiveBatchNormNd:
            raise TypeError(
                "TemporalEffectiveBatchNormNd is a base class; use TemporalEffectiveBatchNorm1d, "
                "2d or 3d"
            )
        self.T = _check_T(T)
        self.step_mode = step_mode
        self.bn = self.bn_instance(
            num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype
        )
        self.scale = nn.Parameter(torch.ones(self.T, device=device, dtype=dtype))
        self.register_memory("t", 0)
        self.register_state_dict_post_hook(_flatten_bn_entries)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_step_input(type(self).__name__, x, self._nd)
        if self.t >= self.T:
            raise RuntimeError(
                f"{type(self).__name__} was built for T={self.T} time-steps and has already "
                f"run {self.t}; call reset() (or functional.reset_net) before the next sequence"
            )
        y = self.bn(x) * self.scale[self.t]
        self.t = self.t + 1
        return y

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules") or {}
            if name in TemporalEffectiveBatchNormNd._BN_ATTRS and "bn" in modules:
                return getattr(modules["bn"], name)
            raise

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_bn_seq(self, x_seq, self._nd)
        if x_seq.shape[0] != self.T:
            raise ValueError(
                f"{type(self).__name__} was built for T={self.T} time-steps, got x_seq with "
                f"T={x_seq.shape[0]} (shape {tuple(x_seq.shape)})"
            )
        y_seq = fold_forward(self.bn, x_seq)
        return y_seq * self.scale.view(-1, *([1] * (y_seq.dim() - 1)))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        # before the children load: move the top-level BN entries under ``bn.``
        _nest_bn_entries(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def extra_repr(self) -> str:
        return f"T={self.T}, num_features={self.bn.num_features}, step_mode={self.step_mode}"


class TemporalEffectiveBatchNorm1d(TemporalEffectiveBatchNormNd):
    """TEBN (see :class:`TemporalEffectiveBatchNormNd`) for ``[T, N, C]`` / ``[T, N, C, L]``."""

    bn_instance = nn.BatchNorm1d
    _nd = 1


class TemporalEffectiveBatchNorm2d(TemporalEffectiveBatchNormNd):
    """TEBN (see :class:`TemporalEffectiveBatchNormNd`) for ``[T, N, C, H, W]``."""

    bn_instance = nn.BatchNorm2d
    _nd = 2


class TemporalEffectiveBatchNorm3d(TemporalEffectiveBatchNormNd):
    """TEBN (see :class:`TemporalEffectiveBatchNormNd`) for ``[T, N, C, D, H, W]``."""

    bn_instance = nn.BatchNorm3d
    _nd = 3


# ------------------------------------------------------------------------------ BNTT
class _BatchNormThroughTimeBase(MemoryModule):
    """Shared implementation of :class:`BatchNormThroughTime2d` and its 1d / 3d variants."""

    bn_type: type[_BatchNorm] = _BatchNorm
    _nd = 2

    def __init__(
        self,
        T: int,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        self.T = _check_T(T)
        self.step_mode = step_mode
        self.bn_list = nn.ModuleList(
            self.bn_type(num_features, eps, momentum, affine, track_running_stats)
            for _ in range(self.T)
        )
        for bn in self.bn_list:
            bn.bias = None  # BNTT learns no shift
        self.register_memory("t", 0)
        self.register_state_dict_post_hook(_flatten_bn_entries)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_step_input(type(self).__name__, x, self._nd)
        if self.t >= self.T:
            raise RuntimeError(
                f"{type(self).__name__} was built for T={self.T} time-steps and has already "
                f"run {self.t}; call reset() (or functional.reset_net) before the next sequence"
            )
        y = self.bn_list[self.t](x)
        self.t = self.t + 1
        return y

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        dims, layout = _LAYOUTS[self._nd]
        _check_seq_dims(type(self).__name__, x_seq, dims, layout)
        if self.t + x_seq.shape[0] > self.T:
            raise ValueError(
                f"{type(self).__name__} was built for T={self.T} time-steps; it has run "
                f"{self.t} and got {x_seq.shape[0]} more (x_seq shape {tuple(x_seq.shape)})"
            )
        return super().multi_step_forward(x_seq)

    def extra_repr(self) -> str:
        return f"T={self.T}, step_mode={self.step_mode}"


class BatchNormThroughTime1d(_BatchNormThroughTimeBase):
    r"""BNTT (Kim & Panda, Front. Neurosci. 2021) for steps ``[N, C]`` or ``[N, C, L]``: one
    BN per time-step, with its own statistics and scale and no shift,

    .. math::
        y[t] = γ_t \, \frac{x[t] - μ_t}{\sqrt{σ_t^2 + ε}}.

    Args as :class:`BatchNormThroughTime2d`.
    """

    bn_type = nn.BatchNorm1d
    _nd = 1


class BatchNormThroughTime2d(_BatchNormThroughTimeBase):
    r"""Batch normalization through time (BNTT) of Kim & Panda, "Revisiting Batch
    Normalization for Training Low-Latency Deep Spiking Neural Networks From Scratch"
    (Front. Neurosci. 2021).

    One BN per time-step, each with its own statistics (batch and running) and its own
    scale :math:`γ_t`, and no shift:

    .. math::
        y[t] = γ_t \, \frac{x[t] - μ_t}{\sqrt{σ_t^2 + ε}}.

    The state ``t`` counts the steps since ``reset()`` and picks ``bn_list[t]``; ``'m'``
    runs the steps in order, so it equals the single-step loop. Parameters:
    ``bn_list.{t}.weight`` (and buffers ``bn_list.{t}.running_mean`` / ``running_var``).

    Args:
        T: the number of time-steps.
        num_features, eps, momentum, affine, track_running_stats: as the torch BN.
        step_mode: ``'s'`` or ``'m'``.
    """

    bn_type = nn.BatchNorm2d
    _nd = 2


class BatchNormThroughTime3d(_BatchNormThroughTimeBase):
    r"""BNTT (Kim & Panda, Front. Neurosci. 2021) for steps ``[N, C, D, H, W]``: one BN per
    time-step, with its own statistics and scale and no shift,

    .. math::
        y[t] = γ_t \, \frac{x[t] - μ_t}{\sqrt{σ_t^2 + ε}}.

    Args as :class:`BatchNormThroughTime2d`.
    """

    bn_type = nn.BatchNorm3d
    _nd = 3
