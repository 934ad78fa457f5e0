"""The timm-like helpers written for the zoo: trunc_normal_ and DropPath."""

from __future__ import annotations

import math

import pytest
import snn_zoo
import torch


def test_trunc_normal_matches_the_truncated_normal_moments():
    torch.manual_seed(0)
    x = snn_zoo.trunc_normal_(torch.empty(400_000), mean=0.5, std=1.0, a=-0.5, b=1.5)
    assert x.min() >= -0.5 and x.max() <= 1.5
    # closed form for N(0, 1) truncated to [-1, 1] (then shifted by 0.5)
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    z = math.erf(1 / math.sqrt(2))
    var = 1 - 2 * phi / z
    assert abs(x.mean().item() - 0.5) < 3e-3
    assert abs(x.std().item() - math.sqrt(var)) < 3e-3
    with pytest.raises(ValueError, match="std"):
        snn_zoo.trunc_normal_(torch.empty(3), std=0.0)


def test_drop_path_drops_whole_samples_for_all_time_steps():
    torch.manual_seed(0)
    dp = snn_zoo.DropPath(0.25)
    x = torch.ones(3, 4000, 2)  # [T, B, C]
    y = dp(x)
    kept = y[0, :, 0] != 0
    assert torch.equal(y != 0, kept[None, :, None].expand_as(y))  # same decision over T and C
    assert torch.allclose(y[:, kept], torch.full_like(y[:, kept], 1 / 0.75))
    assert abs(kept.float().mean().item() - 0.75) < 0.03
    dp.eval()
    assert torch.equal(dp(x), x)
    with pytest.raises(ValueError, match="drop_prob"):
        snn_zoo.DropPath(1.0)
