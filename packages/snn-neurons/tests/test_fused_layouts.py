"""The fused path keeps an input's memory layout when its time steps are dense blocks
(channels-last or token-major views), and copies other inputs to contiguous buffers.

Reference: the stateful single-step loop (``step_mode='s'``) on the same values, in float64;
layouts are checked by strides, eagerly and under ``torch.compile`` (``aot_eager``), where
``[T, B, C, H, W]`` feature maps on CPU get channels-last steps whatever their input layout
(the layout inductor gives convolutions there).
"""

from __future__ import annotations

import pytest
import torch
from core_neuron_refs import fused_settings
from snn_neurons import IFNode, LIFNode, ParametricLIFNode

T, B, C, H, W = 3, 2, 4, 3, 5


@pytest.fixture(autouse=True)
def _eager_steps():
    with fused_settings(enabled=True, compile=False, recompute=False):
        yield


def _values(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, C, H, W, generator=g, dtype=torch.float64) * 1.5


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x``'s values with each step laid out channels-last (steps one after another)."""
    return x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)


def _batch_major(x: torch.Tensor) -> torch.Tensor:
    """``x``'s values stored ``[B, T, ...]``: steps are not blocks one after another."""
    return x.transpose(0, 1).contiguous().transpose(0, 1)


NEURONS = [
    lambda: LIFNode(step_mode="m", tau=3.0),
    lambda: IFNode(step_mode="m", v_reset=None, store_v_seq=True),
    lambda: ParametricLIFNode(step_mode="m", detach_reset=True),
]


def _loop(make, x: torch.Tensor, gs: torch.Tensor):
    """Reference: single steps on a contiguous copy; spikes, last v, grads of x / params."""
    node = make().double()
    node.step_mode = "s"
    xc = x.detach().clone().contiguous().requires_grad_()
    out = torch.stack([node(xc[t]) for t in range(T)])
    (out * gs).sum().backward()
    return out.detach(), node.v.detach(), xc.grad, [p.grad for p in node.parameters()]


def _fused(make, x: torch.Tensor, gs: torch.Tensor, compiled: bool = False):
    node = make().double()
    x = x.detach().requires_grad_()
    fn = torch.compile(node, backend="aot_eager", fullgraph=True) if compiled else node
    out = fn(x)
    (out * gs).sum().backward()
    return out, node.v.detach(), x.grad, [p.grad for p in node.parameters()]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("make", NEURONS, ids=["lif", "if-soft-vseq", "plif"])
@pytest.mark.parametrize("layout", ["channels_last", "batch_major"])
def test_layouts_match_the_single_step_loop(make, layout, compiled):
    torch._dynamo.reset()
    values = _values()
    x = _channels_last(values) if layout == "channels_last" else _batch_major(values)
    gs = torch.randn(values.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ref = _loop(make, values, gs)
    got = _fused(make, x, gs, compiled)
    assert torch.equal(got[0], ref[0])
    torch.testing.assert_close(got[1], ref[1])
    torch.testing.assert_close(got[2], ref[2])
    for a, b in zip(got[3], ref[3]):
        torch.testing.assert_close(a, b)
    if compiled:  # CPU feature maps: channels-last steps (inductor's convolution layout)
        assert got[0].stride() == x.new_empty(T, B, H, W, C).permute(0, 1, 4, 2, 3).stride()
    elif layout == "channels_last":  # kept: no copy in, spikes and gradient in x's layout
        assert got[0].stride() == x.stride()
        assert got[2].stride() == x.stride()
        assert got[1].stride() == x[0].stride()
    else:  # steps are not blocks one after another: contiguous buffers
        assert got[0].is_contiguous()


def test_gradient_in_another_layout_and_recompute():
    values = _values(1)
    x = _channels_last(values)
    gs = torch.randn(values.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    ref = _loop(NEURONS[0], values, gs)
    with fused_settings(recompute=True):
        node = NEURONS[0]().double()
        xg = x.detach().requires_grad_()
        out = node(xg)
        # the incoming gradient is contiguous while the spikes are channels-last
        torch.autograd.backward(out, gs.contiguous())
    assert torch.equal(out.detach(), ref[0])
    torch.testing.assert_close(xg.grad, ref[2])


def test_token_major_view_keeps_its_layout():
    """A ``[T, N, C, L]`` view of a ``Linear``'s ``[T, N, L, C]`` output (the Spikformer
    CIFAR projections) goes through without a copy, and the next ``Linear`` reads it back
    as a contiguous ``[T, N, L, C]``."""
    g = torch.Generator().manual_seed(5)
    tokens = torch.randn(T, B, 6, C, generator=g, dtype=torch.float64)  # [T, N, L, C]
    x = tokens.permute(0, 1, 3, 2)  # [T, N, C, L] view
    node = LIFNode(step_mode="m").double()
    with torch.no_grad():
        out = node(x)
    assert out.stride() == x.stride()
    assert out.permute(0, 1, 3, 2).is_contiguous()
    node.reset()
    node.step_mode = "s"
    with torch.no_grad():
        ref = torch.stack([node(x[t].contiguous()) for t in range(T)])
    assert torch.equal(out, ref)
