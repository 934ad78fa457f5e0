"""Which implementation the functional neuron steps run on a device."""

from __future__ import annotations

import torch

__all__ = ["neuron_implementation"]

_NEURON_TYPES = (
    "if",
    "lif",
    "plif",
    "qif",
    "eif",
    "izhikevich",
    "ilif",
    "activation_aware_if",
    "stbif",
    "clif",
)


def neuron_implementation(
    neuron_type: str, device: torch.device, *, execution: str = "eager"
) -> dict[str, object]:
    """The implementation behind ``<neuron_type>_step`` / ``_multi_step`` on ``device``.

    The functional steps of :mod:`snn_core.functional` always run their torch definition (a
    loop of the single step; autograd for the backward) on CPU and CUDA alike, so the answer
    is ``{"implementation": "torch-reference", "unavailable": {...}}``, where ``unavailable``
    says why the reference framework's fused CUDA kernels are not used. (The neuron
    *modules* of ``snn_neurons`` have their own multi-step backends.) Starts nothing.

    Args:
        neuron_type: one of ``'if', 'lif', 'plif', 'qif', 'eif', 'izhikevich', 'ilif',
            'activation_aware_if', 'stbif', 'clif'``.
        device: a CPU or CUDA ``torch.device`` (or its string).
        execution: ``'eager'`` or ``'compile'``.
    """
    if neuron_type not in _NEURON_TYPES:
        raise ValueError(f"neuron_type must be one of {_NEURON_TYPES}, got {neuron_type!r}")
    if execution not in ("eager", "compile"):
        raise ValueError(f"execution must be 'eager' or 'compile', got {execution!r}")
    device = torch.device(device)
    if device.type == "cpu":
        return {"implementation": "torch-reference", "unavailable": {}}
    if device.type != "cuda":
        raise ValueError(f"device must be a CPU or CUDA device, got {device}")
    reason = (
        "snn_core's functional steps have no fused kernels; the neuron modules' "
        "backend='triton' / 'cupy' are the fused paths"
    )
    return {"implementation": "torch-reference", "unavailable": {"triton": reason, "cuda": reason}}
