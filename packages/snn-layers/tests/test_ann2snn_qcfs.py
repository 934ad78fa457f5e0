"""SignedQCFSSequenceEncoder: sums equal the QCFS quantisation; spikes by hand."""

from __future__ import annotations

import pytest
import torch
from snn_layers.ann2snn import SignedQCFSSequenceEncoder


def test_spike_train_by_hand():
    # s = 1, T = 4, x = 2: input 0.5 per step, fire when H + 0.5 >= 1, soft reset by 1
    # H: 0.5 (fire, V=-0.5), 0.0, 0.5 (fire), 0.0 -> spikes 1, 0, 1, 0; x = -1 -> one
    # negative spike at the first step where H reaches 0.5 (t = 1: 0.25, 0.5)
    enc = SignedQCFSSequenceEncoder(torch.tensor([1.0]), 4)
    seq = enc.encode(torch.tensor([[2.0], [-1.0]]))
    assert seq[:, 0, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert seq[:, 1, 0].tolist() == [0.0, -1.0, 0.0, 0.0]
    assert enc.positive_spike_count == 2 and enc.negative_spike_count == 1


@pytest.mark.parametrize("channel_dim", [-1, 1])
def test_sum_over_time_is_the_qcfs_quantisation(channel_dim):
    torch.manual_seed(0)
    scale = torch.tensor([0.25, 0.5, 0.7])
    value = torch.randn(4, 3, 3) * 2
    enc = SignedQCFSSequenceEncoder(scale, 6, channel_dim=channel_dim)
    shape = [1, 1, 1]
    shape[channel_dim] = 3
    s = scale.reshape(shape)
    expected = torch.round(value / s).clamp(-6, 6) * s
    seq = enc.encode(value)
    assert seq.shape == (6, 4, 3, 3)
    torch.testing.assert_close(seq.sum(0), expected, atol=0.0, rtol=0.0)
    torch.testing.assert_close(enc.reconstruct(value), expected, atol=1e-6, rtol=0.0)
    rel = torch.linalg.vector_norm(expected - value) / torch.linalg.vector_norm(value)
    assert enc.statistics()["local_relative_l2"] == pytest.approx(rel.item(), rel=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="finite positive one-dimensional"):
        SignedQCFSSequenceEncoder(torch.tensor([0.0]), 4)
    with pytest.raises(ValueError, match="time_steps must be positive"):
        SignedQCFSSequenceEncoder(torch.tensor([1.0]), 0)
    enc = SignedQCFSSequenceEncoder(torch.tensor([1.0, 2.0]), 4)
    with pytest.raises(ValueError, match="does not match the QCFS scale"):
        enc.encode(torch.ones(2, 3))
