"""The shared thread pool (zlib work of large ``.npz`` members): every task runs, results
keep their order, failures are raised after all tasks ended, the pool is made again after a
fork, and preprocessing workers take their share of ``torch.get_num_threads()``."""

import multiprocessing
import threading
import time

import numpy as np
import pytest
import torch
from snn_datasets import _cache, _threads


@pytest.fixture
def three_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(before)


def test_tasks_run_on_several_threads_in_order(three_threads):
    seen = set()
    barrier = threading.Barrier(3, timeout=30)  # returns only if 3 tasks run at once

    def task(k):
        seen.add(threading.get_ident())
        barrier.wait()
        return k * k

    tasks = [lambda k=k: task(k) for k in range(6)]
    assert _threads.run(tasks, _threads.threads_for(len(tasks))) == [k * k for k in range(6)]
    assert len(seen) == 3


def test_a_failure_is_raised_after_every_task_ended(three_threads):
    ended = []

    def slow(k):
        time.sleep(0.05)
        ended.append(k)

    def fail():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _threads.run([fail] + [lambda k=k: slow(k) for k in range(4)], 3)
    assert sorted(ended) == [0, 1, 2, 3]


def test_thread_counts_follow_torch_and_the_worker_share(three_threads):
    assert _threads.threads_for(8) == 3 and _threads.threads_for(2) == 2
    assert _threads.threads_for(0) == 1
    assert _threads.limited(1, _threads.threads_for, 8) == 1
    assert _threads.limited(2, _threads.threads_for, 8) == 2
    assert _threads.threads_for(8) == 3  # the share ends with the call
    torch.set_num_threads(1)  # DataLoader workers
    assert _threads.threads_for(8) == 1


def _run_in_child(queue):
    queue.put(_threads.run([lambda k=k: k + 1 for k in range(4)], 3))


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_the_pool_is_made_again_in_a_forked_child(three_threads):
    assert _threads.run([lambda: 1, lambda: 2], 3) == [1, 2]
    assert _threads._pool is not None  # the parent's pool has threads now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_run_in_child, args=(queue,))
    child.start()
    result = queue.get(timeout=60)  # a child using the parent's pool would wait forever
    child.join(60)
    assert child.exitcode == 0 and result == [1, 2, 3, 4]


@pytest.mark.parametrize("threads", [1, 3])
def test_large_archive_members_are_read_on_threads_in_order(tmp_path, monkeypatch, threads):
    monkeypatch.setattr(_cache, "_WHOLE_READ_BYTES", 0)  # every member is "large"
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rng = np.random.default_rng(0)
        arrays = {
            "t": np.arange(50_000, dtype=np.int64) * 3,
            "x": rng.integers(0, 346, 50_000).astype(np.uint16),
            "y": rng.integers(0, 260, 50_000).astype(np.int32),
            "p": rng.integers(0, 2, 50_000).astype(bool),
        }
        np.savez_compressed(tmp_path / "e.npz", **arrays)
        got = _cache.read_npz(tmp_path / "e.npz")
    finally:
        torch.set_num_threads(before)
    assert list(got) == list(arrays)
    for key, value in arrays.items():
        assert got[key].dtype == value.dtype and np.array_equal(got[key], value)
