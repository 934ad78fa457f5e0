r"""SpikeZIP-TF layers (You et al., "SpikeZIP-TF: Conversion is All You Need for
Transformer-based SNN", ICML 2024): the linear, convolution, embedding, LayerNorm and softmax
of a quantized ANN (QANN) run on per-step increments, so that the sum of their outputs over
time equals the QANN layer on the summed input.

The linear maps are TD operators (see :mod:`snn_layers.ann2snn.operators`) without bias; the
ANN bias ``b`` is released in equal parts over the first ``bias_steps`` steps,

.. math::
    y[t] = W x[t] + [t < n_b] \, b / n_b, \qquad \sum_{t < T} y[t] = W \sum_t x[t] + b
    \quad (T \ge n_b),

the way SpikeZIP spreads the bias like the charge of an ST-BIF neuron. The embedding emits
its lookup once, at the first step, and zeros afterwards.
"""

from __future__ import annotations

import torch
from snn_core.base import MemoryModule, check_multi_step_input
from torch import nn

from snn_layers.ann2snn.operators import TDConv2d, TDLayerNorm, TDLinear, TDSoftmax

__all__ = [
    "SpikeZIPConv2d",
    "SpikeZIPEmbedding",
    "SpikeZIPLayerNorm",
    "SpikeZIPLinear",
    "SpikeZIPSoftmax",
]


def matmul_delta(
    a: torch.Tensor,
    b: torch.Tensor,
    a_sum: torch.Tensor,
    b_sum: torch.Tensor,
    transpose_b: bool = False,
) -> torch.Tensor:
    r"""Increment of a product of two summed signals at one step:
    ``A[t] B[t] - A[t-1] B[t-1] = A[t] b + a B[t] - a b`` with ``A[t] = a_sum`` (which
    already includes ``a``) and ``B[t] = b_sum``; ``transpose_b`` uses ``Bᵀ``."""
    if transpose_b:
        b, b_sum = b.transpose(-1, -2), b_sum.transpose(-1, -2)
    return a_sum @ b + a @ b_sum - a @ b


def matmul_sequence_delta(
    a_seq: torch.Tensor,
    b_seq: torch.Tensor,
    a_prev: torch.Tensor | None = None,
    b_prev: torch.Tensor | None = None,
    transpose_b: bool = False,
) -> torch.Tensor:
    """The increments of ``A[t] B[t]`` for all steps of ``[T, ...]`` increments ``a_seq``,
    ``b_seq``; ``a_prev``, ``b_prev`` are the sums before this sequence (``None``: zero)."""
    a_cum, b_cum = a_seq.cumsum(0), b_seq.cumsum(0)
    if transpose_b:
        b_cum = b_cum.transpose(-1, -2)
    first = None
    if a_prev is not None and b_prev is not None:
        b_prev = b_prev.transpose(-1, -2) if transpose_b else b_prev
        a_cum, b_cum = a_cum + a_prev, b_cum + b_prev
        first = (a_prev @ b_prev).unsqueeze(0)
    product = a_cum @ b_cum
    if first is None:
        first = torch.zeros_like(product[:1])
    return torch.diff(product, dim=0, prepend=first)


def _bias_steps(level: int, bias_steps: int | None) -> int:
    steps = int(level) if bias_steps is None else bias_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(
            f"bias_steps must be a positive int (default: level), got bias_steps={bias_steps!r} "
            f"with level={level!r}"
        )
    return steps


class _ReleasedBias:
    """Mixin of a TD linear map without bias: adds ``spikezip_bias / bias_steps`` to each of
    the first ``bias_steps`` outputs (state ``realize_time``: the steps still to release)."""

    spikezip_bias: torch.Tensor | None
    bias_steps: int
    realize_time: int

    def _setup_bias(self, source_bias: torch.Tensor | None, level: int, steps: int | None):
        if source_bias is None:
            self.register_parameter("spikezip_bias", None)
        else:
            self.spikezip_bias = nn.Parameter(source_bias.detach().clone())
        self.level = int(level)
        self.bias_steps = _bias_steps(level, steps)
        self.register_memory("realize_time", self.bias_steps)

    @staticmethod
    def _bias_view(bias: torch.Tensor) -> torch.Tensor:
        return bias

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().single_step_forward(x)
        if self.spikezip_bias is not None and self.realize_time > 0:
            bias = self.spikezip_bias.to(device=y.device, dtype=y.dtype)
            y = y + self._bias_view(bias) / self.bias_steps
            self.realize_time -= 1
        return y

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        y_seq = super().multi_step_forward(x_seq)
        n = min(x_seq.shape[0], self.realize_time) if self.spikezip_bias is not None else 0
        if n > 0:
            bias = self.spikezip_bias.to(device=y_seq.device, dtype=y_seq.dtype)
            y_seq[:n] = y_seq[:n] + self._bias_view(bias) / self.bias_steps
            self.realize_time -= n
        return y_seq


class SpikeZIPLinear(_ReleasedBias, TDLinear):
    """SpikeZIP :class:`torch.nn.Linear`: a bias-free :class:`TDLinear` with ``linear``'s
    weight; its bias (parameter ``spikezip_bias``) is released over the first
    ``bias_steps`` steps (default ``level``). ``step_mode`` defaults to ``'s'``."""

    def __init__(
        self,
        linear: nn.Linear,
        level: int,
        bias_steps: int | None = None,
        step_mode: str = "s",
    ) -> None:
        w = linear.weight
        super().__init__(
            linear.in_features, linear.out_features, bias=False, device=w.device,
            dtype=w.dtype, step_mode=step_mode,
        )  # fmt: skip
        with torch.no_grad():
            self.weight.copy_(w)
        self._setup_bias(linear.bias, level, bias_steps)


class SpikeZIPConv2d(_ReleasedBias, TDConv2d):
    """SpikeZIP :class:`torch.nn.Conv2d`: a bias-free :class:`TDConv2d` with ``conv``'s
    weight and geometry; its bias is released over the first ``bias_steps`` steps (default
    ``level``). ``step_mode`` defaults to ``'s'``."""

    def __init__(
        self,
        conv: nn.Conv2d,
        level: int,
        bias_steps: int | None = None,
        step_mode: str = "s",
    ) -> None:
        w = conv.weight
        super().__init__(
            conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
            padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=False,
            padding_mode=conv.padding_mode, device=w.device, dtype=w.dtype,
            step_mode=step_mode,
        )  # fmt: skip
        with torch.no_grad():
            self.weight.copy_(w)
        self._setup_bias(conv.bias, level, bias_steps)

    @staticmethod
    def _bias_view(bias: torch.Tensor) -> torch.Tensor:
        return bias.view(-1, 1, 1)  # channel dimension of [.., C, H, W]


class SpikeZIPEmbedding(MemoryModule):
    """Wraps ``embedding``: the lookup of the first step's indices at ``t = 0``, zeros of the
    current input's shape ``[*, embedding_dim]`` after (state ``t``: 0 before the first step,
    then 1 after a single step or ``T`` after a first sequence of ``T`` steps)."""

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        self.embedding = embedding
        self.step_mode = "s"
        self.register_memory("t", 0)

    def _zeros(self, shape: torch.Size, device: torch.device) -> torch.Tensor:
        dtype = self.embedding.weight.dtype
        return torch.zeros(*shape, self.embedding.embedding_dim, device=device, dtype=dtype)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.t != 0:
            return self._zeros(x.shape, x.device)
        self.t = 1
        return self.embedding(x)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_multi_step_input(x_seq, min_dim=1)
        if x_seq.shape[0] == 0:
            raise ValueError(
                f"SpikeZIPEmbedding expects a non-empty sequence, got shape {tuple(x_seq.shape)}"
            )
        y_seq = self._zeros(x_seq.shape, x_seq.device)
        if self.t == 0:
            y_seq[0] = self.embedding(x_seq[0])
            self.t = x_seq.shape[0]
        return y_seq


class SpikeZIPLayerNorm(TDLayerNorm):
    """:class:`TDLayerNorm` with the shape, ``eps`` and affine parameters of ``source``;
    ``step_mode`` ``'s'``."""

    def __init__(self, source: nn.LayerNorm) -> None:
        w = source.weight
        super().__init__(
            source.normalized_shape, eps=source.eps, elementwise_affine=source.elementwise_affine,
            bias=source.bias is not None, device=None if w is None else w.device,
            dtype=None if w is None else w.dtype, step_mode="s",
        )  # fmt: skip
        self.load_state_dict(source.state_dict())


class SpikeZIPSoftmax(TDSoftmax):
    """:class:`TDSoftmax` with ``step_mode`` ``'s'``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim=dim, step_mode="s")


def reset_submodules(module: nn.Module) -> None:
    """Reset every stateful submodule of ``module`` (not ``module`` itself)."""
    for sub in module.modules():
        if sub is not module and isinstance(sub, MemoryModule):
            sub.reset()
