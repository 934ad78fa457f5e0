r"""Few-Spikes (FS) neurons (Stöckl & Maass, "Optimized spiking neurons can classify images with
high accuracy through temporal coding with two spikes", Nature Machine Intelligence 3 (2021)
230-238) and the outlier-aware / hierarchically gated variants of LAS (arXiv:2505.09659).

An FS neuron codes an activation with ``K`` weighted spikes. From ``V_1 = x`` (the
accumulated gate input), for ``k = 1..K`` with the table ``(θ_k, h_k, d_k)``:

.. math::
    z_k = \Theta(V_k - \theta_k), \quad V_{k+1} = V_k - h_k z_k, \quad
    y = \sum_k d_k z_k

The neurons keep no state between calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from snn_core.base import StepModule
from snn_core.surrogate import Sigmoid, SurrogateFunctionBase
from torch import nn

__all__ = ["FewSpikeTable", "FewSpikeNode", "OutlierAwareThresholdNode", "HGNode"]

TensorLike1D = torch.Tensor | Sequence[float]


def _as_table_tensor(name: str, value: TensorLike1D) -> torch.Tensor:
    tensor = torch.as_tensor(value)
    if tensor.dim() != 1:
        raise ValueError(
            f"{name} must be a 1-D tensor or sequence, got shape {tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        raise ValueError(f"{name} must be non-empty")
    if torch.is_complex(tensor):
        raise TypeError(f"{name} must be real-valued, got dtype {tensor.dtype}")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} must contain only finite values, got {tensor.tolist()}")
    return tensor.detach().clone()


def _like(tensor: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return tensor.to(device=reference.device, dtype=reference.dtype).clone()


def few_spike_code(
    gate: torch.Tensor,
    theta: Iterable[torch.Tensor],
    h: Iterable[torch.Tensor],
    d: Iterable[torch.Tensor],
    surrogate_function: SurrogateFunctionBase,
    return_sequence: bool,
) -> torch.Tensor:
    """Run an FS coding table on ``gate``: the sum ``Σ d_k z_k`` or (``return_sequence``)
    the stacked ``[K, *]`` weighted spikes ``d_k z_k``. Table entries may be scalars or
    tensors broadcast against ``gate`` (per-element tables)."""
    v = gate
    outputs = []
    for theta_k, h_k, d_k in zip(theta, h, d):
        z = surrogate_function(v - theta_k)
        outputs.append(d_k * z)
        v = v - h_k * z
    if return_sequence:
        return torch.stack(outputs)
    y = torch.zeros_like(gate)
    for out in outputs:
        y = y + out
    return y


class FewSpikeTable:
    """An FS coding table: thresholds ``theta``, membrane subtractions ``h`` and output
    weights ``d``, each 1-D of length ``K`` (floating point, finite). Not a module: the
    neurons copy it into buffers, which follow ``.to(device/dtype)``.
    """

    def __init__(self, theta: TensorLike1D, h: TensorLike1D, d: TensorLike1D) -> None:
        self.theta = _as_table_tensor("theta", theta)
        self.h = _as_table_tensor("h", h)
        self.d = _as_table_tensor("d", d)
        if not self.theta.shape == self.h.shape == self.d.shape:
            raise ValueError(
                "theta, h and d must have the same length, got "
                f"{self.theta.numel()}, {self.h.numel()} and {self.d.numel()}"
            )

    @property
    def K(self) -> int:
        """The number of spikes ``K``."""
        return self.theta.numel()

    def __repr__(self) -> str:
        return f"FewSpikeTable(K={self.K})"


def _check_table(name: str, table: object, K: int | None = None) -> FewSpikeTable:
    if not isinstance(table, FewSpikeTable):
        raise TypeError(f"{name} must be FewSpikeTable, got {type(table).__name__}")
    if K is not None and table.K != K:
        raise ValueError(f"{name}.K must be {K} (the K of the first table), got {table.K}")
    return table


class FewSpikeNode(nn.Module, StepModule):
    r"""Few-Spikes neuron (Stöckl & Maass, Nature Machine Intelligence 2021), stateless.

    .. math::
        V_1 = x, \quad z_k = \Theta(V_k - \theta_k), \quad V_{k+1} = V_k - h_k z_k

    Single-step: ``x`` (``[*]``) is the accumulated gate input; returns ``Σ_k d_k z_k``.
    Multi-step: ``x_seq`` (``[K, *]``) is summed over its first dimension to give the gate;
    returns the weighted spikes ``d_k z_k`` as ``[K, *]`` (their sum is the single-step
    output). ``z_k`` goes through ``surrogate_function``, so the table can be trained.

    Args:
        table: the :class:`FewSpikeTable` (copied into buffers ``theta``, ``h``, ``d``).
        surrogate_function: spike function (default: a new ``Sigmoid()``).
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(
        self,
        table: FewSpikeTable,
        surrogate_function: SurrogateFunctionBase | None = None,
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        _check_table("table", table)
        self.register_buffer("theta", table.theta.clone())
        self.register_buffer("h", table.h.clone())
        self.register_buffer("d", table.d.clone())
        self._init_common(surrogate_function, step_mode)

    def _init_common(
        self, surrogate_function: SurrogateFunctionBase | None, step_mode: str
    ) -> None:
        if surrogate_function is None:
            surrogate_function = Sigmoid()
        if not isinstance(surrogate_function, SurrogateFunctionBase):
            raise TypeError(
                "surrogate_function must be a snn_core.surrogate.SurrogateFunctionBase, "
                f"got {surrogate_function!r}"
            )
        self.surrogate_function = surrogate_function
        self.step_mode = step_mode

    @property
    def K(self) -> int:
        """The number of spikes ``K`` (the table length)."""
        return self.theta.numel()

    @staticmethod
    def _check_input(x: object, name: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")

    def _forward_from_gate(self, gate: torch.Tensor, return_sequence: bool) -> torch.Tensor:
        return few_spike_code(
            gate, self.theta, self.h, self.d, self.surrogate_function, return_sequence
        )

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (``[*]``): the gate input; returns ``Σ_k d_k z_k`` (``[*]``)."""
        self._check_input(x, "x")
        return self._forward_from_gate(x, return_sequence=False)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``x_seq`` (``[K, *]``): summed over dim 0 to the gate; returns ``[K, *]``."""
        self._check_input(x_seq, "x_seq")
        if x_seq.dim() == 0 or x_seq.shape[0] != self.K:
            raise ValueError(
                f"x_seq must have K={self.K} steps in its first dimension, "
                f"got shape {tuple(x_seq.shape)}"
            )
        return self._forward_from_gate(x_seq.sum(dim=0), return_sequence=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self.single_step_forward(x)
        return self.multi_step_forward(x)

    def extra_repr(self) -> str:
        return f"K={self.K}, step_mode={self.step_mode}"


class OutlierAwareThresholdNode(FewSpikeNode):
    r"""Outlier-aware thresholding FS neuron (the OAT branch of LAS, arXiv:2505.09659).

    The gate is clamped to ``[-clamp_value, clamp_value]`` (if given) and split into sign and
    magnitude; magnitudes ``<= split_threshold`` are coded with ``table``, larger ones with
    ``outlier_table``, and the sign is restored (a zero gate gives zero):

    .. math::
        y = \mathrm{sign}(g)\, \mathrm{FS}_{T(|g|)}(|g|), \quad
        T(m) = \mathrm{table}\ \text{if}\ m \le \mathrm{split\_threshold}\ \text{else outlier}

    Args:
        table: the table of normal magnitudes.
        outlier_table: the table of outliers (same ``K``; buffers ``outlier_theta/h/d`` in
            ``table``'s dtype).
        split_threshold: finite magnitude ``>= 0`` between the branches.
        clamp_value: optional symmetric clamp, finite, ``> 0`` and ``>= split_threshold``.
        surrogate_function, step_mode: as :class:`FewSpikeNode`.
    """

    def __init__(
        self,
        table: FewSpikeTable,
        outlier_table: FewSpikeTable,
        split_threshold: float,
        clamp_value: float | None = None,
        surrogate_function: SurrogateFunctionBase | None = None,
        step_mode: str = "s",
    ) -> None:
        _check_table("table", table)
        _check_table("outlier_table", outlier_table, table.K)
        split_threshold = float(split_threshold)
        if not math.isfinite(split_threshold) or split_threshold < 0:
            raise ValueError(
                f"split_threshold must be a finite non-negative value, got {split_threshold!r}"
            )
        if clamp_value is not None:
            clamp_value = float(clamp_value)
            if not math.isfinite(clamp_value) or clamp_value <= 0:
                raise ValueError(
                    f"clamp_value must be None or finite and positive, got {clamp_value!r}"
                )
            if clamp_value < split_threshold:
                raise ValueError(
                    f"clamp_value ({clamp_value}) must be no smaller than split_threshold "
                    f"({split_threshold})"
                )
        super().__init__(table, surrogate_function, step_mode)
        self.register_buffer("outlier_theta", _like(outlier_table.theta, table.theta))
        self.register_buffer("outlier_h", _like(outlier_table.h, table.h))
        self.register_buffer("outlier_d", _like(outlier_table.d, table.d))
        self.split_threshold = split_threshold
        self.clamp_value = clamp_value

    def _forward_from_gate(self, gate: torch.Tensor, return_sequence: bool) -> torch.Tensor:
        if self.clamp_value is not None:
            gate = gate.clamp(min=-self.clamp_value, max=self.clamp_value)
        sign = torch.sign(gate).detach()
        magnitude = gate.abs()
        normal = magnitude <= self.split_threshold

        def pick(a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
            return [torch.where(normal, a_k, b_k) for a_k, b_k in zip(a, b)]

        out = few_spike_code(
            magnitude,
            pick(self.theta, self.outlier_theta),
            pick(self.h, self.outlier_h),
            pick(self.d, self.outlier_d),
            self.surrogate_function,
            return_sequence,
        )
        return out * sign

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, split_threshold={self.split_threshold}, "
            f"clamp_value={self.clamp_value}"
        )


class HGNode(FewSpikeNode):
    r"""Hierarchically gated FS neuron (LAS, arXiv:2505.09659): routes each gate value to one
    of ``len(tables)`` coding tables by ascending ``gate_thresholds`` ``t_0 < t_1 < ...``:
    table 0 for ``g <= t_0``, table ``i`` for ``t_{i-1} < g <= t_i``, the last for
    ``g > t_{-1}``.

    Args:
        tables: one or more tables of equal ``K`` (buffers ``region_theta/h/d``,
            ``[regions, K]``).
        gate_thresholds: strictly increasing, finite, ``len(tables) - 1`` values (a buffer).
        surrogate_function, step_mode: as :class:`FewSpikeNode`.
    """

    def __init__(
        self,
        tables: Sequence[FewSpikeTable],
        gate_thresholds: TensorLike1D,
        surrogate_function: SurrogateFunctionBase | None = None,
        step_mode: str = "s",
    ) -> None:
        if len(tables) == 0:
            raise ValueError("tables must contain at least one FewSpikeTable, got none")
        first = _check_table("tables[0]", tables[0])
        for i, table in enumerate(tables[1:], start=1):
            _check_table(f"tables[{i}]", table, first.K)
        thresholds = torch.as_tensor(gate_thresholds)
        if thresholds.dim() != 1:
            raise ValueError(f"gate_thresholds must be 1-D, got shape {tuple(thresholds.shape)}")
        if torch.is_complex(thresholds):
            raise TypeError("gate_thresholds must be real-valued")
        thresholds = thresholds.to(device=first.theta.device, dtype=first.theta.dtype)
        if thresholds.numel() != len(tables) - 1:
            raise ValueError(
                f"gate_thresholds must have len(tables) - 1 = {len(tables) - 1} values, "
                f"got {thresholds.numel()}"
            )
        if not torch.isfinite(thresholds).all():
            raise ValueError(f"gate_thresholds must be finite, got {thresholds.tolist()}")
        if thresholds.numel() > 1 and not bool((thresholds[1:] > thresholds[:-1]).all()):
            raise ValueError(
                f"gate_thresholds must be strictly increasing, got {thresholds.tolist()}"
            )
        nn.Module.__init__(self)
        self.register_buffer(
            "region_theta", torch.stack([_like(t.theta, first.theta) for t in tables])
        )
        self.register_buffer("region_h", torch.stack([_like(t.h, first.h) for t in tables]))
        self.register_buffer("region_d", torch.stack([_like(t.d, first.d) for t in tables]))
        self.register_buffer("gate_thresholds", thresholds)
        self._init_common(surrogate_function, step_mode)

    @property
    def K(self) -> int:
        return self.region_theta.shape[1]

    def _forward_from_gate(self, gate: torch.Tensor, return_sequence: bool) -> torch.Tensor:
        boundaries = self.gate_thresholds.to(gate.dtype)
        region = torch.bucketize(gate.detach(), boundaries)
        columns = range(self.K)
        return few_spike_code(
            gate,
            [self.region_theta[:, k][region] for k in columns],
            [self.region_h[:, k][region] for k in columns],
            [self.region_d[:, k][region] for k in columns],
            self.surrogate_function,
            return_sequence,
        )

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, regions={self.region_theta.shape[0]}, "
            f"gate_thresholds={self.gate_thresholds.tolist()}"
        )
