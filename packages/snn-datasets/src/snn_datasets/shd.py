"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC), Cramer et al., TNNLS 2020.

Spoken words turned into spikes of 700 cochlea channels. Download (automatic, zenkelab.org,
md5-verified): ``shd_{train,test}.h5.zip`` or ``ssc_{train,valid,test}.h5.zip`` into
``root/download``; each holds one HDF5 file with ``spikes/times`` (seconds, one variable-length
array per sample), ``spikes/units`` (channel 0..699) and ``labels``. They are linked into
``root/events_h5``. Needs ``h5py`` (``pip install snn-datasets[hdf5]``).

An event sample is ``{"t": times, "x": units}``. A frame sample is ``[T, 700]`` spike counts:

- ``frames_number`` with ``split_by='number'``: ``T`` equal runs of ``N // T`` spikes, the
  last one taking the remainder;
- ``split_by='time'``: ``T`` bins of width ``dt = (t[-1] - t[0]) / T`` (true division, unlike
  the image data sets), bin ``i`` holding ``t0 + i dt <= t < t0 + (i + 1) dt`` and the last bin
  also every later spike;
- ``duration`` (milliseconds): bins of ``duration`` ms from the first spike,
  ``ceil((t[-1] - t[0]) * 1000 / duration)`` frames, the last one holding the remainder.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from . import utils
from ._archive import extract_archive
from ._cache import atomic_savez, run_tasks
from ._raw import make_class_folders
from .base import (
    EventBuilder,
    NeuromorphicDatasetBuilder,
    NeuromorphicDatasetConfig,
    NeuromorphicDatasetFolder,
)

__all__ = [
    "SHD_N_CLASSES",
    "SpikingHeidelbergDigits",
    "SSC_N_CLASSES",
    "SpikingSpeechCommands",
]

_log = logging.getLogger(__name__)

SHD_N_CLASSES = 20
SSC_N_CLASSES = 35


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "SHD / SSC are HDF5 files and need h5py: pip install 'snn-datasets[hdf5]'"
        ) from e
    return h5py


def _segment_index(t: np.ndarray, split_by: str, frames_num: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end index of each of ``frames_num`` segments of the spike times ``t``."""
    n = t.size
    j_l = np.zeros(frames_num, dtype=int)
    j_r = np.zeros(frames_num, dtype=int)
    if split_by == "number":
        step = n // frames_num
        j_l[:] = np.arange(frames_num) * step
        j_r[:] = j_l + step
    elif split_by == "time":
        if n == 0:
            raise ValueError("a sample without spikes cannot be split by time")
        dt = (t[-1] - t[0]) / frames_num  # keeps the dtype of t, as the reference does
        for i in range(frames_num):
            t_l = dt * i + t[0]
            t_r = t_l + dt
            inside = np.flatnonzero((t >= t_l) & (t < t_r))
            if inside.size:
                j_l[i], j_r[i] = inside[0], inside[-1] + 1
            else:  # an empty bin (the reference fails here); give it no spikes
                j_l[i] = j_r[i] = np.searchsorted(t, t_l, side="left")
    else:
        raise ValueError(f"split_by must be 'time' or 'number', got {split_by!r}")
    j_r[-1] = n
    return j_l, j_r


def _count_units(x: np.ndarray, W: int, j_l: int = 0, j_r: int = -1) -> np.ndarray:
    """Spike count per channel of ``x[j_l:j_r]`` as a float64 vector of length ``W``."""
    units = x[j_l:j_r].astype(int)
    if units.size and (units.min() < 0 or units.max() >= W):
        raise ValueError(
            f"spike unit indices must lie in [0, {W}), got {units.min()}..{units.max()}"
        )
    return np.bincount(units, minlength=W)[:W].astype(np.float64)


def _frames_by_number(events: dict, split_by: str, frames_num: int, W: int) -> np.ndarray:
    j_l, j_r = _segment_index(events["t"], split_by, frames_num)
    frames = np.zeros([frames_num, W])
    for i in range(frames_num):
        frames[i] = _count_units(events["x"], W, j_l[i], j_r[i])
    return frames


def _frames_by_duration(events: dict, duration: int, W: int) -> np.ndarray:
    x = events["x"]
    if events["t"].size == 0:
        raise ValueError("a sample without spikes cannot be split by duration")
    t = 1000 * events["t"]  # seconds -> milliseconds, in the dtype of the file
    t = t - t[0]
    frames_num = math.ceil(t[-1] / duration)
    if frames_num < 1:
        raise ValueError(
            f"a sample whose spikes all lie at one time gives no frames of {duration} ms"
        )
    frames = np.zeros([frames_num, W])
    bin_index = t // duration
    left = 0
    for i in range(frames_num - 1):
        right = np.searchsorted(bin_index, i + 1, side="left")
        frames[i] = _count_units(x, W, left, right)
        left = right
    frames[-1] = _count_units(x, W, left, t.size)
    return frames


def _sample_file(h5_file, i: int, output_dir: Path) -> Path:
    return Path(output_dir) / str(h5_file["labels"][i]) / f"{i}.npz"


def _integrate_sample(h5_file, i: int, output_dir: Path, integrate: Callable) -> None:
    events = {"t": h5_file["spikes"]["times"][i], "x": h5_file["spikes"]["units"][i]}
    try:
        frames = integrate(events)
    except ValueError as e:
        raise ValueError(f"sample {i} of {h5_file.filename!r}: {e}") from e
    atomic_savez(_sample_file(h5_file, i, output_dir), frames=frames)


def _integrate_events_file_to_frames_file_by_fixed_frames_number(
    h5_file,
    i: int,
    output_dir: Path,
    split_by: str,
    frames_num: int,
    W: int,
    print_save: bool = False,
) -> None:
    """Integrate sample ``i`` of the open ``h5_file`` into ``frames_num`` frames and save them
    as ``output_dir/<label>/<i>.npz`` (key ``frames``); the fixed-number builder calls this
    module-level hook (looked up at call time) for every sample it has to build."""
    integrate = partial(_frames_by_number, split_by=split_by, frames_num=frames_num, W=W)
    _integrate_sample(h5_file, i, output_dir, integrate)
    if print_save:
        _log.debug("Frames [%s] saved.", _sample_file(h5_file, i, output_dir))


class _SHDFrameBuilder(NeuromorphicDatasetBuilder):
    """Integrates every sample of ``<dataset_name>_<split>.h5`` into ``<split>/<label>/<i>.npz``."""

    def __init__(
        self,
        cfg: NeuromorphicDatasetConfig,
        raw_root: Path,
        W: int,
        dataset_name: str = "shd",
        splits: tuple[str, ...] = ("train", "test"),
        n_classes: int = SHD_N_CLASSES,
    ):
        super().__init__(cfg, raw_root)
        self.W = W
        self.dataset_name = dataset_name
        self.splits = splits
        self.n_classes = n_classes

    def _build_samples(self, process: Callable) -> None:
        h5py = _h5py()
        for split in self.splits:
            split_root = Path(self.processed_root) / split
            make_class_folders(split_root, range(self.n_classes))
            with h5py.File(Path(self.raw_root) / f"{self.dataset_name}_{split}.h5", "r") as h5:
                tasks = [(h5, i, split_root) for i in range(len(h5["labels"]))]
                self._run_preprocess_tasks(process, tasks)

    def get_loader(self) -> Callable:
        return utils.load_npz_frames


class SHDFrameFixedNumberBuilder(_SHDFrameBuilder):
    """Frames of a fixed number ``frames_number`` per sample (``split_by`` 'number' or 'time')."""

    def build_impl(self) -> None:
        def process(h5_file, i: int, split_root: Path) -> None:
            if not self._valid(_sample_file(h5_file, i, split_root)):
                _integrate_events_file_to_frames_file_by_fixed_frames_number(
                    h5_file, i, split_root, self.cfg.split_by, self.cfg.frames_number, self.W, False
                )

        self._build_samples(process)

    @property
    def processed_root(self) -> Path:
        return (
            self.cfg.root / f"frames_number_{self.cfg.frames_number}_split_by_{self.cfg.split_by}"
        )


class SHDFrameFixedDurationBuilder(_SHDFrameBuilder):
    """Frames of ``duration`` milliseconds each; samples get different numbers of frames."""

    def build_impl(self) -> None:
        integrate = partial(_frames_by_duration, duration=self.cfg.duration, W=self.W)

        def process(h5_file, i: int, split_root: Path) -> None:
            if not self._valid(_sample_file(h5_file, i, split_root)):
                _integrate_sample(h5_file, i, split_root, integrate)

        self._build_samples(process)

    @property
    def processed_root(self) -> Path:
        return self.cfg.root / f"duration_{self.cfg.duration}"


class SHDFrameCustomIntegrateBuilder(_SHDFrameBuilder):
    """Calls ``custom_integrate_function(h5_file, i, split_root, W)`` for every sample ``i``;
    the function writes ``split_root/<label>/<name>.npz`` itself."""

    def build_impl(self) -> None:
        def process(h5_file, i, split_root):
            self.cfg.custom_integrate_function(h5_file, i, split_root, self.W)

        self._build_samples(process)

    @property
    def processed_root(self) -> Path:
        name = self.cfg.custom_integrated_frames_dir_name
        if name is None:
            name = self.cfg.custom_integrate_function.__name__
        return self.cfg.root / name


class _HDF5Samples:
    """Event samples read lazily from one HDF5 file (one open handle per process)."""

    def _init_h5(self, h5_file_path: Path) -> None:
        self.h5_file_path = h5_file_path
        self.h5_file = None
        self.h5_file_pid = None
        with _h5py().File(h5_file_path, "r") as h5:
            self.length = len(h5["labels"])

    def __len__(self):
        if self.cfg.data_type == "event":
            return self.length
        return super().__len__()

    def __getitem__(self, index):
        if self.cfg.data_type != "event":
            return super().__getitem__(index)
        if self.h5_file_pid != os.getpid():
            if self.h5_file is not None:
                self.h5_file.close()
            self.h5_file = _h5py().File(self.h5_file_path, "r")
            self.h5_file_pid = os.getpid()
        events = {
            "t": self.h5_file["spikes"]["times"][index],
            "x": self.h5_file["spikes"]["units"][index],
        }
        label = self.h5_file["labels"][index]
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return events, label

    def __getstate__(self):
        state = self.__dict__.copy()
        state["h5_file"] = None
        state["h5_file_pid"] = None
        return state

    @property
    def raw_root(self) -> Path:
        """``root/events_h5``: links to the extracted ``.h5`` files."""
        return self.cfg.root / "events_h5"

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack the ``.h5.zip`` files of ``download_root`` into ``extract_root``."""
        zips = sorted(p for p in Path(download_root).iterdir() if p.name.endswith(".zip"))
        run_tasks(extract_archive, [(z, extract_root) for z in zips])

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Link every extracted file (not the hidden markers) into ``raw_root``."""
        for f in Path(extract_root).iterdir():
            if f.name.startswith("."):
                continue
            target = Path(raw_root) / f.name
            if not os.path.lexists(target):
                target.symlink_to(f.resolve())

    @classmethod
    def get_H_W(cls) -> tuple:
        """``(None, 700)``: 700 channels, no height."""
        return None, 700

    @classmethod
    def downloadable(cls) -> bool:
        """``True``."""
        return True

    def _init_folder(self, split_root: Path, loader: Callable) -> None:
        if self.cfg.data_type == "event":
            self.transform = self.cfg.transform
            self.target_transform = self.cfg.target_transform
        else:
            super()._init_folder(split_root, loader)


class SpikingHeidelbergDigits(_HDF5Samples, NeuromorphicDatasetFolder):
    """Spiking Heidelberg Digits (Cramer et al., "The Heidelberg Spiking Data Sets for the
    Systematic Evaluation of Spiking Neural Networks", IEEE TNNLS 2020): 20 classes (digits
    0-9 in English and German), 700 channels.

    ``train`` must be ``True`` or ``False``. With ``data_type='event'`` samples are read from
    the HDF5 file directly; with frames, ``duration`` is in milliseconds and
    ``custom_integrate_function(h5_file, i, split_root, W)`` writes its own files.
    """

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

    def get_dataset_builder(self):
        if self.cfg.data_type == "event":
            name = "shd_train.h5" if self.cfg.train else "shd_test.h5"
            self._init_h5(self.raw_root / name)
            return EventBuilder(self.cfg, self.raw_root)
        _, W = self.get_H_W()
        if self.cfg.frames_number is not None:
            return SHDFrameFixedNumberBuilder(self.cfg, self.raw_root, W)
        if self.cfg.duration is not None:
            return SHDFrameFixedDurationBuilder(self.cfg, self.raw_root, W)
        return SHDFrameCustomIntegrateBuilder(self.cfg, self.raw_root, W)

    @classmethod
    def resource_url_md5(cls) -> list:
        """``shd_train.h5.zip`` and ``shd_test.h5.zip`` from zenkelab.org, with their md5."""
        return [
            (
                "shd_train.h5.zip",
                "https://zenkelab.org/datasets/shd_train.h5.zip",
                "f3252aeb598ac776c1b526422d90eecb",
            ),
            (
                "shd_test.h5.zip",
                "https://zenkelab.org/datasets/shd_test.h5.zip",
                "1503a5064faa34311c398fb0a1ed0a6f",
            ),
        ]


class SpikingSpeechCommands(_HDF5Samples, NeuromorphicDatasetFolder):
    """Spiking Speech Commands (Cramer et al., IEEE TNNLS 2020): 35 classes, 700 channels,
    splits ``'train'``, ``'valid'`` and ``'test'``.

    Arguments as in :class:`SpikingHeidelbergDigits`, with ``split`` instead of ``train``.
    """

    def __init__(
        self,
        root: str,
        split: str = "train",
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
        self.splits = ("train", "valid", "test")
        if split not in self.splits:
            raise ValueError(f"split must be one of {self.splits}, got {split!r}")
        self.split = split
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
        return _root / self.split

    def get_dataset_builder(self):
        if self.cfg.data_type == "event":
            self._init_h5(self.raw_root / f"ssc_{self.split}.h5")
            return EventBuilder(self.cfg, self.raw_root)
        _, W = self.get_H_W()
        kwargs = {"dataset_name": "ssc", "splits": self.splits, "n_classes": SSC_N_CLASSES}
        if self.cfg.frames_number is not None:
            return SHDFrameFixedNumberBuilder(self.cfg, self.raw_root, W, **kwargs)
        if self.cfg.duration is not None:
            return SHDFrameFixedDurationBuilder(self.cfg, self.raw_root, W, **kwargs)
        return SHDFrameCustomIntegrateBuilder(self.cfg, self.raw_root, W, **kwargs)

    @classmethod
    def resource_url_md5(cls) -> list:
        """``ssc_{train,valid,test}.h5.zip`` from zenkelab.org, with their md5.

        (The reference lists the SHD files here by mistake, so it cannot prepare SSC.)
        """
        base = "https://zenkelab.org/datasets/"
        return [
            ("ssc_train.h5.zip", base + "ssc_train.h5.zip", "d102be95e7144fcc0553d1f45ba94170"),
            ("ssc_valid.h5.zip", base + "ssc_valid.h5.zip", "b4eee3516a4a90dd0c71a6ac23a8ae43"),
            ("ssc_test.h5.zip", base + "ssc_test.h5.zip", "a35ff1e9cffdd02a20eb850c17c37748"),
        ]
