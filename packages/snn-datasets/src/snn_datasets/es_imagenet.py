"""ES-ImageNet (Lin et al., Front. Neurosci. 2021): ImageNet as events, 1000 classes, 256x256.

Download (automatic, Tsinghua cloud, md5-verified): ``ES-imagenet-0.18.part01.rar`` ...
``part25.rar`` into ``root/download``; unpacking needs the ``rarfile`` package and an unrar
tool. The archive holds ``ES-imagenet-0.18/train/class<k>/<name>.npz`` and
``ES-imagenet-0.18/val/<name>.npz`` with ``vallabel.txt`` (``<name> <k>`` per line). The
``events_np/{train,test}/class<k>/`` folders hold symbolic links to these files.

Each file stores ``pos`` and ``neg``: ``[n, 3]`` arrays of ``(y, x, t)`` for positive and
negative events. A sample is all events sorted by ``t`` (NumPy's default sort, as the
reference, so equal times keep the same order), as ``float64`` arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._archive import extract_archive
from ._raw import link_class_folders, link_missing, make_class_folders, sub_dirs
from .base import (
    EventBuilder,
    FrameCustomIntegrateBuilder,
    FrameFixedDurationBuilder,
    FrameFixedNumberBuilder,
    NeuromorphicDatasetFolder,
)

__all__ = ["ESImageNet"]


def _load_events(fname: str | Path) -> dict:
    """Merge the ``pos`` (p=1) and ``neg`` (p=0) events of an ES-ImageNet file, sorted by t."""
    with np.load(fname) as f:
        pos, neg = f["pos"], f["neg"]
    events = np.vstack(
        (
            np.hstack((pos, np.ones((pos.shape[0], 1)))),
            np.hstack((neg, np.zeros((neg.shape[0], 1)))),
        )
    )
    events = events[np.argsort(events[:, 2])]
    return {"x": events[:, 1], "y": events[:, 0], "t": events[:, 2], "p": events[:, 3]}


class ESImageNetEventBuilder(EventBuilder):
    """Event samples read with the ES-ImageNet ``pos``/``neg`` loader."""

    def get_loader(self) -> Callable:
        return _load_events


class ESImageNetFrameFixedNumberBuilder(FrameFixedNumberBuilder):
    _event_loader = staticmethod(_load_events)


class ESImageNetFrameFixedDurationBuilder(FrameFixedDurationBuilder):
    _event_loader = staticmethod(_load_events)


class ESImageNetFrameCustomIntegrateBuilder(FrameCustomIntegrateBuilder):
    _event_loader = staticmethod(_load_events)


def _read_val_labels(txt_file: Path) -> list[tuple[str, int]]:
    """``(file name, class index)`` per line of ``vallabel.txt``.

    :raises ValueError: naming the file, for a line that is not ``<name> <integer>``
    """
    pairs = []
    with open(txt_file) as f:
        for number, line in enumerate(f, start=1):
            fields = line.split(" ")
            if not line.strip():
                continue
            try:
                pairs.append((fields[0], int(fields[1])))
            except (IndexError, ValueError) as e:
                raise ValueError(
                    f"malformed label file {str(txt_file)!r}, line {number}: {line.strip()!r}; "
                    "expected '<file name> <class index>'"
                ) from e
    return pairs


class ESImageNet(NeuromorphicDatasetFolder):
    """ES-ImageNet (Lin et al., "ES-ImageNet: A Million Event-Stream Classification Dataset
    for Spiking Neural Networks", Front. Neurosci. 2021). ``train`` must be ``True`` or
    ``False``; the test set is the ImageNet validation set."""

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

    def get_dataset_builder(self):
        if self.cfg.data_type == "event":
            return ESImageNetEventBuilder(self.cfg, self.raw_root)
        H, W = self.get_H_W()
        if self.cfg.frames_number is not None:
            return ESImageNetFrameFixedNumberBuilder(self.cfg, self.raw_root, H, W)
        if self.cfg.duration is not None:
            return ESImageNetFrameFixedDurationBuilder(self.cfg, self.raw_root, H, W)
        return ESImageNetFrameCustomIntegrateBuilder(self.cfg, self.raw_root, H, W)

    @classmethod
    def get_H_W(cls) -> tuple:
        """``(256, 256)``."""
        return 256, 256

    @classmethod
    def resource_url_md5(cls) -> list:
        """The 25 parts of the rar archive, with their md5."""
        md5s = (
            "900bdd57b5641f7d81cd4620283fef76",
            "5982532009e863a8f4e18e793314c54b",
            "8f408c1f5a1d4604e48d0d062a8289a0",
            "5c5b5cf0a55954eb639964e3da510097",
            "51feb661b4c9fa87860b63e76b914673",
            "fcd007a2b17b7c13f338734c53f6db31",
            "d3e74b96d9c5df15714bbc3abcd329fc",
            "65b9cf7fa63e18d2e7d92ff45a42a5e5",
            "241c9a37a83ff9efd305fe46d012211e",
            "ceee96971008e30d0cdc34086c49fd75",
            "4fbfefbe6e48758fbb72427c81f119cf",
            "c8cc163be4e5f6451201dccbded4ec24",
            "08c9dff32f6b42c49ef7cd78e37c728e",
            "43aa157dc5bd5fcea81315a46e0322cf",
            "480a69b050f465ef01efcc44ae29f7df",
            "11abd24d92b93e7f85acd63abd4a18ab",
            "3891486a6862c63a325c5f16cd01fdd1",
            "cf8bb0525b514f411bca9d7c2d681f7c",
            "3766bc35572ccacc03f0f293c571d0ae",
            "bf73a5e338644122220e41da7b5630e6",
            "564de4a2609cbb0bb67ffa1bc51f2487",
            "60a9e52db1acadfccc9a9809073f0b04",
            "373b5484826d40d7ec35f0e1605cb6ea",
            "a50612e889b20f99cc7b2725dfd72e9e",
            "0802ccdeb0cff29237faf55164524101",
        )
        base = "https://cloud.tsinghua.edu.cn/d/94873ab4ec2a4eb497b3/files/?p=%2F"
        out = []
        for k, md5 in enumerate(md5s, start=1):
            name = f"ES-imagenet-0.18.part{k:02d}.rar"
            out.append((name, f"{base}{name}&dl=1", md5))
        return out

    @classmethod
    def downloadable(cls) -> bool:
        """``True``."""
        return True

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack the multi-part rar archive (needs ``rarfile`` and an unrar tool)."""
        extract_archive(Path(download_root) / "ES-imagenet-0.18.part01.rar", extract_root)

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Link ``train/class<k>/*`` and the validation files (by ``vallabel.txt``) into
        ``raw_root/{train,test}/class<k>/``."""
        source = Path(extract_root) / "ES-imagenet-0.18"
        raw_root = Path(raw_root)
        train_src = source / "train"
        make_class_folders(raw_root, sub_dirs(train_src), ("train", "test"))
        link_class_folders(train_src, raw_root / "train")
        for fname, label in _read_val_labels(source / "vallabel.txt"):
            target_dir = raw_root / "test" / f"class{label}"
            if not target_dir.is_dir():
                raise ValueError(
                    f"{str(source / 'vallabel.txt')!r} gives {fname!r} the class {label}, but "
                    f"there is no folder 'class{label}' in {str(train_src)!r}"
                )
            link_missing(target_dir / fname, source / "val" / fname)
