"""NavGesture (Maro et al., Front. Neurosci. 2020): 6 mobile-phone gestures recorded by an ATIS.

Download (by hand; neuromorphic-vision.com no longer serves it, see SpikingJelly issue 423):
``navgesture-walk.zip`` (:class:`NAVGestureWalk`) or ``navgesture-sit.zip``
(:class:`NAVGestureSit`) into ``root/download``. Each holds one zip per subject with
``<subject>/<subject>_<gesture>_<k>_td.dat`` files (gesture ``le``, ``ri``, ``up``, ``do``,
``ho``, ``se``), converted to ``events_np/<gesture>/<file name>.npz`` with ``y = 239 - y``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ._cache import run_tasks
from ._raw import convert_missing, extract_nested, make_class_folders, sub_dirs, zips_into
from ._tddat import read_td_dat
from .base import NeuromorphicDatasetFolder

__all__ = ["NAVGestureWalk", "NAVGestureSit"]

_GESTURES = ("le", "ri", "up", "do", "ho", "se")


def _load_td_dat(dat_file: Path) -> dict:
    """Events of one NavGesture ``.dat`` file, ``y`` flipped (``y = 239 - y``)."""
    t, xy, p = read_td_dat(dat_file)
    return {"t": t, "x": xy[:, 0], "y": 239 - xy[:, 1], "p": p}


def _gesture_of(file_name: str) -> str:
    """``'user01_le_1_td.dat'`` -> ``'le'`` (the second ``_``-separated field)."""
    parts = os.path.splitext(file_name)[0].split("_")
    if len(parts) < 2 or parts[1] not in _GESTURES:
        raise ValueError(
            f"NavGesture file name {file_name!r} does not name a gesture: expected "
            f"'<subject>_<gesture>_...' with gesture in {_GESTURES}"
        )
    return parts[1]


class NAVGestureWalk(NeuromorphicDatasetFolder):
    """NavGesture-walk (Maro et al., "Event-Based Gesture Recognition With Dynamic Background
    Suppression Using Smartphone Computational Capabilities", Front. Neurosci. 2020):
    6 gestures by 10 subjects holding the phone while walking, 240x304 (H x W). No split."""

    def __init__(
        self,
        root: str,
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
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
        """``(240, 304)``: the sensor is 240x320 but x never exceeds 303."""
        return 240, 304

    @classmethod
    def resource_url_md5(cls) -> list:
        return [
            (
                "navgesture-walk.zip",
                "https://www.neuromorphic-vision.com/public/downloads/navgesture/navgesture-walk.zip",
                "5d305266f13005401959e819abe206f0",
            )
        ]

    @classmethod
    def downloadable(cls) -> bool:
        """``False``: the files are no longer served; put them in ``root/download`` by hand."""
        return False

    @classmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path):
        """Unpack the archive and then the per-subject zips inside it into ``extract_root``."""
        download_root = Path(download_root)
        archive = download_root / cls.resource_url_md5()[0][0]
        extract_nested(archive, download_root / "temp_ext", zips_into(extract_root))

    @classmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path):
        """Convert ``<subject>/<subject>_<gesture>_..._td.dat`` to ``<gesture>/<name>.npz``."""
        extract_root, raw_root = Path(extract_root), Path(raw_root)
        make_class_folders(raw_root, _GESTURES)
        tasks = []
        for user_name in sub_dirs(extract_root):
            user_dir = extract_root / user_name
            for dat_name in sorted(os.listdir(user_dir)):
                npz = raw_root / _gesture_of(dat_name) / (os.path.splitext(dat_name)[0] + ".npz")
                tasks.append((user_dir / dat_name, npz))
        run_tasks(partial(convert_missing, _load_td_dat), tasks)


class NAVGestureSit(NAVGestureWalk):
    """NavGesture-sit: the same 6 gestures recorded by seated subjects.

    (The reference's ``NAVGestureSit.__init__`` passes its arguments shifted by one place, so
    it fails for every input; this class takes them as documented.)
    """

    @classmethod
    def resource_url_md5(cls) -> list:
        return [
            (
                "navgesture-sit.zip",
                "https://www.neuromorphic-vision.com/public/downloads/navgesture/navgesture-sit.zip",
                "1571753ace4d9e0946e6503313712c22",
            )
        ]
