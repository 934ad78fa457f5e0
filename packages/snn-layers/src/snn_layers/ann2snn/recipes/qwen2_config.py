"""Settings and calibration result of the Qwen2 post-training SNN conversion.

The conversion quantises four activations of every decoder (the rotated query and key, the
value, and the gated MLP product ``silu(gate) * up``) plus the input embeddings with the
signed QCFS code of :class:`~snn_layers.ann2snn.SignedQCFSSequenceEncoder` (Bu et al., ICLR
2022): ``q(x) = s · clamp(round(x / s), -T, T)`` with the per-channel step

.. math::
    s_c = \\max(Q_p(|x_c|), 10^{-6}) / L,

``Q_p`` the ``p``-quantile of the absolute activations over the calibration tokens and ``L``
the number of calibration levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

__all__ = ["Qwen2SNNCalibration", "Qwen2SNNConfig"]

#: the per-decoder activations that get a QCFS step, in this order
QWEN2_SCALE_NAMES = ("query", "key", "value", "mlp")

_META_NAMES = (
    "time_steps",
    "calibration_levels",
    "calibration_quantile",
    "calibration_reservoir_size",
    "calibration_seed",
)


def _check_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}.")


@dataclass(frozen=True)
class Qwen2SNNConfig:
    """Settings of a Qwen2 SNN conversion.

    Args:
        time_steps: ``T`` (> 0), the length of every spike sequence; a count lies in
            ``[-T, T]``.
        calibration_levels: ``L`` in ``[1, T]``, the levels that span the calibrated range.
        calibration_quantile: ``p`` in ``(0, 1]``, the quantile of ``|x|`` per channel
            (``1.0``: the running maximum, no sampling).
        calibration_reservoir_size: tokens kept per activation to estimate ``p < 1``.
        calibration_seed: seed of the random priorities that choose the kept tokens.
    """

    time_steps: int = 32
    calibration_levels: int = 16
    calibration_quantile: float = 1.0
    calibration_reservoir_size: int = 4096
    calibration_seed: int = 20260719

    def __post_init__(self) -> None:
        _check_int("time_steps", self.time_steps)
        if self.time_steps <= 0:
            raise ValueError(f"time_steps must be positive, got {self.time_steps}.")
        _check_int("calibration_levels", self.calibration_levels)
        if not 0 < self.calibration_levels <= self.time_steps:
            raise ValueError(
                f"calibration_levels must lie in [1, time_steps={self.time_steps}], "
                f"got {self.calibration_levels}."
            )
        if not 0.0 < float(self.calibration_quantile) <= 1.0:
            raise ValueError(
                f"calibration_quantile must lie in (0, 1], got {self.calibration_quantile}."
            )
        _check_int("calibration_reservoir_size", self.calibration_reservoir_size)
        if self.calibration_reservoir_size <= 0:
            raise ValueError(
                "calibration_reservoir_size must be positive, got "
                f"{self.calibration_reservoir_size}."
            )
        _check_int("calibration_seed", self.calibration_seed)


@dataclass(frozen=True)
class Qwen2SNNCalibration:
    """The calibrated QCFS steps of a Qwen2 model (made by :func:`calibrate_qwen2_snn`).

    Args:
        input_scale: positive step per hidden channel of the input embeddings ``[H]``.
        layer_scales: one mapping per decoder, in order, from ``'query'``, ``'key'``,
            ``'value'``, ``'mlp'`` to the positive step per channel of that activation.
        time_steps, calibration_levels, calibration_quantile, calibration_reservoir_size,
        calibration_seed: the :class:`Qwen2SNNConfig` the steps were made with.
        valid_token_count: the non-padding tokens the calibration saw.
    """

    input_scale: torch.Tensor
    layer_scales: tuple[Mapping[str, torch.Tensor], ...]
    time_steps: int
    calibration_levels: int
    calibration_quantile: float
    calibration_reservoir_size: int
    calibration_seed: int
    valid_token_count: int

    def state_dict(self) -> dict[str, object]:
        """Plain tensors and numbers (loadable with ``torch.load(weights_only=True)``);
        the steps are under ``'tensors'`` as ``'input'`` and ``'layer.<i>.<name>'``."""
        tensors: dict[str, torch.Tensor] = {"input": self.input_scale.detach().cpu()}
        for index, group in enumerate(self.layer_scales):
            for name, value in group.items():
                tensors[f"layer.{index}.{name}"] = value.detach().cpu()
        state: dict[str, object] = {name: getattr(self, name) for name in _META_NAMES}
        state["valid_token_count"] = self.valid_token_count
        state["tensors"] = tensors
        return state

    @classmethod
    def from_state_dict(cls, state: Mapping[str, object]) -> Qwen2SNNCalibration:
        """Rebuild a calibration from :meth:`state_dict`'s output.

        Raises:
            ValueError: the ``'input'`` tensor is missing, a key is not ``layer.<i>.<name>``,
                the layer indices are not ``0..n-1`` or a layer lacks one of the four steps.
            KeyError: a metadata entry is missing.
        """
        tensors = state.get("tensors")
        if not isinstance(tensors, Mapping) or not isinstance(tensors.get("input"), torch.Tensor):
            raise ValueError("Calibration state must contain tensor key 'input'.")
        layers: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key == "input":
                continue
            parts = str(key).split(".")
            if len(parts) != 3 or parts[0] != "layer" or not isinstance(value, torch.Tensor):
                raise ValueError(f"Invalid calibration tensor key {key!r}.")
            layers.setdefault(int(parts[1]), {})[parts[2]] = value
        indices = sorted(layers)
        if indices != list(range(len(indices))):
            raise ValueError(
                f"Calibration layer indices must be contiguous from zero, got {indices}."
            )
        for index in indices:
            if set(layers[index]) != set(QWEN2_SCALE_NAMES):
                raise ValueError(
                    f"Calibration layer {index} requires query/key/value/mlp scales, got "
                    f"{sorted(layers[index])}."
                )
        return cls(
            input_scale=tensors["input"],
            layer_scales=tuple(layers[index] for index in indices),
            time_steps=int(state["time_steps"]),  # type: ignore[call-overload]
            calibration_levels=int(state["calibration_levels"]),  # type: ignore[call-overload]
            calibration_quantile=float(state["calibration_quantile"]),  # type: ignore[arg-type]
            calibration_reservoir_size=int(state["calibration_reservoir_size"]),  # type: ignore[call-overload]
            calibration_seed=int(state["calibration_seed"]),  # type: ignore[call-overload]
            valid_token_count=int(state["valid_token_count"]),  # type: ignore[call-overload]
        )
