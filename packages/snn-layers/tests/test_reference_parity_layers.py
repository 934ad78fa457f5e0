"""Layers behaving as in the reference framework 2.0.0: max unpooling, Delay's queue,
StepModeContainer's call forms, TEBN's multi-step default, hooks, submodule import paths."""

from __future__ import annotations

import copy
import importlib

import pytest
import snn_layers as L
import torch
from snn_core import functional
from torch import nn


# ------------------------------------------------------------------------ max unpooling
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_multi_step_max_unpool_equals_the_per_step_torch_loop(nd):
    torch.manual_seed(nd)
    pool = getattr(L, f"MaxPool{nd}d")(2, return_indices=True, step_mode="m")
    unpool = getattr(L, f"MaxUnpool{nd}d")(2, step_mode="m")
    ref = getattr(nn, f"MaxUnpool{nd}d")(2)
    x = torch.randn(3, 2, 2, *([4] * nd), requires_grad=True)
    values, indices = pool(x)
    y = unpool(values, indices)
    expected = torch.stack([ref(values[t], indices[t]) for t in range(3)])
    assert torch.equal(y, expected)
    spatial = tuple(x.shape[3:])
    # the output size: spatial, folded [T*N, C, *] as torch sees it, or [T, N, C, *]
    for size in (spatial, (6, 2, *spatial), tuple(x.shape)):
        assert torch.equal(unpool(values, indices, output_size=size), expected)
    y.sum().backward()
    assert x.grad.shape == x.shape and x.grad.sum() == values.numel()


def test_single_step_max_unpool_is_torchs():
    values, indices = nn.MaxPool2d(2, return_indices=True)(torch.randn(2, 1, 4, 4))
    m = L.MaxUnpool2d(2)
    assert m.step_mode == "s" and "step_mode=s" in repr(m)
    assert torch.equal(m(values, indices), nn.MaxUnpool2d(2)(values, indices))
    assert torch.equal(m(values, indices, (5, 5)), nn.MaxUnpool2d(2)(values, indices, (5, 5)))


# ------------------------------------------------------------------------ Delay
def test_delay_queue_is_a_list_updated_in_place():
    d = L.Delay(1)
    queue = d.queue
    x0, x1 = torch.randn(2, 3), torch.randn(2, 3)
    assert torch.equal(d(x0), torch.zeros(2, 3))
    assert d(x1) is x0  # the delayed input itself
    assert d.queue is queue and len(queue) == 1 and queue[0] is x1
    d.reset()
    assert d.queue == []


@pytest.mark.parametrize("delay", [0, 2, 4])
def test_delay_multi_step_equals_the_single_step_loop_across_calls(delay):
    x = torch.randn(5, 2, 3)
    m, s = L.Delay(delay, step_mode="m"), L.Delay(delay)
    y_m = torch.cat([m(x[:3]), m(x[3:])])
    y_s = torch.stack([s(x_t) for x_t in x])
    shifted = torch.cat([torch.zeros(delay, 2, 3), x])[:5]
    assert torch.equal(y_m, shifted) and torch.equal(y_s, shifted)
    assert len(m.queue) == len(s.queue) == min(delay, 5)
    assert all(torch.equal(a, b) for a, b in zip(m.queue, s.queue, strict=True))


def test_delay_refuses_a_new_batch_shape_without_reset():
    d = L.Delay(2)
    d(torch.randn(2, 3))
    with pytest.raises(ValueError, match="reset"):
        d(torch.randn(4, 3))


# ------------------------------------------------------------------------ StepModeContainer
def test_step_mode_container_call_forms():
    lin = nn.Linear(3, 2)
    x = torch.randn(4, 5, 3)
    ref = torch.stack([lin(v) for v in x])
    # the reference's positional form (stateful, step_mode, *modules)
    a = L.StepModeContainer(False, "m", lin)
    # ours: (stateful, *modules, step_mode=...)
    b = L.StepModeContainer(False, lin, step_mode="m")
    c = L.StepModeContainer(True, "s", lin)
    assert a.step_mode == b.step_mode == "m" and c.step_mode == "s" and len(a) == 1
    torch.testing.assert_close(a(x), ref)
    torch.testing.assert_close(b(x), ref)
    with pytest.raises(TypeError, match="step_mode twice"):
        L.StepModeContainer(False, "m", lin, step_mode="m")
    with pytest.raises(ValueError, match="step_mode"):
        L.StepModeContainer(False, "x", lin)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        L.StepModeContainer(False, lin, 3)


def test_nested_step_mode_container_keeps_its_children_single_step():
    inner = L.StepModeContainer(False, "s", nn.Linear(3, 2))
    outer = L.StepModeContainer(False, "s", inner)
    functional.set_step_mode(outer, "m")
    x = torch.randn(4, 5, 3)
    assert inner.step_mode == "s"
    torch.testing.assert_close(outer(x), inner[0](x.flatten(0, 1)).view(4, 5, 2))


# ------------------------------------------------------------------------ TEBN
def test_tebn_is_multi_step_by_default_and_exposes_its_bn():
    m = L.TemporalEffectiveBatchNorm1d(3, num_features=4).eval()
    assert m.step_mode == "m"
    with torch.no_grad():
        m.scale.copy_(torch.tensor([1.0, 2.0, 3.0]))
        m.weight.fill_(2.0)  # the BN's attributes read through, as on the reference's BN
    assert m.num_features == 4 and m.weight is m.bn.weight and m.running_mean is m.bn.running_mean
    x = torch.randn(3, 2, 4)
    torch.testing.assert_close(
        m(x), x / (1 + 1e-5) ** 0.5 * 2 * torch.tensor([1.0, 2, 3]).view(3, 1, 1)
    )
    with pytest.raises(AttributeError):
        m.not_an_attribute
    c = copy.deepcopy(m)
    assert c.weight is c.bn.weight and torch.equal(c(x), m(x))


def test_tebn_refuses_another_number_of_steps_even_when_it_would_broadcast():
    # the reference multiplies by scale.view(-1, 1, ...): with T=1 any T' broadcasts silently
    with pytest.raises(ValueError, match="T=1"):
        L.TemporalEffectiveBatchNorm2d(1, 2)(torch.randn(3, 1, 2, 2, 2))


# ------------------------------------------------------------------------ helpers and paths
def test_containers_run_their_own_hooks_once_per_call():
    calls = []
    seq = nn.Sequential(nn.Linear(3, 3))
    seq.register_forward_hook(lambda *args: calls.append(1))
    y = functional.seq_to_ann_forward(torch.randn(4, 2, 3), seq)
    assert y.shape == (4, 2, 3) and calls == [1]


@pytest.mark.parametrize(
    "path,names",
    [
        ("container", ["StepModeContainer", "SeqToANNContainer"]),
        ("bn", ["BatchNorm2d", "TemporalEffectiveBatchNorm2d", "NeuNorm"]),
        ("stateless_wrapper", ["Conv2d", "MaxUnpool2d", "WSLinear"]),
        ("online_learning", ["OTTTSequential", "GradwithTrace"]),
        ("misc", ["Delay", "SpikeCountToBinary", "TemporalBinSum"]),
        ("attention", ["SpikeDrivenSelfAttention", "SpikingSelfAttention"]),
        ("dropout", ["Dropout"]),
    ],
)
def test_reference_submodule_paths_re_export_the_same_classes(path, names):
    mod = importlib.import_module(f"snn_layers.{path}")
    for name in names:
        assert getattr(mod, name) is getattr(L, name)
