"""The compiled fused path (torch.compile of one step, looped over T): equal to the
single-step loop, no recompilation for a new T or N, a clear fallback when compiling
fails, and ``torch.compile`` of a network that contains these neurons. Small tensors; each
step graph compiles once per session (inductor's on-disk cache serves later sessions)."""

from __future__ import annotations

import copy

import pytest
import torch
from core_neuron_refs import compare_with_single_steps, fused_settings, uses_fused_path
from snn_neurons import IFNode, LIFNode, ParametricLIFNode, _fused_steps, fused
from torch import nn

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _compiled_fused():
    with fused_settings(enabled=True, compile=True, recompute=False):
        yield


def _x(T: int, n: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(T, n, generator=g, dtype=torch.float64) * 0.8 + 0.45).to(dtype)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LIFNode(detach_reset=True, store_v_seq=True),
        lambda: ParametricLIFNode(v_reset=None, store_v_seq=True),
    ],
    ids=["LIF", "PLIF"],
)
def test_compiled_fused_equals_single_step_loop_and_never_recompiles(make, monkeypatch):
    compiles = []
    real_compile = _fused_steps._compile

    def counting_compile(*args, **kwargs):
        compiles.append(args)
        return real_compile(*args, **kwargs)

    monkeypatch.setattr(_fused_steps, "_compile", counting_compile)
    fused.clear_cache()
    node = make().double()
    compare_with_single_steps(node, _x(5, 37))
    with fused_settings(recompute=True):
        compare_with_single_steps(node, _x(5, 37, seed=1))
    with torch.no_grad():
        node.reset()
        node.step_mode = "m"
        node(_x(5, 37))  # the forward-only step
    warm = len(compiles)  # the forward and backward step variants used so far
    assert warm >= 2
    for T, n, seed in ((3, 101, 2), (8, 1000, 3), (1, 5, 4), (2, 1, 5)):
        compare_with_single_steps(node, _x(T, n, seed))
        with torch.no_grad():
            node.reset()
            node(_x(T, n, seed))
    assert len(compiles) == warm, "a new T or N compiled a step again"
    # the kernels are called without dynamo's / AOTAutograd's wrappers (checked on first use)
    plan = next(p for p in fused._PLANS.values() if p is not None)
    assert all(k._fn.__name__ == "call_direct" for k in plan._kernels.values())


def test_compiled_bfloat16_runs_and_agrees_with_float32():
    x32 = (_x(6, 256, dtype=torch.float32)).to(torch.bfloat16).float()
    node = LIFNode(step_mode="m").to(torch.bfloat16)
    x = x32.to(torch.bfloat16).requires_grad_()
    out = node(x)
    out.float().sum().backward()
    ref = LIFNode(step_mode="m")
    ref_out = ref(x32)
    assert out.dtype == torch.bfloat16 and x.grad.dtype == torch.bfloat16
    assert (out.float() == ref_out).all(0).float().mean() > 0.9


def test_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch):
    def broken_compile(*args, **kwargs):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(_fused_steps, "_compile", broken_compile)
    monkeypatch.setattr(_fused_steps, "_compile_warnings", set())
    fused.clear_cache()
    node = IFNode(v_reset=None).double()
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler") as record:
        compare_with_single_steps(node, _x(4, 9))  # forward and backward steps both fail
    assert len([w for w in record if "compiling a fused neuron step failed" in str(w.message)]) == 1
    fused.clear_cache()


def test_torch_compile_of_a_network_with_neurons():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), LIFNode(step_mode="m")).double()
    eager = copy.deepcopy(net)
    compiled = torch.compile(net)
    x = torch.randn(3, 4, 6, dtype=torch.float64)
    out = compiled(x)
    out.sum().backward()
    ref = eager(x)
    ref.sum().backward()
    assert torch.equal(out, ref)
    torch.testing.assert_close(net[0].weight.grad, eager[0].weight.grad)
    torch.testing.assert_close(net[1].v, eager[1].v)
    assert uses_fused_path(eager[1], x[:, :, :5])  # eager calls still take the fused path


class _ConvBNLIF(nn.Module):
    """``[T, B, C, N]`` -> conv1d -> BN -> LIF -> conv1d, as the zoo's attention blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(8, 16, 1)
        self.bn = nn.BatchNorm1d(16)
        self.lif = LIFNode(step_mode="m", tau=2.0, detach_reset=True)
        self.head = nn.Conv1d(16, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, _, N = x.shape
        y = self.bn(self.conv(x.flatten(0, 1))).reshape(T, B, 16, N)
        return self.head(self.lif(y).flatten(0, 1)).reshape(T, B, 4, N)


def test_torch_compile_survives_a_new_batch_size():
    """A smaller last batch makes dynamo recompile with a symbolic batch size; inductor then
    failed ('cannot determine truth value of Relational') on the neuron's saved input."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    net = _ConvBNLIF()
    eager = copy.deepcopy(net)
    compiled = torch.compile(net)
    g = torch.Generator().manual_seed(1)
    try:
        for batch in (8, 5, 6):
            x = torch.randn(4, batch, 8, 16, generator=g)
            results = []
            for model in (compiled, eager):
                getattr(model, "_orig_mod", model).lif.reset()
                xi = x.clone().requires_grad_()
                out = model(xi)
                out.square().sum().backward()
                results.append((out.detach(), xi.grad))
            (out, gx), (ref, gref) = results
            assert torch.equal(out, ref), batch
            torch.testing.assert_close(gx, gref, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(net.lif.v, eager.lif.v)
        torch.testing.assert_close(
            net.conv.weight.grad, eager.conv.weight.grad, rtol=1e-4, atol=1e-5
        )
    finally:
        torch._dynamo.reset()
