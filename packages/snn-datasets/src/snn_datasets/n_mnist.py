"""N-MNIST (Orchard et al., Front. Neurosci. 2015): MNIST digits saccaded before an ATIS, 34x34.

Download (by hand, https://www.garrickorchard.com/datasets/n-mnist): ``Train.zip`` and
``Test.zip`` into ``root/download``. They hold ``Train/<digit>/<id>.bin`` and
``Test/<digit>/<id>.bin`` (ATIS binary, 5 bytes per event), converted to
``events_np/{train,test}/<digit>/<id>.npz``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import utils
from ._archive import extract_archive
from ._cache import run_tasks
from ._raw import class_folder_tasks
from .base import NeuromorphicDatasetFolder

__all__ = ["NMNIST"]


def _convert_atis_bin(bin_file: Path, npz_file: Path) -> None:
    """Convert an ATIS ``.bin`` recording to an events ``.npz`` unless that exists already
    (a resumed conversion); a size that is not a multiple of 5 bytes is an error naming it."""
    if not npz_file.exists():
        utils._save_atis_bin_as_npz(bin_file, npz_file)


class NMNIST(NeuromorphicDatasetFolder):
    """N-MNIST (Orchard et al., "Converting Static Image Datasets to Spiking Neuromorphic
    Datasets Using Saccades", Front. Neurosci. 2015), 10 classes, 60 000 / 10 000 samples.

    ``train`` must be ``True`` or ``False``; other arguments as in
    :class:`~snn_datasets.base.NeuromorphicDatasetFolder`. Events are ``uint32``.
    """

    def __init__(
        self,
        root: str,
        train: bool = True,
        data_type: str | None = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
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
        """``(34, 34)``."""
        return 34, 34

    @classmethod
    def resource_url_md5(cls) -> list:
        """``Train.zip`` and ``Test.zip`` with their md5."""
        url = "https://www.garrickorchard.com/datasets/n-mnist"
        return [
            ("Train.zip", url, "20959b8e626244a1b502305a9e6e2031"),
            ("Test.zip", url, "69ca8762b2fe404d9b9bad1103e97832"),
        ]

    @classmethod
    def downloadable(cls) -> bool:
        """``False``: download the files by hand into ``root/download``."""
        return False

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack ``Train.zip`` and ``Test.zip`` into ``extract_root``."""
        download_root = Path(download_root)
        run_tasks(
            extract_archive, [(download_root / n, extract_root) for n in ("Train.zip", "Test.zip")]
        )

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Convert ``{Train,Test}/<digit>/<id>.bin`` to ``{train,test}/<digit>/<id>.npz``."""
        tasks = []
        for split in ("Train", "Test"):
            tasks += class_folder_tasks(Path(extract_root) / split, Path(raw_root) / split.lower())
        run_tasks(_convert_atis_bin, tasks)
