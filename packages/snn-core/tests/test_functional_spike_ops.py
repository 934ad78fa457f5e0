"""Bit-packed spikes and spike-input linear layers against hand-computed bytes and F.linear."""

import pytest
import torch
import torch.nn.functional as F
from snn_core import functional


def test_bit_spike_compress_packs_lsb_first():
    spike = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    packed = functional.bit_spike_compress(spike)
    # byte 0: bits 0, 2, 3 -> 1 + 4 + 8 = 13; byte 1: bit 0 -> 1
    assert packed.dtype == torch.uint8
    assert packed.tolist() == [13, 1]


def test_bit_spike_compress_treats_any_nonzero_as_spike():
    assert functional.bit_spike_compress(torch.tensor([0.3, -2.0, 0.0])).tolist() == [3]
    assert functional.bit_spike_compress(torch.tensor([True] * 8)).tolist() == [255]


@pytest.mark.parametrize("shape", [(3, 5, 7), (8,), (0,), (2, 1)])
def test_bit_spike_round_trip(shape):
    g = torch.Generator().manual_seed(0)
    spike = (torch.rand(shape, generator=g) > 0.5).float()
    packed = functional.bit_spike_compress(spike)
    assert packed.shape == ((spike.numel() + 7) // 8,)
    out = functional.bit_spike_decompress(packed, shape, torch.float32)
    assert out.dtype == torch.float32 and torch.equal(out, spike)
    assert functional.bit_spike_decompress(packed, shape).dtype == torch.uint8


def test_bit_spike_decompress_rejects_wrong_length():
    with pytest.raises(ValueError, match="needs 2"):
        functional.bit_spike_decompress(torch.zeros(3, dtype=torch.uint8), (3, 4))
    with pytest.raises(ValueError, match="uint8"):
        functional.bit_spike_decompress(torch.zeros(2), (3, 4))


def test_bit_pack_spike_dense_rows_and_threshold():
    spike = torch.tensor([[0.6, 0.5, 1.0] + [0.0] * 6, [0.0] * 8 + [1.0]])
    packed = functional.bit_pack_spike_dense(spike)
    assert packed.tolist() == [[5, 0], [0, 1]]


def test_bit_pack_spike_dense_rejects_bad_input():
    with pytest.raises(ValueError, match="2-d"):
        functional.bit_pack_spike_dense(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match="floating"):
        functional.bit_pack_spike_dense(torch.zeros(2, 3, dtype=torch.int64))


def test_packed_spike_linear_matches_dense_linear_and_gradients():
    g = torch.Generator().manual_seed(1)
    spike = (torch.rand(4, 19, generator=g) > 0.6).float()
    w = torch.randn(3, 19, generator=g, requires_grad=True)
    b = torch.randn(3, generator=g, requires_grad=True)
    y = functional.packed_spike_linear(functional.bit_pack_spike_dense(spike), w, b)
    w_ref, b_ref = w.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    y_ref = F.linear(spike, w_ref, b_ref)
    torch.testing.assert_close(y, y_ref)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    torch.testing.assert_close(w.grad, w_ref.grad)
    torch.testing.assert_close(b.grad, b_ref.grad)


def test_packed_spike_linear_rejects_wrong_width():
    with pytest.raises(ValueError, match="ceil"):
        functional.packed_spike_linear(torch.zeros(2, 2, dtype=torch.uint8), torch.zeros(3, 19))


def test_sparse_linear_torch_strategy_is_f_linear():
    x, w, b = torch.randn(2, 5), torch.randn(3, 5), torch.randn(3)
    assert torch.equal(functional.sparse_linear(x, w, b), F.linear(x, w, b))


def test_sparse_linear_sparse_strategy_binarizes_forward_and_passes_gradient_straight():
    x = torch.tensor([[0.9, 0.2, 0.0], [0.6, 1.0, 0.4]], requires_grad=True)
    w = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], requires_grad=True)
    y = functional.sparse_linear(x, w, None, "sparse")
    torch.testing.assert_close(y, torch.tensor([[1.0, -1.0], [3.0, -0.5]]))
    grad = torch.tensor([[1.0, 2.0], [0.5, -1.0]])
    y.backward(grad)
    torch.testing.assert_close(x.grad, grad @ w.detach())
    torch.testing.assert_close(w.grad, grad.t() @ x.detach())


def test_sparse_linear_rejects_unknown_strategy_and_mixed_dtypes():
    with pytest.raises(ValueError, match="strategy"):
        functional.sparse_linear(torch.zeros(1, 2), torch.zeros(1, 2), strategy="cuda")
    with pytest.raises(TypeError, match="share a dtype"):
        functional.sparse_linear(
            torch.zeros(1, 2), torch.zeros(1, 2, dtype=torch.float64), strategy="sparse"
        )
