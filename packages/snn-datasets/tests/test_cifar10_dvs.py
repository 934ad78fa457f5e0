"""CIFAR10-DVS end to end: file:// "downloads" of per-class zips of AEDAT 2.0 recordings."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile

import numpy as np
import pytest
from rawfile_writers import cifar10dvs_extract
from snn_datasets import CIFAR10DVS, CIFAR10DVS_CLASS_NAMES, CIFAR10DVSTEBNSplit

INDICES = [0, 7, 100, 150]  # two TEBN test samples (< 100) and two train samples per class


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS", "1")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Per-class zips on disk (the "server") and the events written into them."""
    base = tmp_path_factory.mktemp("cifar")
    written = cifar10dvs_extract(base / "aedat", {c: INDICES for c in CIFAR10DVS_CLASS_NAMES})
    resources = []
    for c in CIFAR10DVS_CLASS_NAMES:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for i in INDICES:
                name = f"{c}/cifar10_{c}_{i}.aedat"
                zf.write(base / "aedat" / name, name)
        path = base / "server" / f"{c}.zip"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(buf.getvalue())
        resources.append((f"{c}.zip", path.as_uri(), hashlib.md5(buf.getvalue()).hexdigest()))
    return resources, written


def _local(base_cls, resources):
    class Local(base_cls):
        @classmethod
        def resource_url_md5(cls):
            return resources

    return Local


def test_download_extract_convert_and_read_events(source, tmp_path):
    resources, written = source
    ds = _local(CIFAR10DVS, resources)(str(tmp_path))
    assert sorted(p.name for p in (tmp_path / "download").iterdir()) == sorted(
        r[0] for r in resources
    )
    assert ds.classes == list(CIFAR10DVS_CLASS_NAMES) and len(ds) == 40
    for i, (path, target) in enumerate(ds.samples):
        cls_name = ds.classes[target]
        k = int(os.path.basename(path)[len(f"cifar10_{cls_name}_") : -4])
        t, x, y, p = written[(cls_name, k)]
        events, label = ds[i]
        assert label == target
        np.testing.assert_array_equal(events["t"], t)
        np.testing.assert_array_equal(events["x"], 127 - y)  # the recordings are rotated
        np.testing.assert_array_equal(events["y"], 127 - x)
        np.testing.assert_array_equal(events["p"], 1 - p)
        assert events["x"].dtype == np.uint32 and events["p"].dtype == np.int64


def test_frames_by_time_hold_every_event(source, tmp_path):
    resources, _ = source
    cls = _local(CIFAR10DVS, resources)
    frames = cls(str(tmp_path), data_type="frame", frames_number=4, split_by="time")
    events = cls(str(tmp_path))
    assert (tmp_path / "frames_number_4_split_by_time").is_dir()
    for i in (0, 17, 39):
        f, label = frames[i]
        assert f.shape == (4, 2, 128, 128) and label == events[i][1]
        assert f.sum() == events[i][0]["t"].size


def test_tebn_split_links_first_hundred_to_test(source, tmp_path):
    resources, _ = source
    cls = _local(CIFAR10DVSTEBNSplit, resources)
    test, train = cls(str(tmp_path), train=False), cls(str(tmp_path), train=True)
    assert sorted(os.path.basename(p) for p, _ in test.samples if "airplane" in p) == [
        "cifar10_airplane_0.npz",
        "cifar10_airplane_7.npz",
    ]
    assert len(test) == 20 and len(train) == 20
    link = tmp_path / "events_np" / "train" / "truck" / "cifar10_truck_150.npz"
    assert (
        link.is_symlink()
        and link.resolve() == (tmp_path / "events_np" / "truck" / link.name).resolve()
    )
    np.testing.assert_array_equal(train[len(train) - 1][0]["t"], np.load(link)["t"])
    with pytest.raises(ValueError, match="train"):
        cls(str(tmp_path), train=None)


def test_wrong_md5_of_a_download_is_an_error(source, tmp_path):
    resources, _ = source
    bad = [(n, u, "0" * 32) if n == "cat.zip" else (n, u, m) for n, u, m in resources]
    with pytest.raises(RuntimeError, match="cat.zip.*expected 0{32}"):
        _local(CIFAR10DVS, bad)(str(tmp_path))


def test_resources_are_the_figshare_files():
    resources = CIFAR10DVS.resource_url_md5()
    assert [r[0] for r in resources] == [f"{c}.zip" for c in CIFAR10DVS_CLASS_NAMES]
    assert resources[0] == (
        "airplane.zip",
        "https://ndownloader.figshare.com/files/7712788",
        "0afd5c4bf9ae06af762a77b180354fdd",
    )
    assert CIFAR10DVS.downloadable() and CIFAR10DVS.get_H_W() == (128, 128)
