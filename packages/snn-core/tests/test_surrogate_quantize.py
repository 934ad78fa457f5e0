"""MultiLevelSpikeCount and the straight-through quantizers of ``surrogate.quantize``."""

from __future__ import annotations

import pytest
import torch
from snn_core import surrogate
from snn_core.surrogate import MultiLevelSpikeCount, quantize


def _value_and_grad(fn, x: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.tensor(x, requires_grad=True)
    y = fn(t)
    y.sum().backward()
    return y.detach(), t.grad


def test_multi_level_spike_count_rounds_clipped_input_and_passes_grad_in_window() -> None:
    sg = MultiLevelSpikeCount(4, grad_window=(-0.5, 4.5))
    y, g = _value_and_grad(sg, [-0.25, 4.25, 4.75, 1.4, 2.6])
    torch.testing.assert_close(y, torch.tensor([0.0, 4.0, 4.0, 1.0, 3.0]))
    torch.testing.assert_close(g, torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0]))


def test_multi_level_spike_count_default_window_is_zero_to_max() -> None:
    sg = MultiLevelSpikeCount(max_spike_count=3)
    assert (sg.grad_min, sg.grad_max) == (0.0, 3.0)
    _, g = _value_and_grad(sg, [-0.1, 0.0, 3.0, 3.1])
    torch.testing.assert_close(g, torch.tensor([0.0, 1.0, 1.0, 0.0]))
    assert repr(sg) == (
        "MultiLevelSpikeCount(max_spike_count=3, grad_min=0.0, grad_max=3.0, spiking=True)"
    )


def test_multi_level_spike_count_primitive_is_clip_with_matching_gradient() -> None:
    sg = MultiLevelSpikeCount(2, spiking=False)
    y, g = _value_and_grad(sg, [-1.0, 0.0, 0.7, 2.0, 2.5])
    torch.testing.assert_close(y, torch.tensor([0.0, 0.0, 0.7, 2.0, 2.0]))
    torch.testing.assert_close(g, torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0]))


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((0,), {}, ValueError),
        ((-1,), {}, ValueError),
        ((1.5,), {}, TypeError),
        ((False,), {}, TypeError),
        ((4,), {"grad_window": (1.0, 0.0)}, ValueError),
        ((4,), {"grad_window": (0.0,)}, TypeError),
        ((4,), {"grad_window": (0.0, float("nan"))}, ValueError),
    ],
)
def test_multi_level_spike_count_rejects_bad_arguments(args, kwargs, error) -> None:
    with pytest.raises(error, match="max_spike_count|grad_window"):
        MultiLevelSpikeCount(*args, **kwargs)


def test_multi_level_spike_count_functional_form_equals_class() -> None:
    x = [-0.25, 1.5, 2.5, 4.75]
    y1, g1 = _value_and_grad(lambda t: quantize.multi_level_spike_count(t, 4, (-0.5, 4.5)), x)
    y2, g2 = _value_and_grad(MultiLevelSpikeCount(4, grad_window=(-0.5, 4.5)), x)
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(g1, g2)
    # round half to even, as torch.round: 1.5 -> 2, 2.5 -> 2
    torch.testing.assert_close(y1, torch.tensor([0.0, 2.0, 2.0, 4.0]))


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (quantize.round, [-2.0, -0.0, 0.0, 2.0]),
        (quantize.ceil, [-1.0, -0.0, 1.0, 2.0]),
        (quantize.floor, [-2.0, -1.0, 0.0, 1.0]),
        (lambda t: quantize.step_quantize(t, 0.5), [-1.5, -0.5, 0.5, 1.5]),
    ],
)
def test_straight_through_rounding(fn, expected: list[float]) -> None:
    y, g = _value_and_grad(fn, [-1.6, -0.4, 0.4, 1.6])
    torch.testing.assert_close(y, torch.tensor(expected))
    torch.testing.assert_close(g, torch.ones(4))


def test_clamp_gradient_passes_inside_window_bounds_included() -> None:
    y, g = _value_and_grad(lambda t: quantize.clamp(t, -0.5, 1.5), [-1.0, -0.5, 0.2, 1.5, 2.0])
    torch.testing.assert_close(y, torch.tensor([-0.5, -0.5, 0.2, 1.5, 1.5]))
    torch.testing.assert_close(g, torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0]))


def test_k_bit_quantize_and_affine_form() -> None:
    # 2 bits: levels 0, 1/3, 2/3, 1
    y, g = _value_and_grad(lambda t: quantize.k_bit_quantize(t, 2), [0.1, 0.2, 0.6, 0.9])
    torch.testing.assert_close(y, torch.tensor([0.0, 1 / 3, 2 / 3, 1.0]))
    torch.testing.assert_close(g, torch.ones(4))
    w, b = torch.tensor(2.0), torch.tensor(-1.0)
    y = quantize.affine_k_bit_quantize(torch.tensor([0.2, 0.9]), 2, w, b)
    torch.testing.assert_close(y, torch.tensor([2 / 3 - 1.0, 1.0]))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        quantize.k_bit_quantize(torch.zeros(2), 0)


def test_clamp_by_linear_maps_into_unit_interval() -> None:
    y = quantize.clamp_by_linear(torch.tensor([-1.0, 0.0, 3.0]), eps=0.0)
    torch.testing.assert_close(y, torch.tensor([0.0, 0.25, 1.0]))


def test_quantize_is_the_surrogate_namespace_and_works_under_vmap_grad() -> None:
    assert surrogate.quantize is quantize
    x = torch.randn(3, 4)
    grad = torch.func.vmap(torch.func.grad(lambda v: quantize.round(3.0 * v).sum()))(x)
    torch.testing.assert_close(grad, torch.full((3, 4), 3.0))
