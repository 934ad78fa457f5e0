"""DVS128 Gesture end to end on a tiny synthetic root written in AEDAT 3.1 from the spec."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from rawfile_writers import (
    AEDAT3_HEADER,
    aedat3_packet,
    aedat3_polarity_events,
    dvs_gesture_extract,
    make_tar_gz,
)
from snn_datasets import DVS128Gesture


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS", "1")


def _tiny(archive):
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()

    class TinyGesture(DVS128Gesture):
        @classmethod
        def resource_url_md5(cls):
            return [("DvsGesture.tar.gz", "https://example.invalid/", md5)]

    return TinyGesture


@pytest.fixture(scope="module")
def gesture_root(tmp_path_factory):
    """A root whose ``download/DvsGesture.tar.gz`` holds 2 train and 1 test recordings."""
    base = tmp_path_factory.mktemp("gesture")
    written = dvs_gesture_extract(base / "src")
    root = base / "root"
    (root / "download").mkdir(parents=True)
    make_tar_gz(root / "download" / "DvsGesture.tar.gz", base / "src" / "DvsGesture", "DvsGesture")
    return root, written


def _expected_samples(written, names):
    """``{(label, file name): events}`` cut from the written events by the csv intervals."""
    out = {}
    for name in names:
        t, x, y, p, rows = written[name]
        count = {}
        for c, start, end in rows:
            label = c - 1
            k = count.get(label, 0)
            count[label] = k + 1
            m = (t >= start) & (t < end)
            out[(label, f"{name}_{k}.npz")] = {"t": t[m], "x": x[m], "y": y[m], "p": p[m]}
    return out


def test_events_labels_and_split_match_the_written_recordings(gesture_root):
    root, written = gesture_root
    cls = _tiny(root / "download" / "DvsGesture.tar.gz")
    for train, names in ((True, ["user01_fluorescent", "user02_led"]), (False, ["user24_natural"])):
        ds = cls(str(root), train=train)
        expected = _expected_samples(written, names)
        assert len(ds) == len(expected)
        assert ds.classes == sorted(str(c) for c in range(11))  # string order, as torchvision
        for i, (path, target) in enumerate(ds.samples):
            folder, fname = path.split("/")[-2:]
            assert ds.classes[target] == folder
            events, label = ds[i]
            assert label == target
            want = expected[(int(folder), fname)]
            for key in "txyp":
                assert events[key].dtype == np.int64
                np.testing.assert_array_equal(events[key], want[key])


def test_events_np_layout(gesture_root):
    root, _ = gesture_root
    _tiny(root / "download" / "DvsGesture.tar.gz")(str(root), train=True)
    files = sorted(
        p.relative_to(root / "events_np").as_posix() for p in (root / "events_np").rglob("*.npz")
    )
    # class 3 (label 2) occurs twice per recording: _0 and _1
    assert (
        "train/2/user01_fluorescent_0.npz" in files and "train/2/user01_fluorescent_1.npz" in files
    )
    assert "test/10/user24_natural_0.npz" in files
    assert len(files) == 3 * 12


def test_frames_by_number_count_each_event_once(gesture_root):
    root, written = gesture_root
    cls = _tiny(root / "download" / "DvsGesture.tar.gz")
    ds = cls(str(root), train=False, data_type="frame", frames_number=3, split_by="number")
    events = cls(str(root), train=False)
    for i in range(len(ds)):
        frames, label = ds[i]
        ev, label_e = events[i]
        assert label == label_e and frames.shape == (3, 2, 128, 128) and frames.dtype == np.float32
        n = ev["t"].size
        bounds = [0, n // 3, 2 * (n // 3), n]  # equal runs, the last one takes the remainder
        for k in range(3):
            want = np.zeros((2, 128, 128))
            sl = slice(bounds[k], bounds[k + 1])
            np.add.at(want, (ev["p"][sl], ev["y"][sl], ev["x"][sl]), 1)
            np.testing.assert_array_equal(frames[k], want)


def test_train_none_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="train"):
        DVS128Gesture(str(tmp_path), train=None)


def test_missing_archive_names_file_folder_and_url(tmp_path):
    with pytest.raises(NotImplementedError) as info:
        DVS128Gesture(str(tmp_path), train=True)
    msg = str(info.value)
    assert "DvsGesture.tar.gz" in msg and str(tmp_path / "download") in msg
    assert "https://ibm.ent.box.com" in msg


def test_malformed_label_csv_names_the_file(tmp_path):
    extract = tmp_path / "extract"
    dvs_gesture_extract(extract)
    (extract / "DvsGesture" / "user02_led_labels.csv").write_text("class,start,end\n3,10,oops\n")
    with pytest.raises(ValueError, match=r"user02_led_labels\.csv"):
        DVS128Gesture.create_raw_from_extracted(extract, tmp_path / "events_np")
    (extract / "DvsGesture" / "user02_led_labels.csv").write_text("class,start,end\n12,10,20\n")
    with pytest.raises(ValueError, match=r"user02_led_labels\.csv.*class 12"):
        DVS128Gesture.create_raw_from_extracted(extract, tmp_path / "events_np2")


def test_aedat_without_events_or_truncated_names_the_file(tmp_path):
    extract = tmp_path / "extract"
    dvs_gesture_extract(extract)
    aedat = extract / "DvsGesture" / "user01_fluorescent.aedat"
    aedat.write_bytes(AEDAT3_HEADER)  # a header and no data
    with pytest.raises(ValueError, match=r"user01_fluorescent\.aedat"):
        DVS128Gesture.create_raw_from_extracted(extract, tmp_path / "a")
    packet = aedat3_packet(1, aedat3_polarity_events([1, 2], [3, 4], [5, 6], [0, 1]), 8)
    aedat.write_bytes(AEDAT3_HEADER + packet[:-5])  # cut inside the last event
    with pytest.raises(ValueError, match=r"user01_fluorescent\.aedat.*truncated"):
        DVS128Gesture.create_raw_from_extracted(extract, tmp_path / "b")


def test_interrupted_conversion_resumes(tmp_path):
    extract = tmp_path / "extract"
    dvs_gesture_extract(extract)
    raw = tmp_path / "events_np"
    DVS128Gesture.create_raw_from_extracted(extract, raw)
    victim = raw / "train" / "0" / "user01_fluorescent_0.npz"
    before = dict(np.load(victim))
    victim.unlink()
    DVS128Gesture.create_raw_from_extracted(extract, raw)  # a second run fills the gap
    after = dict(np.load(victim))
    for key in "txyp":
        np.testing.assert_array_equal(after[key], before[key])
