"""STDP-family learners: bad input gets a clear error naming the learner and the module,
and a failed step leaves the learner's state untouched."""

from __future__ import annotations

import pytest
import snn_layers
import torch
from snn_layers import learning
from torch import nn


def _pair(fc: nn.Module, sn: nn.Module, pre: torch.Tensor, post: torch.Tensor) -> None:
    fc(pre)
    sn(post)


@pytest.mark.parametrize(
    ("cls", "synapse"),
    [
        (learning.STDPLearner, nn.Conv3d(1, 1, 1)),
        (learning.STDPLearner, nn.Bilinear(2, 2, 2)),
        (learning.MSTDPLearner, nn.Conv2d(1, 1, 1)),
        (learning.MSTDPETLearner, snn_layers.Conv1d(1, 1, 1)),
    ],
)
def test_unsupported_synapse_names_learner_and_module(cls, synapse):
    extra = {"tau_trace": 2.0} if cls is learning.MSTDPETLearner else {}
    with pytest.raises(NotImplementedError, match=f"{cls.__name__}.*{type(synapse).__name__}"):
        cls("s", synapse, nn.Identity(), 2.0, 2.0, **extra)


@pytest.mark.parametrize(
    ("conv", "what"),
    [(nn.Conv2d(2, 2, 3, dilation=2), "dilation"), (nn.Conv1d(2, 4, 3, groups=2), "groups")],
)
def test_unsupported_conv_configuration(conv, what):
    with pytest.raises(NotImplementedError, match=f"STDPLearner.*{what}"):
        learning.STDPLearner("s", conv, nn.Identity(), 2.0, 2.0)


def test_bad_step_mode_and_time_constants():
    fc = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"STDPLearner: step_mode can only be one of \('s', 'm'\)"):
        learning.STDPLearner("x", fc, nn.Identity(), 2.0, 2.0)
    with pytest.raises(ValueError, match=r"MSTDPLearner: step_mode can only be one of \('s',\)"):
        learning.MSTDPLearner("m", fc, nn.Identity(), 2.0, 2.0)
    with pytest.raises(ValueError, match="STDPLearner: tau_pre .*>= 1.*0.5"):
        learning.STDPLearner("s", fc, nn.Identity(), 0.5, 2.0)
    learning.MSTDPLearner("s", fc, nn.Identity(), 0.5, 2.0)  # exponential decay: tau > 0 is fine
    with pytest.raises(ValueError, match="MSTDPETLearner: tau_trace .*> 0"):
        learning.MSTDPETLearner("s", fc, nn.Identity(), 2.0, 2.0, 0.0)
    with pytest.raises(ValueError, match="batch_size"):
        learning.MSTDPLearner("s", fc, nn.Identity(), 2.0, 2.0, batch_size=0)


@pytest.mark.parametrize("cls", [learning.STDPLearner, learning.MSTDPLearner])
def test_step_before_any_forward_names_module(cls):
    learner = cls("s", nn.Linear(3, 2), nn.Identity(), 2.0, 2.0)
    args = (1.0,) if cls is learning.MSTDPLearner else ()
    with pytest.raises(
        RuntimeError, match=rf"{cls.__name__} of Linear\(in_features=3.*before any forward"
    ):
        learner.step(*args)


def test_mismatched_spike_shapes_fail_before_advancing():
    fc, sn = snn_layers.Linear(4, 3, bias=False), nn.Identity()
    learner = learning.STDPLearner("s", fc, sn, 2.0, 2.0)
    _pair(fc, sn, torch.ones(2, 4), torch.ones(2, 5))  # 5 post neurons, the weight has 3
    with pytest.raises(ValueError, match=r"STDPLearner of Linear.*\(2, 4\).*\(2, 5\)"):
        learner.step()
    assert learner.trace_pre is None and fc.weight.grad is None
    learner.reset()
    _pair(fc, sn, torch.ones(2, 4), torch.ones(3, 3))  # batch sizes differ
    with pytest.raises(ValueError, match="batch sizes must agree"):
        learner.step()
    learner.reset()
    _pair(fc, sn, torch.ones(2, 4), torch.ones(2, 3))
    learner.step()
    _pair(fc, sn, torch.ones(5, 4), torch.ones(5, 3))  # new batch size without reset()
    with pytest.raises(ValueError, match=r"trace_pre has shape \(2, 4\).*reset\(\)"):
        learner.step()


def test_multi_step_records_need_time_dimension_and_equal_T():
    fc, sn = nn.Linear(4, 3), nn.Identity()
    learner = learning.STDPLearner("m", fc, sn, 2.0, 2.0)
    _pair(fc, sn, torch.ones(2, 4), torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"step_mode='m'.*\[T, N, features\]"):
        learner.step()
    learner.reset()
    _pair(fc, sn, torch.ones(3, 2, 4), torch.ones(2, 2, 3))
    with pytest.raises(ValueError, match="T=3 steps but the sn output has T=2"):
        learner.step()


def test_conv_output_shape_must_match_synapse():
    conv, sn = nn.Conv2d(1, 2, 3, padding=1), nn.Identity()
    learner = learning.STDPLearner("s", conv, sn, 2.0, 2.0)
    _pair(conv, sn, torch.ones(1, 1, 5, 5), torch.ones(1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"STDPLearner of Conv2d.*\(3, 3\).*\(5, 5\)"):
        learner.step()


def test_record_counts_must_agree():
    fc, sn = nn.Linear(4, 3), nn.Identity()
    learner = learning.STDPLearner("s", fc, sn, 2.0, 2.0)
    fc(torch.ones(1, 4))
    with pytest.raises(RuntimeError, match="recorded 1 inputs but sn recorded 0 outputs"):
        learner.step()


def test_closed_learner_refuses_step_and_enable():
    fc, sn = nn.Linear(4, 3), nn.Identity()
    learner = learning.STDPLearner("s", fc, sn, 2.0, 2.0)
    learner.close()
    with pytest.raises(RuntimeError, match="STDPLearner of Linear.*closed"):
        learner.step()
    with pytest.raises(RuntimeError, match="closed"):
        learner.enable()


def test_reward_learners_check_reward_and_pending_pairs():
    fc, sn = nn.Linear(4, 3), nn.Identity()
    learner = learning.MSTDPLearner("s", fc, sn, 2.0, 2.0, batch_size=2)
    _pair(fc, sn, torch.ones(2, 4), torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"reward must be a number or shaped \[N\] = \[2\]"):
        learner.step(torch.ones(3))
    _pair(fc, sn, torch.ones(2, 4), torch.ones(2, 3))
    with pytest.raises(RuntimeError, match="exactly one forward per step"):
        learner.step(1.0)
    learner.reset()
    _pair(fc, sn, torch.ones(3, 4), torch.ones(3, 3))
    with pytest.raises(ValueError, match="batch_size=2 but the spikes have a batch of 3"):
        learner.step(1.0)
    et = learning.MSTDPETLearner("s", fc, sn, 2.0, 2.0, 2.0)
    learner.close()
    _pair(fc, sn, torch.ones(4), torch.ones(3))
    with pytest.raises(ValueError, match="MSTDPETLearner.*reward must be a number"):
        et.step(torch.ones(2))
    et.reset()
    _pair(fc, sn, torch.ones(1, 4), torch.ones(1, 3))
    with pytest.raises(ValueError, match=r"\[features\] \(one unbatched sample\)"):
        et.step(1.0)


def test_module_taking_helpers_reject_unsupported_layers():
    with pytest.raises(NotImplementedError, match="stdp_multi_step.*Conv3d"):
        learning.stdp_multi_step(nn.Conv3d(1, 1, 1), torch.ones(1, 1, 1, 1, 1, 1),
                                 torch.ones(1, 1, 1, 1, 1, 1), None, None, 2.0, 2.0)  # fmt: skip
    with pytest.raises(NotImplementedError, match="dilation"):
        learning.stdp_conv1d_single_step(
            nn.Conv1d(2, 3, 3, dilation=2), torch.zeros(1, 2, 5), torch.zeros(1, 3, 1),
            None, None, 2.0, 3.0,
        )  # fmt: skip
