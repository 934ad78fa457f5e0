"""NeuromorphicDatasetFolder, its configuration and builders, on a toy data set."""

from pathlib import Path

import numpy as np
import pytest
from _toy import H, Toy, W, toy_events, write_download
from snn_datasets import NeuromorphicDatasetConfig, utils
from snn_datasets._cache import COMPLETE_MARKER


@pytest.fixture
def root(tmp_path):
    write_download(tmp_path)
    return tmp_path


def test_events_samples_labels_and_order(root):
    ds = Toy(root, train=True, data_type="event")
    assert ds.classes == ["0", "1"] and len(ds) == 6
    assert ds.targets == [0, 0, 0, 1, 1, 1]
    events, label = ds[4]
    assert Path(ds.samples[4][0]).name == "s101.npz" and label == 1
    assert set(events) == {"t", "x", "y", "p"}
    for key, value in toy_events(101).items():
        assert np.array_equal(events[key], value)
    assert (root / "events_np" / COMPLETE_MARKER).is_file()
    assert len(Toy(root, train=False)) == 6


@pytest.mark.parametrize(
    ("kwargs", "folder"),
    [
        ({"frames_number": 4, "split_by": "number"}, "frames_number_4_split_by_number"),
        ({"frames_number": 3, "split_by": "time"}, "frames_number_3_split_by_time"),
    ],
)
def test_frames_number_samples_and_cache_layout(root, kwargs, folder):
    ds = Toy(root, train=False, data_type="frame", **kwargs)
    assert ds.processed_root == root / folder
    frames, label = ds[2]
    assert frames.dtype == np.float32 and label == 0
    assert Path(ds.samples[2][0]) == root / folder / "test" / "0" / "s52.npz"
    expected = utils.integrate_events_by_fixed_frames_number(
        toy_events(52), kwargs["split_by"], kwargs["frames_number"], H, W
    )
    assert np.array_equal(frames, expected.astype(np.float32))
    with np.load(ds.samples[2][0]) as archive:  # the reference's file: key frames, float64
        assert archive.files == ["frames"] and archive["frames"].dtype == np.float64
    assert (root / folder / COMPLETE_MARKER).is_file()
    assert not (root / f"{folder}.building").exists()


def test_duration_file_names_carry_the_frame_count(root):
    ds = Toy(root, train=True, data_type="frame", duration=300)
    names = sorted(Path(p).name for p, _ in ds.samples)
    events = toy_events(0)
    n0 = utils.integrate_events_by_fixed_duration(events, 300, H, W).shape[0]
    assert f"s0_{n0}.npz" in names and len(names) == 6


def my_integrate(events, H, W):
    return np.stack([np.full((H, W), events["t"].size), np.zeros((H, W))])


def test_custom_integrate_function_folder_and_frames(root):
    ds = Toy(root, train=True, data_type="frame", custom_integrate_function=my_integrate)
    assert ds.processed_root == root / "my_integrate"
    assert np.array_equal(ds[0][0], my_integrate(toy_events(0), H, W).astype(np.float32))
    ds = Toy(
        root,
        train=True,
        data_type="frame",
        custom_integrate_function=lambda e, h, w: np.ones(2),
        custom_integrated_frames_dir_name="ones",
    )
    assert ds.processed_root == root / "ones" and ds[1][0].tolist() == [1, 1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"data_type": "voxel"}, "data_type must be 'event' or 'frame', got 'voxel'"),
        ({"data_type": "frame"}, r"exactly one of .* got none"),
        (
            {"data_type": "frame", "frames_number": 4, "duration": 9},
            r"got \['frames_number', 'duration'\]",
        ),
        (
            {"data_type": "frame", "frames_number": 0, "split_by": "number"},
            "frames_number must be a positive int, got 0",
        ),
        (
            {"data_type": "frame", "frames_number": 4, "split_by": "count"},
            "split_by must be 'number' or 'time'.*got 'count'",
        ),
        ({"data_type": "frame", "duration": -1}, "duration must be a positive int, got -1"),
    ],
)
def test_config_rejects_bad_options(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        NeuromorphicDatasetConfig(root=tmp_path, train=True, **kwargs)


def test_missing_manual_download_names_file_folder_and_url(tmp_path):
    Toy.md5 = None
    with pytest.raises(
        NotImplementedError, match=r"toy\.json \(is missing.*https://example\.invalid/toy\.json"
    ) as info:
        Toy(tmp_path, train=True)
    assert str(tmp_path / "download") in str(info.value)


def test_corrupt_download_is_reported(root):
    Toy.md5 = "0" * 32
    try:
        with pytest.raises(NotImplementedError, match="has the wrong MD5"):
            Toy(root, train=True)
    finally:
        Toy.md5 = None


def test_reference_built_folders_are_reused(root):
    """Folders the reference made (no marker, no .building) are accepted after a check; a
    truncated file in them is made again."""
    Toy(root, train=True, data_type="frame", frames_number=2, split_by="number")
    folder = root / "frames_number_2_split_by_number"
    (folder / COMPLETE_MARKER).unlink()
    (root / "events_np" / COMPLETE_MARKER).unlink()
    planted = folder / "train" / "0" / "s0.npz"
    np.savez_compressed(planted, frames=np.full((2, 2, H, W), 7.0))  # reference-made, kept
    broken = folder / "train" / "1" / "s100.npz"
    broken.write_bytes(broken.read_bytes()[:30])  # a file cut by a killed reference run
    ds = Toy(root, train=True, data_type="frame", frames_number=2, split_by="number")
    assert (folder / COMPLETE_MARKER).is_file() and (root / "events_np" / COMPLETE_MARKER).is_file()
    assert ds[0][0].max() == 7.0
    expected = utils.integrate_events_by_fixed_frames_number(toy_events(100), "number", 2, H, W)
    assert np.array_equal(ds[3][0], expected)


def test_corrupt_events_file_is_named(root):
    Toy(root, train=True)
    bad = root / "events_np" / "train" / "0" / "s1.npz"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match=r"s1\.npz"):
        Toy(root, train=True, data_type="frame", frames_number=2, split_by="time")
