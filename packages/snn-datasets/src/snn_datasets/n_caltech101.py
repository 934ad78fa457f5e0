"""N-Caltech101 (Orchard et al., Front. Neurosci. 2015): Caltech101 images saccaded before an ATIS.

Download (by hand, https://www.garrickorchard.com/datasets/n-caltech101): ``Caltech101.zip``
(the other three files of the reference's list are optional) into ``root/download``. It
holds ``Caltech101/<class>/image_XXXX.bin`` (ATIS binary), converted to
``events_np/<class>/image_XXXX.npz``. 101 classes plus ``BACKGROUND_Google``; no split.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._archive import extract_archive
from ._cache import run_tasks
from ._raw import class_folder_tasks
from .base import NeuromorphicDatasetFolder
from .n_mnist import _convert_atis_bin

__all__ = ["NCaltech101"]


class NCaltech101(NeuromorphicDatasetFolder):
    """N-Caltech101 (Orchard et al., "Converting Static Image Datasets to Spiking Neuromorphic
    Datasets Using Saccades", Front. Neurosci. 2015), sensor 180x240 (H x W).

    No train/test split (``train`` is ``None``); other arguments as in
    :class:`~snn_datasets.base.NeuromorphicDatasetFolder`. Events are ``uint32``.
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
    ) -> None:
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
        """``(180, 240)``."""
        return 180, 240

    @classmethod
    def resource_url_md5(cls) -> list:
        """The four files of the data set's page, with their md5."""
        url = "https://www.garrickorchard.com/datasets/n-caltech101"
        return [
            ("Caltech101.zip", url, "66201824eabb0239c7ab992480b50ba3"),
            ("Caltech101_annotations.zip", url, "25e64cea645291e368db1e70f214988e"),
            ("ReadMe(Caltech101)-SINAPSE-G.txt", url, "d464b81684e0af3b5773555eb1d5b95c"),
            ("ReadMe(Caltech101).txt", url, "33632a7a5c46074c70509f960d0dd5e5"),
        ]

    @classmethod
    def downloadable(cls) -> bool:
        """``False``: download the files by hand into ``root/download``."""
        return False

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack ``Caltech101.zip`` into ``extract_root``."""
        zip_file = Path(download_root) / "Caltech101.zip"
        extract_archive(zip_file, extract_root)

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Convert ``Caltech101/<class>/<name>.bin`` to ``raw_root/<class>/<name>.npz``."""
        tasks = class_folder_tasks(Path(extract_root) / "Caltech101", Path(raw_root))
        run_tasks(_convert_atis_bin, tasks)
