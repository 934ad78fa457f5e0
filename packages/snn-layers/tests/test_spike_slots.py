"""SpikeCountToBinary / TemporalBinSum: integer counts as binary slots and back."""

from __future__ import annotations

import pytest
import snn_layers as L
import torch
from snn_core import functional


def test_counts_expand_to_leading_ones_per_step():
    counts = torch.tensor([[[0.0, 2.0, 4.0]], [[3.0, 1.0, 0.0]]])  # [T=2, N=1, 3]
    spikes = L.SpikeCountToBinary(4).eval()(counts)
    # slot k of step t is 1 iff k < count[t]
    expected = torch.tensor(
        [
            [[0, 1, 1]], [[0, 1, 1]], [[0, 0, 1]], [[0, 0, 1]],
            [[1, 1, 0]], [[1, 0, 0]], [[1, 0, 0]], [[0, 0, 0]],
        ],
        dtype=torch.float32,
    )  # fmt: skip
    assert torch.equal(spikes, expected)


def test_inactive_in_training_unless_always_convert():
    counts = torch.tensor([[[1.0, 2.0]]])
    x_seq = torch.randn(5, 2)
    assert L.SpikeCountToBinary(2)(counts) is counts
    assert L.TemporalBinSum(2)(x_seq) is x_seq
    assert L.SpikeCountToBinary(2, always_convert=True)(counts).shape == (2, 1, 2)
    assert L.TemporalBinSum(2, always_convert=True)(x_seq).shape == (3, 2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtype_is_kept_and_slots_sum_to_counts(dtype):
    counts = torch.tensor([[[0.0, 1.0, 2.0, 3.0]]], dtype=dtype)
    spikes = L.SpikeCountToBinary(3, always_convert=True)(counts)
    assert spikes.dtype == dtype and set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(L.TemporalBinSum(3, always_convert=True)(spikes), counts)


def test_bin_sum_pads_the_last_bin_with_zeros():
    x_seq = torch.arange(10.0).reshape(5, 2).requires_grad_()
    y = L.TemporalBinSum(4, always_convert=True)(x_seq)
    # bins {0,1,2,3} and {4, pad, pad, pad}
    assert torch.equal(y, torch.tensor([[12.0, 16.0], [8.0, 9.0]]))
    y.sum().backward()
    assert torch.equal(x_seq.grad, torch.ones(5, 2))


def test_binary_slots_through_a_bias_free_layer_equal_the_counts_forward_and_backward():
    torch.manual_seed(0)
    S = 4
    counts = torch.randint(0, S + 1, (3, 2, 5)).double()
    lin = L.Linear(5, 3, bias=False, step_mode="m").double()
    expand = L.SpikeCountToBinary(S, always_convert=True)
    reduce = L.TemporalBinSum(S, always_convert=True)
    g = torch.randn(3, 2, 3, dtype=torch.double)

    c1 = counts.clone().requires_grad_()
    direct = lin(c1)
    (direct * g).sum().backward()
    grads_direct = (c1.grad.clone(), lin.weight.grad.clone())
    lin.weight.grad = None

    c2 = counts.clone().requires_grad_()
    slotted = reduce(lin(expand(c2)))
    (slotted * g).sum().backward()
    torch.testing.assert_close(slotted, direct)
    # straight-through: d slot / d count = 1/S, so the input gradient is the mean over slots
    torch.testing.assert_close(c2.grad, grads_direct[0])
    torch.testing.assert_close(lin.weight.grad, grads_direct[1])


def test_multi_step_only_and_bad_arguments():
    for cls in (L.SpikeCountToBinary, L.TemporalBinSum):
        m = cls(2, always_convert=True)
        assert m.step_mode == "m" and m.supported_step_mode() == ("m",)
        with pytest.raises(ValueError, match="step_mode"):
            functional.set_step_mode(m, "s")
        with pytest.raises(ValueError, match="num_slots must be >= 1"):
            cls(0)
        with pytest.raises(ValueError, match="num_slots must be >= 1"):
            cls(True)
        with pytest.raises(TypeError, match="always_convert must be a bool"):
            cls(2, always_convert=1)
        for bad in (torch.ones(2), torch.empty(0, 1)):
            with pytest.raises(ValueError, match=r"shape \[T, N, \*\] with T > 0"):
                m(bad)
        assert "num_slots=2" in repr(m)
