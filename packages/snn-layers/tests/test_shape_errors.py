"""Multi-step shape errors name the layer and the expected and given [T, N, *] shapes.

Without the checks, torch reports the folded [T*N, *] shapes ("mat1 and mat2 shapes cannot be
multiplied (6x5 and 4x2)", "running_mean should contain 5 elements not 4"), or, for a missing
T, a channel count or nothing at all (an unbatched convolution / pooling runs silently).
"""

from __future__ import annotations

import re

import pytest
import snn_layers as L
import torch
from torch import nn


def _raises(fn, *args, match: str):
    with pytest.raises(ValueError, match=re.escape(match)) as info:
        fn(*args)
    return str(info.value)


MISSING_T = "is the time dimension T missing?"


@pytest.mark.parametrize(
    "layer,x_shape,message",
    [
        (
            L.Linear(4, 2, step_mode="m"),
            (2, 3, 5),
            "Linear(in_features=4) in step_mode='m' expected x with shape [T, N, *, 4], "
            "got [2, 3, 5]",
        ),
        (
            L.Conv2d(3, 4, 3, step_mode="m"),
            (2, 5, 8, 8, 8),
            "Conv2d(in_channels=3) in step_mode='m' expected x with shape [T, N, C=3, H, W], "
            "got [2, 5, 8, 8, 8]",
        ),
        (
            L.Conv1d(3, 4, 3, step_mode="m"),
            (2, 1, 4, 8),
            "Conv1d(in_channels=3) in step_mode='m' expected x with shape [T, N, C=3, L]",
        ),
        (
            L.Conv3d(3, 4, 1, step_mode="m"),
            (2, 1, 2, 4, 4, 4),
            "Conv3d(in_channels=3) in step_mode='m' expected x with shape [T, N, C=3, D, H, W]",
        ),
        (
            L.ConvTranspose2d(3, 4, 2, step_mode="m"),
            (2, 1, 2, 4, 4),
            "ConvTranspose2d(in_channels=3) in step_mode='m' expected x with shape "
            "[T, N, C=3, H, W], got [2, 1, 2, 4, 4]",
        ),
        (
            L.BatchNorm2d(4, step_mode="m"),
            (2, 3, 5, 4, 4),
            "BatchNorm2d(num_features=4) in step_mode='m' expected x with shape "
            "[T, N, C=4, H, W], got [2, 3, 5, 4, 4]",
        ),
        (
            L.BatchNorm1d(4, step_mode="m"),
            (2, 3, 5),
            "BatchNorm1d(num_features=4) in step_mode='m' expected x with shape "
            "[T, N, C=4] or [T, N, C=4, L], got [2, 3, 5]",
        ),
        (
            L.BatchNorm3d(2, step_mode="m"),
            (2, 3, 1, 2, 2, 2),
            "BatchNorm3d(num_features=2) in step_mode='m' expected x with shape "
            "[T, N, C=2, D, H, W]",
        ),
        (
            L.GroupNorm(2, 4, step_mode="m"),
            (3, 2, 6, 5),
            "GroupNorm(num_channels=4) in step_mode='m' expected x with shape [T, N, C=4, *], "
            "got [3, 2, 6, 5]",
        ),
        (
            L.WSConv2d(3, 4, 1, step_mode="m"),
            (2, 1, 4, 4, 4),
            "WSConv2d(in_channels=3) in step_mode='m' expected x with shape [T, N, C=3, H, W]",
        ),
        (
            L.WSLinear(4, 2, step_mode="m"),
            (2, 1, 3),
            "WSLinear(in_features=4) in step_mode='m' expected x with shape [T, N, *, 4]",
        ),
        (
            L.ThresholdDependentBatchNorm2d(1.0, 1.0, 4),
            (2, 1, 3, 2, 2),
            "ThresholdDependentBatchNorm2d(num_features=4) in step_mode='m' expected x with "
            "shape [T, N, C=4, H, W], got [2, 1, 3, 2, 2]",
        ),
        (
            L.TemporalEffectiveBatchNorm2d(2, 4),
            (2, 1, 3, 2, 2),
            "TemporalEffectiveBatchNorm2d(num_features=4) in step_mode='m' expected x with "
            "shape [T, N, C=4, H, W]",
        ),
    ],
)
def test_wrong_feature_size_names_layer_and_unfolded_shapes(layer, x_shape, message):
    text = _raises(layer, torch.randn(x_shape), match=message)
    assert MISSING_T not in text  # the number of dimensions is right: no hint about T


@pytest.mark.parametrize(
    "layer,x_shape,layout",
    [
        (L.Linear(4, 2, step_mode="m"), (3, 4), "[T, N, *, 4]"),
        (L.Conv2d(3, 4, 3, step_mode="m"), (2, 3, 8, 8), "[T, N, C=3, H, W]"),
        (L.Conv1d(3, 4, 3, step_mode="m"), (2, 3, 8), "[T, N, C=3, L]"),
        (L.BatchNorm2d(3, step_mode="m"), (2, 3, 4, 4), "[T, N, C=3, H, W]"),
        # [N, C, L] reads as [T, N, C] with C in the place of N
        (L.BatchNorm1d(4, step_mode="m"), (3, 4, 7), "[T, N, C=4] or [T, N, C=4, L]"),
        (L.MaxPool2d(2, step_mode="m"), (2, 3, 4, 4), "[T, N, C, H, W]"),
        (L.AvgPool1d(2, step_mode="m"), (2, 3, 4), "[T, N, C, L]"),
        (L.AdaptiveAvgPool3d(1, step_mode="m"), (2, 3, 4, 4, 4), "[T, N, C, D, H, W]"),
        (L.Flatten(step_mode="m"), (3, 4), "[T, N, *]"),
        (L.Upsample(scale_factor=2, step_mode="m"), (3, 4, 4), "[T, N, C, L] or [T, N, C, H, W]"),
    ],
)
def test_missing_time_dimension_is_named(layer, x_shape, layout):
    text = _raises(layer, torch.randn(x_shape), match=f"expected x with shape {layout}")
    assert MISSING_T in text and f"got {list(x_shape)}" in text
    assert "step_mode='s'" in text


def test_max_unpool_checks_values_and_indices():
    unpool = L.MaxUnpool2d(2, step_mode="m")
    _raises(
        unpool,
        torch.randn(2, 1, 4, 4),
        torch.zeros(2, 1, 4, 4, dtype=torch.long),
        match="MaxUnpool2d in step_mode='m' expected x with shape [T, N, C, H, W], "
        "got [2, 1, 4, 4]",
    )
    _raises(
        unpool,
        torch.randn(2, 1, 1, 2, 2),
        torch.zeros(2, 1, 1, 3, 3, dtype=torch.long),
        match="expected indices with the same shape as x [2, 1, 1, 2, 2]",
    )


def test_containers_check_against_their_first_layer():
    x = torch.randn(2, 3, 5)
    _raises(
        L.SeqToANNContainer(nn.Linear(4, 2)),
        x,
        match="SeqToANNContainer: its first module Linear(in_features=4) expected x_seq with "
        "shape [T, N, *, 4], got [2, 3, 5]",
    )
    # a missing T would otherwise run as an unbatched convolution of T*N "channels"
    conv = nn.Conv2d(3, 4, 3)
    for container in (
        L.SeqToANNContainer(conv),
        L.StepModeContainer(False, conv, step_mode="m"),
        L.SeqToANNContainer(nn.Sequential(conv, nn.ReLU())),
    ):
        text = _raises(
            container, torch.randn(2, 3, 8, 8), match="[T, N, C=3, H, W], got [2, 3, 8, 8]"
        )
        assert type(container).__name__ in text and MISSING_T in text
    _raises(
        L.TLastSeqToANNContainer(nn.Linear(4, 2)),
        torch.randn(2, 5, 3),
        match="TLastSeqToANNContainer: its first module Linear(in_features=4) expected x_seq "
        "with shape [N, *, 4, T], got [2, 5, 3]",
    )
    _raises(
        L.TLastSeqToANNContainer(nn.Conv1d(2, 2, 1)),
        torch.randn(4, 3, 5, 6),
        match="[N, C=2, L, T], got [4, 3, 5, 6]",
    )


def test_looping_containers_leave_steps_to_torch():
    # a loop never mixes T with N, and torch runs unbatched steps: [T, C, H, W] works as in
    # the reference framework (each step [C, H, W]); a wrong size is torch's per-step error
    conv = nn.Conv2d(3, 4, 3)
    x = torch.randn(2, 3, 8, 8)
    ref = torch.stack([conv(v) for v in x])
    for container in (L.MultiStepContainer(conv), L.StepModeContainer(True, conv, step_mode="m")):
        torch.testing.assert_close(container(x), ref)


def test_valid_inputs_still_pass():
    assert L.Linear(4, 2, step_mode="m")(torch.randn(2, 3, 4)).shape == (2, 3, 2)
    assert L.Linear(4, 2, step_mode="m")(torch.randn(2, 3, 7, 4)).shape == (2, 3, 7, 2)
    assert L.BatchNorm1d(4, step_mode="m")(torch.randn(2, 3, 4)).shape == (2, 3, 4)
    assert L.BatchNorm1d(4, step_mode="m")(torch.randn(2, 3, 4, 5)).shape == (2, 3, 4, 5)
    assert L.Upsample(scale_factor=2, step_mode="m")(torch.randn(2, 1, 1, 3)).shape[-1] == 6
    # unknown and lazy layers are not checked (a lazy layer knows its size after its first call)
    lazy = L.SeqToANNContainer(nn.LazyLinear(2))
    assert lazy(torch.randn(2, 3, 5)).shape == (2, 3, 2)
    assert L.SeqToANNContainer(nn.ReLU())(torch.randn(2, 3)).shape == (2, 3)
    assert L.SeqToANNContainer()(torch.randn(2, 3)).shape == (2, 3)


def test_checked_layers_work_under_torch_compile_and_torch_func():
    lin = L.Linear(4, 2, step_mode="m")
    net = L.SeqToANNContainer(nn.Linear(4, 2), nn.ReLU())
    x = torch.randn(3, 2, 4)
    compiled = torch.compile(lin, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), lin(x))
    compiled_net = torch.compile(net, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled_net(x), net(x))
    params = dict(lin.named_parameters())
    out = torch.func.functional_call(lin, params, (x,))
    torch.testing.assert_close(out, lin(x))
    # vmap over an extra leading batch: each call sees a [T, N, 4] input
    xs = torch.randn(5, 3, 2, 4)
    torch.testing.assert_close(torch.func.vmap(lin)(xs), torch.stack([lin(v) for v in xs]))
    with pytest.raises(ValueError, match=re.escape("[T, N, *, 4], got [3, 2, 5]")):
        torch.func.vmap(lin)(torch.randn(5, 3, 2, 5))
