"""A shared thread pool for work that runs outside the GIL (zlib's inflate and deflate).

The large members of an ``.npz`` are read, and written in pieces, as independent tasks on up
to ``torch.get_num_threads()`` threads: 1 in DataLoader workers, and a share of it in each
preprocessing worker (:func:`limited`), so parallel workers are not oversubscribed;
``torch.set_num_threads`` sets it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

__all__: list[str] = []

_MAX_THREADS = 32
_pool: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, threads, pool)
_pool_lock = threading.Lock()
_local = threading.local()


def threads_for(tasks: int) -> int:
    """Threads for ``tasks`` independent tasks: ``min(torch.get_num_threads(), tasks)``, or
    fewer inside :func:`limited` (a task of a parallel preprocessing run)."""
    cap = getattr(_local, "cap", _MAX_THREADS)
    return max(1, min(torch.get_num_threads(), tasks, cap))


def limited(threads: int, fn: Callable, *args: object) -> object:
    """``fn(*args)`` with :func:`threads_for` giving at most ``threads`` in this thread (a
    preprocessing worker, one of several running at once)."""
    before = getattr(_local, "cap", _MAX_THREADS)
    _local.cap = max(1, threads)
    try:
        return fn(*args)
    finally:
        _local.cap = before


def run(tasks: Sequence[Callable[[], object]], threads: int) -> list:
    """``[task() for task in tasks]``, on ``threads`` threads of a shared pool when
    ``threads > 1``. The pool is made again after a fork (the child has none of the
    parent's threads). Every task has finished when the first failure is raised."""
    if threads <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1] < threads:
            if _pool is not None and _pool[0] == os.getpid():  # a smaller one: let it go
                _pool[2].shutdown(wait=False)
            _pool = (os.getpid(), threads, ThreadPoolExecutor(threads, "snn_datasets"))
        pool = _pool[2]
    futures = [pool.submit(task) for task in tasks]
    errors = [f.exception() for f in futures]  # waits for all: no task outlives the call
    for error in errors:
        if error is not None:
            raise error
    return [f.result() for f in futures]
