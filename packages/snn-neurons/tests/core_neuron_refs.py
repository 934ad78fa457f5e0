"""Shared helpers of the core-neuron tests (``test_core_*.py``, ``test_fused_*.py``).

The reference of every multi-step result is the stateful single-step API: ``T`` calls of
``node(x[t])`` in ``step_mode='s'`` (``neuronal_charge`` / ``neuronal_fire`` /
``neuronal_reset``), with the same parameters, compared in float64.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from snn_neurons import fused


@contextmanager
def fused_settings(**kwargs: bool) -> Iterator[None]:
    """Temporarily change ``snn_neurons.fused.settings``."""
    old = {k: getattr(fused.settings, k) for k in kwargs}
    for k, v in kwargs.items():
        setattr(fused.settings, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(fused.settings, k, v)


@contextmanager
def eager_steps_fresh_dynamo() -> Iterator[None]:
    """The fused path with eager (uncompiled) step graphs, between two ``torch._dynamo``
    resets: for tests that ``torch.compile`` networks and must not see each other's graphs."""
    torch._dynamo.reset()
    try:
        with fused_settings(enabled=True, compile=False, recompute=False):
            yield
    finally:
        torch._dynamo.reset()


def loss_weights(T: int, shape: tuple[int, ...], seed: int = 1) -> list[torch.Tensor]:
    """Fixed random weights of the spikes, the last ``v`` and ``v_seq`` in the test loss."""
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn((T, *shape), generator=g, dtype=torch.float64),
        torch.randn(shape, generator=g, dtype=torch.float64),
        torch.randn((T, *shape), generator=g, dtype=torch.float64),
    ]


def run_multi_step(node, x_seq: torch.Tensor, weights=None):
    """``node`` in multi-step mode from a fresh state.

    Returns ``(spikes, v_last, v_seq or None, grads)`` with ``grads`` the gradients of the
    weighted loss with respect to ``x_seq`` and every parameter (``None`` if no weights).
    """
    node.reset()
    node.step_mode = "m"
    x = x_seq.detach().clone().requires_grad_(weights is not None)
    spikes = node(x)
    v_seq = node.v_seq if getattr(node, "store_v_seq", False) else None
    return spikes, node.v, v_seq, _grads(node, x, spikes, node.v, v_seq, weights)


def run_single_steps(node, x_seq: torch.Tensor, weights=None):
    """The reference: ``node(x[t])`` for each t in single-step mode, from a fresh state."""
    node.reset()
    node.step_mode = "s"
    x = x_seq.detach().clone().requires_grad_(weights is not None)
    spikes, vs = [], []
    for t in range(x.shape[0]):
        spikes.append(node(x[t]))
        vs.append(node.v)
    spikes_t, v_seq = torch.stack(spikes), torch.stack(vs)
    keep = v_seq if getattr(node, "store_v_seq", False) else None
    return spikes_t, node.v, keep, _grads(node, x, spikes_t, node.v, keep, weights)


def _grads(node, x, spikes, v_last, v_seq, weights):
    if weights is None:
        return None
    w_s, w_v, w_vs = (w.to(spikes.dtype) for w in weights)
    loss = (spikes * w_s).sum() + (v_last * w_v).sum()
    if v_seq is not None:
        loss = loss + (v_seq * w_vs).sum()
    params = [p for p in node.parameters() if p.requires_grad]
    return torch.autograd.grad(loss, [x, *params], allow_unused=True)


def assert_same_run(a, b, atol: float = 1e-10, rtol: float = 1e-8) -> None:
    """Spikes exactly equal; states and gradients to float tolerance."""
    spikes_a, v_a, vs_a, g_a = a
    spikes_b, v_b, vs_b, g_b = b
    assert spikes_a.dtype == spikes_b.dtype and spikes_a.shape == spikes_b.shape
    assert torch.equal(spikes_a, spikes_b), "spikes differ"
    torch.testing.assert_close(v_a, v_b, atol=atol, rtol=rtol)
    assert (vs_a is None) == (vs_b is None)
    if vs_a is not None:
        torch.testing.assert_close(vs_a, vs_b, atol=atol, rtol=rtol)
    if g_a is not None:
        assert len(g_a) == len(g_b)
        for ga, gb in zip(g_a, g_b):
            assert (ga is None) == (gb is None)
            if ga is not None:
                torch.testing.assert_close(ga, gb, atol=atol, rtol=rtol)


def compare_with_single_steps(node, x_seq: torch.Tensor, **tol: float) -> None:
    """Multi-step (the configured backend path) equals the single-step reference loop."""
    weights = loss_weights(x_seq.shape[0], tuple(x_seq.shape[1:]))
    node.reset()
    ref_node = copy.deepcopy(node)
    multi = run_multi_step(node, x_seq, weights)
    single = run_single_steps(ref_node, x_seq, weights)
    assert_same_run(multi, single, **tol)


def uses_fused_path(node, x_seq: torch.Tensor) -> bool:
    """Whether ``node``'s multi-step forward on ``x_seq`` went through the fused function."""
    node.reset()
    node.step_mode = "m"
    out = node(x_seq.detach().clone().requires_grad_())
    node.reset()
    return out.grad_fn is not None and "Fused" in type(out.grad_fn).__name__
