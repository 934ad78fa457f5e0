"""The public API: every layer name of the reference documentation, with its signature."""

from __future__ import annotations

import inspect

import pytest
import snn_layers as L
import torch
from snn_core.base import MemoryModule, StepModule
from torch import nn

# Parameter names and defaults of the reference API (seed 001), annotations left out.
REFERENCE_SIGNATURES = {
    "MultiStepContainer": "*args",
    "SeqToANNContainer": "*args",
    "StepModeContainer": "stateful, *args",
    "Conv1d": (
        "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, "
        "groups=1, bias=True, padding_mode='zeros', step_mode='s'"
    ),
    "Conv2d": (
        "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, "
        "groups=1, bias=True, padding_mode='zeros', step_mode='s'"
    ),
    "Conv3d": (
        "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, "
        "groups=1, bias=True, padding_mode='zeros', step_mode='s'"
    ),
    "Upsample": (
        "size=None, scale_factor=None, mode='nearest', align_corners=None, "
        "recompute_scale_factor=None, step_mode='s'"
    ),
    "ConvTranspose1d": (
        "in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, "
        "groups=1, bias=True, dilation=1, padding_mode='zeros', step_mode='s'"
    ),
    "ConvTranspose2d": (
        "in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, "
        "groups=1, bias=True, dilation=1, padding_mode='zeros', step_mode='s'"
    ),
    "ConvTranspose3d": (
        "in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, "
        "groups=1, bias=True, dilation=1, padding_mode='zeros', step_mode='s'"
    ),
    "BatchNorm1d": (
        "num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, "
        "step_mode='s'"
    ),
    "BatchNorm2d": (
        "num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, "
        "step_mode='s'"
    ),
    "BatchNorm3d": (
        "num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, "
        "step_mode='s'"
    ),
    "GroupNorm": "num_groups, num_channels, eps=1e-05, affine=True, step_mode='s'",
    "MaxPool1d": (
        "kernel_size, stride=None, padding=0, dilation=1, return_indices=False, "
        "ceil_mode=False, step_mode='s'"
    ),
    "MaxPool2d": (
        "kernel_size, stride=None, padding=0, dilation=1, return_indices=False, "
        "ceil_mode=False, step_mode='s'"
    ),
    "MaxPool3d": (
        "kernel_size, stride=None, padding=0, dilation=1, return_indices=False, "
        "ceil_mode=False, step_mode='s'"
    ),
    "AvgPool1d": (
        "kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, "
        "step_mode='s'"
    ),
    "AvgPool2d": (
        "kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, "
        "divisor_override=None, step_mode='s'"
    ),
    "AvgPool3d": (
        "kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, "
        "divisor_override=None, step_mode='s'"
    ),
    "AdaptiveAvgPool1d": "output_size, step_mode='s'",
    "AdaptiveAvgPool2d": "output_size, step_mode='s'",
    "AdaptiveAvgPool3d": "output_size, step_mode='s'",
    "Linear": "in_features, out_features, bias=True, step_mode='s'",
    "Flatten": "start_dim=1, end_dim=-1, step_mode='s'",
    "NeuNorm": "in_channels, height, width, k=0.9, shared_across_channels=False, step_mode='s'",
    "Dropout": "p=0.5, step_mode='s'",
    "Dropout2d": "p=0.2, step_mode='s'",
    "SynapseFilter": "tau=100.0, learnable=False, step_mode='s'",
    "DropConnectLinear": (
        "in_features, out_features, bias=True, p=0.5, samples_num=1024, invariant=False, "
        "activation=ReLU(), state_mode='s'"
    ),
    "PrintShapeModule": "ext_str='PrintShapeModule'",
    "ElementWiseRecurrentContainer": "sub_module, element_wise_function, step_mode='s'",
    "LinearRecurrentContainer": "sub_module, in_features, out_features, bias=True, step_mode='s'",
    "ThresholdDependentBatchNorm1d": "alpha, v_th, *args, **kwargs",
    "ThresholdDependentBatchNorm2d": "alpha, v_th, *args, **kwargs",
    "ThresholdDependentBatchNorm3d": "alpha, v_th, *args, **kwargs",
    "VotingLayer": "voting_size=10, step_mode='s'",
    "Delay": "delay_steps, step_mode='s'",
    "TemporalEffectiveBatchNormNd": (
        "T, num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True,"
        " device=None, dtype=None, step_mode='m'"
    ),
    "TemporalEffectiveBatchNorm1d": (
        "T, num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True,"
        " device=None, dtype=None, step_mode='m'"
    ),
    "TemporalEffectiveBatchNorm2d": (
        "T, num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True,"
        " device=None, dtype=None, step_mode='m'"
    ),
    "TemporalEffectiveBatchNorm3d": (
        "T, num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True,"
        " device=None, dtype=None, step_mode='m'"
    ),
    "GradwithTrace": "module",
    "SpikeTraceOp": "module",
    "OTTTSequential": "*args",
    "WSConv2d": (
        "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, "
        "groups=1, bias=True, padding_mode='zeros', step_mode='s', gain=True, eps=0.0001"
    ),
    "WSLinear": "in_features, out_features, bias=True, step_mode='s', gain=True, eps=0.0001",
}

# Names listed in the reference overview (seed 000) without a detailed signature.
OVERVIEW_ONLY = [
    "TLastMultiStepContainer",
    "TLastSeqToANNContainer",
    "BatchNormThroughTime1d",
    "BatchNormThroughTime2d",
    "BatchNormThroughTime3d",
    "ReplaceforGrad",
]


def _signature(obj: type) -> str:
    parts = []
    for p in inspect.signature(obj).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            parts.append("*" + p.name)
        elif p.kind is p.VAR_KEYWORD:
            parts.append("**" + p.name)
        elif p.kind is p.KEYWORD_ONLY:
            continue  # our keyword-only additions (aliases) do not change the reference's
        elif p.default is p.empty:
            parts.append(p.name)
        else:
            parts.append(f"{p.name}={p.default!r}")
    return ", ".join(parts)


@pytest.mark.parametrize("name", sorted(REFERENCE_SIGNATURES))
def test_signature_follows_the_reference(name):
    expected = REFERENCE_SIGNATURES[name]
    ours = _signature(getattr(L, name))
    if name == "Delay":  # delay_steps is optional only so that the alias delay= can be used
        ours = ours.replace("delay_steps=None", "delay_steps")
    assert ours == expected


@pytest.mark.parametrize("name", sorted(REFERENCE_SIGNATURES) + OVERVIEW_ONLY)
def test_name_is_exported(name):
    assert name in L.__all__ and hasattr(L, name)


def test_all_is_complete_and_importable():
    for name in L.__all__:
        assert hasattr(L, name), name
    assert L.__version__ == "0.1.0"


def test_step_mode_modules_default_to_single_step():
    for name in ("Conv2d", "Linear", "BatchNorm2d", "MaxPool2d", "Flatten"):
        m = getattr(L, name).__init__
        assert inspect.signature(m).parameters["step_mode"].default == "s"
    assert L.Dropout().step_mode == "s"
    assert isinstance(L.Conv2d(1, 1, 1), nn.Conv2d) and isinstance(L.Conv2d(1, 1, 1), StepModule)
    assert isinstance(L.Dropout(), MemoryModule)
    assert isinstance(L.ThresholdDependentBatchNorm2d(1.0, 1.0, 2), nn.modules.batchnorm._BatchNorm)
    assert L.TemporalEffectiveBatchNorm2d.bn_instance is nn.BatchNorm2d
    assert torch.is_tensor(L.TemporalEffectiveBatchNorm2d(2, 3).scale)
