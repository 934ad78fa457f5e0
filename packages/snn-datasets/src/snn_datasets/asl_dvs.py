"""ASL-DVS (Bi et al., ICCV 2019): 24 American Sign Language letters recorded by a DAVIS240c.

Download (by hand; the Dropbox link of the reference has expired, an OpenI mirror exists:
``pip install openi; openi dataset download OpenI/ASLDVS --local_dir ./ASLDVS``):
``ICCV2019_DVS_dataset.zip`` into ``root/download``. It holds one zip per letter, each with
``<letter>/<name>.mat`` (MATLAB files with ``ts``, ``x``, ``y``, ``pol``), converted to
``events_np/<letter>/<name>.npz``. Reading ``.mat`` needs scipy (``snn-datasets[mat]``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from ._cache import run_tasks
from ._raw import class_folder_tasks, convert_missing, extract_nested, zips_into
from .base import NeuromorphicDatasetFolder

__all__ = ["ASLDVS"]


def _load_asl_mat(mat_file: str | Path) -> dict:
    """Events of one ASL-DVS ``.mat`` file, flipped to the reference's orientation
    (``x = 239 - x``, ``y = 179 - y``); dtypes are those stored in the file."""
    try:
        import scipy.io
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ASL-DVS .mat files need scipy: pip install 'snn-datasets[mat]'") from e
    try:
        mat = scipy.io.loadmat(str(mat_file))
        return {
            "t": mat["ts"].squeeze(),
            "x": 239 - mat["x"].squeeze(),
            "y": 179 - mat["y"].squeeze(),
            "p": mat["pol"].squeeze(),
        }
    except Exception as e:  # scipy's MatReadError, a missing key, ...
        raise ValueError(
            f"ASL-DVS file {str(mat_file)!r} is corrupt or lacks one of 'ts', 'x', 'y', 'pol': {e}"
        ) from e


class ASLDVS(NeuromorphicDatasetFolder):
    """ASL-DVS (Bi et al., "Graph-Based Object Classification for Neuromorphic Vision Sensing",
    ICCV 2019): 24 classes, 100 800 samples, 180x240 (H x W). No train/test split."""

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
        """``(180, 240)``."""
        return 180, 240

    @classmethod
    def resource_url_md5(cls) -> list:
        """``ICCV2019_DVS_dataset.zip`` (no md5: Dropbox repacks the file)."""
        url = "https://www.dropbox.com/sh/ibq0jsicatn7l6r/AACNrNELV56rs1YInMWUs9CAa?dl=0"
        return [("ICCV2019_DVS_dataset.zip", url, None)]

    @classmethod
    def downloadable(cls) -> bool:
        """``False``: download by hand (OpenI mirror ``OpenI/ASLDVS``)."""
        return False

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack ``ICCV2019_DVS_dataset.zip`` and then each per-letter zip inside it."""
        download_root = Path(download_root)
        archive = download_root / "ICCV2019_DVS_dataset.zip"
        extract_nested(archive, download_root / "temp_ext", zips_into(extract_root))

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Convert ``<letter>/<name>.mat`` to ``raw_root/<letter>/<name>.npz``."""
        tasks = class_folder_tasks(Path(extract_root), Path(raw_root))
        run_tasks(partial(convert_missing, _load_asl_mat), tasks)
