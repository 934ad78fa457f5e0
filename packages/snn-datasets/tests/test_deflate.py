"""Compressed ``.npz`` files written by ``_deflate.write_npz``: read by ``np.load``,
``zipfile`` (CRCs checked) and Info-ZIP's ``unzip`` like ``np.savez_compressed``'s, with
members deflated in pieces on several threads and with ZIP64 records."""

import shutil
import subprocess
import zipfile

import numpy as np
import pytest
import torch
from snn_datasets import _cache, _deflate


def _arrays() -> dict:
    rng = np.random.default_rng(0)
    return {
        "frames": rng.integers(0, 4, (6, 2, 17, 13)).astype(np.float64),
        "t": np.sort(rng.integers(0, 10**6, 5000)).astype(np.uint32),
        "b": rng.integers(0, 2, 7).astype(bool),
        "big_endian": np.arange(5, dtype=">i4"),
        "fortran": np.asfortranarray(rng.random((40, 30))),
        "strided": np.arange(100.0)[::3],
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 2), dtype=np.int16),
        "structured": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
    }


@pytest.fixture(params=[1, 3], ids=["1 thread", "3 threads"])
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def _check(path, arrays):
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every member's CRC-32 and size
        infos = archive.infolist()
        assert [i.filename for i in infos] == [f"{k}.npy" for k in arrays]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
    with np.load(path) as archive:
        assert archive.files == list(arrays)
        for key, value in arrays.items():
            got = archive[key]
            assert got.dtype == value.dtype and got.shape == value.shape
            assert np.array_equal(got, value)
    if shutil.which("unzip"):
        result = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("piece", [64, 1 << 20])  # many pieces per member, or one
def test_archives_read_back_as_np_savez_compressed(tmp_path, monkeypatch, threads, piece):
    monkeypatch.setattr(_deflate, "_PIECE", piece)
    arrays = _arrays()
    path = tmp_path / "a.npz"
    with open(path, "wb") as handle:
        _deflate.write_npz(handle, arrays, level=1)
    _check(path, arrays)
    np.savez_compressed(tmp_path / "numpy.npz", **arrays)
    with zipfile.ZipFile(tmp_path / "numpy.npz") as ref, zipfile.ZipFile(path) as ours:
        for a, b in zip(ref.infolist(), ours.infolist()):  # same .npy bytes as NumPy's
            assert ref.read(a) == ours.read(b) and a.CRC == b.CRC


def test_zip64_records_are_read(tmp_path, monkeypatch, threads):
    """Every size and offset written to ZIP64 records (as a file over 4 GiB needs)."""
    monkeypatch.setattr(_deflate, "_ZIP64_AT", 0)
    monkeypatch.setattr(_deflate, "_PIECE", 100)
    arrays = _arrays()
    path = tmp_path / "a.npz"
    with open(path, "wb") as handle:
        _deflate.write_npz(handle, arrays, level=6)
    data = path.read_bytes()
    assert data.count(b"PK\x06\x06") == 1 and data.count(b"PK\x06\x07") == 1
    _check(path, arrays)


def test_atomic_savez_writes_levels_and_refuses_objects(tmp_path, monkeypatch):
    frames = np.random.default_rng(1).integers(0, 3, (8, 2, 34, 34)).astype(np.float64)
    sizes = []
    for level in ("0", "1", "9"):
        monkeypatch.setenv("SNN_DATASETS_COMPRESS_LEVEL", level)
        path = _cache.atomic_savez(tmp_path / f"l{level}", frames=frames)
        _check(path, {"frames": frames})
        sizes.append(path.stat().st_size)
    assert sizes[0] > sizes[1] > sizes[2]
    with pytest.raises(ValueError, match="Python objects"):
        _cache.atomic_savez(tmp_path / "o", frames=np.array([None, 1], dtype=object))
    assert not list(tmp_path.glob("o*")) and not list(tmp_path.glob(".o*"))
