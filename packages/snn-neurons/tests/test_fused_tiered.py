"""Tiered execution of the fused path (``settings.compile = "deferred"``): a neuron
configuration runs the single-step loop and touches no compiler until ``compile_after``
seconds have passed since its first call; the next call traces and compiles the fused steps
and runs them, and every tier gives the same spikes, states and gradients."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from core_neuron_refs import fused_settings
from snn_neurons import LIFNode, ParametricLIFNode, fused


@pytest.fixture(autouse=True)
def _deferred():
    fused.clear_cache()
    with fused_settings(enabled=True, compile="deferred", recompute=False, compile_after=0.0):
        yield
    fused.wait_for_compile()
    fused.clear_cache()


def _x(T: int = 6, n: int = 33, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, n, generator=g, dtype=torch.float64) * 0.8 + 0.45


def _run(node, x):
    """Spikes, final v and the gradients of a fixed loss (input and parameters)."""
    node.reset()
    x = x.clone().requires_grad_()
    out = node(x)
    w = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).view(out.shape)
    ((out * w).sum() + node.v.square().sum()).backward()
    grads = [x.grad] + [p.grad.clone() for p in node.parameters()]
    for p in node.parameters():
        p.grad = None
    return out.detach(), node.v.detach(), grads, type(out.grad_fn).__name__


@pytest.mark.slow
@pytest.mark.parametrize(
    "make", [lambda: LIFNode(tau=3.0), lambda: ParametricLIFNode(v_reset=None)], ids=["LIF", "PLIF"]
)
def test_tiers_agree_and_the_switch_happens(make):
    node = make().double()
    node.step_mode = "m"
    x = _x()
    first = _run(node, x)  # tier 0: the single-step loop, no compile work started
    assert "Fused" not in first[3]
    assert fused._compile_worker.pending() == 0
    second = _run(node, x)  # traces and compiles, then runs the compiled fused steps
    assert "Fused" in second[3]
    assert fused.wait_for_compile(timeout=300)
    third = _run(node, x)
    assert "Fused" in third[3]
    for a, b in ((first, second), (first, third)):
        assert torch.equal(a[0], b[0])
        torch.testing.assert_close(a[1], b[1])
        for ga, gb in zip(a[2], b[2]):
            torch.testing.assert_close(ga, gb)


@pytest.mark.slow
def test_a_new_step_variant_is_compiled_on_first_use():
    node = LIFNode().double()
    node.step_mode = "m"
    x = _x(seed=3)
    _run(node, x)
    _run(node, x)
    assert fused.wait_for_compile(timeout=300)
    with torch.no_grad():  # the forward-only step was not built with the training steps
        node.reset()
        ref = node.loop_multi_step(x, torch.zeros_like(x[0]), False)[0]
        node.reset()
        out = node(x)
    assert torch.equal(out, ref)
    plans = [p for p in fused._PLANS.values() if p is not None]
    kernels = [p._kernels.get(("fwd", False, False)) for p in plans]
    assert any(k is not None and k.compiled for k in kernels)
    assert fused.wait_for_compile(timeout=300)
    with torch.no_grad():
        node.reset()
        assert torch.equal(node(x), ref)


def test_compile_setting_is_checked():
    with pytest.raises(ValueError, match="'deferred'"):
        fused.settings.compile = "later"
    for bad in (-1.0, "2", True):
        with pytest.raises(ValueError, match="compile_after"):
            fused.settings.compile_after = bad


def test_the_loop_runs_until_compile_after_has_passed(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(fused.time, "perf_counter", lambda: clock[0])
    fused.settings.compile_after = 5.0
    node = LIFNode(tau=3.0).double()
    node.step_mode = "m"
    x = _x(seed=5)
    kinds = []
    for advance in (0.0, 1.0, 3.9, 1.2, 0.0):  # seconds since the previous call
        clock[0] += advance
        kinds.append("Fused" in _run(node, x)[3])
    # first call at t=0, then t=1, t=4.9 (< 5: still the loop), t=6.1 compiles, t=6.1 compiled
    assert kinds == [False, False, False, True, True]


def test_first_call_imports_no_compiler():
    script = textwrap.dedent(
        """
        import sys, torch
        from snn_neurons import LIFNode
        node = LIFNode(step_mode="m")
        x = torch.rand(4, 8, requires_grad=True)
        node(x).sum().backward()
        heavy = [m for m in ("torch._inductor", "torch._dynamo") if m in sys.modules]
        print("HEAVY", heavy)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
