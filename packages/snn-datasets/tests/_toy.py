"""A toy data set of the NeuromorphicDatasetFolder contract, built from a file in download/."""

import hashlib
import json
from pathlib import Path

import numpy as np
from snn_datasets import NeuromorphicDatasetFolder
from snn_datasets._cache import atomic_savez

H, W = 3, 4


def toy_events(seed: int, n: int = 40) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "t": np.sort(rng.integers(0, 1000, n)),
        "x": rng.integers(0, W, n),
        "y": rng.integers(0, H, n),
        "p": rng.integers(0, 2, n),
    }


def write_download(root: Path, n_per_class: int = 3) -> None:
    """The 'archive': a JSON list of (split, label, seed)."""
    (root / "download").mkdir(parents=True, exist_ok=True)
    items = [
        (s, c, 100 * c + i + (50 if s == "test" else 0))
        for s in ("train", "test")
        for c in range(2)
        for i in range(n_per_class)
    ]
    (root / "download" / "toy.json").write_text(json.dumps(items))


class Toy(NeuromorphicDatasetFolder):
    @classmethod
    def get_H_W(cls):
        return H, W

    @classmethod
    def resource_url_md5(cls):
        return [("toy.json", "https://example.invalid/toy.json", cls.md5)]

    md5 = None

    @classmethod
    def downloadable(cls):
        return False

    @classmethod
    def extract_downloaded_files(cls, download_root, extract_root):
        (Path(extract_root) / "toy.json").write_bytes(
            (Path(download_root) / "toy.json").read_bytes()
        )

    @classmethod
    def create_raw_from_extracted(cls, extract_root, raw_root):
        for split, label, seed in json.loads((Path(extract_root) / "toy.json").read_text()):
            out = Path(raw_root) / split / str(label)
            out.mkdir(parents=True, exist_ok=True)
            if not (out / f"s{seed}.npz").exists():
                atomic_savez(out / f"s{seed}.npz", **toy_events(seed))


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()
