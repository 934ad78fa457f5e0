"""Preprocessing is atomic, resumable after a crash or a kill, and safe for two processes."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _toy import Toy, write_download
from snn_datasets import _cache, base, utils
from snn_datasets._cache import COMPLETE_MARKER, atomic_savez, npz_is_valid

FOLDER = "frames_number_3_split_by_time"
OPTIONS = {"data_type": "frame", "frames_number": 3, "split_by": "time"}


def read_cache(root: Path) -> dict:
    out = {}
    for path in sorted((root / FOLDER).rglob("*.npz")):
        with np.load(path) as archive:
            out[str(path.relative_to(root))] = archive["frames"]
    return out


@pytest.fixture(scope="module")
def clean_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    write_download(root)
    Toy(root, train=True, **OPTIONS)
    return read_cache(root)


def assert_same(a: dict, b: dict):
    assert sorted(a) == sorted(b) and len(a) == 12
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_atomic_savez_leaves_only_the_final_file(tmp_path):
    final = atomic_savez(tmp_path / "a", frames=np.ones(3))
    assert final == tmp_path / "a.npz" and os.listdir(tmp_path) == ["a.npz"]
    assert npz_is_valid(final)
    final.write_bytes(final.read_bytes()[:-10])
    assert not npz_is_valid(final)


def test_failure_after_k_files_then_resume(tmp_path, monkeypatch, clean_cache):
    write_download(tmp_path)
    Toy(tmp_path, train=True)  # events first
    real = utils.integrate_events_file_to_frames_file_by_fixed_frames_number
    calls, fail_at = [], [5]

    def failing(*args):
        calls.append(args[1])
        if len(calls) == fail_at[0]:
            raise RuntimeError("injected crash")
        return real(*args)

    monkeypatch.setattr(
        base.utils, "integrate_events_file_to_frames_file_by_fixed_frames_number", failing
    )
    with pytest.raises(RuntimeError, match="injected crash"):
        Toy(tmp_path, train=True, **OPTIONS)
    folder = tmp_path / FOLDER
    assert not (folder / COMPLETE_MARKER).exists()
    assert (tmp_path / f"{FOLDER}.building").exists()
    done = list(folder.rglob("*.npz"))
    assert 0 < len(done) < 12 and all(npz_is_valid(p) for p in done)

    calls.clear()
    fail_at[0] = None
    ds = Toy(tmp_path, train=True, **OPTIONS)  # resumes: only the missing files
    assert len(calls) == 12 - len(done) and len(ds) == 6
    assert (folder / COMPLETE_MARKER).is_file() and not (tmp_path / f"{FOLDER}.building").exists()
    assert_same(read_cache(tmp_path), clean_cache)


SLOW_BUILD = """
import sys, time
sys.path.insert(0, {tests!r})
from _toy import Toy
from snn_datasets import base, utils
real = utils.integrate_events_file_to_frames_file_by_fixed_frames_number
def slow(*args):
    real(*args)
    time.sleep(0.3)
base.utils.integrate_events_file_to_frames_file_by_fixed_frames_number = slow
Toy({root!r}, train=True, **{options!r})
"""


def test_killed_run_resumes_to_a_complete_cache(tmp_path, clean_cache):
    write_download(tmp_path)
    Toy(tmp_path, train=True)
    code = SLOW_BUILD.format(tests=str(Path(__file__).parent), root=str(tmp_path), options=OPTIONS)
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    folder = tmp_path / FOLDER
    deadline = time.time() + 60
    while time.time() < deadline and len(list(folder.rglob("*.npz"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (folder / COMPLETE_MARKER).exists()
    assert 2 <= len(list(folder.rglob("*.npz"))) < 12
    Toy(tmp_path, train=True, **OPTIONS)
    assert (folder / COMPLETE_MARKER).is_file()
    assert_same(read_cache(tmp_path), clean_cache)
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def _prepare(root: str) -> None:
    assert len(Toy(root, train=True, **OPTIONS)) == 6


def test_two_processes_preparing_one_root(tmp_path, clean_cache):
    """Like two DDP ranks: both start from nothing at once, both succeed."""
    write_download(tmp_path)
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    procs = [ctx.Process(target=_prepare, args=(str(tmp_path),)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert (tmp_path / FOLDER / COMPLETE_MARKER).is_file()
    assert_same(read_cache(tmp_path), clean_cache)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith((".building", ".staging"))]
    assert leftovers == []


def test_compress_level_setting_and_its_check(tmp_path, monkeypatch):
    frames = np.arange(2 * 2 * 8 * 8, dtype=np.float64).reshape(2, 2, 8, 8) % 3
    sizes = {}
    for level in ("0", "9"):
        monkeypatch.setenv("SNN_DATASETS_COMPRESS_LEVEL", level)
        path = atomic_savez(tmp_path / f"l{level}", frames=frames)
        assert np.array_equal(utils.load_npz_frames(path), frames.astype(np.float32))
        sizes[level] = path.stat().st_size
    assert sizes["9"] < sizes["0"]
    monkeypatch.setenv("SNN_DATASETS_COMPRESS_LEVEL", "fast")
    with pytest.raises(ValueError, match="SNN_DATASETS_COMPRESS_LEVEL must be one of 0..9"):
        atomic_savez(tmp_path / "x", frames=frames)


def _square_into(folder: str, i: int) -> None:
    atomic_savez(Path(folder) / f"{i}", frames=np.full(2, i * i))


def _tasks_in_a_daemon(folder: str) -> int:
    from snn_datasets._cache import run_tasks

    return run_tasks(_square_into, [(folder, i) for i in range(4)], max_workers=2)


def test_run_tasks_inside_a_daemonic_worker_uses_threads(tmp_path):
    """DataLoader or Pool workers cannot start processes; the runner falls back to threads."""
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_tasks_in_a_daemon, (str(tmp_path),)) == 4
    assert [utils.load_npz_frames(tmp_path / f"{i}.npz")[0] for i in range(4)] == [0, 1, 4, 9]


def test_resume_deletes_temporary_files_of_a_killed_run(tmp_path, clean_cache):
    """Frame builders write straight into the cache (atomically); a temporary file a killed
    run left there is deleted when the folder is resumed."""
    write_download(tmp_path)
    Toy(tmp_path, train=True, **OPTIONS)
    folder = tmp_path / FOLDER
    (folder / COMPLETE_MARKER).unlink()
    victim = sorted(folder.rglob("*.npz"))[0]
    victim.unlink()
    leftover = victim.parent / f".{victim.name}.abc123.tmp"
    leftover.write_bytes(b"half a zip")
    Toy(tmp_path, train=True, **OPTIONS)
    assert not leftover.exists() and victim.is_file()
    assert_same(read_cache(tmp_path), clean_cache)


def _npz_cases() -> dict:
    rng = np.random.default_rng(0)
    return {
        "t": np.sort(rng.integers(0, 10**6, 500)).astype(np.uint32),
        "x": rng.integers(0, 128, 500),
        "b": rng.integers(0, 2, 7).astype(bool),
        "f": rng.random((3, 4)).astype(np.float32),
        "big_endian": np.arange(5, dtype=">i4"),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 2), dtype=np.int16),
        "structured": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
    }


@pytest.mark.parametrize("whole_read_bytes", [1 << 20, 0])
@pytest.mark.parametrize("compressed", [True, False])
def test_read_npz_gives_what_np_load_gives(tmp_path, monkeypatch, whole_read_bytes, compressed):
    """Same keys in the same order, dtypes, shapes, memory order and values as ``np.load``,
    writeable, whether a member is read in one piece or (large members) in chunks."""
    monkeypatch.setattr(_cache, "_WHOLE_READ_BYTES", whole_read_bytes)
    arrays = _npz_cases()
    (np.savez_compressed if compressed else np.savez)(tmp_path / "a.npz", **arrays)
    got = _cache.read_npz(tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz") as archive:
        assert list(got) == archive.files == list(arrays)
        for key in archive.files:
            expected = archive[key]
            assert got[key].dtype == expected.dtype and got[key].shape == expected.shape
            assert got[key].flags.f_contiguous == expected.flags.f_contiguous
            assert np.array_equal(got[key], expected) and got[key].flags.writeable


def test_events_loader_reads_npz_samples_and_names_a_corrupt_file(tmp_path):
    events = {k: v for k, v in _npz_cases().items() if k in ("t", "x")}
    np.savez_compressed(tmp_path / "s.npz", **events)
    loaded = base._load_events(tmp_path / "s.npz")
    assert list(loaded) == list(loaded.files) == ["t", "x"]
    assert all(np.array_equal(loaded[k], events[k]) for k in events)
    (tmp_path / "bad.npz").write_bytes((tmp_path / "s.npz").read_bytes()[:-30])
    with pytest.raises(ValueError, match=r"cannot read events file .*bad\.npz"):
        base._load_events(tmp_path / "bad.npz")
