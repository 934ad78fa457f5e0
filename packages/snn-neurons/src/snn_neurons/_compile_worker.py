"""Runs the build jobs (trace + compile) of the tiered fused path, safely.

The fused path's first call of a neuron configuration runs the single-step loop and starts
no compile work (see :mod:`snn_neurons.fused`); the job that traces and compiles its steps
runs on the configuration's next call, to completion, while the caller waits. It runs on a
fresh thread, clear of the caller's thread-local autograd state (``no_grad``,
``saved_tensors_hooks``, ``inference_mode``), which tracing refuses or would record.

The caller waits rather than going on beside the job because ``torch.fx`` tracing (used by
``make_fx`` and by inductor's own graph capture) patches ``torch.nn.Module.__call__`` and
``__getattr__`` for the whole process while it runs: a module called on another thread at
that time is routed into the tracer and fails (``CURRENT_PATCHER is None``, "module is not
installed as a submodule"). So no trace may overlap the caller's own forward or backward.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any


def submit(job: Callable[[], Any]) -> None:
    """Run ``job()`` now, on a fresh thread, and wait for it (its exceptions propagate)."""
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="snn_neurons-compile"
    ) as pool:
        pool.submit(job).result()


def pending() -> int:
    """The number of jobs queued or running: always 0, since :func:`submit` waits."""
    return 0


def wait(timeout: float | None = None) -> bool:
    """Every submitted job has finished when :func:`submit` returns: always ``True``."""
    return True
