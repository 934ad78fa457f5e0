r"""Building blocks of :class:`~snn_layers.ann2snn.STATransformerRecipe`.

* :class:`_STAThresholdObserver` estimates a per-channel spike threshold from calibration
  activations (``'max'``: ``max|a| / T``; ``'mse'``: the clipping level ``c·max|a|``,
  ``c`` on a 31-point grid of ``[1/8, 2]``, whose ``T``-level truncation error is least,
  divided by ``T``), averaged over batches with momentum ``m``:
  ``θ ← (1 - m) θ + m θ_batch``.
* :class:`_STASpikeEncoder` turns a stream of increments into multi-level (burst) spikes
  with soft reset: ``u[t] = u[t-1] + x[t]``, ``s[t] = θ · trunc(u[t] / θ)``,
  ``u[t] ← u[t] - s[t]``, so ``Σ s`` tracks ``Σ x`` to within one threshold.
* :class:`_STAConstant` emits a graph constant once, at the first step, and zeros after
  it, so that the cumulative sum of its output is the constant at every step.

Jiang et al., "Spatio-Temporal Approximation: A Training-Free SNN Conversion for
Transformers", ICLR 2024.
"""

from __future__ import annotations

from typing import Any

import torch
from snn_core.base import MemoryModule
from torch import nn

from snn_layers.ann2snn.operators import TDMultiheadAttention

__all__: list[str] = []

#: the grid of clipping factors searched by the ``'mse'`` threshold mode
_MSE_FACTORS = torch.linspace(0.125, 2.0, steps=31).tolist()


def _channel_view(value: torch.Tensor, like: torch.Tensor, channel_dim: int) -> torch.Tensor:
    """``value`` (one entry per channel) shaped to broadcast along ``like``'s ``channel_dim``."""
    dim = channel_dim + like.dim() if channel_dim < 0 else channel_dim
    shape = [1] * like.dim()
    shape[dim] = value.numel()
    return value.to(device=like.device, dtype=like.dtype).view(shape)


class _STAThresholdObserver:
    """Per-channel threshold estimate of one module's output (see the module doc)."""

    def __init__(
        self, time_steps: int, channel_dim: int, mode: str, momentum: float, eps: float
    ) -> None:
        self.time_steps = time_steps
        self.channel_dim = channel_dim
        self.mode = mode
        self.momentum = momentum
        self.eps = eps
        self.threshold: torch.Tensor | None = None
        self.num_batches_tracked = 0

    @staticmethod
    def _normalize_channel_dim(x: torch.Tensor, channel_dim: int) -> int:
        if x.dim() < 2:
            raise ValueError(
                f"STA calibration requires activations with rank >= 2, got shape {tuple(x.shape)}."
            )
        dim = channel_dim + x.dim() if channel_dim < 0 else channel_dim
        if not 0 <= dim < x.dim():
            raise ValueError(
                f"channel_dim={channel_dim} is out of range for an activation of rank {x.dim()}."
            )
        return dim

    def __call__(self, output: Any) -> None:
        if isinstance(output, (tuple, list)):
            output = output[0]
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"STA observer output must be a tensor, got {type(output).__name__}.")
        with torch.no_grad():
            batch = self._compute_threshold(output.detach())
            if self.threshold is None:
                self.threshold = batch
            else:
                old = self.threshold.to(device=batch.device, dtype=batch.dtype)
                self.threshold = ((1 - self.momentum) * old + self.momentum * batch).detach()
            self.num_batches_tracked += 1

    def _compute_threshold(self, x: torch.Tensor) -> torch.Tensor:
        dim = self._normalize_channel_dim(x, self.channel_dim)
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        values = x.movedim(dim, 0).reshape(x.shape[dim], -1)  # [C, everything else]
        peak = values.abs().amax(dim=1).clamp(min=self.eps)
        if self.mode == "max":
            return (peak / self.time_steps).detach()
        if self.mode != "mse":
            raise ValueError(f"STA threshold mode must be 'mse' or 'max', got {self.mode!r}.")
        best = peak
        best_error = torch.full_like(peak, float("inf"))
        for factor in _MSE_FACTORS:
            clip = (peak * factor).clamp(min=self.eps)
            step = clip[:, None] / self.time_steps
            error = (values - torch.trunc(values / step) * step).square().mean(dim=1)
            better = error < best_error
            best = torch.where(better, clip, best)
            best_error = torch.where(better, error, best_error)
        return (best / self.time_steps).detach()

    def compute_threshold(self) -> torch.Tensor:
        """The current estimate; an error if nothing was recorded or it is not positive."""
        if self.threshold is None:
            raise ValueError("No STA calibration activations have been recorded.")
        if not torch.isfinite(self.threshold).all() or (self.threshold <= 0).any():
            raise ValueError("STA thresholds must be finite positive values.")
        return self.threshold.detach()


class _STASpikeEncoder(MemoryModule):
    r"""Burst spike encoder with soft reset (see the module doc); threshold per channel
    along ``channel_dim`` (clamped to the dtype's ``eps``). State: ``mem``."""

    def __init__(self, threshold: torch.Tensor, channel_dim: int = -1, step_mode: str = "s"):
        super().__init__()
        self.channel_dim = channel_dim
        self.register_buffer("v_threshold", threshold.detach().clone())
        self.register_memory("mem", None)
        self.step_mode = step_mode

    def materialize_states(
        self, inputs: tuple[Any, ...], states: tuple[Any, ...], step_mode: str
    ) -> tuple[Any, ...]:
        x = inputs[0][0] if step_mode == "m" else inputs[0]
        mem = states[0]
        if not isinstance(mem, torch.Tensor) or (mem.shape, mem.device, mem.dtype) != (
            x.shape,
            x.device,
            x.dtype,
        ):
            mem = torch.zeros_like(x)
        return (mem,)

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor, ...], tuple[Any, ...]]:
        x = inputs[0]
        theta = _channel_view(self.v_threshold, x, self.channel_dim)
        theta = theta.clamp(min=torch.finfo(theta.dtype).eps)
        mem = states[0] + x
        spike = torch.trunc(mem / theta) * theta
        return (spike,), (mem - spike,)

    def extra_repr(self) -> str:
        return f"channel_dim={self.channel_dim}, step_mode={self.step_mode}"


class _STAConstant(MemoryModule):
    """A graph constant as a stream: ``value`` at the first step, zeros after it
    (``time_steps`` steps per call in ``'m'`` mode). State: ``t``, steps emitted so far."""

    def __init__(self, value: torch.Tensor, time_steps: int, step_mode: str = "s") -> None:
        super().__init__()
        self.time_steps = time_steps
        if isinstance(value, nn.Parameter):
            self.value = nn.Parameter(value.detach().clone(), requires_grad=value.requires_grad)
        else:
            self.register_buffer("value", value.detach().clone())
        self.register_memory("t", 0)
        self.step_mode = step_mode

    def single_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor, ...], tuple[Any, ...]]:
        out = self.value if states[0] == 0 else torch.zeros_like(self.value)
        return (out,), (states[0] + 1,)

    def multi_step_functional_forward(
        self, inputs: tuple[torch.Tensor, ...], states: tuple[Any, ...], **kwargs: Any
    ) -> tuple[tuple[torch.Tensor, ...], tuple[Any, ...]]:
        zeros = torch.zeros_like(self.value)
        if states[0] == 0:
            rest = zeros.expand(self.time_steps - 1, *self.value.shape)
            out = torch.cat((self.value.unsqueeze(0), rest), dim=0)
        else:
            out = zeros.expand(self.time_steps, *self.value.shape)
        return (out,), (states[0] + self.time_steps,)

    def single_step_forward(self) -> torch.Tensor:  # type: ignore[override]
        (out,), (self.t,) = self.single_step_functional_forward((), tuple(self.memories()))
        return out

    def multi_step_forward(self) -> torch.Tensor:  # type: ignore[override]
        (out,), (self.t,) = self.multi_step_functional_forward((), tuple(self.memories()))
        return out


def _make_td_multihead_attention(source: nn.MultiheadAttention) -> TDMultiheadAttention:
    """A :class:`TDMultiheadAttention` with ``source``'s packed projections split into
    ``q_proj``/``k_proj``/``v_proj`` (``requires_grad`` and training mode kept)."""
    if source.in_proj_weight is None:
        raise ValueError(
            "STATransformerRecipe step-mode backend requires a fused "
            "MultiheadAttention.in_proj_weight; separate K/V projections "
            f"(kdim={source.kdim}, vdim={source.vdim} != embed_dim={source.embed_dim}) "
            "are not supported."
        )
    if source.bias_k is not None or source.bias_v is not None:
        raise ValueError(
            "STATransformerRecipe step-mode backend does not support MultiheadAttention "
            "add_bias_kv=True."
        )
    if source.add_zero_attn:
        raise ValueError(
            "STATransformerRecipe step-mode backend does not support MultiheadAttention "
            "add_zero_attn=True."
        )
    w, b = source.in_proj_weight, source.in_proj_bias
    td = TDMultiheadAttention(
        source.embed_dim, source.num_heads, dropout=source.dropout, bias=b is not None,
        batch_first=source.batch_first, device=w.device, dtype=w.dtype,
    )  # fmt: skip
    projections = (td.q_proj, td.k_proj, td.v_proj)
    with torch.no_grad():
        for proj, part in zip(projections, w.chunk(3, dim=0)):
            proj.weight.copy_(part)
            proj.weight.requires_grad = w.requires_grad
        if b is not None:
            for proj, part in zip(projections, b.chunk(3, dim=0)):
                proj.bias.copy_(part)
                proj.bias.requires_grad = b.requires_grad
        td.out_proj.weight.copy_(source.out_proj.weight)
        td.out_proj.weight.requires_grad = source.out_proj.weight.requires_grad
        if source.out_proj.bias is not None:
            td.out_proj.bias.copy_(source.out_proj.bias)
            td.out_proj.bias.requires_grad = source.out_proj.bias.requires_grad
    td.train(source.training)
    return td
