"""SHD / SSC end to end on HDF5 files written with h5py (spikes/times, spikes/units, labels)."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

pytest.importorskip("h5py")
from rawfile_writers import shd_samples, write_shd_h5
from snn_datasets import SSC_N_CLASSES, SpikingHeidelbergDigits, SpikingSpeechCommands

# A hand-made sample on exact binary fractions of a second, so the expected bins are exact.
HAND_T = np.array([0.0, 0.125, 0.25, 0.5, 0.5, 0.75, 1.0], np.float32)
HAND_U = np.array([1, 2, 2, 3, 699, 4, 5])


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS", "1")


def _counts(*unit_lists):
    out = np.zeros((len(unit_lists), 700), np.float32)
    for i, units in enumerate(unit_lists):
        for u in units:
            out[i, u] += 1
    return out


@pytest.fixture(scope="module")
def shd(tmp_path_factory):
    """A root with ``download/shd_{train,test}.h5.zip`` (md5 of these files) and the data."""
    base = tmp_path_factory.mktemp("shd")
    rng = np.random.default_rng(0)
    data, resources = {}, []
    (base / "root" / "download").mkdir(parents=True)
    for split in ("train", "test"):
        samples, labels = shd_samples(rng, 20)
        samples[0] = (HAND_T, HAND_U)
        h5 = base / f"shd_{split}.h5"
        write_shd_h5(h5, samples, labels)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.write(h5, h5.name)
        (base / "root" / "download" / f"shd_{split}.h5.zip").write_bytes(buf.getvalue())
        resources.append(
            (
                f"shd_{split}.h5.zip",
                "https://example.invalid",
                hashlib.md5(buf.getvalue()).hexdigest(),
            )
        )
        data[split] = (samples, labels)

    class LocalSHD(SpikingHeidelbergDigits):
        @classmethod
        def resource_url_md5(cls):
            return resources

    return base / "root", LocalSHD, data


def test_event_samples_come_straight_from_the_h5_file(shd):
    root, cls, data = shd
    for train, split in ((True, "train"), (False, "test")):
        ds = cls(str(root), train=train)
        samples, labels = data[split]
        assert len(ds) == 20
        for i in (0, 7, 19):
            events, label = ds[i]
            assert set(events) == {"t", "x"} and label == labels[i]
            np.testing.assert_array_equal(events["t"], np.asarray(samples[i][0], np.float32))
            np.testing.assert_array_equal(events["x"], np.asarray(samples[i][1], np.uint16))
            assert events["t"].dtype == np.float32 and events["x"].dtype == np.uint16
    assert sorted(os.listdir(root / "events_h5")) == [".complete", "shd_test.h5", "shd_train.h5"]
    assert os.path.islink(root / "events_h5" / "shd_train.h5")
    ds = SpikingHeidelbergDigits(str(root), train=False)  # the prepared root, plain class
    ds[0]  # opens the HDF5 handle
    clone = pickle.loads(pickle.dumps(ds))  # e.g. to DataLoader workers: no open handle
    assert clone.h5_file is None
    np.testing.assert_array_equal(clone[3][0]["x"], ds[3][0]["x"])


def _hand_frame(ds, label):
    """The frames of sample 0 (the hand-made sample) in a frame data set."""
    path = next(p for p, _ in ds.samples if p.endswith(f"/{label}/0.npz"))
    return ds[ds.samples.index((path, ds.class_to_idx[str(label)]))][0]


def test_frames_by_number_time_and_duration_by_hand(shd):
    root, cls, data = shd
    label = int(data["train"][1][0])
    by_number = cls(str(root), train=True, data_type="frame", frames_number=3, split_by="number")
    np.testing.assert_array_equal(
        _hand_frame(by_number, label), _counts([1, 2], [2, 3], [699, 4, 5])
    )
    by_time = cls(str(root), train=True, data_type="frame", frames_number=4, split_by="time")
    np.testing.assert_array_equal(
        _hand_frame(by_time, label), _counts([1, 2], [2], [3, 699], [4, 5])
    )
    by_duration = cls(str(root), train=True, data_type="frame", duration=250)  # milliseconds
    np.testing.assert_array_equal(
        _hand_frame(by_duration, label), _counts([1, 2], [2], [3, 699], [4, 5])
    )
    assert (root / "frames_number_3_split_by_number" / "test" / "19").is_dir()
    assert (root / "duration_250" / "train" / str(label) / "0.npz").is_file()
    assert len(by_number) == 20 and by_number[5][0].shape == (3, 700)


def test_custom_integration_writes_its_own_files(shd):
    root, cls, _ = shd
    seen = []

    def first_spike(h5_file, i, split_root, W):
        seen.append(W)
        label = h5_file["labels"][i]
        frame = np.zeros((1, W))
        frame[0, h5_file["spikes"]["units"][i][0]] = 1
        np.savez(os.path.join(split_root, str(label), f"{i}.npz"), frames=frame)

    ds = cls(str(root), train=False, data_type="frame", custom_integrate_function=first_spike)
    assert (root / "first_spike").is_dir() and set(seen) == {700}
    assert len(ds) == 20 and ds[0][0].shape == (1, 700)


def test_ssc_splits_and_resources(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "events_h5").mkdir()
    data = {}
    for split in ("train", "valid", "test"):
        data[split] = shd_samples(rng, SSC_N_CLASSES)
        write_shd_h5(tmp_path / "events_h5" / f"ssc_{split}.h5", *data[split])
    for split in ("train", "valid", "test"):
        ds = SpikingSpeechCommands(str(tmp_path), split=split)
        assert len(ds) == SSC_N_CLASSES
        np.testing.assert_array_equal(ds[4][0]["x"], data[split][0][4][1].astype(np.uint16))
        assert ds[4][1] == data[split][1][4]
    frames = SpikingSpeechCommands(
        str(tmp_path), split="valid", data_type="frame", frames_number=2, split_by="number"
    )
    assert frames.classes == sorted(str(c) for c in range(SSC_N_CLASSES)) and frames[0][
        0
    ].shape == (2, 700)
    with pytest.raises(ValueError, match="split"):
        SpikingSpeechCommands(str(tmp_path), split="validation")
    names = [r[0] for r in SpikingSpeechCommands.resource_url_md5()]
    assert names == ["ssc_train.h5.zip", "ssc_valid.h5.zip", "ssc_test.h5.zip"]


def test_bad_config_and_train_none(tmp_path):
    with pytest.raises(ValueError, match="train"):
        SpikingHeidelbergDigits(str(tmp_path), train=None)
    with pytest.raises(ValueError, match="split_by"):
        SpikingHeidelbergDigits(str(tmp_path), data_type="frame", frames_number=3, split_by="space")


def test_bad_samples_name_the_sample_and_file(tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "events_h5").mkdir()
    samples, labels = shd_samples(rng, 20)
    samples[3] = (np.array([0.1, 0.2], np.float32), np.array([5, 700]))  # channel 700 >= W
    write_shd_h5(tmp_path / "events_h5" / "shd_train.h5", samples, labels)
    write_shd_h5(tmp_path / "events_h5" / "shd_test.h5", *shd_samples(rng, 20))
    with pytest.raises(ValueError, match=r"sample 3 of .*shd_train\.h5.*\[0, 700\)"):
        SpikingHeidelbergDigits(
            str(tmp_path), data_type="frame", frames_number=2, split_by="number"
        )
