"""CIFAR10-DVS (Li et al., Front. Neurosci. 2017): 10 000 CIFAR-10 images recorded by a DVS128.

Download (automatic, figshare, md5-verified): ``airplane.zip`` ... ``truck.zip`` into
``root/download``; each holds ``<class>/cifar10_<class>_<i>.aedat`` (AEDAT 2.0). The
recordings are converted to ``events_np/<class>/cifar10_<class>_<i>.npz``. The data set has no
official split: use :func:`~snn_datasets.utils.split_to_train_test_set`, or
:class:`CIFAR10DVSTEBNSplit` (the split of TEBN: samples 0-99 of each class test, 100-999 train).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from ._aedat2 import decode_dvs128_address, read_aedat2
from ._archive import extract_archive
from ._cache import folder_lock, run_tasks
from ._raw import class_folder_tasks, convert_missing, zips_into
from .base import NeuromorphicDatasetFolder

__all__ = [
    "CIFAR10DVS_CLASS_NAMES",
    "CIFAR10DVS",
    "CIFAR10DVSTEBNSplit",
]

CIFAR10DVS_CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

# jAER address layout of DAVIS cameras (kept for name compatibility with the reference module;
# CIFAR10-DVS itself uses the DVS128 layout of ``_aedat2.decode_dvs128_address``).
EVT_DVS = 0  # DVS event type
EVT_APS = 1  # APS event type
y_mask = 0x7FC00000
y_shift = 22
x_mask = 0x003FF000
x_shift = 12
polarity_mask = 0x800
polarity_shift = 11
valid_mask = 0x80000000
valid_shift = 31


def _load_cifar10dvs_events(file_name: str | Path) -> dict:
    """Events of one CIFAR10-DVS recording, oriented like the reference.

    The sensor was mounted rotated, so ``x = 127 - y_sensor``, ``y = 127 - x_sensor`` and the
    polarity is inverted, ``p = 1 - polarity``. ``t`` keeps the file's big-endian ``uint32``,
    ``x``/``y`` are ``uint32`` and ``p`` is ``int64``.
    """
    address, t = read_aedat2(file_name)
    x_sensor, y_sensor, polarity = decode_dvs128_address(address)
    return {"t": t, "x": 127 - y_sensor, "y": 127 - x_sensor, "p": 1 - polarity.astype(np.int64)}


class CIFAR10DVS(NeuromorphicDatasetFolder):
    """CIFAR10-DVS (Li et al., "CIFAR10-DVS: An Event-Stream Dataset for Object
    Classification", Front. Neurosci. 2017), 10 classes of 1000 recordings, 128x128.

    No train/test split (``train`` is ``None``); other arguments as in
    :class:`~snn_datasets.base.NeuromorphicDatasetFolder`.
    """

    def __init__(
        self,
        root: str,
        data_type: str = "event",
        frames_number: int = None,
        split_by: str = None,
        duration: int = None,
        custom_integrate_function: Callable = None,
        custom_integrated_frames_dir_name: str = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
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

    @classmethod
    def get_H_W(cls) -> tuple:
        """``(128, 128)``."""
        return 128, 128

    @classmethod
    def resource_url_md5(cls) -> list:
        """One figshare zip per class, with its md5."""
        files = (
            ("airplane", 7712788, "0afd5c4bf9ae06af762a77b180354fdd"),
            ("automobile", 7712791, "8438dfeba3bc970c94962d995b1b9bdd"),
            ("bird", 7712794, "a9c207c91c55b9dc2002dc21c684d785"),
            ("cat", 7712812, "52c63c677c2b15fa5146a8daf4d56687"),
            ("deer", 7712815, "b6bf21f6c04d21ba4e23fc3e36c8a4a3"),
            ("dog", 7712818, "f379ebdf6703d16e0a690782e62639c3"),
            ("frog", 7712842, "cad6ed91214b1c7388a5f6ee56d08803"),
            ("horse", 7712851, "e7cbbf77bec584ffbf913f00e682782a"),
            ("ship", 7712836, "41c7bd7d6b251be82557c6cce9a7d5c9"),
            ("truck", 7712839, "89f3922fd147d9aeff89e76a2b0b70a7"),
        )
        return [
            (f"{name}.zip", f"https://ndownloader.figshare.com/files/{fid}", md5)
            for name, fid, md5 in files
        ]

    @classmethod
    def downloadable(cls) -> bool:
        """``True``."""
        return True

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack every ``.zip`` of ``download_root`` into ``extract_root``."""
        run_tasks(extract_archive, zips_into(extract_root)(Path(download_root)))

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Convert every ``<class>/<name>.aedat`` to ``raw_root/<class>/<name>.npz``."""
        tasks = class_folder_tasks(Path(extract_root), Path(raw_root))
        run_tasks(partial(convert_missing, _load_cifar10dvs_events), tasks)


def _link_tebn_split(root: str | Path) -> None:
    """Make ``root/{test,train}/<class>/`` with relative symlinks to ``root/<class>/``.

    Sample ``cifar10_<class>_<i>.npz`` goes to ``test`` for ``i < 100`` and to ``train`` for
    ``100 <= i < 1000`` (the split used by TEBN, Duan et al., NeurIPS 2022). Only existing
    files are linked and existing links are kept, so running it again completes an
    interrupted run.
    """
    root = Path(root)
    for split, indices in (("test", range(0, 100)), ("train", range(100, 1000))):
        for class_name in CIFAR10DVS_CLASS_NAMES:
            target_dir = root / split / class_name
            target_dir.mkdir(parents=True, exist_ok=True)
            for i in indices:
                name = f"cifar10_{class_name}_{i}.npz"
                link = target_dir / name
                if (root / class_name / name).exists() and not os.path.lexists(link):
                    link.symlink_to(Path("..") / ".." / class_name / name)


class _TEBNSplitBuilder:
    """Wraps a data set builder: after it has built, adds the TEBN ``train``/``test`` links
    (under the folder's lock, so concurrent processes do not collide)."""

    def __init__(self, builder):
        self._builder = builder

    def __getattr__(self, name):
        return getattr(self._builder, name)

    def build(self):
        processed_root, loader = self._builder.build()
        processed_root = Path(processed_root)
        with folder_lock(processed_root):
            _link_tebn_split(processed_root)
        return processed_root, loader


class CIFAR10DVSTEBNSplit(CIFAR10DVS):
    """CIFAR10-DVS with the fixed split of TEBN (Duan et al., NeurIPS 2022): in each class,
    recordings 0-99 form the test set and 100-999 the train set.

    ``train`` must be ``True`` or ``False``; other arguments as in :class:`CIFAR10DVS`. The
    split folders ``train/`` and ``test/`` hold symbolic links to the class folders.
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
        NeuromorphicDatasetFolder.__init__(
            self,
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

    def get_dataset_builder(self):
        return _TEBNSplitBuilder(super().get_dataset_builder())
