"""Large samples are counted and read on several threads: same frames and arrays as one
thread (checked against a per-event loop and ``np.load``), errors raised, safe after fork."""

import functools
import multiprocessing
import threading

import numpy as np
import pytest
import torch
from snn_datasets import _cache, _integrate, _threads, utils
from test_utils_integration import naive_frames


@pytest.fixture
def threaded(monkeypatch):
    """Every sample counts as large, in blocks of 8 events, on 3 threads; records the
    threads each call asked for and the threads that ran tasks."""
    monkeypatch.setattr(_integrate, "_THREADED_EVENTS", 1)
    monkeypatch.setattr(_integrate, "_BLOCK", 8)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    asked, workers = [], set()
    run = _threads.run

    def spy(tasks, threads):
        asked.append(threads)

        def recorded(task):
            workers.add(threading.get_ident())
            return task()

        return run([functools.partial(recorded, t) for t in tasks], threads)

    monkeypatch.setattr(_threads, "run", spy)
    yield asked, workers
    torch.set_num_threads(before)


def _events(n, H, W, seed=0, p_low=0):
    rng = np.random.default_rng(seed)
    return {
        "t": np.sort(rng.integers(0, 10 * n, n)),
        "x": rng.integers(0, W, n),
        "y": rng.integers(0, H, n),
        "p": rng.integers(p_low, 2, n),
    }


@pytest.mark.parametrize("p_low", [0, -1])  # polarities 0/1 are the channel; -1/0/1 are not
@pytest.mark.parametrize("frames_num", [1, 3, 40])
def test_threaded_frames_equal_the_per_event_loop(threaded, frames_num, p_low):
    """One dense frame counted in parts (merged under the lock), several dense frames, and
    sparse runs, with every rule; the frames equal a per-event loop."""
    asked, workers = threaded
    n, H, W = 400, 3, 4  # 24 pixels: frames of 8 or more events are dense
    events = _events(n, H, W, p_low=p_low)
    for split_by in ("number", "time"):
        j_l, j_r = utils.cal_fixed_frames_number_segment_index(events["t"], split_by, frames_num)
        frames = utils.integrate_events_by_fixed_frames_number(events, split_by, frames_num, H, W)
        assert np.array_equal(frames, naive_frames(events, list(zip(j_l, j_r)), H, W))
    span = int(events["t"][-1] - events["t"][0])
    duration = -(-span // frames_num)
    frames = utils.integrate_events_by_fixed_duration(events, duration, H, W)
    bins = (events["t"] - events["t"][0]) // duration
    edges = np.searchsorted(bins, np.arange(frames.shape[0] + 1)).tolist()
    segments = list(zip(edges[:-1], edges[1:]))
    segments[-1] = (segments[-1][0], n)
    assert np.array_equal(frames, naive_frames(events, segments, H, W))
    assert asked and all(t == 3 for t in asked)
    assert len(workers) > 1  # the tasks ran on more than one thread


def test_a_bad_coordinate_in_one_part_is_raised(threaded):
    events = _events(400, 3, 4)
    events["x"][333] = 4
    with pytest.raises(ValueError, match=r"x coordinates in \[0, 4\].*H=3, W=4"):
        utils.integrate_events_by_fixed_frames_number(events, "number", 2, 3, 4)


def test_small_samples_and_preprocessing_workers_use_one_thread(monkeypatch):
    asked = []
    run = _threads.run

    def spy(tasks, threads):
        asked.append(threads)
        return run(tasks, threads)

    monkeypatch.setattr(_threads, "run", spy)
    events = _events(1000, 3, 4)
    utils.integrate_events_by_fixed_frames_number(events, "number", 4, 3, 4)
    assert asked == []  # fewer than _THREADED_EVENTS events: counted in the caller
    assert _threads.threads_for(8) == min(torch.get_num_threads(), 8)
    assert _threads.limited(1, _threads.threads_for, 8) == 1
    assert _threads.limited(2, _threads.threads_for, 8) == min(torch.get_num_threads(), 2)
    assert _threads.threads_for(8) == min(torch.get_num_threads(), 8)


def _count_in_child(queue):
    events = _events(400, 3, 4, seed=3)
    frames = utils.integrate_events_by_fixed_frames_number(events, "number", 3, 3, 4)
    queue.put(frames)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_the_pool_is_made_again_in_a_forked_child(threaded):
    utils.integrate_events_by_fixed_frames_number(_events(400, 3, 4), "number", 3, 3, 4)
    assert _threads._pool is not None  # the parent's pool has threads now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_count_in_child, args=(queue,))
    child.start()
    frames = queue.get(timeout=60)  # a child using the parent's pool would wait forever
    child.join(60)
    assert child.exitcode == 0
    events = _events(400, 3, 4, seed=3)
    j_l, j_r = utils.cal_fixed_frames_number_segment_index(events["t"], "number", 3)
    assert np.array_equal(frames, naive_frames(events, list(zip(j_l, j_r)), 3, 4))


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
