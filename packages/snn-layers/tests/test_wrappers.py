"""Step-mode wrappers of stateless torch layers.

Reference for multi-step mode: the same module in single-step mode looped over ``t``
(values and gradients); for state dicts: the torch layer itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import snn_layers as L
import torch
from snn_core import functional
from torch import nn

T, N = 3, 2

# (name, factory, shape of one step [N, *])
WRAPPERS = [
    ("Conv1d", lambda: L.Conv1d(2, 3, 3, padding=1), (N, 2, 7)),
    ("Conv2d", lambda: L.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), (N, 2, 5, 5)),
    ("Conv3d", lambda: L.Conv3d(2, 3, 2, stride=(1, 2, 1)), (N, 2, 4, 4, 3)),
    ("ConvTranspose1d", lambda: L.ConvTranspose1d(2, 3, 3, stride=2), (N, 2, 5)),
    (
        "ConvTranspose2d",
        lambda: L.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1, groups=1),
        (N, 2, 4, 4),
    ),
    ("ConvTranspose3d", lambda: L.ConvTranspose3d(2, 4, 2, groups=2), (N, 2, 3, 3, 3)),
    ("Upsample-linear", lambda: L.Upsample(size=5, mode="linear"), (N, 2, 3)),
    (
        "Upsample-bilinear",
        lambda: L.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        (N, 2, 3, 3),
    ),
    ("Upsample-nearest3d", lambda: L.Upsample(scale_factor=2), (N, 1, 2, 2, 2)),
    ("MaxPool1d", lambda: L.MaxPool1d(2), (N, 2, 6)),
    ("MaxPool2d", lambda: L.MaxPool2d(2, stride=1, padding=1), (N, 2, 4, 4)),
    ("MaxPool3d", lambda: L.MaxPool3d(2, ceil_mode=True), (N, 2, 3, 4, 4)),
    ("AvgPool1d", lambda: L.AvgPool1d(3, stride=2, padding=1), (N, 2, 7)),
    ("AvgPool2d", lambda: L.AvgPool2d(2, ceil_mode=True, count_include_pad=False), (N, 2, 5, 5)),
    ("AvgPool3d", lambda: L.AvgPool3d(2, divisor_override=3), (N, 2, 4, 4, 4)),
    ("AdaptiveAvgPool1d", lambda: L.AdaptiveAvgPool1d(3), (N, 2, 7)),
    ("AdaptiveAvgPool2d", lambda: L.AdaptiveAvgPool2d((2, None)), (N, 2, 5, 4)),
    ("AdaptiveAvgPool3d", lambda: L.AdaptiveAvgPool3d(1), (N, 2, 3, 3, 3)),
    ("Linear", lambda: L.Linear(4, 3), (N, 4)),
    ("Linear-tokens", lambda: L.Linear(4, 3, bias=False), (N, 5, 4)),
    ("Flatten", lambda: L.Flatten(), (N, 2, 3, 3)),
    ("Flatten-2", lambda: L.Flatten(start_dim=2), (N, 2, 3, 3)),
    ("WSConv2d", lambda: L.WSConv2d(2, 3, 3, padding=1), (N, 2, 5, 5)),
    ("WSConv2d-nogain", lambda: L.WSConv2d(2, 3, 3, gain=False), (N, 2, 5, 5)),
    ("WSLinear", lambda: L.WSLinear(4, 3), (N, 4)),
    ("GroupNorm", lambda: L.GroupNorm(2, 4), (N, 4, 3, 3)),
    ("BatchNorm1d", lambda: L.BatchNorm1d(3), (N, 3)),
    ("BatchNorm1d-L", lambda: L.BatchNorm1d(3), (N, 3, 4)),
    ("BatchNorm2d", lambda: L.BatchNorm2d(3), (N, 3, 4, 4)),
    ("BatchNorm3d", lambda: L.BatchNorm3d(3), (N, 3, 2, 2, 2)),
]


def _randomize(module: nn.Module, gen: torch.Generator) -> None:
    """Random parameters and running statistics, so no gradient or value is trivially 0/1."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.copy_(torch.randn(module.num_features, generator=gen))
            module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)


@pytest.mark.parametrize("name,factory,step_shape", WRAPPERS, ids=[w[0] for w in WRAPPERS])
def test_multi_step_equals_single_step_loop(name, factory, step_shape):
    gen = torch.Generator().manual_seed(0)
    m = factory().double()
    _randomize(m, gen)
    m.eval()  # batch norm: the running statistics make 's' and 'm' comparable
    x_seq = torch.randn((T, *step_shape), generator=gen, dtype=torch.float64)

    m.step_mode = "m"
    x_m = x_seq.clone().requires_grad_()
    y_m = m(x_m)
    g = torch.randn(y_m.shape, generator=gen, dtype=torch.float64)
    (y_m * g).sum().backward()
    grads_m = {k: p.grad.clone() for k, p in m.named_parameters()}
    m.zero_grad()

    m.step_mode = "s"
    x_s = x_seq.clone().requires_grad_()
    y_s = torch.stack([m(x_s[t]) for t in range(T)])
    (y_s * g).sum().backward()

    assert y_m.shape == (T, *y_s.shape[1:])
    torch.testing.assert_close(y_m, y_s, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x_m.grad, x_s.grad, rtol=1e-12, atol=1e-12)
    for k, p in m.named_parameters():
        torch.testing.assert_close(grads_m[k], p.grad, rtol=1e-10, atol=1e-10, msg=k)


def test_max_pool_return_indices_is_unfolded_too():
    m = L.MaxPool2d(2, return_indices=True, step_mode="m")
    x = torch.randn(T, N, 1, 4, 4)
    y, idx = m(x)
    y_ref, idx_ref = nn.MaxPool2d(2, return_indices=True)(x.flatten(0, 1))
    assert y.shape == idx.shape == (T, N, 1, 2, 2)
    torch.testing.assert_close(y, y_ref.reshape(T, N, 1, 2, 2))
    assert torch.equal(idx, idx_ref.reshape(T, N, 1, 2, 2))


def test_conv_transpose_output_size_argument_in_multi_step():
    m = L.ConvTranspose2d(2, 3, 3, stride=2, step_mode="m")
    y = m(torch.randn(T, N, 2, 4, 4), output_size=[10, 10])
    assert y.shape == (T, N, 3, 10, 10)


def test_multi_step_folds_time_into_one_call(monkeypatch):
    calls = []
    original = nn.Conv2d._conv_forward

    def counting(self, *args, **kwargs):
        calls.append(args[0].shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(nn.Conv2d, "_conv_forward", counting)
    m = L.Conv2d(2, 3, 3, step_mode="m")
    m(torch.randn(5, N, 2, 6, 6))
    assert calls == [torch.Size([5 * N, 2, 6, 6])]


def test_batch_norm_multi_step_normalises_over_time_and_batch():
    m = L.BatchNorm2d(3, step_mode="m").double()
    x = torch.randn(4, 5, 3, 2, 2, dtype=torch.float64) * torch.tensor([1.0, 3.0, 0.5]).view(
        1, 1, 3, 1, 1
    ) + torch.arange(4.0).view(4, 1, 1, 1, 1)  # each time-step has another mean
    y = m(x)
    # one set of statistics over T*N*H*W: per channel, mean 0 and (biased) variance 1
    mean = y.mean(dim=(0, 1, 3, 4))
    var = y.var(dim=(0, 1, 3, 4), unbiased=False)
    torch.testing.assert_close(mean, torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(var, torch.ones(3, dtype=torch.float64), atol=1e-4, rtol=0)
    # ...not per time-step: step means differ
    assert y.mean(dim=(1, 2, 3, 4)).diff().gt(0.1).all()
    # running statistics updated from all T*N samples
    x_flat = x.transpose(0, 2).reshape(3, -1)
    expected_rm = 0.1 * x_flat.mean(dim=1)
    torch.testing.assert_close(m.running_mean, expected_rm, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "torch_factory,ours_factory,x_shape",
    [
        (lambda: nn.Conv2d(3, 4, 3, padding=1), lambda: L.Conv2d(3, 4, 3, padding=1), (N, 3, 5, 5)),
        (lambda: nn.ConvTranspose2d(3, 4, 2), lambda: L.ConvTranspose2d(3, 4, 2), (N, 3, 3, 3)),
        (lambda: nn.Linear(6, 2), lambda: L.Linear(6, 2), (N, 6)),
        (lambda: nn.BatchNorm2d(3), lambda: L.BatchNorm2d(3), (N, 3, 4, 4)),
        (lambda: nn.GroupNorm(1, 3), lambda: L.GroupNorm(1, 3), (N, 3, 4, 4)),
    ],
)
def test_torch_state_dict_loads_into_wrapper(torch_factory, ours_factory, x_shape):
    torch.manual_seed(0)
    ref, ours = torch_factory(), ours_factory()
    _randomize(ref, torch.Generator().manual_seed(1))
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ref.eval(), ours.eval()
    x = torch.randn(T, *x_shape)
    ours.step_mode = "m"
    y = ours(x)
    torch.testing.assert_close(y, torch.stack([ref(x[t]) for t in range(T)]))
    # and back: the wrapper's state dict loads into the torch layer
    ref2 = torch_factory()
    ref2.load_state_dict(ours.state_dict(), strict=True)


def test_wrapper_is_instance_of_torch_layer():
    m = L.Conv2d(1, 1, 1)
    assert isinstance(m, nn.Conv2d)
    assert [k for k, _ in m.named_parameters()] == ["weight", "bias"]
    assert "step_mode=s" in repr(m) and "kernel_size=(1, 1)" in repr(m)


def test_set_step_mode_reaches_wrappers():
    net = nn.Sequential(L.Conv2d(1, 2, 3), L.BatchNorm2d(2), L.Flatten(), L.Linear(2 * 4, 3))
    functional.set_step_mode(net, "m")
    assert all(m.step_mode == "m" for m in net)
    assert net(torch.randn(T, N, 1, 4, 4)).shape == (T, N, 3)


def _ws_reference(w: np.ndarray, gain: np.ndarray | None, eps: float) -> np.ndarray:
    rows = w.reshape(w.shape[0], -1)
    fan_in = rows.shape[1]
    out = (rows - rows.mean(axis=1, keepdims=True)) / np.sqrt(
        rows.var(axis=1, ddof=1, keepdims=True) * fan_in + eps
    )
    if gain is not None:
        out = out * gain.reshape(-1, 1)
    return out.reshape(w.shape)


def test_ws_conv2d_uses_standardized_weight():
    torch.manual_seed(0)
    m = L.WSConv2d(3, 4, 3, padding=1, eps=1e-4).double()
    with torch.no_grad():
        m.gain.copy_(torch.rand(4, 1, 1, 1) + 0.5)
        m.weight.mul_(5).add_(2)
    w_hat = _ws_reference(m.weight.detach().numpy(), m.gain.detach().numpy(), 1e-4)
    torch.testing.assert_close(m.get_weight().detach(), torch.from_numpy(w_hat))
    x = torch.randn(N, 3, 5, 5, dtype=torch.float64)
    ref = nn.functional.conv2d(x, torch.from_numpy(w_hat), m.bias, padding=1)
    torch.testing.assert_close(m(x), ref)
    # each standardized filter has mean 0 and norm^2 (n-1)/n (gain 1, eps -> 0)
    m0 = L.WSConv2d(3, 4, 3, gain=False, eps=0.0).double()
    w0 = m0.get_weight().detach().reshape(4, -1)
    n = w0.shape[1]
    torch.testing.assert_close(w0.mean(1), torch.zeros(4, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(w0.square().sum(1), torch.full((4,), (n - 1) / n).double())


def test_ws_linear_uses_standardized_weight():
    m = L.WSLinear(5, 3).double()
    with torch.no_grad():
        m.gain.copy_(torch.tensor([[0.5], [1.0], [2.0]]))
    w_hat = torch.from_numpy(
        _ws_reference(m.weight.detach().numpy(), m.gain.detach().numpy(), 1e-4)
    )
    x = torch.randn(N, 5, dtype=torch.float64)
    torch.testing.assert_close(m(x), x @ w_hat.T + m.bias)
    assert m.gain.shape == (3, 1)
    assert L.WSLinear(5, 3, gain=False).gain is None


def test_ws_conv2d_honours_padding_mode():
    m = L.WSConv2d(1, 1, 3, padding=1, padding_mode="circular", bias=False)
    x = torch.randn(1, 1, 4, 4)
    ref = nn.functional.conv2d(nn.functional.pad(x, (1, 1, 1, 1), mode="circular"), m.get_weight())
    torch.testing.assert_close(m(x), ref)


@pytest.mark.parametrize(
    "factory,bad_shape,expected",
    [
        (lambda: L.Conv2d(2, 3, 3, step_mode="m"), (N, 2, 5, 5), r"\[T, N, C=2, H, W\]"),
        (lambda: L.Conv1d(2, 3, 3, step_mode="m"), (T, N, 2, 5, 5), r"\[T, N, C=2, L\]"),
        (lambda: L.MaxPool3d(2, step_mode="m"), (T, N, 2, 4, 4), r"\[T, N, C, D, H, W\]"),
        (lambda: L.BatchNorm2d(2, step_mode="m"), (N, 2, 4, 4), r"got \[2, 2, 4, 4\]"),
        (lambda: L.Linear(4, 3, step_mode="m"), (N, 4), r"in_features=4"),
        (lambda: L.Upsample(scale_factor=2, step_mode="m"), (T, N), r"\[T, N, C, H, W\]"),
    ],
)
def test_multi_step_bad_shape_is_a_clear_error(factory, bad_shape, expected):
    with pytest.raises(ValueError, match=expected):
        factory()(torch.randn(bad_shape))


def test_multi_step_layer_that_merges_the_batch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"T\*N = 6"):
        L.Flatten(start_dim=0, step_mode="m")(torch.randn(T, N, 4))


def test_bad_step_mode_is_a_clear_error():
    with pytest.raises(ValueError, match=r"step_mode can only be one of \('s', 'm'\).*'x'"):
        L.Conv2d(1, 1, 1, step_mode="x")
    m = L.Linear(2, 2)
    with pytest.raises(ValueError, match="step_mode"):
        m.step_mode = "multi"


@pytest.mark.parametrize(
    "kwargs,match",
    [({"gain": 1}, "gain must be a bool"), ({"eps": -1.0}, "eps must be a number >= 0")],
)
def test_ws_bad_arguments(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        L.WSConv2d(1, 1, 1, **kwargs)


def test_ws_conv2d_gradient_matches_float64_autograd_of_the_formula():
    torch.manual_seed(3)
    m = L.WSConv2d(2, 2, 2).double()
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64)

    def f(weight, gain):
        rows = weight.reshape(2, -1)
        w = (rows - rows.mean(1, keepdim=True)) / torch.sqrt(
            rows.var(1, keepdim=True) * rows.shape[1] + 1e-4
        )
        return nn.functional.conv2d(x, w.reshape(weight.shape) * gain, m.bias).sum()

    m(x).sum().backward()
    w = m.weight.detach().clone().requires_grad_()
    g = m.gain.detach().clone().requires_grad_()
    f(w, g).backward()
    torch.testing.assert_close(m.weight.grad, w.grad)
    torch.testing.assert_close(m.gain.grad, g.grad)
    assert math.isfinite(m.weight.grad.abs().sum().item())
