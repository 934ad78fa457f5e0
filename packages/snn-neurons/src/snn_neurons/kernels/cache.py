"""Kernel caches: generated sources on disk, compiled kernels and traces in memory.

Sources are content-addressed files under ``$SNN_KERNEL_CACHE`` (default
``~/.cache/snn_neurons/kernels``): ``triton/snn_<hash>.py`` (imported as a module, so
Triton's own on-disk cache keeps the compiled binaries) and ``cuda/snn_<hash>.cu`` (CuPy
keeps the compiled modules in its own kernel cache). Files are written atomically, so
concurrent processes can share the directory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["cache_dir", "source_file", "source_hash", "MemoryCache"]

T = TypeVar("T")


def cache_dir() -> Path:
    """The root of the on-disk kernel cache (``$SNN_KERNEL_CACHE`` if set)."""
    env = os.environ.get("SNN_KERNEL_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "snn_neurons" / "kernels"


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:24]


def source_file(kind: str, source: str, suffix: str) -> Path:
    """Write ``source`` (once) to ``<cache>/<kind>/snn_<hash><suffix>``; return the path."""
    folder = cache_dir() / kind
    path = folder / f"snn_{source_hash(source)}{suffix}"
    if path.exists() and path.read_text() == source:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_", suffix=suffix)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class MemoryCache:
    """A thread-safe dict that builds missing values with a factory.

    Exceptions of the types in ``cache_errors`` are cached too (raised again on the next
    lookup without rebuilding); others are not.
    """

    def __init__(self, cache_errors: tuple[type[Exception], ...] = ()) -> None:
        self._data: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self._cache_errors = cache_errors

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._data:
                value = self._data[key]
                if isinstance(value, _Failure):
                    raise value.error
                return value
        try:
            value = build()
        except self._cache_errors as err:
            with self._lock:
                self._data[key] = _Failure(err)
            raise
        with self._lock:
            return self._data.setdefault(key, value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class _Failure:
    def __init__(self, error: Exception) -> None:
        self.error = error
