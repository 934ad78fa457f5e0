"""Shared helpers of the generated-kernel tests (``test_kernels_*.py``, ``test_flexsn*.py``).

Importing this module sets ``TRITON_INTERPRET=1`` when there is no CUDA device, before any
generated Triton module is loaded, so the kernel tests also run with a plain ``pytest``.
"""

from __future__ import annotations

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

__all__ = ["reference_steps", "grads_of", "close"]


def reference_steps(neuron, x_seq: torch.Tensor, v0: torch.Tensor, spike_fn=None):
    """The single-step reference loop: ``charge``, ``fire``, ``reset_potential`` per step.

    ``spike_fn(t, h)`` replaces ``fire`` (for stochastic surrogates). Returns
    ``(spike_seq, v_seq)``.
    """
    v, spikes, vs = v0, [], []
    for t in range(x_seq.shape[0]):
        h = neuron.charge(x_seq[t], v)
        s = neuron.fire(h) if spike_fn is None else spike_fn(t, h)
        v = neuron.reset_potential(h, s.detach() if neuron.detach_reset else s)
        spikes.append(s)
        vs.append(v)
    return torch.stack(spikes), torch.stack(vs)


def grads_of(outputs, inputs, weights):
    """Gradients of ``sum(out * w)`` with respect to ``inputs`` (``None`` where unused)."""
    loss = sum((o * w).sum() for o, w in zip(outputs, weights))
    return torch.autograd.grad(loss, inputs, allow_unused=True)


def close(actual, expected, rtol=1e-5, atol=1e-5, msg=""):
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, msg=msg)
