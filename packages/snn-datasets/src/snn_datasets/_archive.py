"""Unpacking of the data sets' archives: ``.zip``, ``.tar``, ``.tar.gz``, ``.gz``, ``.rar``."""

from __future__ import annotations

import gzip
import shutil
import tarfile
import zipfile
from pathlib import Path

__all__ = ["extract_archive"]


def extract_archive(from_path: str | Path, to_path: str | Path | None = None) -> Path:
    """Unpack ``from_path`` into the folder ``to_path`` (its own folder if ``None``).

    ``.zip``, ``.tar``, ``.tar.gz`` / ``.tgz`` and ``.tar.bz2`` / ``.tar.xz`` are unpacked
    in full; a lone ``.gz`` is decompressed to ``to_path/<name without .gz>``; ``.rar``
    needs the optional ``rarfile`` package.

    :raises FileNotFoundError: if ``from_path`` does not exist
    :raises ValueError: if the archive type is not one of the above
    :raises RuntimeError: if the archive is corrupt (the message names the file)
    """
    from_path = Path(from_path)
    to_path = from_path.parent if to_path is None else Path(to_path)
    if not from_path.is_file():
        raise FileNotFoundError(f"archive {str(from_path)!r} does not exist")
    to_path.mkdir(parents=True, exist_ok=True)
    name = from_path.name.lower()
    try:
        if zipfile.is_zipfile(from_path):
            with zipfile.ZipFile(from_path) as zf:
                zf.extractall(to_path)
        elif name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
            with tarfile.open(from_path) as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(to_path, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    tf.extractall(to_path)
        elif name.endswith(".gz"):
            with (
                gzip.open(from_path, "rb") as src,
                open(to_path / from_path.name[:-3], "wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
        elif name.endswith(".rar"):
            try:
                import rarfile
            except ImportError as e:
                raise ImportError(
                    f"extracting {str(from_path)!r} needs the 'rarfile' package "
                    "(pip install rarfile) and an unrar tool"
                ) from e
            with rarfile.RarFile(from_path) as rf:
                rf.extractall(to_path)
        else:
            raise ValueError(
                f"cannot extract {str(from_path)!r}: unknown archive type; expected "
                ".zip, .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz, .gz or .rar"
            )
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, gzip.BadGzipFile) as e:
        raise RuntimeError(f"archive {str(from_path)!r} is corrupt or truncated: {e}") from e
    return to_path
