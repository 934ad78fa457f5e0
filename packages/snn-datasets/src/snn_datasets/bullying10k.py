"""Bullying10K (Dong et al., NeurIPS 2023 Datasets and Benchmarks): 10 actions recorded by a
DAVIS346, 260x346; a privacy-preserving violence-recognition data set.

Download (automatic, figshare, md5-verified): ``handshake.zip`` ... ``kicking.zip`` into
``root/download``. They hold ``<action>/**/<name>.npy``: pickled object arrays of event
chunks, each a sequence of ``(t, x, y, p, ...)`` tuples. They are converted to
``events_np/{train,test}/<label>/<name>.npz``; like the original work, every 5th file (in
directory-listing order, starting with the first) goes to the test set. The extracted
folder is deleted afterwards, as in the reference (the files are large).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from ._archive import extract_archive
from ._cache import run_tasks
from ._raw import convert_missing, make_class_folders
from .base import NeuromorphicDatasetFolder

__all__ = ["BULLYING10K_CATEGORY_LABEL", "Bullying10kClassification"]

BULLYING10K_CATEGORY_LABEL = {
    "handshake": 0,
    "slapping": 1,
    "punching": 2,
    "walking": 3,
    "fingerguess": 4,
    "strangling": 5,
    "greeting": 6,
    "pushing": 7,
    "hairgrabs": 8,
    "kicking": 9,
}


def _load_bullying_npy(src_path: str | Path) -> dict:
    """Flatten the chunks of a Bullying10K ``.npy`` file into ``{'t', 'x', 'y', 'p'}`` arrays
    (NumPy infers the dtypes from the stored values, as in the reference).

    The file is a pickle: load only files from the official archives.
    """
    try:
        chunks = np.load(src_path, allow_pickle=True)
        events = [event for chunk in chunks for event in chunk]
        return {key: np.array([e[k] for e in events]) for k, key in enumerate("txyp")}
    except (ValueError, OSError, EOFError, TypeError, IndexError) as e:
        raise ValueError(f"Bullying10K file {str(src_path)!r} is truncated or corrupt: {e}") from e


def _split_files(extract_root: Path) -> tuple[list, list]:
    """``(train, test)`` lists of ``(file, label)``: every 5th file is a test file."""
    files = []
    for category in os.listdir(extract_root):
        if category.endswith(".json") or category.startswith("."):
            continue
        if category not in BULLYING10K_CATEGORY_LABEL:
            raise ValueError(
                f"unexpected folder {category!r} in {str(extract_root)!r}; expected the "
                f"categories {sorted(BULLYING10K_CATEGORY_LABEL)}"
            )
        label = BULLYING10K_CATEGORY_LABEL[category]
        for dir_path, _, names in os.walk(Path(extract_root) / category):
            files.extend((Path(dir_path) / name, label) for name in names)
    test = [f for i, f in enumerate(files) if i % 5 == 0]
    train = [f for i, f in enumerate(files) if i % 5 != 0]
    return train, test


class Bullying10kClassification(NeuromorphicDatasetFolder):
    """Bullying10K (Dong et al., "Bullying10K: A Large-Scale Neuromorphic Dataset towards
    Privacy-Preserving Bullying Recognition", NeurIPS 2023), 10 classes; ``train`` must be
    ``True`` or ``False``. Other arguments as in
    :class:`~snn_datasets.base.NeuromorphicDatasetFolder`."""

    def __init__(
        self,
        root: str,
        train: bool = True,
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
        if train is None:
            raise ValueError("The argument `train` must be specified as a boolean value, got None")
        super().__init__(
            root,
            train,
            data_type,
            frames_number,
            split_by,
            duration,
            custom_integrate_function,
            custom_integrated_frames_dir_name,
            transform,
            target_transform,
        )

    @classmethod
    def get_H_W(cls) -> tuple:
        """``(260, 346)``."""
        return 260, 346

    @classmethod
    def resource_url_md5(cls) -> list[tuple[str, str, str]]:
        """One figshare zip per action, with its md5."""
        files = (
            ("handshake", 41268834, "681d70f499e736a1e805305284ddc425"),
            ("slapping", 41247021, "84b41d6805958f9f62f425223916ffc2"),
            ("punching", 41263314, "40954f480ab210099d448b7b88fc4719"),
            ("walking", 41247024, "56e4cac9c0814ce701c3b2292c15b6a9"),
            ("fingerguess", 41253057, "f83114e5b4f0ea57cac86fb080c7e4d7"),
            ("strangling", 41261904, "8185ecd6f3147e9b609d22f06270aa86"),
            ("greeting", 41268792, "4a763fad728b04c8356db8544f1121fe"),
            ("pushing", 41268951, "7986c74ade7149a98672120a89b13ba8"),
            ("hairgrabs", 41277855, "a9cf690ed0a3305da4a4b8e110f64db1"),
            ("kicking", 41278008, "6c3218f977de4ac29c84a10b17779c33"),
        )
        return [
            (f"{name}.zip", f"https://figshare.com/ndownloader/files/{fid}", md5)
            for name, fid, md5 in files
        ]

    @classmethod
    def downloadable(cls) -> bool:
        """``True``."""
        return True

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack the zips into ``extract_root``; copy other files (json) beside them."""
        tasks = []
        for path in sorted(Path(download_root).iterdir()):
            if path.name.endswith(".zip"):
                tasks.append((path, extract_root))
            elif path.is_file() and not path.name.endswith(".part"):
                shutil.copy(path, Path(extract_root) / path.name)
        run_tasks(extract_archive, tasks)

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Convert the ``.npy`` files to ``{train,test}/<label>/<name>.npz``, then delete
        ``extract_root``."""
        raw_root = Path(raw_root)
        make_class_folders(raw_root, range(10), ("train", "test"))
        train, test = _split_files(Path(extract_root))
        tasks = [
            (f, raw_root / split / str(label) / f"{f.stem}.npz")
            for split, files in (("train", train), ("test", test))
            for f, label in files
        ]
        run_tasks(partial(convert_missing, _load_bullying_npy), tasks)
        shutil.rmtree(extract_root)
