"""Tiered execution of the fused path (``settings.compile = "background"``): the first call
of a neuron configuration runs the single-step loop and touches no compiler, later calls
switch to the fused steps once the compile worker has built them, and every tier gives the
same spikes, states and gradients."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from core_neuron_refs import fused_settings
from snn_neurons import LIFNode, ParametricLIFNode, fused


@pytest.fixture(autouse=True)
def _background():
    fused.clear_cache()
    with fused_settings(enabled=True, compile="background", recompute=False):
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
    second = _run(node, x)  # still the loop; the worker now traces and compiles
    assert "Fused" not in second[3]
    assert fused.wait_for_compile(timeout=300)
    third = _run(node, x)  # the compiled fused steps
    assert "Fused" in third[3]
    for a, b in ((first, second), (first, third)):
        assert torch.equal(a[0], b[0])
        torch.testing.assert_close(a[1], b[1])
        for ga, gb in zip(a[2], b[2]):
            torch.testing.assert_close(ga, gb)


@pytest.mark.slow
def test_a_new_step_variant_runs_eagerly_until_compiled():
    node = LIFNode().double()
    node.step_mode = "m"
    x = _x(seed=3)
    _run(node, x)
    _run(node, x)
    assert fused.wait_for_compile(timeout=300)
    with torch.no_grad():  # the forward-only step was not built by the worker
        node.reset()
        ref = node.loop_multi_step(x, torch.zeros_like(x[0]), False)[0]
        node.reset()
        out = node(x)
    assert torch.equal(out, ref)
    assert fused.wait_for_compile(timeout=300)
    with torch.no_grad():
        node.reset()
        assert torch.equal(node(x), ref)


def test_compile_setting_is_checked():
    with pytest.raises(ValueError, match="'background'"):
        fused.settings.compile = "later"


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
