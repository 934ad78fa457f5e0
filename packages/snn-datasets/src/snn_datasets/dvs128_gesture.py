"""DVS128 Gesture (Amir et al., CVPR 2017): 11 hand gestures by 29 subjects, 128x128 DVS.

Download (by hand, IBM Box; the reference cannot download it either):
``DvsGesture.tar.gz``, ``gesture_mapping.csv``, ``LICENSE.txt``, ``README.txt`` into
``root/download``. The archive holds ``DvsGesture/userXX_<lighting>.aedat`` (AEDAT 3.1),
``userXX_<lighting>_labels.csv`` (``class,startTime_usec,endTime_usec``, classes 1..11)
and ``trials_to_train.txt`` / ``trials_to_test.txt``. Each labelled interval of a recording
becomes one sample ``events_np/{train,test}/<class-1>/<recording>_<k>.npz``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import utils
from ._archive import extract_archive
from ._cache import atomic_savez, run_tasks
from ._raw import make_class_folders
from .base import NeuromorphicDatasetFolder

__all__ = ["DVS128Gesture"]

_N_CLASSES = 11


def _read_gesture_labels(csv_file: str | Path) -> np.ndarray:
    """Read a ``*_labels.csv`` file: rows ``(class, startTime_usec, endTime_usec)`` as ``uint32``.

    :raises ValueError: naming the file, if a row is not three non-negative integers or a
        class is outside 1..11
    """
    try:
        rows = np.loadtxt(csv_file, dtype=np.uint32, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as e:
        raise ValueError(
            f"malformed label file {str(csv_file)!r}: expected a header line and rows "
            f"'class,startTime_usec,endTime_usec' of non-negative integers ({e})"
        ) from e
    if rows.size and rows.shape[1] != 3:
        raise ValueError(
            f"malformed label file {str(csv_file)!r}: rows have {rows.shape[1]} columns, "
            "expected 3 (class,startTime_usec,endTime_usec)"
        )
    rows = rows.reshape(-1, 3)
    bad = (rows[:, 0] < 1) | (rows[:, 0] > _N_CLASSES)
    if bad.any():
        raise ValueError(
            f"malformed label file {str(csv_file)!r}: class {int(rows[bad][0, 0])} is outside "
            f"1..{_N_CLASSES}"
        )
    return rows


def _split_recording(name: str, aedat_file: Path, csv_file: Path, output_dir: Path) -> None:
    """Cut one recording into one ``.npz`` per labelled interval ``[start, end)``."""
    rows = _read_gesture_labels(csv_file)
    counts = [0] * _N_CLASSES
    outputs = []
    for row in rows:
        label = row[0] - 1
        outputs.append(
            (label, row[1], row[2], output_dir / str(label) / f"{name}_{counts[label]}.npz")
        )
        counts[label] += 1
    if all(out.exists() for *_, out in outputs):
        return  # converted by an earlier (possibly interrupted) run
    events = utils.load_aedat_v3(aedat_file)
    t = events["t"]
    if t.size == 0:
        raise ValueError(f"AEDAT 3.1 file {str(aedat_file)!r} holds no polarity events")
    for _, t_start, t_end, out in outputs:
        mask = (t >= t_start) & (t < t_end)
        atomic_savez(out, **{key: events[key][mask] for key in ("t", "x", "y", "p")})


class DVS128Gesture(NeuromorphicDatasetFolder):
    """The DVS128 Gesture data set (Amir et al., "A Low Power, Fully Event-Based Gesture
    Recognition System", CVPR 2017), 11 classes, train/test split of the authors.

    Arguments as in :class:`~snn_datasets.base.NeuromorphicDatasetFolder`; ``train`` must be
    ``True`` or ``False``. Events are ``t`` (us), ``x``, ``y``, ``p`` as ``int64``.
    """

    def __init__(
        self,
        root: str,
        train: bool = True,
        data_type: str = "event",
        frames_number: int = None,
        split_by: str = None,
        duration: int = None,
        custom_integrate_function: Callable = None,
        custom_integrated_frames_dir_name: str = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
        if train is None:
            raise ValueError("`train` must be `True` or `False`, got None")
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
        """``(128, 128)``."""
        return 128, 128

    @classmethod
    def resource_url_md5(cls) -> list:
        """The four files of the IBM Box folder, with their md5."""
        url = "https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8/folder/50167556794"
        return [
            ("DvsGesture.tar.gz", url, "8a5c71fb11e24e5ca5b11866ca6c00a1"),
            ("gesture_mapping.csv", url, "109b2ae64a0e1f3ef535b18ad7367fd1"),
            ("LICENSE.txt", url, "065e10099753156f18f51941e6e44b66"),
            ("README.txt", url, "a0663d3b1d8307c329a43d949ee32d19"),
        ]

    @classmethod
    def downloadable(cls) -> bool:
        """``False``: IBM Box needs a browser; put the files in ``root/download`` by hand."""
        return False

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack ``DvsGesture.tar.gz`` into ``extract_root``."""
        fpath = Path(download_root) / "DvsGesture.tar.gz"
        extract_archive(fpath, extract_root)

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Cut the recordings listed in ``trials_to_{train,test}.txt`` into labelled samples."""
        aedat_dir = Path(extract_root) / "DvsGesture"
        raw_root = Path(raw_root)
        tasks = []
        for split in ("train", "test"):
            split_dir = raw_root / split
            make_class_folders(split_dir, range(_N_CLASSES))
            with open(aedat_dir / f"trials_to_{split}.txt") as f:
                for line in f:
                    aedat_name = line.strip()
                    if not aedat_name:
                        continue
                    name = os.path.splitext(aedat_name)[0]
                    tasks.append(
                        (name, aedat_dir / aedat_name, aedat_dir / f"{name}_labels.csv", split_dir)
                    )
        run_tasks(_split_recording, tasks)
