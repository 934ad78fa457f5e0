"""HARDVS (Wang et al., AAAI 2024): 300 human activities recorded by a DAVIS346, 260x346.

Download (by hand, links at https://github.com/Event-AHU/HARDVS): ``MINI_HARDVS_files.zip``,
``train_label.txt``, ``val_label.txt`` and ``test_label.txt`` into ``root/download``. The zip
holds ``MINI_HARDVS_files/action_001.zip`` ... ``action_300.zip`` with
``<sample>.npz`` event files. The label files list ``action_XXX/<sample> <label>`` per line;
``events_np/{train,val,test}/action_XXX/<sample>.npz`` are symbolic links to the samples.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from ._raw import extract_nested, link_missing, make_class_folders
from .base import NeuromorphicDatasetFolder

__all__ = ["HARDVS"]

_N_CLASSES = 300
_CLASS_DIRS = tuple(f"action_{i:03d}" for i in range(1, _N_CLASSES + 1))
_SPLITS = ("train", "val", "test")


def _read_split_file(txt_file: Path) -> list[tuple[str, str]]:
    """``(class folder, sample name)`` per line ``action_XXX/<sample> <label>`` of a label file.

    :raises ValueError: naming the file, for a line whose first field is not ``<class>/<sample>``
    """
    pairs = []
    with open(txt_file) as f:
        for number, line in enumerate(f, start=1):
            if len(line) <= 1:
                continue
            parts = line.split(" ")[0].split("/")
            if len(parts) != 2 or not all(parts):
                raise ValueError(
                    f"malformed label file {str(txt_file)!r}, line {number}: {line.strip()!r}; "
                    "expected 'action_XXX/<sample> <label>'"
                )
            pairs.append((parts[0], parts[1]))
    return pairs


class HARDVS(NeuromorphicDatasetFolder):
    """HARDVS (Wang et al., "HARDVS: Revisiting Human Activity Recognition with Dynamic Vision
    Sensors", AAAI 2024), 300 classes; ``train_test_val`` is ``'train'``, ``'val'`` or
    ``'test'``. Other arguments as in :class:`~snn_datasets.base.NeuromorphicDatasetFolder`."""

    def __init__(
        self,
        root: str,
        train_test_val: str = None,
        data_type: str = "event",
        frames_number: int = None,
        split_by: str = None,
        duration: int = None,
        custom_integrate_function: Callable = None,
        custom_integrated_frames_dir_name: str = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
        if train_test_val not in _SPLITS:
            raise ValueError(f"train_test_val must be one of {_SPLITS}, got {train_test_val!r}")
        self.train_test_val = train_test_val
        super().__init__(
            root,
            None,
            data_type,
            frames_number,
            split_by,
            duration,
            custom_integrate_function,
            custom_integrated_frames_dir_name,
            transform,
            target_transform,
        )

    def get_root_when_train_is_none(self, _root: Path) -> Path:
        return _root / self.train_test_val

    @classmethod
    def get_H_W(cls) -> tuple:
        """``(260, 346)``."""
        return 260, 346

    @classmethod
    def resource_url_md5(cls) -> list:
        url = "https://github.com/Event-AHU/HARDVS"
        return [
            ("MINI_HARDVS_files.zip", url, "9c4cc0d9ba043faa17f6f1a9e9aff982"),
            ("test_label.txt", url, "5b664af5843f9b476a9c22626f7f5a59"),
            ("train_label.txt", url, "0d642b6e6871034f151b2649a89d8d3c"),
            ("val_label.txt", url, "cd2cebcba80e4552102bbacf2b5df812"),
        ]

    @classmethod
    def downloadable(cls) -> bool:
        """``False``: download the files by hand into ``root/download``."""
        return False

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack ``action_XXX.zip`` into ``extract_root/action_XXX`` and copy the label files."""
        download_root, extract_root = Path(download_root), Path(extract_root)

        def inner_tasks(temp_ext_dir: Path) -> list[tuple[Path, Path]]:
            inner = temp_ext_dir / "MINI_HARDVS_files"
            return [(inner / f"{name}.zip", extract_root / name) for name in _CLASS_DIRS]

        extract_nested(
            download_root / "MINI_HARDVS_files.zip", download_root / "temp_ext", inner_tasks
        )
        for split in _SPLITS:
            shutil.copy(download_root / f"{split}_label.txt", extract_root / f"{split}_label.txt")

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Link the samples listed in ``<split>_label.txt`` into ``raw_root/<split>/<class>/``."""
        extract_root, raw_root = Path(extract_root), Path(raw_root)
        for split in _SPLITS:
            make_class_folders(raw_root / split, _CLASS_DIRS)
            for class_name, sample in _read_split_file(extract_root / f"{split}_label.txt"):
                name = f"{sample}.npz"
                link_missing(raw_root / split / class_name / name, extract_root / class_name / name)
