"""Event data sets on the command line: ``snn_datasets`` frames, the reference's binning.

N-MNIST is written here as the official archive holds it (ATIS ``.bin`` files of 5 bytes an
event), converted by ``NMNIST.create_raw_from_extracted`` and then read by the command
line's loader; the frames are checked against the split-by-number rule computed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from snn_datasets import NMNIST
from snn_zoo.cli import main
from snn_zoo.data import load_dataset, time_first
from snn_zoo.event_data import EventFrames

W = H = 34


def _write_bin(path: Path, t, x, y, p) -> None:
    # x, y, then polarity (bit 7) and the 23-bit timestamp over the next three bytes
    rows = np.stack(
        [x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF], axis=1
    ).astype(np.uint8)
    path.write_bytes(rows.tobytes())


@pytest.fixture(scope="module")
def nmnist_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("nmnist")
    rng = np.random.default_rng(0)
    written = {}
    for split, per_class in (("Train", 3), ("Test", 1)):
        for digit in range(10):
            folder = base / "extract" / split / str(digit)
            folder.mkdir(parents=True)
            for k in range(per_class):
                n = int(rng.integers(20, 60))
                t = np.sort(rng.integers(0, 100_000, n))
                x, y = rng.integers(0, W, n), rng.integers(0, H, n)
                p = rng.integers(0, 2, n)
                _write_bin(folder / f"{k:05d}.bin", t, x, y, p)
                written[(split.lower(), digit, k)] = (t, x, y, p)
    NMNIST.create_raw_from_extracted(str(base / "extract"), str(base / "events_np"))
    return base, written


def _frames_by_number(t, x, y, p, T: int) -> np.ndarray:
    """Frame j sums the events ``[j * n // T, (j + 1) * n // T)``; the last frame also takes
    the remainder (the reference's rule)."""
    n = t.size
    out = np.zeros((T, 2, H, W), dtype=np.float32)
    for j in range(T):
        lo, hi = j * (n // T), ((j + 1) * (n // T) if j < T - 1 else n)
        np.add.at(out[j], (p[lo:hi], y[lo:hi], x[lo:hi]), 1)
    return out


def test_loader_gives_the_reference_frames(nmnist_root: tuple[Path, dict]) -> None:
    root, written = nmnist_root
    spec = load_dataset("nmnist", str(root), T=3)
    assert (spec.num_classes, spec.in_chans, spec.img_size) == (10, 2, 34)
    assert (len(spec.train), len(spec.test)) == (30, 10)
    for i in (0, 7, 29):
        frames, label = spec.train[i]
        path = spec.train.base.samples[i][0]
        k = int(Path(path).stem)
        want = _frames_by_number(*written[("train", label, k)], T=3)
        assert frames.dtype == torch.float32 and frames.shape == (3, 2, H, W)
        np.testing.assert_array_equal(frames.numpy(), want)


def test_event_batches_go_in_time_first() -> None:
    x = torch.arange(2 * 3 * 2 * 4 * 4, dtype=torch.float32).view(2, 3, 2, 4, 4)
    y = time_first(x)
    assert y.shape == (3, 2, 2, 4, 4) and torch.equal(y[1, 0], x[0, 1])
    img = torch.zeros(5, 1, 8, 8)
    assert time_first(img) is img


def test_non_square_sensors_are_resized_by_area() -> None:
    frames = torch.zeros(2, 2, 4, 6)
    frames[0, 1, :2, :3] = 4.0  # the top-left 2x3 block of the 4x6 frame
    frames_set = EventFrames([(frames.numpy(), 5)], size=2, sensor=(4, 6))
    x, label = frames_set[0]
    assert label == 5 and x.shape == (2, 2, 2, 2)
    assert x[0, 1].tolist() == [[4.0, 0.0], [0.0, 0.0]] and x[1].abs().sum() == 0


@pytest.mark.parametrize("T", [0, -2, 1.5])
def test_bad_frame_count_is_refused(nmnist_root: tuple[Path, dict], T: object) -> None:
    with pytest.raises(ValueError, match="T"):
        load_dataset("nmnist", str(nmnist_root[0]), T=T)  # type: ignore[arg-type]


@pytest.mark.slow
def test_cli_trains_and_evaluates_on_nmnist(nmnist_root: tuple[Path, dict], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    root = str(nmnist_root[0])
    out = tmp_path / "run"
    args = ["--dataset", "nmnist", "--data-dir", root, "--T", "2", "--batch-size", "16"]
    assert main(["train", *args, "--epochs", "1", "--output-dir", str(out), "--no-progress"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["dataset"] == "nmnist" and result["train_images"] == 30
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics) == 1 and 0.0 <= metrics[0]["test_acc"] <= 1.0
    ckpt = str(out / "checkpoint.safetensors")
    assert main(["eval", "--model", "spikformer_digits", "--checkpoint", ckpt, *args]) == 0
