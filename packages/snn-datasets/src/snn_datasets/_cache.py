"""Safe preprocessing: atomic files, completion markers, a lock, and a parallel task runner.

Cache rules (used by :mod:`snn_datasets.base`):

- every output file is written under a temporary name in its final folder (or in a staging
  folder on the same file system) and moved into place with :func:`os.replace`, so a file
  that exists under its final name is complete;
- a cache folder is trusted only when it holds the marker file :data:`COMPLETE_MARKER`,
  written last. A folder without it (a killed run, or a folder built by the reference,
  which writes no marker) is *resumed*: every expected output that is missing or does not
  open as an ``.npz`` archive is made again, then the marker is written;
- preparation of one folder runs under an exclusive lock on a sibling lock file
  (``fcntl.flock`` on POSIX), so two processes preparing the same root (e.g. DDP ranks)
  take turns and the second one finds the first one's complete cache.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import pickle
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch

from . import _deflate, _threads

__all__: list[str] = []

COMPLETE_MARKER = ".complete"
BUILDING_SUFFIX = ".building"  # the reference's in-progress marker, a sibling of the folder


def _env_int(name: str) -> int | None:
    value = os.getenv(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError as error:
        raise ValueError(f"{name} must be a positive integer, got {value!r}") from error
    if number <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return number


def default_max_workers() -> int:
    """Workers for preprocessing: ``SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS`` (the
    reference's variable, default 16), capped by the number of CPUs."""
    configured = _env_int("SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS") or 16
    return max(1, min(configured, os.cpu_count() or 1))


def save_compressed() -> bool:
    """``SJ_SAVE_DATASETS_COMPRESSED`` (``'0'`` or ``'1'``, default ``'1'``), as the reference."""
    value = os.getenv("SJ_SAVE_DATASETS_COMPRESSED", "1")
    if value not in ("0", "1"):
        raise ValueError(f"SJ_SAVE_DATASETS_COMPRESSED must be '0' or '1', got {value!r}")
    return value == "1"


def compress_level() -> int:
    """zlib level of compressed ``.npz`` files: ``SNN_DATASETS_COMPRESS_LEVEL`` (0-9), default
    1. NumPy's ``savez_compressed`` (and so the reference) uses 6: about 5x slower to write
    frames, for files about 1.5x smaller. Any level reads back to the same arrays."""
    value = os.getenv("SNN_DATASETS_COMPRESS_LEVEL", "1")
    if value not in tuple("0123456789"):
        raise ValueError(f"SNN_DATASETS_COMPRESS_LEVEL must be one of 0..9, got {value!r}")
    return int(value)


def npz_name(file: str | os.PathLike) -> Path:
    """The name ``np.savez`` writes to: ``.npz`` is appended unless the name ends with it."""
    file = os.fspath(file)
    return Path(file if file.endswith(".npz") else file + ".npz")


def atomic_savez(file: str | os.PathLike, compressed: bool | None = None, **arrays) -> Path:
    """``np.savez[_compressed](file, **arrays)`` through a temporary name and ``os.replace``
    (compressed at :func:`compress_level`)."""
    final = npz_name(file)
    if compressed is None:
        compressed = save_compressed()
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if compressed:
                _deflate.write_npz(handle, arrays, compress_level())
            else:
                np.savez(handle, **arrays)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return final


_WHOLE_READ_BYTES = 1 << 20
_NPY_MAGIC = b"\x93NUMPY"
_NPY_HEADER = re.compile(
    r"\{'descr': '([<>|=][a-zA-Z]\d*)', 'fortran_order': False, 'shape': \(([\d, ]*)\), \}"
)


def _npy_from_bytes(data: bytes) -> np.ndarray:
    """The array of one ``.npy`` member (a writeable copy), parsing the usual header of a
    C-ordered array of a plain dtype directly; any other header goes through NumPy."""
    if data[:6] == _NPY_MAGIC and data[6] in (1, 2, 3):
        size = 2 if data[6] == 1 else 4
        start = 8 + size
        end = start + int.from_bytes(data[8:start], "little")
        match = _NPY_HEADER.match(data[start:end].decode("latin1"))
        if match is not None and np.dtype(match[1]).kind in "biuf":
            shape = tuple(int(v) for v in match[2].split(",") if v.strip())
            dtype = np.dtype(match[1])
            count = int(np.prod(shape, dtype=np.int64))
            if len(data) - end == count * dtype.itemsize:
                return np.frombuffer(data, dtype, count, end).reshape(shape).copy()
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def read_npz(file: str | os.PathLike) -> dict[str, np.ndarray | bytes]:
    """Every array of an ``.npz`` archive, as ``np.load(file)`` gives them (same keys, order,
    dtypes and values). Small members (most event samples) are decompressed in one piece
    and their header parsed directly, which saves most of ``np.load``'s fixed cost; large
    ones are decompressed at the same time on the shared threads (zlib releases the GIL)."""
    arrays: dict[str, np.ndarray | bytes] = {}
    with zipfile.ZipFile(file) as archive:
        large = []
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):  # as NpzFile: other members are bytes
                arrays[info.filename] = archive.read(info)
            elif info.file_size <= _WHOLE_READ_BYTES:
                arrays[info.filename[:-4]] = _npy_from_bytes(archive.read(info))
            else:  # large: NumPy reads it in chunks into the array (no big bytes copy)
                arrays[info.filename[:-4]] = None  # keeps the archive's key order
                large.append(info)
        members = [archive.open(info) for info in large]  # opened here: open() is not
        try:  # thread-safe, reading (under the archive's lock) and inflating are
            tasks = [partial(np.lib.format.read_array, m, allow_pickle=False) for m in members]
            for info, array in zip(large, _threads.run(tasks, _threads.threads_for(len(tasks)))):
                arrays[info.filename[:-4]] = array
        finally:
            for member in members:
                member.close()
    return arrays


def remove_temporary_files(folder: Path) -> int:
    """Delete the temporary files (``.<name>.<random>.tmp``) that :func:`atomic_savez` and
    :func:`mark_complete` leave under ``folder`` when killed; returns how many."""
    removed = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            if name.startswith(".") and name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(parent, name))
                    removed += 1
    return removed


def npz_is_valid(file: str | os.PathLike, key: str | None = "frames") -> bool:
    """Whether ``file`` opens as a zip archive (its directory is written last, so a
    truncated file fails) holding ``key`` (any key when ``key`` is None)."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    return bool(names) if key is None else f"{key}.npy" in names


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE_MARKER).is_file()


def mark_complete(folder: Path) -> None:
    """Write the marker last, itself atomically."""
    fd, tmp = tempfile.mkstemp(prefix=f"{COMPLETE_MARKER}.", suffix=".tmp", dir=folder)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"written by snn_datasets at {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
    os.replace(tmp, folder / COMPLETE_MARKER)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive lock on ``.<folder name>.lock`` beside ``folder`` (waits for the holder)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock_path = folder.parent / f".{folder.name}.lock"
    try:
        import fcntl
    except ImportError:  # not POSIX: an exclusively created lock file, polled
        fcntl = None
    if fcntl is not None:
        with open(lock_path, "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return
    while True:
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            time.sleep(0.2)
    try:
        yield
    finally:
        os.close(fd)
        os.unlink(lock_path)


class _Progress:
    """tqdm when it is installed, else a line on stderr about every 10 %."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.done, self._next = total, desc, 0, 0
        try:
            import tqdm
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm.tqdm(total=total, desc=desc)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.done >= self._next or self.done == self.total:
            print(f"{self.desc}: {self.done}/{self.total}", file=sys.stderr, flush=True)
            self._next = self.done + max(1, self.total // 10)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _picklable(obj: object) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


def run_tasks(
    process: Callable,
    tasks: Iterable[tuple],
    max_workers: int | None = None,
    desc: str = "preprocessing",
) -> int:
    """Call ``process(*args)`` for every ``args`` in ``tasks``; returns the number of tasks.

    Runs in worker processes when ``process`` and the arguments pickle (threads otherwise,
    e.g. for a lambda or an open HDF5 file), in the caller when one worker is enough. The
    first failure cancels what has not started and is raised.
    """
    tasks = list(tasks)
    if max_workers is None:
        max_workers = default_max_workers()
    workers = max(1, min(int(max_workers), len(tasks)))
    progress = _Progress(len(tasks), desc)
    try:
        if workers == 1:
            for args in tasks:
                process(*args)
                progress.update()
            return len(tasks)
        executor: Executor
        # daemonic processes (pool or DataLoader workers) cannot start children
        if not multiprocessing.current_process().daemon and _picklable((process, tasks[0])):
            executor = ProcessPoolExecutor(max_workers=workers)
        else:
            executor = ThreadPoolExecutor(max_workers=workers)
        threads = max(1, torch.get_num_threads() // workers)  # each worker's share
        # batches of several files per message (about 8 per worker in all): many small
        # files (N-MNIST) would otherwise cost more in messages than in work
        size = max(1, min(32, len(tasks) // (8 * workers)))
        batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
        with executor:
            futures = [
                executor.submit(_threads.limited, threads, _run_batch, process, batch)
                for batch in batches
            ]
            try:
                for future, batch in zip(futures, batches):
                    future.result()
                    progress.update(len(batch))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return len(tasks)
    finally:
        progress.close()


def _run_batch(process: Callable, batch: list[tuple]) -> None:
    for args in batch:
        process(*args)


class StagedEventFileTask:
    """Run ``process(events_file, staging_dir)`` and move what it wrote into ``output_dir``.

    A picklable wrapper, so any process function (the reference's signature writes straight
    into the folder it is given) produces only complete files under their final names.
    """

    def __init__(self, process: Callable, staging_root: Path):
        self.process = process
        self.staging_root = staging_root

    def __call__(self, events_file: Path, output_dir: Path) -> None:
        self.staging_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{events_file.name}.", dir=self.staging_root))
        try:
            self.process(events_file, staging)
            for folder, _, files in os.walk(staging):
                target = output_dir / Path(folder).relative_to(staging)
                target.mkdir(parents=True, exist_ok=True)
                for name in files:
                    os.replace(Path(folder) / name, target / name)
        finally:
            for folder, _, files in os.walk(staging, topdown=False):
                for name in files:
                    with contextlib.suppress(OSError):
                        os.unlink(Path(folder) / name)
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
