"""Dropout for SNNs: one mask per simulation, and DropConnect.

In an SNN one training iteration runs the network for ``T`` steps. Drawing a new dropout
mask at every step would average the dropout out over time; :class:`Dropout` and
:class:`Dropout2d` therefore draw the mask at the first step and keep it for all steps
until ``reset()`` (Lee et al., "Enabling Spike-Based Backpropagation for Training Deep
Neural Network Architectures", Front. Neurosci. 2020).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from snn_core.base import MemoryModule, check_multi_step_input
from torch import nn

__all__ = ["Dropout", "Dropout2d", "DropConnectLinear"]


def _check_p(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"p (the drop probability) must be a number in [0, 1), got {p!r}")
    return float(p)


class Dropout(MemoryModule):
    r"""Dropout whose mask is fixed over all time-steps until ``reset()``.

    In training, at the first step after ``reset()`` a mask ``m`` of the step's shape
    ``[N, *]`` is drawn, with entries :math:`0` (probability ``p``) or :math:`1/(1-p)`;
    every step then returns ``x[t] * m``. In ``'m'`` mode the mask is drawn from
    ``x_seq[0]`` and applied to all ``T`` steps. In evaluation the layer is the identity.

    Args:
        p: probability of an element to be zeroed, in ``[0, 1)``.
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(self, p: float = 0.5, step_mode: str = "s") -> None:
        super().__init__()
        self.p = _check_p(p)
        self.step_mode = step_mode
        self.register_memory("mask", None)

    def extra_repr(self) -> str:
        return f"p={self.p}, step_mode={self.step_mode}"

    def create_mask(self, x: torch.Tensor) -> None:
        """Draw ``self.mask`` for one step ``x`` ``[N, *]``."""
        self.mask = F.dropout(torch.ones_like(x), self.p, training=True)

    def _apply_mask(self, x: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        if self.mask is None:
            self.create_mask(step)
        elif not _mask_fits(self.mask, step):
            raise ValueError(
                f"{type(self).__name__} holds a mask of shape {tuple(self.mask.shape)} drawn for "
                f"an earlier input, but a step of the new input has shape {tuple(step.shape)}; "
                f"call reset() (or functional.reset_net) before a batch of another shape"
            )
        return x * self.mask

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return self._apply_mask(x, x)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq)
        if not self.training or self.p == 0.0:
            return x_seq
        return self._apply_mask(x_seq, x_seq[0])


def _mask_fits(mask: torch.Tensor, step: torch.Tensor) -> bool:
    """A mask fits a step if it has the step's shape, or broadcasts over the trailing
    (spatial) dimensions where it has size 1 (the channel masks of :class:`Dropout2d`)."""
    if mask.dim() != step.dim():
        return False
    return all(
        m == s or (i >= 2 and m == 1) for i, (m, s) in enumerate(zip(mask.shape, step.shape))
    )


class Dropout2d(Dropout):
    r"""Channel dropout whose mask is fixed over all time-steps until ``reset()``.

    Like :class:`torch.nn.Dropout2d`, whole channels are zeroed: for a step ``[N, C, *]``
    the mask has shape ``[N, C, 1, ...]`` with entries 0 (probability ``p``) or
    :math:`1/(1-p)`. It is kept over all steps as in :class:`Dropout`.

    Args:
        p: probability of a channel to be zeroed, in ``[0, 1)``.
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(self, p: float = 0.2, step_mode: str = "s") -> None:
        super().__init__(p, step_mode)

    def create_mask(self, x: torch.Tensor) -> None:
        if x.dim() < 3:
            raise ValueError(
                f"Dropout2d expects steps of shape [N, C, *spatial] (at least 3 dimensions), "
                f"got {tuple(x.shape)}"
            )
        shape = (*x.shape[:2], *([1] * (x.dim() - 2)))
        self.mask = F.dropout(x.new_ones(shape), self.p, training=True)


_DEFAULT_ACTIVATION = nn.ReLU()


class DropConnectLinear(MemoryModule):
    r"""DropConnect linear layer of Wan et al., "Regularization of Neural Networks using
    DropConnect" (ICML 2013), followed by ``activation``.

    Training: each sample ``n`` of the batch gets its own Bernoulli masks
    :math:`M_n, m_n` (entries kept with probability ``1 - p``) and
    :math:`y_n = a\big((M_n \odot W) x_n + m_n \odot b\big)`. With ``invariant=True`` the
    masks are drawn at the first forward and kept until ``reset()`` (as :class:`Dropout`);
    otherwise new masks are drawn at every forward.

    Inference (Algorithm 2 of the paper): the pre-activation is approximated by a Gaussian
    with moments matched to the dropped-out sum,

    .. math::
        u \sim \mathcal N\big((1-p)(W x + b),\; p(1-p)(W^2 x^2 + b^2)\big),

    ``samples_num`` samples are drawn, passed through ``activation`` and averaged.

    Args:
        in_features: size of each input sample (input ``[N, *, in_features]``).
        out_features: size of each output sample.
        bias: learn an additive bias.
        p: probability of a connection to be dropped, in ``[0, 1)``.
        samples_num: number of Gaussian samples at inference.
        invariant: keep the dropped connections until ``reset()``.
        activation: the module applied after the linear map (``None``: none). Default: a new
            :class:`torch.nn.ReLU`. If it has ``reset()``, ``reset()`` also resets it.
        state_mode: the step mode, ``'s'`` or ``'m'`` (the reference's name for
            ``step_mode``; ``step_mode=`` is accepted too). ``'m'`` loops over ``T``.

    Parameters ``weight`` ``[out_features, in_features]`` and ``bias``, initialised as in
    :class:`torch.nn.Linear`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        p: float = 0.5,
        samples_num: int = 1024,
        invariant: bool = False,
        activation: nn.Module | None = _DEFAULT_ACTIVATION,
        state_mode: str = "s",
        *,
        step_mode: str | None = None,
    ) -> None:
        super().__init__()
        for name, v in (
            ("in_features", in_features),
            ("out_features", out_features),
            ("samples_num", samples_num),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not isinstance(invariant, bool):
            raise TypeError(f"invariant must be a bool, got {invariant!r}")
        if activation is _DEFAULT_ACTIVATION:
            activation = nn.ReLU()
        if activation is not None and not callable(activation):
            raise TypeError(f"activation must be a module, a callable or None, got {activation!r}")
        self.in_features, self.out_features = in_features, out_features
        self.p = _check_p(p)
        self.samples_num = samples_num
        self.invariant = invariant
        self.activation = activation
        self.step_mode = state_mode if step_mode is None else step_mode
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        self.register_memory("mask_w", None)
        self.register_memory("mask_b", None)

    def reset_parameters(self) -> None:
        """Initialise ``weight`` and ``bias`` as :class:`torch.nn.Linear` does."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    def reset(self) -> None:
        """Restore full connectivity (the next training forward draws new masks); also reset
        ``activation`` if it is stateful."""
        super().reset()
        reset = getattr(self.activation, "reset", None)
        if callable(reset):
            reset()

    def drop(self, batch_size: int) -> None:
        """Draw per-sample connection masks for a batch of ``batch_size`` (each connection
        kept with probability ``1 - p``); see :attr:`dropped_w` and :attr:`dropped_b`."""
        shape_w = (batch_size, self.out_features, self.in_features)
        self.mask_w = torch.rand(shape_w, device=self.weight.device) > self.p
        if self.bias is not None:
            shape_b = (batch_size, self.out_features)
            self.mask_b = torch.rand(shape_b, device=self.bias.device) > self.p

    @property
    def dropped_w(self) -> torch.Tensor | None:
        """The per-sample dropped weights ``[N, out_features, in_features]`` (``None`` when
        fully connected). Computed from the masks, so they follow ``weight`` and keep its
        gradient even after ``detach()``."""
        return None if self.mask_w is None else self.weight * self.mask_w

    @property
    def dropped_b(self) -> torch.Tensor | None:
        """The per-sample dropped biases ``[N, out_features]`` (``None`` when fully connected
        or without bias)."""
        if self.bias is None or self.mask_b is None:
            return None
        return self.bias * self.mask_b

    def _check_input(self, x: Any) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[-1] != self.in_features:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"DropConnectLinear expects input of shape [N, *, in_features="
                f"{self.in_features}], got {got}"
            )

    def _activate(self, u: torch.Tensor) -> torch.Tensor:
        return u if self.activation is None else self.activation(u)

    def single_step_forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input(input)
        if self.training:
            return self._train_forward(input)
        return self._inference_forward(input)

    def _train_forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if not self.invariant or self.mask_w is None:
            self.drop(n)
        elif self.mask_w.shape[0] != n:
            raise ValueError(
                f"DropConnectLinear(invariant=True) holds masks for batch size "
                f"{self.mask_w.shape[0]}, got input with batch size {n}; call reset() first"
            )
        # y[n, ..., o] = sum_i dropped_w[n, o, i] * x[n, ..., i]
        y = torch.einsum("noi,n...i->n...o", self.dropped_w, x)
        if self.bias is not None:
            y = y + self.dropped_b.reshape(n, *([1] * (x.dim() - 2)), self.out_features)
        return self._activate(y)

    def _inference_forward(self, x: torch.Tensor) -> torch.Tensor:
        keep = 1.0 - self.p
        mean = keep * F.linear(x, self.weight, self.bias)
        b2 = None if self.bias is None else self.bias.square()
        var = self.p * keep * F.linear(x.square(), self.weight.square(), b2)
        noise = torch.randn((self.samples_num, *mean.shape), dtype=mean.dtype, device=mean.device)
        samples = mean + noise * var.sqrt()
        return self._activate(samples).mean(0)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, p={self.p}, samples_num={self.samples_num}, "
            f"invariant={self.invariant}, step_mode={self.step_mode}"
        )
