"""N-MNIST and N-Caltech101 end to end on ATIS ``.bin`` files written from the 40-bit spec."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
from rawfile_writers import atis_extract
from snn_datasets import NMNIST, NCaltech101


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS", "1")


def _zip_dir(folder, prefix):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(folder.rglob("*.bin")):
            zf.write(f, f"{prefix}/{f.relative_to(folder).as_posix()}")
    return buf.getvalue()


def _with_resources(base_cls, resources):
    class Local(base_cls):
        @classmethod
        def resource_url_md5(cls):
            return resources

    return Local


def _check_events(ds, written, split):
    for i, (path, target) in enumerate(ds.samples):
        cls_name = ds.classes[target]
        k = int(path.rsplit("/", 1)[1][:-4])
        t, x, y, p = written[(split, cls_name, k)]
        events, label = ds[i]
        assert label == target
        for key, want in zip("txyp", (t, x, y, p)):
            assert events[key].dtype == np.uint32
            np.testing.assert_array_equal(events[key], want)


def test_nmnist_from_train_and_test_zips(tmp_path):
    src = tmp_path / "src"
    written = atis_extract(
        src,
        {"Train": {str(d): 2 for d in range(10)}, "Test": {str(d): 1 for d in range(10)}},
        34,
        34,
    )
    root = tmp_path / "root"
    (root / "download").mkdir(parents=True)
    resources = []
    for split in ("Train", "Test"):
        data = _zip_dir(src / split, split)
        (root / "download" / f"{split}.zip").write_bytes(data)
        resources.append((f"{split}.zip", "https://example.invalid", hashlib.md5(data).hexdigest()))
    cls = _with_resources(NMNIST, resources)
    train, test = cls(str(root), train=True), cls(str(root), train=False)
    assert len(train) == 20 and len(test) == 10 and train.classes == [str(d) for d in range(10)]
    _check_events(train, written, "Train")
    _check_events(test, written, "Test")
    frames, label = cls(
        str(root), train=True, data_type="frame", frames_number=2, split_by="number"
    )[3]
    events, label_e = train[3]
    assert frames.shape == (2, 2, 34, 34) and label == label_e
    n = events["t"].size
    want = np.zeros((2, 34, 34))
    sl = slice(n // 2, n)  # the second frame: events n//2 .. n-1
    np.add.at(want, (events["p"][sl], events["y"][sl], events["x"][sl]), 1)
    np.testing.assert_array_equal(frames[1], want)


def test_nmnist_needs_manual_download(tmp_path):
    with pytest.raises(NotImplementedError) as info:
        NMNIST(str(tmp_path))
    msg = str(info.value)
    assert "Train.zip" in msg and "Test.zip" in msg and str(tmp_path / "download") in msg
    assert "garrickorchard.com/datasets/n-mnist" in msg


def test_truncated_bin_names_the_file(tmp_path):
    written = atis_extract(tmp_path / "extract", {"Train": {"3": 1}, "Test": {"3": 1}}, 34, 34)
    assert written
    bad = tmp_path / "extract" / "Test" / "3" / "00000.bin"
    bad.write_bytes(bad.read_bytes()[:-2])
    with pytest.raises(ValueError, match=r"00000\.bin.*multiple of"):
        NMNIST.create_raw_from_extracted(tmp_path / "extract", tmp_path / "events_np")


def test_ncaltech101_classes_without_split(tmp_path):
    classes = {"BACKGROUND_Google": 1, "accordion": 2, "yin_yang": 1}
    written = atis_extract(tmp_path / "extract", {"Caltech101": classes}, 240, 180)
    raw = tmp_path / "root" / "events_np"
    NCaltech101.create_raw_from_extracted(tmp_path / "extract", raw)
    ds = NCaltech101(str(tmp_path / "root"))
    assert ds.classes == sorted(classes) and len(ds) == 4
    _check_events(ds, written, "Caltech101")
    assert NCaltech101.get_H_W() == (180, 240) and not NCaltech101.downloadable()
    assert [r[0] for r in NCaltech101.resource_url_md5()][0] == "Caltech101.zip"
