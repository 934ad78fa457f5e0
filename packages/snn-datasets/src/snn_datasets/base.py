"""The data-set folder and the builders that turn its ``events_np`` folder into frames.

Same names, signatures, defaults and on-disk layout as ``spikingjelly.datasets.base``
(2.0.0)::

    root/download/            archives (downloaded, or put there by hand)
    root/extract/             what the archives hold
    root/events_np/           one events file per sample (``t, x, y, p``), by split and class
    root/frames_number_{F}_split_by_{number|time}/   frames, same tree and file names
    root/duration_{D}/        frames, ``<stem>_<frames>.npz``
    root/<custom dir name>/   frames of ``custom_integrate_function``

Unlike the reference, which trusts a folder that merely exists, a folder is trusted only
with its completion marker (the file ``.complete``) written last; a
folder without it, left by a killed run or built by the reference, is resumed (missing or
unreadable outputs are made again, then the marker is written). Preparation runs under a
per-folder lock, so concurrent processes end with one intact cache.
"""

from __future__ import annotations

import abc
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from . import _cache, _download, utils
from ._folder import DatasetFolder

__all__ = [
    "NeuromorphicDatasetFolder",
    "NeuromorphicDatasetBuilder",
    "EventBuilder",
    "FrameFixedNumberBuilder",
    "FrameFixedDurationBuilder",
    "FrameCustomIntegrateBuilder",
    "NeuromorphicDatasetConfig",
]

_log = logging.getLogger(__name__)


class EventsDict(dict):
    """Events of one sample (``{'t', 'x', 'y', 'p'}`` arrays); ``files`` lists the keys, as
    on the ``NpzFile`` they were read from."""

    @property
    def files(self) -> list[str]:
        return list(self.keys())


def _load_events(file_name: str | Path) -> EventsDict | np.ndarray:
    """A ``.npy`` sample as an array, a ``.npz`` sample as a dict of arrays."""
    try:
        if os.fspath(file_name).endswith(".npz"):
            return EventsDict(_cache.read_npz(file_name))
        events = np.load(file_name)
        if isinstance(events, np.ndarray):
            return events
        with events:
            return EventsDict((key, events[key]) for key in events.files)
    except Exception as error:  # truncated zip, bad header, zlib error, ...
        raise ValueError(
            f"cannot read events file {file_name}: it is truncated or corrupt "
            f"({type(error).__name__}: {error})"
        ) from error


def _positive_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class NeuromorphicDatasetConfig:
    """Options that say how a neuromorphic data set is prepared and loaded (checked on creation).

    ``data_type='frame'`` needs exactly one of ``frames_number`` (with ``split_by`` in
    ``{'number', 'time'}``), ``duration`` or ``custom_integrate_function``.
    """

    root: Path
    train: bool | None
    data_type: str = "event"
    frames_number: int | None = None
    split_by: str | None = None
    duration: int | None = None
    custom_integrate_function: Callable | None = None
    custom_integrated_frames_dir_name: str | None = None
    transform: Callable | None = None
    target_transform: Callable | None = None

    def __post_init__(self):
        if self.data_type not in ("event", "frame"):
            raise ValueError(f"data_type must be 'event' or 'frame', got {self.data_type!r}")
        if self.data_type == "event":
            return
        given = [
            name
            for name in ("frames_number", "duration", "custom_integrate_function")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "data_type='frame' needs exactly one of frames_number, duration, "
                f"custom_integrate_function; got {given or 'none'}"
            )
        if self.frames_number is not None:
            if not _positive_int(self.frames_number):
                raise ValueError(
                    f"frames_number must be a positive int, got {self.frames_number!r}"
                )
            if self.split_by not in ("time", "number"):
                raise ValueError(
                    f"split_by must be 'number' or 'time' (with frames_number), "
                    f"got {self.split_by!r}"
                )
        if self.duration is not None and not _positive_int(self.duration):
            raise ValueError(f"duration must be a positive int, got {self.duration!r}")


class NeuromorphicDatasetBuilder(abc.ABC):
    """Turns the ``events_np`` folder (``raw_root``) into a processed folder and gives the
    loader of its files. Subclasses define :attr:`processed_root`, :meth:`build_impl` and
    :meth:`get_loader`; :meth:`build` adds the lock, the resume and the completion marker.

    Args:
        cfg: the data set's configuration.
        raw_root: folder of the events files.
    """

    def __init__(self, cfg: NeuromorphicDatasetConfig, raw_root: Path):
        self.cfg = cfg
        self.raw_root = raw_root
        self._resuming = False

    @property
    @abc.abstractmethod
    def processed_root(self) -> Path:
        """Folder of the processed files."""

    def build(self) -> tuple[Path, Callable]:
        """Make :attr:`processed_root` unless it is complete; returns ``(processed_root, loader)``.

        Holds a lock on the folder while it works. An incomplete folder is resumed: the
        reference's ``<folder>.building`` marker and a missing completion marker both mean
        "check every output and make what is missing".
        """
        root = Path(self.processed_root)
        with _cache.folder_lock(root):
            if not _cache.is_complete(root):
                building = root.with_name(f"{root.name}{_cache.BUILDING_SUFFIX}")
                self._resuming = root.exists()
                if self._resuming:
                    _log.info("Resuming the incomplete folder [%s].", root)
                building.touch()
                root.mkdir(parents=True, exist_ok=True)
                self.build_impl()
                _cache.mark_complete(root)
                building.unlink(missing_ok=True)
        return root, self.get_loader()

    def build_impl(self) -> None:
        """Write the processed files under :attr:`processed_root` (skipping complete ones)."""
        raise NotImplementedError

    @abc.abstractmethod
    def get_loader(self) -> Callable:
        """The function that loads one processed file."""

    def _run_preprocess_tasks(self, process: Callable, tasks, max_workers: int | None = None):
        """Run ``process(*args)`` for all ``tasks`` in parallel workers with a progress bar."""
        start = time.time()
        n = _cache.run_tasks(process, tasks, max_workers, desc=type(self).__name__)
        _log.info(
            "Dataset preprocessing completed: builder=%s tasks=%d duration_seconds=%.3f",
            type(self).__name__,
            n,
            time.time() - start,
        )

    def _outputs_done(self, events_file: Path, output_dir: Path) -> bool:
        """Whether the outputs of one events file are there (and, when resuming, readable)."""
        return False

    def _valid(self, file: Path) -> bool:
        return file.is_file() and (not self._resuming or _cache.npz_is_valid(file))

    def _build_from_event_files(self, process: Callable, atomic: bool = False) -> None:
        """Call ``process(events_file, output_dir)`` for every file under ``raw_root`` whose
        outputs are not done; each call writes into a staging folder whose files are then
        renamed into ``output_dir``, so only complete files appear under final names.

        ``atomic=True`` says that ``process`` already writes each file atomically (through
        :func:`_cache.atomic_savez`): it then writes straight into ``output_dir`` (no staging
        folder per file), and a resumed build first deletes the temporary files a killed
        run left there."""
        root = Path(self.processed_root)
        if atomic:
            if self._resuming:
                _cache.remove_temporary_files(root)
            tasks = self._event_file_tasks(root)
            self._run_preprocess_tasks(process, tasks)
            return
        staging = root.with_name(f".{root.name}.staging")
        shutil.rmtree(staging, ignore_errors=True)
        tasks = self._event_file_tasks(root)
        try:
            self._run_preprocess_tasks(_cache.StagedEventFileTask(process, staging), tasks)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _event_file_tasks(self, root: Path) -> list[tuple[Path, Path]]:
        """``(events_file, output_dir)`` of every events file whose outputs are not done
        (creating the output folders)."""
        utils.create_same_directory_structure(self.raw_root, root)
        tasks = []
        for event_root, _, event_files in sorted(os.walk(self.raw_root)):
            event_root = Path(event_root)
            output_dir = root / event_root.relative_to(self.raw_root)
            for name in sorted(event_files):
                if name.startswith("."):  # markers, temporary files
                    continue
                events_file = event_root / name
                if not self._outputs_done(events_file, output_dir):
                    tasks.append((events_file, output_dir))
        return tasks


class EventBuilder(NeuromorphicDatasetBuilder):
    """Uses the events folder as it is: ``.npy`` samples load as arrays, ``.npz`` samples as
    dicts of arrays (``data_type='event'``)."""

    def build(self) -> tuple[Path, Callable]:
        return self.processed_root, self.get_loader()

    @property
    def processed_root(self) -> Path:
        return self.raw_root

    def get_loader(self) -> Callable:
        return _load_events


class _FrameBuilder(NeuromorphicDatasetBuilder):
    """What the three frame builders share: the sensor size, the events loader (a class
    attribute, so a data set with its own file format overrides it), one ``.npz`` of frames
    per events file (same name unless a subclass says otherwise) and the frames loader."""

    _event_loader = staticmethod(_load_events)

    def __init__(self, cfg: NeuromorphicDatasetConfig, raw_root: Path, H: int, W: int):
        super().__init__(cfg, raw_root)
        self.H, self.W = H, W

    def _outputs_done(self, events_file: Path, output_dir: Path) -> bool:
        return self._valid(_cache.npz_name(output_dir / events_file.name))

    def get_loader(self) -> Callable:
        return utils.load_npz_frames


def _frames_task(integrate: Callable, loader: Callable, args: tuple, events_file, output_dir):
    integrate(loader, events_file, output_dir, *args)


class FrameFixedNumberBuilder(_FrameBuilder):
    """Integrates every sample into ``frames_number`` frames split by ``split_by``;
    folder ``frames_number_{F}_split_by_{split_by}``, file names kept.

    Args:
        cfg: the data set's configuration.
        raw_root: folder of the events files.
        H: sensor height.
        W: sensor width.
    """

    def build_impl(self) -> None:
        integrate = utils.integrate_events_file_to_frames_file_by_fixed_frames_number
        args = (self.cfg.split_by, self.cfg.frames_number, self.H, self.W, True)
        self._build_from_event_files(
            partial(_frames_task, integrate, self._event_loader, args), atomic=True
        )

    @property
    def processed_root(self) -> Path:
        return (
            self.cfg.root / f"frames_number_{self.cfg.frames_number}_split_by_{self.cfg.split_by}"
        )


class FrameFixedDurationBuilder(_FrameBuilder):
    """Integrates every sample into frames of ``duration`` each; folder ``duration_{D}``,
    files ``<stem>_<number of frames>.npz``.

    Args:
        cfg: the data set's configuration.
        raw_root: folder of the events files.
        H: sensor height.
        W: sensor width.
    """

    def build_impl(self) -> None:
        integrate = utils.integrate_events_file_to_frames_file_by_fixed_duration
        args = (self.cfg.duration, self.H, self.W, True)
        self._build_from_event_files(
            partial(_frames_task, integrate, self._event_loader, args), atomic=True
        )

    def _outputs_done(self, events_file: Path, output_dir: Path) -> bool:
        stem = re.escape(os.path.splitext(events_file.name)[0])
        pattern = re.compile(rf"{stem}_\d+\.npz")
        if not output_dir.is_dir():
            return False
        hits = [output_dir / n for n in os.listdir(output_dir) if pattern.fullmatch(n)]
        return len(hits) == 1 and self._valid(hits[0])

    @property
    def processed_root(self) -> Path:
        return self.cfg.root / f"duration_{self.cfg.duration}"


def _custom_task(function: Callable, loader: Callable, H: int, W: int, events_file, output_dir):
    frames = function(loader(events_file), H, W)
    _cache.atomic_savez(
        Path(output_dir) / Path(events_file).name,
        compressed=utils.np_savez is np.savez_compressed,
        frames=frames,
    )


class FrameCustomIntegrateBuilder(_FrameBuilder):
    """Integrates every sample with ``custom_integrate_function(events, H, W)``; folder
    ``custom_integrated_frames_dir_name`` (default: the function's ``__name__``).

    Args:
        cfg: the data set's configuration.
        raw_root: folder of the events files.
        H: sensor height.
        W: sensor width.
    """

    def build_impl(self) -> None:
        function = self.cfg.custom_integrate_function
        self._build_from_event_files(
            partial(_custom_task, function, self._event_loader, self.H, self.W), atomic=True
        )

    @property
    def processed_root(self) -> Path:
        name = self.cfg.custom_integrated_frames_dir_name
        if name is None:
            name = self.cfg.custom_integrate_function.__name__
        return self.cfg.root / name


class NeuromorphicDatasetFolder(DatasetFolder):
    """Base class of the neuromorphic data sets: prepares ``root/events_np`` from the
    archives, builds the requested frames, and serves ``(sample, label)`` pairs from
    ``<processed folder>/train|test/<class>/``.

    Args:
        root: folder of the data set (``download/`` inside holds the archives).
        train: the training split (True), the test split (False), or no split (None).
        data_type: ``'event'`` (dicts of ``t, x, y, p``) or ``'frame'`` (``[T, 2, H, W]``).
        frames_number: number of frames per sample; needs ``split_by``.
        split_by: ``'number'`` (equal event counts) or ``'time'`` (equal time windows).
        duration: time per frame (frames per sample then vary).
        custom_integrate_function: ``f(events, H, W) -> frames``.
        custom_integrated_frames_dir_name: folder name for the custom frames (default:
            the function's ``__name__``).
        transform: applied to each sample.
        target_transform: applied to each label.
    """

    def __init__(
        self,
        root: str | Path,
        train: bool | None = None,
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
        self.cfg = NeuromorphicDatasetConfig(
            root=Path(root),
            train=train,
            data_type=data_type,
            frames_number=frames_number,
            split_by=split_by,
            duration=duration,
            custom_integrate_function=custom_integrate_function,
            custom_integrated_frames_dir_name=custom_integrated_frames_dir_name,
            transform=transform,
            target_transform=target_transform,
        )
        self.prepare_raw_dataset()
        builder = self.get_dataset_builder()
        self.processed_root, loader = builder.build()
        if self.cfg.train is not None:
            split_root = self.processed_root / ("train" if self.cfg.train else "test")
        else:
            split_root = self.get_root_when_train_is_none(self.processed_root)
        self._init_folder(split_root, loader)

    def _init_folder(self, split_root: Path, loader: Callable) -> None:
        """Serve the samples of ``split_root`` (``<class>/<file>``) through ``loader``."""
        super().__init__(
            root=split_root,
            loader=loader,
            extensions=self.get_extensions(),
            transform=self.cfg.transform,
            target_transform=self.cfg.target_transform,
        )

    @property
    def raw_root(self) -> Path:
        """Folder of the events files, ``root/events_np``."""
        return self.cfg.root / "events_np"

    @classmethod
    def _check_downloaded_files(cls, download_root: Path):
        """Check every resource's MD5; download what is missing or corrupt (or say where to
        put it when the data set cannot be downloaded)."""
        missing = []
        for file_name, url, md5 in cls.resource_url_md5():
            fpath = Path(download_root) / file_name
            if _download.check_integrity(fpath, md5):
                continue
            if cls.downloadable():
                if fpath.exists():
                    _log.warning("[%s] is corrupt (MD5 differs); downloading it again.", fpath)
                    fpath.unlink()
                _download.download_url(url, download_root, file_name, md5)
            else:
                missing.append((file_name, url, md5, fpath.exists()))
        if missing:
            lines = [
                f"{cls.__name__} cannot be downloaded automatically; put these files in "
                f"the folder {str(download_root)!r}:"
            ]
            for file_name, url, md5, exists in missing:
                state = "has the wrong MD5" if exists else "is missing"
                lines.append(f"  {file_name} ({state}; md5 {md5}) from {url}")
            raise NotImplementedError("\n".join(lines))

    @classmethod
    def _download_all_files(cls, download_root: Path):
        cls._check_downloaded_files(download_root)

    def prepare_raw_dataset(self):
        """Make ``raw_root`` (download, extract, convert) unless it is complete.

        A ``raw_root`` with the completion marker is used as it is; one without the marker
        and without the reference's ``events_np.building`` marker was finished by the
        reference and is marked complete; otherwise the preparation is run (again): the
        conversion skips the events files that already exist.
        """
        raw_root = self.raw_root
        with _cache.folder_lock(raw_root):
            if _cache.is_complete(raw_root):
                return
            building = raw_root.with_name(f"{raw_root.name}{_cache.BUILDING_SUFFIX}")
            if raw_root.exists() and not building.exists():
                _cache.mark_complete(raw_root)
                return
            download_root = self.cfg.root / "download"
            download_root.mkdir(parents=True, exist_ok=True)
            self._check_downloaded_files(download_root)
            building.touch()
            extract_root = self.cfg.root / "extract"
            extracted = extract_root / ".extracted"
            if not extracted.exists():
                extract_root.mkdir(exist_ok=True)
                self.extract_downloaded_files(download_root, extract_root)
                extracted.touch()
            raw_root.mkdir(exist_ok=True)  # raw_root may be extract_root
            _log.info("Converting [%s] into the events folder [%s].", extract_root, raw_root)
            self.create_raw_from_extracted(extract_root, raw_root)
            _cache.mark_complete(raw_root)
            building.unlink(missing_ok=True)

    def get_dataset_builder(self) -> NeuromorphicDatasetBuilder:
        """The builder for ``data_type`` and the frame options of the configuration."""
        if self.cfg.data_type == "event":
            return EventBuilder(self.cfg, self.raw_root)
        H, W = self.get_H_W()
        if self.cfg.frames_number is not None:
            return FrameFixedNumberBuilder(self.cfg, self.raw_root, H, W)
        if self.cfg.duration is not None:
            return FrameFixedDurationBuilder(self.cfg, self.raw_root, H, W)
        return FrameCustomIntegrateBuilder(self.cfg, self.raw_root, H, W)

    def get_root_when_train_is_none(self, _root: Path) -> Path:
        """Folder served when ``train is None`` (data sets without a split); ``_root``."""
        return _root

    @classmethod
    def get_extensions(cls) -> tuple[str, ...]:
        """File extensions of samples: ``('.npy', '.npz')``."""
        return (".npy", ".npz")

    @classmethod
    @abc.abstractmethod
    def get_H_W(cls) -> tuple[int, int]:
        """Sensor ``(H, W)``, e.g. ``(128, 128)`` for DVS128 Gesture."""

    @classmethod
    @abc.abstractmethod
    def resource_url_md5(cls) -> list:
        """``[(file name, url, md5), ...]`` of the archives."""

    @classmethod
    @abc.abstractmethod
    def downloadable(cls) -> bool:
        """Whether the archives can be downloaded by code (else the user puts them in place)."""

    @classmethod
    @abc.abstractmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Extract the archives of ``download_root`` into ``extract_root``."""

    @classmethod
    @abc.abstractmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Convert ``extract_root`` into events files under ``raw_root``; when run again on a
        partial ``raw_root`` it must skip the files that exist (write them atomically)."""
