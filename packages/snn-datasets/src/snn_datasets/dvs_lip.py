"""DVS-Lip (Tan et al., CVPR 2022): 100 spoken words, lips recorded by a DAVIS346, 128x128 crops.

Download (by hand, https://sites.google.com/view/event-based-lipreading): ``DVS-Lip.zip`` into
``root/download``. It holds ``DVS-Lip/{train,test}/<word>/<k>.npy``: structured arrays with
fields ``t``, ``x``, ``y``, ``p``, read as they are (``sample['t']`` works like an ``.npz``).
``events_np/{train,test}/<word>/<k>.npy`` are symbolic links to them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._archive import extract_archive
from ._raw import link_class_folders
from .base import NeuromorphicDatasetFolder

__all__ = ["DVSLip"]


class DVSLip(NeuromorphicDatasetFolder):
    """DVS-Lip (Tan et al., "Multi-Grained Spatio-Temporal Features Perceived Network for
    Event-Based Lip-Reading", CVPR 2022), 100 classes; ``train`` must be ``True`` or
    ``False``. Other arguments as in :class:`~snn_datasets.base.NeuromorphicDatasetFolder`."""

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
        """``(128, 128)``."""
        return 128, 128

    @classmethod
    def resource_url_md5(cls) -> list:
        return [
            (
                "DVS-Lip.zip",
                "https://sites.google.com/view/event-based-lipreading",
                "2dcb959255122d4cdeb6094ca282494b",
            )
        ]

    @classmethod
    def downloadable(cls) -> bool:
        """``False``: download ``DVS-Lip.zip`` by hand into ``root/download``."""
        return False

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack ``DVS-Lip.zip`` into ``extract_root``."""
        zip_file = Path(download_root) / "DVS-Lip.zip"
        extract_archive(zip_file, extract_root)

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Link ``DVS-Lip/<split>/<word>/<file>`` into ``raw_root/<split>/<word>/``."""
        for split in ("train", "test"):
            link_class_folders(Path(extract_root) / "DVS-Lip" / split, Path(raw_root) / split)
