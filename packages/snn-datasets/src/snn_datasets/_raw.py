"""What the data sets' ``extract_downloaded_files`` / ``create_raw_from_extracted`` share:
nested archives, class-folder walks, resumable conversions and links (private).

Every writer here skips an output that exists, so a conversion interrupted and run again
completes the ``events_np`` folder without redoing finished files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from ._archive import extract_archive
from ._cache import atomic_savez, run_tasks

__all__: list[str] = []


def extract_nested(
    archive: Path,
    temp_dir: Path,
    inner_tasks: Callable[[Path], list[tuple[Path, Path]]],
) -> None:
    """Unpack ``archive`` into ``temp_dir``, then the ``(inner archive, target)`` pairs that
    ``inner_tasks(temp_dir)`` names, in parallel; ``temp_dir`` is deleted afterwards."""
    temp_dir.mkdir(exist_ok=True)
    try:
        extract_archive(archive, temp_dir)
        run_tasks(extract_archive, inner_tasks(temp_dir))
    finally:
        shutil.rmtree(temp_dir)


def zips_into(extract_root: Path) -> Callable[[Path], list[tuple[Path, Path]]]:
    """For :func:`extract_nested`: every ``.zip`` at the top of a folder, into ``extract_root``."""

    def tasks(folder: Path) -> list[tuple[Path, Path]]:
        inner = sorted(p for p in folder.iterdir() if p.suffix == ".zip")
        return [(z, extract_root) for z in inner]

    return tasks


def sub_dirs(folder: Path) -> list[str]:
    """Names of the folders in ``folder``, sorted (files are skipped)."""
    return [name for name in sorted(os.listdir(folder)) if (folder / name).is_dir()]


def make_class_folders(root: Path, names: Iterable, splits: Iterable[str] = ("",)) -> None:
    """Make ``root/<split>/<name>`` for every split and name (no split level by default)."""
    names = [str(name) for name in names]
    for split in splits:
        for name in names:
            (root / split / name).mkdir(parents=True, exist_ok=True)


def class_folder_tasks(
    source_dir: Path, target_dir: Path, suffix: str = ".npz"
) -> list[tuple[Path, Path]]:
    """``(source, target)`` pairs for every ``source_dir/<class>/<name>``, the target
    ``target_dir/<class>/<stem><suffix>``; makes the class folders."""
    tasks = []
    for class_name in sub_dirs(source_dir):
        src_dir, dst_dir = source_dir / class_name, target_dir / class_name
        dst_dir.mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(src_dir)):
            tasks.append((src_dir / name, dst_dir / (os.path.splitext(name)[0] + suffix)))
    return tasks


def convert_missing(load: Callable[[Path], dict], source: Path, npz_file: Path) -> None:
    """Write the events ``load(source)`` to ``npz_file`` atomically, unless it exists."""
    if npz_file.exists():
        return
    atomic_savez(npz_file, **load(source))


def link_missing(target: Path, source: Path) -> None:
    """Make ``target`` a symbolic link to the resolved ``source``, unless it exists."""
    if not os.path.lexists(target):
        target.symlink_to(source.resolve())


def link_class_folders(source_dir: Path, target_dir: Path) -> None:
    """Link every ``source_dir/<class>/<file>`` as ``target_dir/<class>/<file>``."""
    for class_name in sub_dirs(source_dir):
        (target_dir / class_name).mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(source_dir / class_name)):
            link_missing(target_dir / class_name / name, source_dir / class_name / name)
