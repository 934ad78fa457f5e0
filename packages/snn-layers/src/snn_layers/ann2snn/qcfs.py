r"""Signed QCFS encoding of an activation into a spike sequence.

A QCFS-quantised activation (Bu et al., "Optimal ANN-SNN Conversion for High-accuracy and
Ultra-low-latency Spiking Neural Networks", ICLR 2022) with per-channel step ``s`` and
``T`` levels is ``q(x) = s · clamp(round(x / s), -T, T)``. :class:`SignedQCFSSequenceEncoder`
emits it as ``T`` steps of signed spikes: two
:class:`~snn_neurons.ActivationAwareIFNode` (threshold ``s``, offset ``s / 2``, soft
reset) encode ``relu(x)`` and ``relu(-x)``, each fed ``x / T`` per step, and

.. math::
    y[t] = s\,(S^+[t] - S^-[t]), \qquad \sum_t y[t] = q(x).

Where float rounding at a half-step boundary makes a neuron's count differ from
``round(x / s)``, that element's spikes are replayed from exact threshold pulses through
the same neuron, so the sum is always exactly ``q(x)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from snn_core import quantize, surrogate
from snn_neurons import ActivationAwareIFNode
from torch import nn

__all__ = ["SignedQCFSSequenceEncoder"]


class SignedQCFSSequenceEncoder(nn.Module):
    """Encode ``value`` as ``time_steps`` steps of signed QCFS spikes (see the module doc).

    Args:
        scale: finite positive 1-D tensor, the step ``s`` of each channel.
        time_steps: ``T`` (> 0).
        channel_dim: the channel dimension of ``value``.
        collect_statistics: record spike rates, counts, boundary corrections and the
            relative L2 error of each :meth:`encode` (see :meth:`statistics`).
        name: a label reported by :meth:`statistics`.
        neuron_backend: the neurons' backend (``'torch'``).
    """

    def __init__(
        self,
        scale: torch.Tensor,
        time_steps: int,
        *,
        channel_dim: int = -1,
        collect_statistics: bool = True,
        name: str = "activation",
        neuron_backend: str = "torch",
    ) -> None:
        super().__init__()
        if not isinstance(scale, torch.Tensor):
            raise TypeError(f"scale must be a torch.Tensor, got {type(scale).__name__}.")
        if scale.dim() != 1 or not torch.isfinite(scale).all() or not (scale > 0).all():
            raise ValueError("scale must be a finite positive one-dimensional tensor.")
        if not isinstance(time_steps, int) or isinstance(time_steps, bool):
            raise TypeError(f"time_steps must be an integer, got {time_steps!r}.")
        if time_steps <= 0:
            raise ValueError(f"time_steps must be positive, got {time_steps}.")
        if not isinstance(channel_dim, int) or isinstance(channel_dim, bool):
            raise TypeError(f"channel_dim must be an integer, got {channel_dim!r}.")
        if neuron_backend != "torch":
            raise ValueError(f"neuron_backend must be 'torch', got {neuron_backend!r}.")
        self.name = str(name)
        self.time_steps = time_steps
        self.channel_dim = channel_dim
        self.collect_statistics = bool(collect_statistics)
        kwargs: dict[str, Any] = dict(
            v_threshold=scale, v_offset=0.5 * scale, channel_dim=channel_dim, v_reset=None,
            surrogate_function=surrogate.DeterministicPass(), step_mode="m",
        )  # fmt: skip
        self.positive_neuron = ActivationAwareIFNode(**kwargs)
        self.negative_neuron = ActivationAwareIFNode(**kwargs)
        self.metric_scope = "activation"
        self._clear_statistics()

    def _clear_statistics(self) -> None:
        self.positive_spike_rate = 0.0
        self.negative_spike_rate = 0.0
        self.positive_spike_count = 0
        self.negative_spike_count = 0
        self.spike_value_count = 0
        self.local_relative_l2 = 0.0
        self.boundary_correction_fraction = 0.0

    def _scale_view(self, value: torch.Tensor) -> torch.Tensor:
        scale = self.positive_neuron.v_threshold.to(device=value.device, dtype=value.dtype)
        shape = [1] * value.dim()
        shape[self.channel_dim % value.dim()] = scale.numel()
        return scale.reshape(shape)

    def _encode_nonnegative(
        self, node: ActivationAwareIFNode, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes ``[T, *]`` whose count is ``clamp(round(value / s), 0, T)``, and the mask of
        elements that needed a replay."""
        scale = self._scale_view(value)
        node.reset()
        spikes = node(value.unsqueeze(0).expand(self.time_steps, *value.shape) / self.time_steps)
        desired = torch.round(value / scale).clamp(0, self.time_steps)
        mismatch = spikes.sum(0).ne(desired)
        if mismatch.any():
            v_before = node.v
            steps = torch.arange(self.time_steps, device=value.device)
            steps = steps.reshape(self.time_steps, *([1] * value.dim()))
            pulses = (steps < desired.unsqueeze(0)).to(scale.dtype) * scale  # exact pulses
            node.reset()
            replayed = node(pulses)
            spikes = torch.where(mismatch.unsqueeze(0), replayed, spikes)
            node.v = torch.where(mismatch, node.v, v_before)
            if self.collect_statistics and not torch.equal(spikes.sum(0), desired):
                raise RuntimeError("Signed QCFS encoding failed to replay target counts.")
        return spikes, mismatch

    def encode(self, value: torch.Tensor, metric_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Spike sequence ``[T, *value.shape]`` of ``value``; its sum over ``T`` is ``q(value)``.

        ``metric_mask`` (shape of ``value`` without ``channel_dim``) restricts the recorded
        statistics to the selected positions; it does not change the encoding.
        """
        if not torch.is_floating_point(value):
            raise ValueError("Signed QCFS encoding requires a floating-point tensor.")
        if value.dim() == 0:
            raise ValueError("Signed QCFS encoding requires at least one dimension.")
        cdim = self.channel_dim % value.dim()
        if value.shape[cdim] != self.positive_neuron.v_threshold.numel():
            raise ValueError(
                f"Input channel size {value.shape[cdim]} does not match the QCFS scale "
                f"({self.positive_neuron.v_threshold.numel()} channels)."
            )
        pos, pos_fix = self._encode_nonnegative(self.positive_neuron, F.relu(value))
        neg, neg_fix = self._encode_nonnegative(self.negative_neuron, F.relu(-value))
        sequence = (pos - neg) * self._scale_view(value)
        if self.collect_statistics:
            self._record(value, sequence, pos.detach(), neg.detach(), pos_fix, neg_fix, metric_mask)
        return sequence

    def _record(self, value, sequence, pos, neg, pos_fix, neg_fix, metric_mask) -> None:
        cdim = self.channel_dim % value.dim()
        reconstructed, reference, count = sequence.sum(0), value, value.numel()
        if metric_mask is not None:
            mask = metric_mask.to(device=value.device, dtype=torch.bool)
            expected = value.shape[:cdim] + value.shape[cdim + 1 :]
            if mask.shape != expected:
                raise ValueError(
                    "metric_mask shape must match value dimensions excluding channel_dim: "
                    f"expected {tuple(expected)}, got {tuple(mask.shape)}."
                )
            if not mask.any():
                raise ValueError("metric_mask must select at least one element.")
            full = mask.unsqueeze(cdim).expand(value.shape)
            pos, neg = pos[:, full], neg[:, full]
            pos_fix, neg_fix = pos_fix[full], neg_fix[full]
            reconstructed, reference = reconstructed[full], reference[full]
            count = int(full.count_nonzero())
        self.positive_spike_rate = float(pos.mean().cpu())
        self.negative_spike_rate = float(neg.mean().cpu())
        self.positive_spike_count = int(pos.count_nonzero().cpu())
        self.negative_spike_count = int(neg.count_nonzero().cpu())
        self.spike_value_count = int(pos.numel())
        fixes = int(pos_fix.count_nonzero()) + int(neg_fix.count_nonzero())
        self.boundary_correction_fraction = fixes / (2 * count)
        denominator = torch.linalg.vector_norm(reference.float()).clamp_min(1e-12)
        error = torch.linalg.vector_norm((reconstructed - reference).float()) / denominator
        self.local_relative_l2 = float(error.detach().cpu())
        if not math.isfinite(self.local_relative_l2):
            raise ValueError("Signed QCFS local relative L2 must be finite.")

    def reconstruct(self, value: torch.Tensor) -> torch.Tensor:
        """``q(value)`` computed from counts (no spikes), with the multi-level spike-count
        straight-through gradient (:func:`snn_core.quantize.multi_level_spike_count`)."""
        if not torch.is_floating_point(value):
            raise ValueError("Signed QCFS reconstruction requires floating point.")
        if value.dim() == 0:
            raise ValueError("Signed QCFS reconstruction requires at least one dimension.")
        cdim = self.channel_dim % value.dim()
        if value.shape[cdim] != self.positive_neuron.v_threshold.numel():
            raise ValueError("Input channel size does not match the QCFS scale.")
        scale = self._scale_view(value)
        positive = quantize.multi_level_spike_count(F.relu(value) / scale, self.time_steps)
        negative = quantize.multi_level_spike_count(F.relu(-value) / scale, self.time_steps)
        return (positive - negative) * scale

    def forward(
        self, value_seq: torch.Tensor, metric_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Encode the sum over time of ``value_seq`` ``[T', *]``."""
        if value_seq.dim() < 2 or value_seq.shape[0] <= 0:
            raise ValueError("value_seq must have a non-empty leading time dimension.")
        return self.encode(value_seq.sum(0), metric_mask)

    def statistics(self) -> dict[str, object]:
        """The statistics of the last :meth:`encode` and the largest ``|v|`` left."""
        membranes = []
        for node in (self.positive_neuron, self.negative_neuron):
            v = node.v
            membranes.append(
                float(v.detach().abs().max().cpu())
                if isinstance(v, torch.Tensor)
                else abs(float(v))
            )
        return {
            "name": self.name,
            "positive_spike_rate": self.positive_spike_rate,
            "negative_spike_rate": self.negative_spike_rate,
            "positive_spike_count": self.positive_spike_count,
            "negative_spike_count": self.negative_spike_count,
            "spike_value_count": self.spike_value_count,
            "local_relative_l2": self.local_relative_l2,
            "metric_scope": self.metric_scope,
            "boundary_correction_fraction": self.boundary_correction_fraction,
            "membrane_abs_max": max(membranes),
        }
