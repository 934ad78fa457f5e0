"""One daemon thread that traces and compiles fused neuron steps off the critical path.

The fused path's first calls run without compiled kernels (see :mod:`snn_neurons.fused`,
``settings.compile = "background"``); the jobs that build them run here, one at a time, so
that tracing and inductor's start-up never block the caller. While a job runs, the
interpreter's thread switch interval is lowered so that the caller's thread, which takes
and releases the GIL around every tensor operation, is not held up for a full default
interval (5 ms) each time; the previous interval is restored when the queue is empty. On
Linux the thread also runs at a lower scheduling priority (``nice``), which the C++
compiler processes it starts inherit.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

_SWITCH_INTERVAL = 0.0005  # seconds, while a job runs
_NICE = 10  # the worker thread's scheduling priority (Linux; 0 is the default, 19 lowest)

_lock = threading.Condition()
_jobs: deque[Callable[[], Any]] = deque()
_busy = 0  # jobs queued or running
_thread: threading.Thread | None = None


def submit(job: Callable[[], Any]) -> None:
    """Run ``job()`` on the worker thread (started on first use); exceptions are the job's
    to handle (an escaping one is printed by ``threading.excepthook``)."""
    global _busy, _thread
    with _lock:
        _jobs.append(job)
        _busy += 1
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="snn_neurons-compile", daemon=True)
            _thread.start()
        _lock.notify_all()


def pending() -> int:
    """The number of jobs queued or running."""
    with _lock:
        return _busy


def wait(timeout: float | None = None) -> bool:
    """Block until every submitted job has finished; ``False`` if ``timeout`` ran out."""
    with _lock:
        return _lock.wait_for(lambda: _busy == 0, timeout)


def _lower_priority() -> None:
    """Nice this thread (and the C++ compiler processes it starts) on Linux, so that the
    caller's threads keep their cores while a compile runs."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICE)
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        pass


def _run() -> None:
    global _busy
    if os.environ.get("SNN_NEURONS_COMPILE_NICE"):
        _lower_priority()
    old_interval: float | None = None
    while True:
        with _lock:
            if not _jobs and old_interval is not None:
                sys.setswitchinterval(old_interval)
                old_interval = None
            _lock.wait_for(lambda: bool(_jobs))
            job = _jobs.popleft()
        if old_interval is None:
            old_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(old_interval, _SWITCH_INTERVAL))
        try:
            job()
        finally:
            with _lock:
                _busy -= 1
                _lock.notify_all()
