"""Memory traffic of a neuromorphic (event-driven) execution, counted per module.

Synaptic layers (``Linear``, ``Conv1d/2d/3d``) read one weight per synaptic operation: with
a spike input, ``nnz(x) · out_features`` (linear) or the kernel taps the spikes meet (conv);
with a real input, ``|out| · fan-in``. Biases are read once per output element. A spiking
neuron reads and writes its state tensors once per time step.
"""

from __future__ import annotations

from math import prod
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from snn_core.op_counter._neuron import SpikingNeuron
from snn_core.op_counter.ac import _Uncounted, conv_weight_uses
from snn_core.op_counter.base import ModuleCounter, is_binary_tensor

__all__ = ["NeuromorphicMemoryAccessCounter"]

_MEMORY_METRICS = (
    "weight_read_bytes",
    "bias_read_bytes",
    "neuron_state_read_bytes",
    "neuron_state_write_bytes",
)
_SYNAPTIC_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _first_tensor(inputs: tuple, kwargs: dict) -> torch.Tensor:
    if inputs:
        return inputs[0]
    return next(value for value in kwargs.values() if torch.is_tensor(value))


def spike_conv_weight_uses(module: nn.Module, x: torch.Tensor) -> int:
    """Kernel taps met by the spikes of ``x`` in ``module`` (a conv layer; a multi-step
    layer's ``[T, N, ...]`` input is flattened to ``[T*N, ...]``)."""
    if getattr(module, "step_mode", "s") == "m":
        x = x.flatten(0, 1)
    padding = module.padding
    if isinstance(padding, str) or module.padding_mode != "zeros":
        mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
        with _Uncounted():
            x = F.pad(x, module._reversed_padding_repeated_twice, mode)
        padding = tuple(0 for _ in module.stride)
    return conv_weight_uses(
        x, module.weight, module.stride, padding, module.dilation, module.groups
    )


class NeuromorphicMemoryAccessCounter(ModuleCounter):
    """Counts weight, bias and neuron-state bytes of an event-driven execution (module doc).

    Records per scope the metrics ``weight_read_bytes``, ``bias_read_bytes``,
    ``neuron_state_read_bytes`` and ``neuron_state_write_bytes``.

    Args:
        extra_ignore_modules: module types inside which nothing is counted.
    """

    def __init__(self, *, extra_ignore_modules: list[type[nn.Module]] | None = None) -> None:
        super().__init__()
        self.ignore_modules.extend(extra_ignore_modules or [])
        self.rules = {("forward", m): self._count_synaptic for m in _SYNAPTIC_MODULES}
        self.rules["forward", SpikingNeuron] = self._count_neuron
        self._pending_metrics: dict[str, int] = {}

    def _count_synaptic(
        self, module: nn.Module, inputs: tuple, kwargs: dict, output: torch.Tensor
    ) -> int:
        x = _first_tensor(inputs, kwargs)
        if is_binary_tensor(x):
            if isinstance(module, nn.Linear):
                uses = int(x.count_nonzero().item()) * module.out_features
            else:
                uses = spike_conv_weight_uses(module, x)
        elif isinstance(module, nn.Linear):
            uses = int(output.numel()) * module.in_features
        else:
            uses = int(output.numel()) * int(prod(module.weight.shape[1:]))
        bias = 0 if module.bias is None else int(output.numel()) * int(module.bias.element_size())
        self._pending_metrics = {
            "weight_read_bytes": uses * int(module.weight.element_size()),
            "bias_read_bytes": bias,
        }
        return sum(self._pending_metrics.values())

    def _count_neuron(self, module: nn.Module, inputs: tuple, kwargs: dict, output: Any) -> int:
        x = _first_tensor(inputs, kwargs)
        steps = int(x.shape[0]) if module.step_mode == "m" else 1
        state_bytes = sum(
            int(s.numel()) * int(s.element_size()) for s in module.memories() if torch.is_tensor(s)
        )
        self._pending_metrics = {
            "neuron_state_read_bytes": state_bytes * steps,
            "neuron_state_write_bytes": state_bytes * steps,
        }
        return sum(self._pending_metrics.values())

    def record(self, scope: str, func: Any, value: int) -> None:
        for name, metric in self._pending_metrics.items():
            self.records[scope][name] += metric

    def finalize_record(self) -> None:
        self._pending_metrics.clear()

    def reset(self) -> None:
        super().reset()
        self._pending_metrics.clear()

    def get_counts(self) -> dict[str, dict[str, int]]:
        return {
            scope: {m: values.get(m, 0) for m in _MEMORY_METRICS}
            for scope, values in self.records.items()
        }

    def get_total(self) -> int:
        return sum(self.records.get("Global", {}).values())
